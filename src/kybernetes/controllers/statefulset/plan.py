"""What one StatefulSet sync should do: the ordered pod actions and the status, computed purely.

``plan`` follows upstream's ``updateStatefulSet`` in three passes over the set's pods:

1. **Replicas** (ordinals in range, ascending): create missing pods (from the current revision
   below the partition, else the update revision), delete and recreate Failed or Succeeded ones,
   create missing claims for Pending ones, fix identity or storage that drifted.
2. **Condemned** (ordinals out of range, descending): delete them.
3. **Update** (``RollingUpdate`` only): delete the highest-ordinal pod at or above the partition
   that is not at the update revision; it comes back at the update revision in pass 1. With
   ``maxUnavailable`` set, up to that many pods may be down at once.

Under ``OrderedReady`` (monotonic) management every pass stops at the first pod that is not
Running and Ready (and available for ``minReadySeconds``) or is terminating, and at most one
create or delete happens per sync; ``Parallel`` management does not wait. Updates always go one
pod at a time (or ``maxUnavailable`` at a time), waiting for health.

Invariant: the plan never names a pod twice for deletion and never creates an ordinal whose pod
still exists; the controller executes it in order and stops at the first failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from kybernetes.api.intstr import scaled_value_from_int_or_percent
from kybernetes.controllers.podcontrol import is_pod_available, is_pod_ready, ready_since
from kybernetes.controllers.statefulset.identity import (
    identity_matches,
    new_pod,
    ordinal_of,
    pod_revision,
    replicas,
    start_ordinal,
    storage_matches,
    with_identity,
    with_storage,
)

Obj = dict[str, Any]

CREATE: Final = "create"
DELETE: Final = "delete"
UPDATE: Final = "update"
CLAIMS: Final = "claims"


@dataclass(frozen=True)
class Revision:
    """A revision's name and the pod template it records."""

    name: str
    template: Mapping[str, Any]


@dataclass(frozen=True)
class Action:
    """One write: ``verb`` is create, delete, update (identity/storage) or claims (PVCs only)."""

    verb: str
    pod: Obj
    reason: str = ""


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    #: seconds until a pod waited on becomes available (minReadySeconds), if any
    requeue_after: float | None = None

    def wait(self, seconds: float) -> None:
        if self.requeue_after is None or seconds < self.requeue_after:
            self.requeue_after = max(seconds, 0.0)


