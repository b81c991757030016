"""A Deployment's status and conditions, computed from its ReplicaSets: pure functions.

``calculate_status`` sums the ReplicaSets into the fields ``kubectl rollout status`` reads
(observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas,
unavailableReplicas) and sets the Available condition (MinimumReplicasAvailable once at least
``replicas - maxUnavailable`` pods are available). ``rollout_status`` adds the Progressing
condition upstream's ``syncRolloutStatus`` maintains: NewReplicaSetAvailable when the rollout is
complete, ReplicaSetUpdated (lastUpdateTime refreshed) whenever it moves, and
ProgressDeadlineExceeded once nothing has moved for ``progressDeadlineSeconds``.
``requeue_delay`` says when to look again so a stuck rollout times out on time.

Invariant: a condition's ``lastTransitionTime`` changes only when its status changes; a
complete or timed-out rollout is never re-estimated until a new rollout starts.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from kybernetes.api.meta import get_condition, name_of, parse_time
from kybernetes.controllers.deployment.util import (
    has_deadline,
    max_unavailable,
    replicas,
    spec_of,
    spec_total,
    status_of,
    status_total,
)

Obj = dict[str, Any]

AVAILABLE: Final = "Available"
PROGRESSING: Final = "Progressing"
REPLICA_FAILURE: Final = "ReplicaFailure"

MIN_AVAILABLE: Final = "MinimumReplicasAvailable"
MIN_UNAVAILABLE: Final = "MinimumReplicasUnavailable"
NEW_RS_CREATED: Final = "NewReplicaSetCreated"
FOUND_NEW_RS: Final = "FoundNewReplicaSet"
RS_UPDATED: Final = "ReplicaSetUpdated"
NEW_RS_AVAILABLE: Final = "NewReplicaSetAvailable"
TIMED_OUT: Final = "ProgressDeadlineExceeded"
PAUSED: Final = "DeploymentPaused"
RESUMED: Final = "DeploymentResumed"
FAILED_RS_CREATE: Final = "ReplicaSetCreateError"


def stamp(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(type_: str, status: str, reason: str, message: str, now: float) -> Obj:
    at = stamp(now)
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": at,
        "lastTransitionTime": at,
        "reason": reason,
        "message": message,
    }


def set_condition(status: Obj, new: Obj) -> None:
    """``SetDeploymentCondition``: same status and reason is a no-op; the entry moves last."""
    conditions: list[Obj] = status.setdefault("conditions", [])
    current = get_condition(conditions, new["type"])
    if current is not None and current.get("status") == new["status"]:
        if current.get("reason") == new["reason"]:
            return
        new = {**new, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [c for c in conditions if c.get("type") != new["type"]] + [new]


def remove_condition(status: Obj, type_: str) -> None:
    conditions = [c for c in status.get("conditions") or () if c.get("type") != type_]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


def calculate_status(
    d: Mapping[str, Any], all_rss: Sequence[Obj | None], new_rs: Obj | None
) -> Obj:
    """The Deployment's counters from its ReplicaSets; conditions are carried over unchanged."""
    available = status_total(all_rss, "availableReplicas")
    total = spec_total(all_rss)
    old = status_of(d)
    status: Obj = {
        "observedGeneration": int((d.get("metadata") or {}).get("generation") or 0),
        "replicas": status_total(all_rss, "replicas"),
        "updatedReplicas": status_total([new_rs], "replicas"),
        "readyReplicas": status_total(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0),
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = copy.deepcopy(old["conditions"])
    return status


def with_available(d: Mapping[str, Any], status: Obj, now: float) -> Obj:
    """Set the Available condition on ``status`` (mutated and returned)."""
    if status["availableReplicas"] >= replicas(d) - max_unavailable(d):
        cond = condition(
            AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.", now
        )
    else:
        cond = condition(
            AVAILABLE,
            "False",
            MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            now,
        )
    set_condition(status, cond)
    return status


def complete(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """Every replica updated and available, and this generation observed."""
    want = replicas(d)
    generation = int((d.get("metadata") or {}).get("generation") or 0)
    return (
        int(status.get("updatedReplicas") or 0) == want
        and int(status.get("replicas") or 0) == want
        and int(status.get("availableReplicas") or 0) == want
        and int(status.get("observedGeneration") or 0) >= generation
    )


def progressing(d: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Anything moved since the status the Deployment has now (``DeploymentProgressing``)."""
    old = status_of(d)

    def get(status: Mapping[str, Any], field: str) -> int:
        return int(status.get(field) or 0)

    old_old = get(old, "replicas") - get(old, "updatedReplicas")
    new_old = get(new, "replicas") - get(new, "updatedReplicas")
    return (
        get(new, "updatedReplicas") > get(old, "updatedReplicas")
        or new_old < old_old
        or get(new, "readyReplicas") > get(old, "readyReplicas")
        or get(new, "availableReplicas") > get(old, "availableReplicas")
    )


def timed_out(d: Mapping[str, Any], status: Mapping[str, Any], now: float) -> bool:
    if not has_deadline(d):
        return False
    cond = get_condition(status.get("conditions"), PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    updated = cond.get("lastUpdateTime")
    if not updated:
        return False
    deadline = parse_time(updated).timestamp() + int(spec_of(d)["progressDeadlineSeconds"])
    return deadline < now


def rollout_status(
    d: Mapping[str, Any], all_rss: Sequence[Obj | None], new_rs: Obj | None, now: float
) -> Obj:
    """The status ``syncRolloutStatus`` writes: counts, Available, Progressing, ReplicaFailure."""
    status = with_available(d, calculate_status(d, all_rss, new_rs), now)
    if not has_deadline(d):
        remove_condition(status, PROGRESSING)
    current = get_condition(status_of(d).get("conditions"), PROGRESSING)
    already_complete = (
        status["replicas"] == status["updatedReplicas"]
        and current is not None
        and current.get("reason") == NEW_RS_AVAILABLE
    )
    subject = (
        f'ReplicaSet "{name_of(new_rs)}"' if new_rs is not None else f'Deployment "{name_of(d)}"'
    )
    if has_deadline(d) and not already_complete:
        if complete(d, status):
            msg = f"{subject} has successfully progressed."
            set_condition(status, condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg, now))
        elif progressing(d, status):
            cond = condition(PROGRESSING, "True", RS_UPDATED, f"{subject} is progressing.", now)
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_condition(status, PROGRESSING)
            set_condition(status, cond)
        elif timed_out(d, status, now):
            msg = f"{subject} has timed out progressing."
            set_condition(status, condition(PROGRESSING, "False", TIMED_OUT, msg, now))
    failure = _replica_failure(all_rss, new_rs)
    if failure is not None:
        set_condition(status, failure)
    else:
        remove_condition(status, REPLICA_FAILURE)
    return status


def _replica_failure(all_rss: Sequence[Obj | None], new_rs: Obj | None) -> Obj | None:
    """The first ReplicaFailure of the new ReplicaSet, else of any ReplicaSet, as a condition."""
    for rs in ([new_rs] if new_rs is not None else []) + [r for r in all_rss if r is not None]:
        for cond in status_of(rs).get("conditions") or ():
            if cond.get("type") == REPLICA_FAILURE:
                return {
                    "type": REPLICA_FAILURE,
                    "status": cond.get("status"),
                    "lastUpdateTime": cond.get("lastTransitionTime"),
                    "lastTransitionTime": cond.get("lastTransitionTime"),
                    "reason": cond.get("reason", ""),
                    "message": cond.get("message", ""),
                }
    return None


def wire(status: Mapping[str, Any]) -> Obj:
    """``status`` as Go serialises it: zero counters and empty conditions left out."""
    return {k: v for k, v in status.items() if v or (k == "collisionCount" and v is not None)}


def requeue_delay(d: Mapping[str, Any], new_status: Mapping[str, Any], now: float) -> float | None:
    """Seconds until a stuck rollout should be checked for its deadline; ``None``: no need.

    0 means "soon, rate limited" (less than a second is left), as upstream.
    """
    current = get_condition(status_of(d).get("conditions"), PROGRESSING)
    if not has_deadline(d) or current is None:
        return None
    if complete(d, new_status) or current.get("reason") == TIMED_OUT:
        return None
    updated = current.get("lastUpdateTime")
    if not updated:
        return None
    after = parse_time(updated).timestamp() + int(spec_of(d)["progressDeadlineSeconds"]) - now
    return 0.0 if after < 1.0 else after + 1.0


def paused_condition(d: Mapping[str, Any], now: float) -> Obj | None:
    """The Progressing condition to record as ``spec.paused`` flips (``checkPausedConditions``)."""
    if not has_deadline(d):
        return None
    current = get_condition(status_of(d).get("conditions"), PROGRESSING)
    if current is not None and current.get("reason") == TIMED_OUT:
        return None
    paused_recorded = current is not None and current.get("reason") == PAUSED
    if spec_of(d).get("paused") and not paused_recorded:
        return condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused", now)
    if not spec_of(d).get("paused") and paused_recorded:
        return condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed", now)
    return None
