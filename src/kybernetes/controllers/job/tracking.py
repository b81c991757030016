"""Counting finished pods exactly once: the ``batch.kubernetes.io/job-tracking`` finalizer protocol.

Every pod a Job creates carries the tracking finalizer, so it cannot vanish before the Job has
counted it. A sync that sees finished pods still carrying it:

1. records their uids in ``status.uncountedTerminatedPods`` (succeeded / failed; an Indexed
   Job records succeeded pods by index in ``completedIndexes`` instead), together with any
   interim ``FailureTarget`` / ``SuccessCriteriaMet`` condition, and writes the status;
2. removes the finalizer from those pods (expecting each removal, so a cache that still shows
   the finalizer does not make the next sync count the pod again);
3. moves every uncounted uid whose pod no longer has the finalizer into ``succeeded`` /
   ``failed``; once nothing is uncounted and no pod is terminating, the interim condition becomes
   the terminal ``Complete`` (with ``completionTime``) or ``Failed`` one, and the status is
   written again with the ``Completed`` / failure event.

Invariant: each status write carries the resourceVersion it read, so a sync working from a
stale cache fails with Conflict instead of counting a pod twice; a pod's finalizer is removed
only after its uid (or index) is durably in the Job status.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.api.meta import name_of, uid_of
from kybernetes.client.events import NORMAL, WARNING, EventRecorder
from kybernetes.client.resource import JOBS, PODS
from kybernetes.client.rest import Client
from kybernetes.controllers.job import failurepolicy
from kybernetes.controllers.job.backoff import BackoffRecord
from kybernetes.controllers.job.decisions import condition
from kybernetes.controllers.job.indexes import format_indexes
from kybernetes.controllers.job.pods import (
    TRACKING_FINALIZER,
    completion_index,
    has_finalizer,
    is_failed,
    phase,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]
MAX_UNCOUNTED: Final = 500
_INTERIM: Final = {"FailureTarget": "Failed", "SuccessCriteriaMet": "Complete"}


@dataclass
class SyncState:
    """One sync's view of a Job, shared by the controller and the tracker."""

    key: str
    job: Obj
    pods: Sequence[Obj]
    now: float
    finished: Obj | None = None
    terminating: int = 0
    expected_removals: set[str] = field(default_factory=set)
    previous_indexes: set[int] = field(default_factory=set)
    record: BackoffRecord = field(default_factory=BackoffRecord)

    @property
    def indexed(self) -> bool:
        return (self.job.get("spec") or {}).get("completionMode") == "Indexed"

    @property
    def completions(self) -> int:
        return int((self.job.get("spec") or {}).get("completions") or 0)

    @property
    def stamp(self) -> str:
        return datetime.fromtimestamp(self.now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Tracker:
    """Runs the protocol above for the Job controller (which owns the shared state it uses)."""

    def __init__(
        self,
        client: Client,
        recorder: EventRecorder,
        removing: dict[str, set[str]],
        backoff: dict[str, BackoffRecord],
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.removing = removing
        self.backoff = backoff

    async def track(self, state: SyncState, needs_update: bool) -> None:
        job = state.job
        status = job["status"]
        uncounted = status.get("uncountedTerminatedPods") or {}
        counted_s: list[str] = list(uncounted.get("succeeded") or ())
        counted_f: list[str] = list(uncounted.get("failed") or ())
        with_finalizer = {
            uid_of(p)
            for p in state.pods
            if has_finalizer(p) and uid_of(p) not in state.expected_removals
        }
        failing = state.finished is not None and state.finished["type"] in (
            "FailureTarget",
            "Failed",
        )
        policy = (job.get("spec") or {}).get("podFailurePolicy")
        release: list[Obj] = []
        new_indexes: set[int] = set()
        flush = needs_update
        capped = False
        for pod in state.pods:
            uid = uid_of(pod)
            if not has_finalizer(pod) or uid in state.expected_removals:
                continue
            failed = is_failed(pod, job)
            deleting_job = bool(job["metadata"].get("deletionTimestamp"))
            if not (deleting_job or state.finished or phase(pod) == "Succeeded" or failed):
                continue
            release.append(pod)
            index = completion_index(pod)
            if index is not None and index >= state.completions:
                index = None
            if phase(pod) == "Succeeded" and uid not in counted_f:
                if state.indexed:
                    if index is not None and index not in state.previous_indexes:
                        new_indexes.add(index)
                        flush = True
                elif uid not in counted_s:
                    counted_s.append(uid)
                    flush = True
            elif (
                (failed or failing)
                and uid not in counted_f
                and (not state.indexed or index is not None)
                and failurepolicy.match(policy, pod).counts
            ):
                counted_f.append(uid)
                flush = True
            if len(new_indexes) + len(counted_s) + len(counted_f) >= MAX_UNCOUNTED:
                capped = True
                break
        if state.indexed:
            merged = state.previous_indexes | new_indexes
            text = format_indexes(merged)
            if text != status.get("completedIndexes", ""):
                flush = True
            status["completedIndexes"] = text
            status["succeeded"] = len(merged)
        status["uncountedTerminatedPods"] = _uncounted(counted_s, counted_f)
        finished = state.finished
        if finished is not None and finished["type"] in _INTERIM:
            conditions = status.setdefault("conditions", [])
            if not any(c.get("type") == finished["type"] for c in conditions):
                conditions.append(finished)
                flush = True
            finished = condition(
                _INTERIM[finished["type"]], finished["reason"], finished["message"], state.stamp
            )
        if flush:
            job = await self._write(job)
            self.backoff[state.key] = state.record
            flush = False
        with_finalizer -= await self.release(state.key, release)
        if _count_released(job["status"], with_finalizer):
            flush = True
        done = not capped and _enact(job["status"], finished, state.terminating)
        if done or flush:
            job = await self._write(job)
        if done and finished is not None:
            self._record_finished(job, finished)

    async def _write(self, job: Obj) -> Obj:
        status = job["status"]
        for counter in ("active", "succeeded", "failed"):
            if not status.get(counter):
                status.pop(counter, None)
        written = await self.client.update_status(JOBS, job)
        written.setdefault("status", {}).setdefault("uncountedTerminatedPods", {})
        return written

    async def release(self, key: str | None, pods: Sequence[Obj]) -> set[str]:
        """Remove the tracking finalizer (expecting it for Job ``key``, if given); returns the
        uids it is gone from."""
        if not pods:
            return set()
        expected = self.removing.setdefault(key, set()) if key is not None else set()
        expected.update(uid_of(p) for p in pods)
        results = await asyncio.gather(*(self._remove_finalizer(p) for p in pods))
        removed: set[str] = set()
        for pod, ok in zip(pods, results, strict=True):
            if ok:
                removed.add(uid_of(pod))
            else:
                expected.discard(uid_of(pod))
        return removed

    async def _remove_finalizer(self, pod: Obj) -> bool:
        meta = pod["metadata"]
        patch = {
            "metadata": {
                "uid": meta["uid"],
                "$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER],
            }
        }
        try:
            await self.client.patch(
                PODS, meta["name"], patch, meta.get("namespace"), patch_type="strategic"
            )
        except errors.NotFound:
            return True
        except errors.StatusError as exc:
            log.warning("finalizer not removed pod=%s error=%s", name_of(pod), exc)
            return False
        return True

    def _record_finished(self, job: Obj, finished: Mapping[str, Any]) -> None:
        if finished["type"] == "Complete":
            self.recorder.event(job, NORMAL, "Completed", "Job completed")
        else:
            self.recorder.event(job, WARNING, finished["reason"], finished["message"])
        log.info(
            "job finished job=%s/%s condition=%s reason=%s",
            job["metadata"].get("namespace"),
            name_of(job),
            finished["type"],
            finished.get("reason"),
        )


def _uncounted(succeeded: list[str], failed: list[str]) -> Obj:
    out: Obj = {}
    if succeeded:
        out["succeeded"] = succeeded
    if failed:
        out["failed"] = failed
    return out


def _count_released(status: Obj, with_finalizer: set[str]) -> bool:
    """Move uncounted uids whose pods lost the finalizer into the counters."""
    uncounted = status.get("uncountedTerminatedPods") or {}
    changed = False
    for kind in ("succeeded", "failed"):
        uids = uncounted.get(kind) or []
        kept = [uid for uid in uids if uid in with_finalizer]
        if len(kept) != len(uids):
            status[kind] = int(status.get(kind) or 0) + len(uids) - len(kept)
            changed = True
    if changed:
        status["uncountedTerminatedPods"] = _uncounted(
            [u for u in uncounted.get("succeeded") or () if u in with_finalizer],
            [u for u in uncounted.get("failed") or () if u in with_finalizer],
        )
    return changed


def _enact(status: Obj, finished: Obj | None, terminating: int) -> bool:
    """Set the terminal condition once nothing is uncounted and no pod is terminating."""
    if finished is None or terminating > 0:
        return False
    uncounted = status.get("uncountedTerminatedPods") or {}
    if uncounted.get("succeeded") or uncounted.get("failed"):
        return False
    conditions: list[Obj] = status.setdefault("conditions", [])
    for index, existing in enumerate(conditions):
        if existing.get("type") == finished["type"]:
            conditions[index] = finished
            break
    else:
        conditions.append(finished)
    if finished["type"] == "Complete":
        status["completionTime"] = finished["lastTransitionTime"]
    return True
