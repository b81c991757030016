"""Resource quota arithmetic: what one object costs against a ResourceQuota's ``hard`` limits.

``usage(group, plural, obj)`` is upstream's quota evaluators in one function:

- every object: ``count/<plural>`` (``count/<plural>.<group>`` outside the core group);
- pods that are not terminal: ``pods``, and the sum of container requests and limits
  (``requests.cpu``/``cpu``, ``requests.memory``/``memory``, ``limits.*``,
  ``requests.ephemeral-storage``, extended resources as ``requests.<name>``), init
  containers counted by the max rule and ``spec.overhead`` added, as the scheduler does;
- services: ``services``, ``services.nodeports`` (one per port of a NodePort or LoadBalancer
  service), ``services.loadbalancers``;
- persistentvolumeclaims: ``persistentvolumeclaims``, ``requests.storage``, and the per-class
  ``<class>.storageclass.storage.k8s.io/requests.storage`` and ``.../persistentvolumeclaims``;
- the legacy object counts ``configmaps``, ``secrets``, ``replicationcontrollers``,
  ``resourcequotas``.

``matches_scopes`` applies a quota's ``scopes`` (Terminating, NotTerminating, BestEffort,
NotBestEffort) to a pod. All functions are pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from kybernetes.api.quantity import Quantity, QuantityError, parse_quantity

Usage = dict[str, Quantity]
_ONE: Final = Quantity(1)
_LEGACY_COUNTS: Final = {
    "configmaps": "configmaps",
    "secrets": "secrets",
    "replicationcontrollers": "replicationcontrollers",
    "resourcequotas": "resourcequotas",
}
_COMPUTE: Final = ("cpu", "memory", "ephemeral-storage")


def _q(value: Any) -> Quantity | None:
    try:
        return parse_quantity(str(value))
    except (QuantityError, ValueError):
        return None


def _add(total: Usage, name: str, amount: Quantity) -> None:
    current = total.get(name)
    total[name] = amount if current is None else current + amount


def _max_into(total: dict[str, Quantity], values: Mapping[str, Any]) -> None:
    for name, raw in values.items():
        amount = _q(raw)
        if amount is not None and (name not in total or amount > total[name]):
            total[name] = amount


def _sum_into(total: dict[str, Quantity], values: Mapping[str, Any]) -> None:
    for name, raw in values.items():
        amount = _q(raw)
        if amount is not None:
            _add(total, name, amount)


def pod_resources(spec: Mapping[str, Any], kind: str) -> dict[str, Quantity]:
    """A pod's effective ``requests`` or ``limits`` (``kind``): containers summed, the largest
    init container if larger, plus overhead."""
    total: dict[str, Quantity] = {}
    for container in spec.get("containers") or ():
        _sum_into(total, ((container.get("resources") or {}).get(kind) or {}))
    init_max: dict[str, Quantity] = {}
    for container in spec.get("initContainers") or ():
        _max_into(init_max, ((container.get("resources") or {}).get(kind) or {}))
    for name, amount in init_max.items():
        if name not in total or amount > total[name]:
            total[name] = amount
    _sum_into(total, spec.get("overhead") or {})
    return total


def is_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_best_effort(pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    for container in (*(spec.get("containers") or ()), *(spec.get("initContainers") or ())):
        resources = container.get("resources") or {}
        if resources.get("requests") or resources.get("limits"):
            return False
    return True


def matches_scopes(scopes: Iterable[str], pod: Mapping[str, Any]) -> bool:
    """Whether a pod falls under every one of a quota's ``scopes``."""
    spec = pod.get("spec") or {}
    for scope in scopes:
        terminating = spec.get("activeDeadlineSeconds") is not None
        if scope == "Terminating" and not terminating:
            return False
        if scope == "NotTerminating" and terminating:
            return False
        if scope == "BestEffort" and not is_best_effort(pod):
            return False
        if scope == "NotBestEffort" and is_best_effort(pod):
            return False
    return True


def count_name(group: str, plural: str) -> str:
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def usage(group: str, plural: str, obj: Mapping[str, Any]) -> Usage:
    """What ``obj`` of resource ``group/plural`` uses, by quota resource name."""
    out: Usage = {count_name(group, plural): _ONE}
    if group:
        return out
    legacy = _LEGACY_COUNTS.get(plural)
    if legacy is not None:
        out[legacy] = _ONE
    spec = obj.get("spec") or {}
    if plural == "pods":
        if is_terminal(obj):
            return {}
        out["pods"] = _ONE
        for kind, prefix in (("requests", "requests."), ("limits", "limits.")):
            for name, amount in pod_resources(spec, kind).items():
                _add(out, prefix + name, amount)
                if kind == "requests" and name in _COMPUTE:
                    _add(out, name, amount)
    elif plural == "services":
        out["services"] = _ONE
        kind = spec.get("type", "ClusterIP")
        if kind in ("NodePort", "LoadBalancer"):
            out["services.nodeports"] = Quantity(len(spec.get("ports") or ()))
        if kind == "LoadBalancer":
            out["services.loadbalancers"] = _ONE
    elif plural == "persistentvolumeclaims":
        out["persistentvolumeclaims"] = _ONE
        storage = _q(((spec.get("resources") or {}).get("requests") or {}).get("storage", "0"))
        if storage is not None:
            out["requests.storage"] = storage
        cls = spec.get("storageClassName")
        if cls:
            out[f"{cls}.storageclass.storage.k8s.io/persistentvolumeclaims"] = _ONE
            if storage is not None:
                out[f"{cls}.storageclass.storage.k8s.io/requests.storage"] = storage
    return out


def total(usages: Iterable[Usage], names: Iterable[str]) -> Usage:
    """The sum of ``usages`` restricted to ``names`` (zero where nothing was used)."""
    wanted = set(names)
    out: Usage = {name: Quantity(0) for name in wanted}
    for one in usages:
        for name, amount in one.items():
            if name in wanted:
                out[name] = out[name] + amount
    return out
