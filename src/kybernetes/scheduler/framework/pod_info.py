"""``PodInfo``: everything plugins need from one pod, computed once when it enters the scheduler.

The pod dict itself is never re-parsed in a Filter or Score loop: requests are integers, the
tolerations and host ports are tuples, node and pod affinity terms are compiled selectors.
A ``PodInfo`` is immutable in spirit; ``with_node`` gives the assumed copy bound to a node.
Plugins may memoise per-pod derived data in ``memo`` under their own name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from kybernetes.api.selectors import (
    NOTHING,
    Selector,
    SelectorError,
    from_label_selector,
)
from kybernetes.api.types import Pod
from kybernetes.scheduler.framework.node_affinity import PreferredTerms, RequiredNodeAffinity
from kybernetes.scheduler.framework.resources import Requests, pod_requests
from kybernetes.scheduler.framework.taints import Toleration, parse_tolerations

__all__ = [
    "AffinityTerm",
    "HostPort",
    "PodInfo",
    "WeightedAffinityTerm",
    "label_selector",
    "normalized_image_name",
    "pod_uid",
]

HostPort = tuple[str, str, int]  # (hostIP, protocol, hostPort)
_ALL_IPS = "0.0.0.0"
#: Sorts after every RFC 3339 timestamp: a pod that has not started counts as starting now.
NOT_STARTED = "~"


def label_selector(raw: Mapping[str, Any] | None) -> Selector:
    """A ``LabelSelector`` as a ``Selector``; a malformed one selects nothing."""
    try:
        return from_label_selector(raw)
    except SelectorError:
        return NOTHING


class AffinityTerm:
    """A compiled ``PodAffinityTerm`` (upstream ``framework.AffinityTerm``)."""

    __slots__ = ("namespace_selector", "namespaces", "selector", "topology_key")

    def __init__(self, raw: Mapping[str, Any], own_namespace: str) -> None:
        self.selector = label_selector(raw.get("labelSelector"))
        self.topology_key: str = str(raw.get("topologyKey", ""))
        namespaces = frozenset(raw.get("namespaces") or ())
        raw_ns_selector = raw.get("namespaceSelector")
        if not namespaces and raw_ns_selector is None:
            namespaces = frozenset((own_namespace,))
        self.namespaces: frozenset[str] = namespaces
        self.namespace_selector: Selector = (
            NOTHING if raw_ns_selector is None else label_selector(raw_ns_selector)
        )

    def matches(self, pod: PodInfo, namespace_labels: Mapping[str, str] | None) -> bool:
        """Whether ``pod`` is selected by this term (its namespace and its labels)."""
        if pod.namespace not in self.namespaces and not (
            namespace_labels is not None and self.namespace_selector.matches(namespace_labels)
        ):
            return False
        return self.selector.matches(pod.labels)


class WeightedAffinityTerm:
    __slots__ = ("term", "weight")

    def __init__(self, raw: Mapping[str, Any], own_namespace: str) -> None:
        self.weight = int(raw.get("weight", 0))
        self.term = AffinityTerm(raw.get("podAffinityTerm") or {}, own_namespace)


def pod_uid(pod: Pod) -> str:
    """The key a ``PodInfo`` of ``pod`` would have, without parsing the rest of the pod."""
    meta: Mapping[str, Any] = pod.get("metadata") or {}
    uid: str | None = meta.get("uid")
    if uid:
        return uid
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or ''}"


def normalized_image_name(name: str) -> str:
    """``name`` with ``:latest`` added when it has neither tag nor digest (ImageLocality)."""
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


def _host_ports(spec: Mapping[str, Any]) -> tuple[HostPort, ...]:
    ports: list[HostPort] = []
    for container in spec.get("containers") or ():
        for port in container.get("ports") or ():
            host_port = int(port.get("hostPort") or 0)
            if host_port > 0:
                ports.append(
                    (port.get("hostIP") or _ALL_IPS, port.get("protocol") or "TCP", host_port)
                )
    return tuple(ports)


def _terms(block: Mapping[str, Any] | None, namespace: str) -> tuple[AffinityTerm, ...]:
    raw = (block or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or ()
    return tuple(AffinityTerm(t, namespace) for t in raw)


def _weighted(block: Mapping[str, Any] | None, namespace: str) -> tuple[WeightedAffinityTerm, ...]:
    raw = (block or {}).get("preferredDuringSchedulingIgnoredDuringExecution") or ()
    return tuple(WeightedAffinityTerm(t, namespace) for t in raw)


class PodInfo:
    """One pod and its precomputed scheduling facts."""

    __slots__ = (
        "host_ports",
        "images",
        "key",
        "labels",
        "memo",
        "name",
        "namespace",
        "node_name",
        "pod",
        "preemption_policy",
        "preferred_affinity_terms",
        "preferred_anti_affinity_terms",
        "preferred_node_affinity",
        "priority",
        "requests",
        "required_affinity_terms",
        "required_anti_affinity_terms",
        "required_node_affinity",
        "scheduler_name",
        "spread_constraints",
        "start_time",
        "terminating",
        "tolerations",
        "uid",
    )

    pod: Pod
    requests: Requests
    tolerations: tuple[Toleration, ...]
    required_node_affinity: RequiredNodeAffinity | None

    def __init__(self, pod: Pod, priority: int | None = None) -> None:
        meta: Mapping[str, Any] = pod.get("metadata") or {}
        spec: Mapping[str, Any] = pod.get("spec") or {}
        status: Mapping[str, Any] = pod.get("status") or {}
        self.pod = pod
        self.namespace: str = meta.get("namespace") or "default"
        self.name: str = meta.get("name") or ""
        self.uid: str = meta.get("uid") or f"{self.namespace}/{self.name}"
        self.key = f"{self.namespace}/{self.name}"
        self.labels: Mapping[str, str] = meta.get("labels") or {}
        self.terminating = meta.get("deletionTimestamp") is not None
        self.node_name: str = spec.get("nodeName") or ""
        self.scheduler_name: str = spec.get("schedulerName") or "default-scheduler"
        raw_priority = spec.get("priority")
        self.priority: int = priority if priority is not None else int(raw_priority or 0)
        self.preemption_policy: str = spec.get("preemptionPolicy") or "PreemptLowerPriority"
        self.start_time: str = status.get("startTime") or NOT_STARTED
        self.requests = pod_requests(spec)
        self.tolerations = parse_tolerations(spec.get("tolerations"))
        self.host_ports = _host_ports(spec)
        self.images = tuple(
            normalized_image_name(str(c.get("image", "")))
            for key in ("initContainers", "containers")
            for c in spec.get(key) or ()
        )
        self.required_node_affinity = RequiredNodeAffinity.from_pod_spec(spec)
        affinity: Mapping[str, Any] = spec.get("affinity") or {}
        node_affinity = affinity.get("nodeAffinity") or {}
        self.preferred_node_affinity = PreferredTerms(
            node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        )
        pod_affinity = affinity.get("podAffinity")
        anti_affinity = affinity.get("podAntiAffinity")
        self.required_affinity_terms = _terms(pod_affinity, self.namespace)
        self.required_anti_affinity_terms = _terms(anti_affinity, self.namespace)
        self.preferred_affinity_terms = _weighted(pod_affinity, self.namespace)
        self.preferred_anti_affinity_terms = _weighted(anti_affinity, self.namespace)
        self.spread_constraints: tuple[Mapping[str, Any], ...] = tuple(
            spec.get("topologySpreadConstraints") or ()
        )
        self.memo: dict[str, object] = {}

    @property
    def has_affinity(self) -> bool:
        """Whether the pod has terms that score other pods: required affinity or any preferred
        term. (Upstream also counts pods with only required anti-affinity; those never change
        a score, and leaving them out keeps InterPodAffinity's PreScore from visiting them.)"""
        return bool(
            self.required_affinity_terms
            or self.preferred_affinity_terms
            or self.preferred_anti_affinity_terms
        )

    def with_node(self, node_name: str) -> PodInfo:
        """A copy of this info whose pod is bound to ``node_name`` (the assumed pod)."""
        copy = PodInfo.__new__(PodInfo)
        for slot in PodInfo.__slots__:
            object.__setattr__(copy, slot, getattr(self, slot))
        pod: dict[str, Any] = dict(self.pod)
        pod["spec"] = {**(self.pod.get("spec") or {}), "nodeName": node_name}
        copy.pod = cast(Pod, pod)
        copy.node_name = node_name
        return copy

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"


class QueuedPodInfo:
    """A pod waiting in the scheduling queue, with its attempt history.

    ``timestamp`` is when it last entered the queue (QueueSort orders by it);
    ``unschedulable_plugins`` names the plugins that rejected it last, so that only cluster
    events those plugins care about move it back to the active queue.
    """

    __slots__ = (
        "attempts",
        "backoff_expiry",
        "gated",
        "initial_attempt_timestamp",
        "pod_info",
        "timestamp",
        "unschedulable_plugins",
    )

    def __init__(self, pod_info: PodInfo, timestamp: float) -> None:
        self.pod_info = pod_info
        self.timestamp = timestamp
        self.initial_attempt_timestamp: float | None = None
        self.attempts = 0
        self.unschedulable_plugins: set[str] = set()
        self.backoff_expiry = 0.0
        self.gated = False

    @property
    def uid(self) -> str:
        return self.pod_info.uid

    def __repr__(self) -> str:
        return f"QueuedPodInfo({self.pod_info.key}, attempts={self.attempts})"
