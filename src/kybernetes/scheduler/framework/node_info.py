"""``NodeInfo``: one node and the pods on it, as the scheduler accounts for them.

Invariants: ``requested_*`` and ``non_zero_*`` are the sums over ``pods`` of their requests
(exact, and with upstream's scoring defaults); ``used_ports`` counts the host ports those pods
hold; ``free_cpu``, ``free_memory`` and ``free_pods`` are allocatable minus requested (the
Filter's hot comparison); ``pods_with_affinity`` and ``pods_with_required_anti_affinity``
are the sub-lists of ``pods`` with such terms. ``generation`` is stamped by the cache on every
change so snapshots copy only what changed. The node's allocatable amounts, labels and taints
are parsed once when the node is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.types import Node
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.resources import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    PODS,
    parse_resource_list,
)
from kybernetes.scheduler.framework.taints import (
    NO_EXECUTE,
    NO_SCHEDULE,
    PREFER_NO_SCHEDULE,
    Taint,
    parse_taints,
)

__all__ = ["ImageState", "NodeInfo"]

_ALL_IPS = "0.0.0.0"


class ImageState:
    """An image's size and the nodes that have it; shared by every ``NodeInfo`` naming it."""

    __slots__ = ("nodes", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.nodes: set[str] = set()


class NodeInfo:
    """Node-level aggregated information (upstream ``framework.NodeInfo``)."""

    __slots__ = (
        "allocatable_cpu",
        "allocatable_ephemeral_storage",
        "allocatable_memory",
        "allocatable_pods",
        "allocatable_scalar",
        "free_cpu",
        "free_memory",
        "free_pods",
        "generation",
        "hard_taints",
        "image_states",
        "labels",
        "name",
        "node",
        "non_zero_cpu",
        "non_zero_memory",
        "pods",
        "pods_with_affinity",
        "pods_with_required_anti_affinity",
        "prefer_taints",
        "requested_cpu",
        "requested_ephemeral_storage",
        "requested_memory",
        "requested_scalar",
        "taints",
        "unschedulable",
        "used_ports",
    )

    def __init__(self, node: Node | None = None, name: str = "") -> None:
        self.name = name
        self.node: Node | None = None
        self.labels: Mapping[str, str] = {}
        self.taints: tuple[Taint, ...] = ()
        self.hard_taints: tuple[Taint, ...] = ()
        self.prefer_taints: tuple[Taint, ...] = ()
        self.unschedulable = False
        self.allocatable_cpu = 0
        self.allocatable_memory = 0
        self.allocatable_ephemeral_storage = 0
        self.allocatable_pods = 0
        self.allocatable_scalar: dict[str, int] = {}
        self.image_states: dict[str, ImageState] = {}
        self.requested_cpu = 0
        self.requested_memory = 0
        self.requested_ephemeral_storage = 0
        self.requested_scalar: dict[str, int] = {}
        self.non_zero_cpu = 0
        self.non_zero_memory = 0
        self.pods: list[PodInfo] = []
        self.pods_with_affinity: list[PodInfo] = []
        self.pods_with_required_anti_affinity: list[PodInfo] = []
        self.used_ports: dict[tuple[str, int], dict[str, int]] = {}
        self.free_cpu = 0
        self.free_memory = 0
        self.free_pods = 0
        self.generation = 0
        if node is not None:
            self.set_node(node)

    def set_node(self, node: Node) -> None:
        """Take the node's name, labels, taints and allocatable amounts."""
        meta: Mapping[str, Any] = node.get("metadata") or {}
        spec: Mapping[str, Any] = node.get("spec") or {}
        status: Mapping[str, Any] = node.get("status") or {}
        self.node = node
        self.name = meta.get("name") or self.name
        self.labels = meta.get("labels") or {}
        self.taints = parse_taints(spec.get("taints"))
        self.hard_taints = tuple(t for t in self.taints if t[2] in (NO_SCHEDULE, NO_EXECUTE))
        self.prefer_taints = tuple(t for t in self.taints if t[2] == PREFER_NO_SCHEDULE)
        self.unschedulable = bool(spec.get("unschedulable"))
        allocatable = parse_resource_list(status.get("allocatable"))
        self.allocatable_cpu = allocatable.pop(CPU, 0)
        self.allocatable_memory = allocatable.pop(MEMORY, 0)
        self.allocatable_ephemeral_storage = allocatable.pop(EPHEMERAL_STORAGE, 0)
        self.allocatable_pods = allocatable.pop(PODS, 0)
        self.allocatable_scalar = allocatable
        self._refresh_free()

    def _refresh_free(self) -> None:
        self.free_cpu = self.allocatable_cpu - self.requested_cpu
        self.free_memory = self.allocatable_memory - self.requested_memory
        self.free_pods = self.allocatable_pods - len(self.pods)

    def add_pod(self, pod: PodInfo) -> None:
        requests = pod.requests
        self.pods.append(pod)
        self.requested_cpu += requests.cpu
        self.requested_memory += requests.memory
        self.requested_ephemeral_storage += requests.ephemeral_storage
        self.non_zero_cpu += requests.non_zero_cpu
        self.non_zero_memory += requests.non_zero_memory
        self.free_cpu -= requests.cpu
        self.free_memory -= requests.memory
        self.free_pods -= 1
        if requests.scalar:
            scalar = self.requested_scalar
            for name, amount in requests.scalar.items():
                scalar[name] = scalar.get(name, 0) + amount
        if pod.has_affinity:
            self.pods_with_affinity.append(pod)
        if pod.required_anti_affinity_terms:
            self.pods_with_required_anti_affinity.append(pod)
        for ip, protocol, port in pod.host_ports:
            ips = self.used_ports.setdefault((protocol, port), {})
            ips[ip] = ips.get(ip, 0) + 1

    def remove_pod(self, pod: PodInfo) -> bool:
        """Remove the pod with ``pod.uid``; False when it is not on this node."""
        index = next((i for i, p in enumerate(self.pods) if p.uid == pod.uid), None)
        if index is None:
            return False
        existing = self.pods.pop(index)
        self.pods_with_affinity = [p for p in self.pods_with_affinity if p.uid != pod.uid]
        self.pods_with_required_anti_affinity = [
            p for p in self.pods_with_required_anti_affinity if p.uid != pod.uid
        ]
        requests = existing.requests
        self.requested_cpu -= requests.cpu
        self.requested_memory -= requests.memory
        self.requested_ephemeral_storage -= requests.ephemeral_storage
        self.non_zero_cpu -= requests.non_zero_cpu
        self.non_zero_memory -= requests.non_zero_memory
        self.free_cpu += requests.cpu
        self.free_memory += requests.memory
        self.free_pods += 1
        for name, amount in requests.scalar.items():
            self.requested_scalar[name] = self.requested_scalar.get(name, 0) - amount
        for ip, protocol, port in existing.host_ports:
            ips = self.used_ports.get((protocol, port))
            if ips is not None and ip in ips:
                ips[ip] -= 1
                if ips[ip] <= 0:
                    del ips[ip]
                if not ips:
                    del self.used_ports[(protocol, port)]
        return True

    def port_conflicts(self, ip: str, protocol: str, port: int) -> bool:
        """Whether a pod asking for ``ip:port/protocol`` collides with a port already held."""
        ips = self.used_ports.get((protocol, port))
        if not ips:
            return False
        return ip == _ALL_IPS or _ALL_IPS in ips or ip in ips

    def clone(self) -> NodeInfo:
        """A copy whose pod lists and counters can change without touching this one."""
        copy = NodeInfo.__new__(NodeInfo)
        copy.assign_from(self)
        return copy

    def assign_from(self, other: NodeInfo) -> None:
        """Become a copy of ``other`` (upstream ``*existing = *clone`` in UpdateSnapshot)."""
        for slot in NodeInfo.__slots__:
            setattr(self, slot, getattr(other, slot))
        self.pods = list(other.pods)
        self.pods_with_affinity = list(other.pods_with_affinity)
        self.pods_with_required_anti_affinity = list(other.pods_with_required_anti_affinity)
        self.requested_scalar = dict(other.requested_scalar)
        self.used_ports = {key: dict(ips) for key, ips in other.used_ports.items()}

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)})"
