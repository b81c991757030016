"""Per-kind behaviour of the generic registry: what upstream's REST strategies decide.

The registry (``registry.py``) does the same thing for every resource; the differences between
kinds are data here: whether a kind has a status subresource (then the main resource ignores
status changes and ``/status`` ignores everything else), what status a new object starts with,
whether ``metadata.generation`` tracks spec changes, and whether deletion is graceful.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api import defaults
from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.allocator import drop_type_dependent_fields

StatusFunc = Callable[[dict[str, Any]], dict[str, Any]]


def _empty(_: dict[str, Any]) -> dict[str, Any]:
    return {}


def _pending(_: dict[str, Any]) -> dict[str, Any]:
    return {"phase": "Pending"}


def _service(_: dict[str, Any]) -> dict[str, Any]:
    return {"loadBalancer": {}}


def _crd(crd: dict[str, Any]) -> dict[str, Any]:
    """A new CRD's status: only the storage version as stored version (upstream's
    PrepareForCreate); names and conditions are the CRD controller's."""
    versions = (crd.get("spec") or {}).get("versions") or []
    stored = [v.get("name", "") for v in versions if isinstance(v, dict) and v.get("storage")]
    return {"storedVersions": stored[:1]}


def qos_class(pod: Mapping[str, Any]) -> str:
    """The pod's QoS class, as upstream computes it from requests and limits."""
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        req = {k: v for k, v in (resources.get("requests") or {}).items() if k in ("cpu", "memory")}
        lim = {k: v for k, v in (resources.get("limits") or {}).items() if k in ("cpu", "memory")}
        requests.update(req)
        limits.update(lim)
        if set(lim) != {"cpu", "memory"} or any(
            str(req.get(k, lim[k])) != str(lim[k]) for k in lim
        ):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _pod(pod: dict[str, Any]) -> dict[str, Any]:
    return {"phase": "Pending", "qosClass": qos_class(pod)}


@dataclass(frozen=True, slots=True)
class Strategy:
    """How one resource differs from the generic behaviour."""

    #: The resource has a ``status`` subresource.
    has_status: bool
    #: The status a created object starts with; ``None`` keeps what the client sent.
    initial_status: StatusFunc | None
    #: ``metadata.generation`` starts at 1 and grows with every spec change.
    tracks_generation: bool
    #: Deletion waits for the node (pods): deletionTimestamp first, removal later.
    graceful: bool = False
    #: Namespaces are cluster-scoped but hold other objects.
    is_namespace: bool = False
    #: Kind-specific preparation of a new object (after its uid is assigned).
    on_create: Callable[[dict[str, Any]], None] | None = None
    #: Kind-specific preparation of an update through the main resource.
    on_update: Callable[[dict[str, Any], Mapping[str, Any]], None] | None = None

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        if self.initial_status is not None:
            obj["status"] = self.initial_status(obj)
        meta = obj["metadata"]
        if self.tracks_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if self.on_create is not None:
            self.on_create(obj)

    def prepare_for_update(
        self, new: dict[str, Any], old: Mapping[str, Any], subresource: str
    ) -> dict[str, Any]:
        """Return the object to store for an update of ``old`` to ``new``.

        Through ``/status`` only the status changes; through the main resource, a kind with
        a status subresource keeps its old status.
        """
        if subresource == "status":
            result = copy.deepcopy(dict(old))
            result["status"] = new.get("status", {})
            result["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion", "")
            return result
        if self.has_status and subresource != "binding":  # binding also sets PodScheduled
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        meta = new["metadata"]
        old_generation = old.get("metadata", {}).get("generation")
        if self.tracks_generation:
            generation = old_generation or 1
            if spec_changed(new, old):
                generation += 1
            meta["generation"] = generation
        else:
            meta.pop("generation", None)
        if self.on_update is not None:
            self.on_update(new, old)
        return new


def spec_changed(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Whether anything but metadata and status differs (what upstream calls a spec change)."""
    keys = (set(new) | set(old)) - {"metadata", "status", "apiVersion", "kind"}
    return any(new.get(k) != old.get(k) for k in keys)


_GENERATION = {
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("", "replicationcontrollers"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "networkpolicies"),
    ("policy", "poddisruptionbudgets"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
}

_INITIAL_STATUS: dict[tuple[str, str], StatusFunc] = {
    ("", "pods"): _pod,
    ("", "services"): _service,
    ("", "persistentvolumeclaims"): _pending,
    ("", "persistentvolumes"): _pending,
    ("", "replicationcontrollers"): _empty,
    ("apps", "deployments"): _empty,
    ("apps", "replicasets"): _empty,
    ("apps", "statefulsets"): _empty,
    ("apps", "daemonsets"): _empty,
    ("batch", "jobs"): _empty,
    ("batch", "cronjobs"): _empty,
    ("autoscaling", "horizontalpodautoscalers"): _empty,
    ("policy", "poddisruptionbudgets"): _empty,
    ("networking.k8s.io", "ingresses"): _empty,
    ("apiextensions.k8s.io", "customresourcedefinitions"): _crd,
}


def _prepare_service(service: dict[str, Any]) -> None:
    # IP families and cluster IPs are the allocator's (allocator.py), as upstream.
    defaults.normalize_cluster_ips(service)


_ON_CREATE: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
    ("batch", "jobs"): defaults.generate_job_selector,
    ("", "namespaces"): defaults.prepare_namespace_for_create,
    ("", "services"): _prepare_service,
}


def _update_service(new: dict[str, Any], old: Mapping[str, Any]) -> None:
    defaults.normalize_cluster_ips(new, dict(old))
    drop_type_dependent_fields(new, old)


_ON_UPDATE: dict[tuple[str, str], Callable[[dict[str, Any], Mapping[str, Any]], None]] = {
    ("", "services"): _update_service,
}


def strategy_for(info: ResourceInfo) -> Strategy:
    """The strategy of a built-in resource."""
    key = (info.group, info.plural)
    return Strategy(
        has_status=info.subresource("status") is not None,
        initial_status=_INITIAL_STATUS.get(key),
        tracks_generation=key in _GENERATION,
        graceful=key == ("", "pods"),
        is_namespace=key == ("", "namespaces"),
        on_create=_ON_CREATE.get(key),
        on_update=_ON_UPDATE.get(key),
    )
