"""The Job controller's decisions that need no I/O: how many pods, which indexes, done or not.

- ``wanted_active``: parallelism, capped by the completions still missing; a Job without
  ``completions`` keeps what runs once one pod has succeeded.
- ``pending_indexes``: the lowest indexes of an Indexed Job that have neither succeeded nor
  an active (or, when replacing only Failed pods, terminating) pod.
- ``failure``: why a running Job must fail, in upstream's order: a ``FailJob`` pod failure policy
  rule, then ``backoffLimit`` (failed pods, or container restarts under ``OnFailure``), then
  ``activeDeadlineSeconds``; the reason and the message upstream writes.
- ``removal_order``: which active pods go first when there are too many.
- ``condition``: a JobCondition as upstream writes it (probe and transition time both now).

Invariant: pure; objects are only read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple

from kybernetes.controllers.job import failurepolicy
from kybernetes.controllers.job.pods import (
    completion_index,
    is_active,
    is_failed,
    is_ready,
    is_terminating,
    only_replaces_failed,
    phase,
)

__all__ = [
    "BACKOFF_LIMIT_MESSAGE",
    "DEADLINE_MESSAGE",
    "Failure",
    "condition",
    "deadline_left",
    "failure",
    "is_finished",
    "is_suspended",
    "pending_indexes",
    "removal_order",
    "wanted_active",
]

Obj = dict[str, Any]
Pods = Sequence[Mapping[str, Any]]
BACKOFF_LIMIT_MESSAGE: Final = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE: Final = "Job was active longer than specified deadline"


class Failure(NamedTuple):
    reason: str
    message: str


def condition(type_: str, reason: str, message: str, now: str, status: str = "True") -> Obj:
    return {
        "type": type_,
        "status": status,
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def is_finished(job: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or ()
    )


def is_suspended(job: Mapping[str, Any]) -> bool:
    return bool((job.get("spec") or {}).get("suspend"))


def wanted_active(job: Mapping[str, Any], active: int, succeeded: int) -> int:
    spec = job.get("spec") or {}
    parallelism = int(spec.get("parallelism", 1))
    completions = spec.get("completions")
    if completions is None:
        return active if succeeded > 0 else parallelism
    return max(0, min(int(completions) - succeeded, parallelism))


def pending_indexes(
    job: Mapping[str, Any], pods: Pods, succeeded: Iterable[int], count: int
) -> list[int]:
    completions = int((job.get("spec") or {}).get("completions") or 0)
    busy = set(succeeded)
    replace_failed_only = only_replaces_failed(job)
    for pod in pods:
        if is_active(pod) or (replace_failed_only and is_terminating(pod)):
            index = completion_index(pod)
            if index is not None:
                busy.add(index)
    out: list[int] = []
    for index in range(completions):
        if len(out) >= count:
            break
        if index not in busy:
            out.append(index)
    return out


def _restarts(pods: Pods) -> int:
    return sum(
        int(container.get("restartCount") or 0)
        for pod in pods
        if phase(pod) in ("Running", "Pending")
        for key in ("initContainerStatuses", "containerStatuses")
        for container in (pod.get("status") or {}).get(key) or ()
    )


def deadline_left(job: Mapping[str, Any], start: float | None, now: float) -> float | None:
    """Seconds until ``activeDeadlineSeconds`` runs out (``None``: no deadline applies)."""
    deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
    if deadline is None or start is None or is_suspended(job):
        return None
    return float(deadline) - (now - start)


def failure(
    job: Mapping[str, Any], pods: Pods, failed: int, start: float | None, now: float
) -> Failure | None:
    """Why the Job must fail now, if it must (see the module docstring for the order)."""
    spec = job.get("spec") or {}
    policy = spec.get("podFailurePolicy")
    if policy:
        for pod in pods:
            if is_failed(pod, job):
                found = failurepolicy.match(policy, pod)
                if found.message is not None:
                    return Failure("PodFailurePolicy", found.message)
    limit = int(spec.get("backoffLimit", 6))
    on_failure = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    restarts_exceeded = False
    if on_failure == "OnFailure":
        restarts = _restarts(pods)
        restarts_exceeded = restarts > 0 if limit == 0 else restarts >= limit
    if failed > limit or restarts_exceeded:
        return Failure("BackoffLimitExceeded", BACKOFF_LIMIT_MESSAGE)
    left = deadline_left(job, start, now)
    if left is not None and left <= 0:
        return Failure("DeadlineExceeded", DEADLINE_MESSAGE)
    return None


def removal_order(pods: Pods, indexed: bool, completions: int) -> list[Obj]:
    """Pods to delete first: bad or repeated indexes, then unscheduled, pending, not ready,
    and the newest (upstream's ``activePodsForRemoval`` ranking, simplified)."""
    seen: set[int] = set()
    bad: list[Mapping[str, Any]] = []
    rest: list[Mapping[str, Any]] = []
    for pod in sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", "")):
        index = completion_index(pod)
        if indexed and (index is None or index >= completions or index in seen):
            bad.append(pod)
            continue
        if index is not None:
            seen.add(index)
        rest.append(pod)

    def rank(pod: Mapping[str, Any]) -> tuple[bool, bool, bool, str]:
        created = pod["metadata"].get("creationTimestamp", "")
        negated = "".join(chr(0x10FFFF - ord(ch)) for ch in created)  # newest first
        return (
            bool((pod.get("spec") or {}).get("nodeName")),
            phase(pod) == "Running",
            is_ready(pod),
            negated,
        )

    return [dict(p) for p in bad + sorted(rest, key=rank)]