def _spec(sts: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = sts.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_running_and_ready(pod: Mapping[str, Any]) -> bool:
    return _phase(pod) == "Running" and is_pod_ready(pod)


def is_healthy(pod: Mapping[str, Any]) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def min_ready_seconds(sts: Mapping[str, Any]) -> int:
    value = _spec(sts).get("minReadySeconds")
    return value if isinstance(value, int) else 0


def is_monotonic(sts: Mapping[str, Any]) -> bool:
    return _spec(sts).get("podManagementPolicy") != "Parallel"


def _rolling(sts: Mapping[str, Any]) -> Mapping[str, Any] | None:
    strategy = _spec(sts).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    rolling = strategy.get("rollingUpdate")
    return rolling if isinstance(rolling, Mapping) else {}


def partition(sts: Mapping[str, Any]) -> int:
    rolling = _rolling(sts) or {}
    value = rolling.get("partition")
    return value if isinstance(value, int) else 0


def _available_in(pod: Mapping[str, Any], min_ready: int, now: float) -> float:
    since = ready_since(pod)
    return 0.0 if since is None else since + min_ready - now


def versioned_pod(sts: Mapping[str, Any], current: Revision, update: Revision, ordinal: int) -> Obj:
    """The pod to create for ``ordinal`` (``newVersionedStatefulSetPod``).

    Under ``RollingUpdate`` an ordinal below the partition keeps the current revision; every
    other one (and every pod under ``OnDelete``) gets the update revision.
    """
    index = ordinal - start_ordinal(sts)
    rolling = _rolling(sts)
    if rolling is not None and index < partition(sts):
        return new_pod(sts, current.template, ordinal, current.name)
    return new_pod(sts, update.template, ordinal, update.name)


def split_pods(sts: Mapping[str, Any], pods: Sequence[Obj]) -> tuple[list[Obj | None], list[Obj]]:
    """The pods by index in range (``None`` where missing), and the condemned, highest first."""
    start, count = start_ordinal(sts), replicas(sts)
    slots: list[Obj | None] = [None] * count
    condemned: list[Obj] = []
    for pod in pods:
        ordinal = ordinal_of(pod)
        if start <= ordinal < start + count:
            slots[ordinal - start] = pod
        elif ordinal >= 0:
            condemned.append(pod)
    condemned.sort(key=ordinal_of, reverse=True)
    return slots, condemned


def plan(
    sts: Mapping[str, Any],
    pods: Sequence[Obj],
    current: Revision,
    update: Revision,
    now: float,
) -> Plan:
    """The actions of one sync for the set's claimed ``pods`` (see the module docstring)."""
    out = Plan()
    monotonic = is_monotonic(sts)
    min_ready = min_ready_seconds(sts)
    slots, condemned = split_pods(sts, pods)
    start = start_ordinal(sts)
    unhealthy = [p for p in slots if p is None or not is_healthy(p)]
    unhealthy += [p for p in reversed(condemned) if not is_healthy(p)]
    first_unhealthy = unhealthy[0] if unhealthy else None
    replicas_now: list[Obj] = []

    for index, existing in enumerate(slots):
        pod = existing
        if pod is not None and _phase(pod) in ("Failed", "Succeeded") and not is_terminating(pod):
            out.actions.append(Action(DELETE, pod, f"recreate-{_phase(pod).lower()}"))
            pod = None
        if pod is None:
            pod = versioned_pod(sts, current, update, start + index)
            out.actions.append(Action(CREATE, pod))
            replicas_now.append(pod)
            if monotonic:
                return out
            continue
        replicas_now.append(pod)
        if _phase(pod) == "Pending" and _spec(sts).get("volumeClaimTemplates"):
            out.actions.append(Action(CLAIMS, pod))
        if monotonic:
            if is_terminating(pod) or not is_running_and_ready(pod):
                return out
            if not is_pod_available(pod, min_ready, now):
                out.wait(_available_in(pod, min_ready, now))
                return out
        if is_terminating(pod):
            continue
        if not (identity_matches(sts, pod) and storage_matches(sts, pod)):
            out.actions.append(Action(UPDATE, with_storage(sts, with_identity(sts, pod))))

    for pod in condemned:
        if is_terminating(pod):
            if monotonic:
                return out
            continue
        if monotonic and pod is not first_unhealthy:
            if not is_running_and_ready(pod):
                return out
            if not is_pod_available(pod, min_ready, now):
                out.wait(_available_in(pod, min_ready, now))
                return out
        out.actions.append(Action(DELETE, pod, "scale-down"))
        if monotonic:
            return out

    rolling = _rolling(sts)
    if rolling is None:
        return out
    if rolling.get("maxUnavailable") is not None:
        _update_with_max_unavailable(sts, replicas_now, update, out)
        return out
    for index in range(len(replicas_now) - 1, partition(sts) - 1, -1):
        pod = replicas_now[index]
        if pod_revision(pod) != update.name and not is_terminating(pod):
            out.actions.append(Action(DELETE, pod, "update"))
            return out
        if not is_healthy(pod):
            return out
    return out


def _update_with_max_unavailable(
    sts: Mapping[str, Any], replicas_now: list[Obj], update: Revision, out: Plan
) -> None:
    """Delete outdated pods, highest ordinal first, while fewer than maxUnavailable are down."""
    rolling = _rolling(sts) or {}
    allowed = scaled_value_from_int_or_percent(
        rolling.get("maxUnavailable"), replicas(sts), round_up=True
    )
    allowed = max(allowed, 1)
    unavailable = sum(1 for pod in replicas_now if not is_healthy(pod))
    budget = allowed - unavailable
    for index in range(len(replicas_now) - 1, partition(sts) - 1, -1):
        if budget <= 0:
            return
        pod = replicas_now[index]
        if pod_revision(pod) != update.name and not is_terminating(pod):
            out.actions.append(Action(DELETE, pod, "update"))
            budget -= 1


def compute_status(
    sts: Mapping[str, Any],
    pods: Sequence[Obj],
    current: Revision,
    update: Revision,
    collision_count: int,
    now: float,
) -> Obj:
    """The set's status for its claimed ``pods`` (``updateStatus`` + ``completeRollingUpdate``)."""
    min_ready = min_ready_seconds(sts)
    status: Obj = {
        "observedGeneration": (sts.get("metadata") or {}).get("generation", 0),
        "replicas": 0,
        "readyReplicas": 0,
        "availableReplicas": 0,
        "currentReplicas": 0,
        "updatedReplicas": 0,
        "currentRevision": current.name,
        "updateRevision": update.name,
        "collisionCount": collision_count,
    }
    for pod in pods:
        status["replicas"] += 1
        if is_running_and_ready(pod):
            status["readyReplicas"] += 1
            if is_pod_available(pod, min_ready, now):
                status["availableReplicas"] += 1
        if not is_terminating(pod):
            revision = pod_revision(pod)
            if revision == current.name:
                status["currentReplicas"] += 1
            if revision == update.name:
                status["updatedReplicas"] += 1
    if (
        _rolling(sts) is not None
        and status["updatedReplicas"] == status["replicas"]
        and status["readyReplicas"] == status["replicas"]
    ):
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = status["updateRevision"]
    conditions = (sts.get("status") or {}).get("conditions")
    if conditions:
        status["conditions"] = conditions
    return status
