"""Per-node decisions of a DaemonSet: which nodes need a pod, which pods must go, the status.

``manage`` is upstream's ``podsShouldBeOnNode`` over every node: a node that should run a
daemon pod and has none needs one; on a node where a pod may keep running, Failed pods are
replaced (deleted; the next sync creates anew) and extra pods are deleted, keeping the oldest (or,
while surging, the oldest new and the oldest old pod until the new one is available); pods on
nodes that may not keep them are deleted, as are unbound pods pinned to nodes that no longer
exist. ``status`` counts upstream's eight status fields.

Everything here is pure: it reads the cached pods and nodes and returns names and counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.intstr import scaled_value_from_int_or_percent
from kybernetes.api.meta import name_of
from kybernetes.controllers.daemonset.placement import should_run, target_node
from kybernetes.controllers.history import POD_REVISION_LABEL
from kybernetes.controllers.podcontrol import is_pod_available, is_pod_ready

Obj = dict[str, Any]


@dataclass
class Decisions:
    create_on: list[str] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)
    #: Failed pods, by node, to delete unless that node's failure backoff holds them back
    failed: list[tuple[str, Obj]] = field(default_factory=list)


def _spec(ds: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = ds.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def min_ready_seconds(ds: Mapping[str, Any]) -> int:
    value = _spec(ds).get("minReadySeconds")
    return value if isinstance(value, int) else 0


def _rolling(ds: Mapping[str, Any]) -> Mapping[str, Any]:
    strategy = _spec(ds).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return {}
    return strategy.get("rollingUpdate") or {}


def surge_count(ds: Mapping[str, Any], desired: int) -> int:
    """``maxSurge`` scaled to ``desired`` nodes, rounding up (0 unless RollingUpdate)."""
    return scaled_value_from_int_or_percent(_rolling(ds).get("maxSurge") or 0, desired, True)


def unavailable_count(ds: Mapping[str, Any], desired: int) -> int:
    """``maxUnavailable`` scaled to ``desired`` nodes, rounding up (0 unless RollingUpdate)."""
    value = _rolling(ds).get("maxUnavailable") or 0
    return scaled_value_from_int_or_percent(value, desired, True)


def allows_surge(ds: Mapping[str, Any]) -> bool:
    return surge_count(ds, 1) != 0


def is_updated(pod: Mapping[str, Any], hash_: str) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return bool(hash_) and labels.get(POD_REVISION_LABEL) == hash_


def is_deleting(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def oldest_first(pods: Sequence[Obj]) -> list[Obj]:
    """Bound pods first, then by creation time, then name (``podByCreationTimestampAndPhase``)."""
    return sorted(
        pods,
        key=lambda p: (
            not (p.get("spec") or {}).get("nodeName"),
            str((p.get("metadata") or {}).get("creationTimestamp") or ""),
            name_of(p),
        ),
    )


def pods_by_node(pods: Sequence[Obj]) -> dict[str, list[Obj]]:
    """The daemon pods per target node; finished pods already being deleted are left out."""
    out: dict[str, list[Obj]] = {}
    for pod in pods:
        if is_deleting(pod) and _phase(pod) in ("Succeeded", "Failed"):
            continue
        node = target_node(pod)
        if node is not None:
            out.setdefault(node, []).append(pod)
    return out


def manage(
    ds: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    node_pods: Mapping[str, list[Obj]],
    hash_: str,
    now: float,
) -> Decisions:
    out = Decisions()
    for node in nodes:
        node_name = name_of(node)
        run, keep = should_run(node, ds)
        pods = node_pods.get(node_name) or []
        if run and not pods:
            out.create_on.append(node_name)
        elif keep:
            running: list[Obj] = []
            for pod in pods:
                if is_deleting(pod):
                    continue
                if _phase(pod) == "Failed":
                    out.failed.append((node_name, pod))
                elif _phase(pod) == "Succeeded":
                    out.delete.append(pod)
                else:
                    running.append(pod)
            out.delete.extend(_excess(ds, oldest_first(running), hash_, now))
        elif pods:
            out.delete.extend(p for p in pods if not is_deleting(p))
    known = {name_of(n) for n in nodes}
    for node_name, pods in node_pods.items():
        if node_name not in known:
            out.delete.extend(
                p for p in pods if not (p.get("spec") or {}).get("nodeName") and not is_deleting(p)
            )
    return out


def _excess(ds: Mapping[str, Any], running: list[Obj], hash_: str, now: float) -> list[Obj]:
    """Pods beyond the one (or, while surging, two) a node may hold, oldest kept."""
    if len(running) < 2:
        return []
    if not allows_surge(ds):
        return running[1:]
    excess: list[Obj] = []
    oldest_new = oldest_old = None
    for pod in running:
        if is_updated(pod, hash_):
            if oldest_new is None:
                oldest_new = pod
                continue
        elif oldest_old is None:
            oldest_old = pod
            continue
        excess.append(pod)
    if (
        oldest_new is not None
        and oldest_old is not None
        and (
            not is_pod_ready(oldest_old) or is_pod_available(oldest_new, min_ready_seconds(ds), now)
        )
    ):
        excess.append(oldest_old)
    return excess


def status(
    ds: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    node_pods: Mapping[str, list[Obj]],
    hash_: str,
    now: float,
) -> dict[str, int]:
    """The counted status fields (``updateDaemonSetStatus``), judged by each node's oldest pod."""
    counts = dict.fromkeys(
        (
            "desiredNumberScheduled",
            "currentNumberScheduled",
            "numberMisscheduled",
            "numberReady",
            "numberAvailable",
            "updatedNumberScheduled",
        ),
        0,
    )
    min_ready = min_ready_seconds(ds)
    for node in nodes:
        run, _ = should_run(node, ds)
        pods = node_pods.get(name_of(node)) or []
        if not run:
            if pods:
                counts["numberMisscheduled"] += 1
            continue
        counts["desiredNumberScheduled"] += 1
        if not pods:
            continue
        counts["currentNumberScheduled"] += 1
        pod = oldest_first(pods)[0]
        if is_pod_ready(pod):
            counts["numberReady"] += 1
            if is_pod_available(pod, min_ready, now):
                counts["numberAvailable"] += 1
        if is_updated(pod, hash_):
            counts["updatedNumberScheduled"] += 1
    counts["numberUnavailable"] = counts["desiredNumberScheduled"] - counts["numberAvailable"]
    return counts
