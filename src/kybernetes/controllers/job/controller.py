"""The Job controller: run pods until enough succeed, or fail the Job by its limits.

A sync of one Job (level-triggered, from the informer caches; time from the injected clock):

1. Read the Job's pods (controlled by its uid), count succeeded and failed ones (status
   counters + uncounted uids + finished pods still carrying the tracking finalizer), active,
   ready and terminating pods; set ``startTime`` when a non-suspended Job first runs.
2. Decide whether it must finish: an interim ``FailureTarget`` / ``SuccessCriteriaMet`` already
   recorded, a ``FailJob`` pod-failure-policy rule, ``backoffLimit``, ``activeDeadlineSeconds``
   (requeued for the exact moment it runs out). A finishing Job deletes its active pods.
3. Otherwise, once earlier creations and deletions have been observed (expectations), converge
   the active pods: delete all when suspended, delete extras, or create the missing ones (for
   Indexed Jobs the lowest pending indexes) in slow-start batches, after the pod-failure backoff
   (10 s doubling to 10 min, requeued for the time left). Enough successes with nothing active
   sets ``SuccessCriteriaMet``; the ``Suspended`` condition follows ``spec.suspend``.
4. ``tracking.Tracker`` counts finished pods exactly once and writes the status and the final
   condition.

Pods whose Job is gone or finished but which still carry the tracking finalizer are queued as
``pod:<key>`` items and released. Invariant: the controller never creates or deletes pods for a
Job while its expectations from an earlier sync are unmet.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.api.meta import controller_of, is_controlled_by, name_of, parse_time, uid_of
from kybernetes.client.cache import OWNER_UID_INDEX, index_by_owner_uid, key_of
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.informer import Handler
from kybernetes.client.resource import JOBS, PODS
from kybernetes.controllers.base import ControllerContext, QueueController
from kybernetes.controllers.expectations import Expectations
from kybernetes.controllers.job import backoff, decisions, failurepolicy, indexes
from kybernetes.controllers.job.backoff import BackoffRecord
from kybernetes.controllers.job.pods import (
    completion_index,
    finish_time,
    has_finalizer,
    is_active,
    is_failed,
    is_ready,
    is_terminating,
    new_pod,
    only_replaces_failed,
    phase,
)
from kybernetes.controllers.job.tracking import SyncState, Tracker

log = logging.getLogger(__name__)

Obj = dict[str, Any]
COMPONENT: Final = "job-controller"
MANAGER: Final = "kubernetes.io/job-controller"
MAX_CREATE_DELETE_PER_SYNC: Final = 500
_ORPHAN: Final = "pod:"


class JobController(QueueController):
    name = "job"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self.recorder = context.recorder(COMPONENT)
        self.jobs = self.informer(context.informers.informer(JOBS))
        self.pods = self.informer(context.informers.informer(PODS))
        self.pods.add_indexer(OWNER_UID_INDEX, index_by_owner_uid)
        self.expectations = Expectations(context.clock)
        self.removing: dict[str, set[str]] = {}
        self.backoff: dict[str, BackoffRecord] = {}
        self.tracker = Tracker(self.client, self.recorder, self.removing, self.backoff)
        self.jobs.add_handler(Handler(self.enqueue, lambda _o, new: self.enqueue(new), self._gone))
        self.pods.add_handler(Handler(self._pod_added, self._pod_updated, self._pod_deleted))

    # --- events ----------------------------------------------------------------------------

    def _job_key(self, pod: Obj) -> str | None:
        """The key of the Job in the cache that controls ``pod``, if any."""
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "Job":
            return None
        job = self.jobs.store.get_by_name(ref.get("name", ""), pod["metadata"].get("namespace"))
        return key_of(job) if job is not None and uid_of(job) == ref.get("uid") else None

    def _pod_added(self, pod: Obj) -> None:
        key = self._job_key(pod)
        if key is None:
            self._maybe_orphan(pod)
            return
        if pod["metadata"].get("deletionTimestamp"):
            self.expectations.deletion_observed(key, key_of(pod))
        else:
            self.expectations.creation_observed(key)
        self.queue.add(key)

    def _pod_updated(self, old: Obj, pod: Obj) -> None:
        key = self._job_key(pod)
        old_key = self._job_key(old)
        if old_key is not None and old_key != key:
            self.queue.add(old_key)
        if key is None:
            self._maybe_orphan(pod)
            return
        if pod["metadata"].get("deletionTimestamp"):
            self.expectations.deletion_observed(key, key_of(pod))
        if not has_finalizer(pod):
            self.removing.get(key, set()).discard(uid_of(pod))
        self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._job_key(pod)
        if key is None:
            return
        self.expectations.deletion_observed(key, key_of(pod))
        self.removing.get(key, set()).discard(uid_of(pod))
        self.queue.add(key)

    def _maybe_orphan(self, pod: Obj) -> None:
        if has_finalizer(pod):
            self.queue.add(_ORPHAN + key_of(pod))

    def _gone(self, job: Obj) -> None:
        key = key_of(job)
        self.expectations.forget(key)
        self.removing.pop(key, None)
        self.backoff.pop(key, None)
        for pod in self.pods.store.by_index(OWNER_UID_INDEX, uid_of(job)):
            self._maybe_orphan(pod)

    # --- orphans ---------------------------------------------------------------------------

    async def _release_orphan(self, pod_key: str) -> None:
        pod = self.pods.store.get(pod_key)
        if pod is None or not has_finalizer(pod):
            return
        key = self._job_key(pod)
        if key is not None:
            job = self.jobs.store.get(key)
            if job is not None and not decisions.is_finished(job):
                return  # its Job counts it
        elif controller_of(pod) is not None and (controller_of(pod) or {}).get("kind") != "Job":
            return
        await self.tracker.release(None, [pod])

    # --- sync ------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        if key.startswith(_ORPHAN):
            await self._release_orphan(key[len(_ORPHAN) :])
            return
        cached = self.jobs.store.get(key)
        if cached is None:
            self._gone({"metadata": {"name": key.rpartition("/")[2], "uid": ""}})
            return
        spec = cached.get("spec") or {}
        if decisions.is_finished(cached) or spec.get("managedBy", MANAGER) != MANAGER:
            return
        job = copy.deepcopy(cached)
        status = job.setdefault("status", {})
        status.setdefault("uncountedTerminatedPods", {})
        uid = uid_of(job)
        pods = [
            p for p in self.pods.store.by_index(OWNER_UID_INDEX, uid) if is_controlled_by(p, uid)
        ]
        state = SyncState(key, job, pods, self.clock.now())
        state.expected_removals = set(self.removing.get(key, ()))
        state.terminating = sum(1 for p in pods if is_terminating(p))
        uncounted = status["uncountedTerminatedPods"]
        skip = (
            set(uncounted.get("succeeded") or ())
            | set(uncounted.get("failed") or ())
            | state.expected_removals
        )
        fresh = [
            p
            for p in pods
            if has_finalizer(p)
            and uid_of(p) not in skip
            and (not state.indexed or _valid_index(p, state.completions))
        ]
        new_succeeded = [p for p in fresh if phase(p) == "Succeeded"]
        new_failed = [p for p in fresh if is_failed(p, job)]
        policy = spec.get("podFailurePolicy")
        failed = (
            int(status.get("failed") or 0)
            + sum(1 for p in new_failed if failurepolicy.match(policy, p).counts)
            + len(uncounted.get("failed") or ())
        )
        if state.indexed:
            state.previous_indexes = indexes.parse(
                status.get("completedIndexes"), state.completions
            )
            succeeded_indexes = state.previous_indexes | {
                i for p in new_succeeded if (i := completion_index(p)) is not None
            }
            succeeded = len(succeeded_indexes)
        else:
            succeeded_indexes = set()
            succeeded = (
                int(status.get("succeeded") or 0)
                + len(new_succeeded)
                + len(uncounted.get("succeeded") or ())
            )
        active_pods = [p for p in pods if is_active(p)]
        ready = sum(1 for p in active_pods if is_ready(p))
        if not status.get("startTime") and not decisions.is_suspended(job):
            status["startTime"] = state.stamp
        start = parse_time(status["startTime"]).timestamp() if status.get("startTime") else None
        state.record = backoff.advance(
            self.backoff.get(key, BackoffRecord()),
            [finish_time(p) for p in new_succeeded],
            [finish_time(p) for p in new_failed],
        )
        state.finished = self._finished(state, failed, start)

        active, suspend_changed = len(active_pods), False
        if state.finished is not None:
            deleted, deleted_ready = await self._delete(key, job, active_pods)
            if deleted != len(active_pods):
                state.finished = None
            active -= deleted
            state.terminating += deleted
            ready -= deleted_ready
        else:
            managed = False
            if self.expectations.satisfied(key) and not job["metadata"].get("deletionTimestamp"):
                active, ready = await self._manage(
                    state, active_pods, succeeded, succeeded_indexes, ready
                )
                managed = True
            completions = spec.get("completions")
            if active == 0 and (
                succeeded > 0 if completions is None else succeeded >= int(completions)
            ):
                state.finished = decisions.condition(
                    "SuccessCriteriaMet",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    state.stamp,
                )
            elif managed:
                suspend_changed = self._suspend_condition(job, state.stamp)
        needs_update = (
            suspend_changed
            or active != int(status.get("active") or 0)
            or ready != status.get("ready")
            or state.terminating != status.get("terminating")
        )
        status["active"], status["ready"], status["terminating"] = active, ready, state.terminating
        await self.tracker.track(state, needs_update)

    def _finished(self, state: SyncState, failed: int, start: float | None) -> Obj | None:
        conditions = state.job["status"].get("conditions") or ()
        for interim, final in (("FailureTarget", "Failed"), ("SuccessCriteriaMet", "Complete")):
            for c in conditions:
                if c.get("type") == interim and c.get("status") == "True":
                    return decisions.condition(
                        final, c.get("reason", ""), c.get("message", ""), state.stamp
                    )
        why = decisions.failure(state.job, state.pods, failed, start, state.now)
        if why is not None:
            return decisions.condition("FailureTarget", why.reason, why.message, state.stamp)
        left = decisions.deadline_left(state.job, start, state.now)
        if left is not None:
            self.queue.add_after(state.key, left)
        return None

    def _suspend_condition(self, job: Obj, stamp: str) -> bool:
        conditions: list[Obj] = job["status"].setdefault("conditions", [])
        current = next((c for c in conditions if c.get("type") == "Suspended"), None)
        if decisions.is_suspended(job):
            wanted = ("True", "JobSuspended", "Job suspended", "Suspended")
        elif current is not None and current.get("status") == "True":
            wanted = ("False", "JobResumed", "Job resumed", "Resumed")
            job["status"]["startTime"] = stamp  # the deadline counts from the resume
        else:
            return False
        if current is not None and current.get("status") == wanted[0]:
            return False
        new = decisions.condition("Suspended", wanted[1], wanted[2], stamp, status=wanted[0])
        if current is None:
            conditions.append(new)
        else:
            conditions[conditions.index(current)] = new
        self.recorder.event(job, NORMAL, wanted[3], wanted[2])
        return True

    # --- pods ------------------------------------------------------------------------------

    async def _manage(
        self,
        state: SyncState,
        active_pods: list[Obj],
        succeeded: int,
        succeeded_indexes: set[int],
        ready: int,
    ) -> tuple[int, int]:
        """Create or delete pods toward the wanted count; returns (active, ready) after."""
        job, key = state.job, state.key
        active = len(active_pods)
        if decisions.is_suspended(job):
            deleted, deleted_ready = await self._delete(key, job, active_pods)
            state.terminating += deleted
            return active - deleted, ready - deleted_ready
        wanted = decisions.wanted_active(job, active, succeeded)
        victims = decisions.removal_order(active_pods, state.indexed, state.completions)
        victims = victims[: max(0, active - wanted)]
        if victims:
            victims = victims[:MAX_CREATE_DELETE_PER_SYNC]
            deleted, deleted_ready = await self._delete(key, job, victims)
            state.terminating += deleted
            return active - deleted, ready - deleted_ready
        terminating = state.terminating if only_replaces_failed(job) else 0
        missing = min(wanted - terminating - active, MAX_CREATE_DELETE_PER_SYNC)
        if missing <= 0:
            return active, ready
        wait = backoff.remaining(state.record, state.now)
        if wait > 0:
            self.queue.add_after(key, wait)
            return active, ready
        slots: list[int | None] = [None] * missing
        if state.indexed:
            slots = list(decisions.pending_indexes(job, state.pods, succeeded_indexes, missing))
        created = await self._create(key, job, slots)
        return active + created, ready

    async def _create(self, key: str, job: Obj, slots: list[int | None]) -> int:
        """Create one pod per slot in batches of 1, 2, 4...; stops at the first failing batch."""
        self.expectations.expect(key, adds=len(slots))
        created, batch, position = 0, 1, 0
        while position < len(slots):
            chunk = slots[position : position + batch]
            results = await asyncio.gather(
                *(self._create_one(job, index) for index in chunk), return_exceptions=True
            )
            position += len(chunk)
            failures = [r for r in results if isinstance(r, BaseException)]
            created += len(chunk) - len(failures)
            for _ in failures:
                self.expectations.creation_failed(key)
            if failures:
                for _ in slots[position:]:
                    self.expectations.creation_failed(key)
                raise failures[0]
            batch *= 2
        return created

    async def _create_one(self, job: Obj, index: int | None) -> None:
        namespace = job["metadata"]["namespace"]
        try:
            pod = await self.client.create(PODS, new_pod(job, index), namespace)
        except errors.StatusError as exc:
            self.recorder.event(job, WARNING, "FailedCreate", f"Error creating: {exc}")
            raise
        self.recorder.event(job, NORMAL, "SuccessfulCreate", f"Created pod: {name_of(pod)}")
        log.info("pod created job=%s/%s pod=%s", namespace, name_of(job), name_of(pod))

    async def _delete(self, key: str, job: Obj, pods: list[Obj]) -> tuple[int, int]:
        """Delete ``pods`` (keeping their finalizers); returns (deleted, of which were ready)."""
        if not pods:
            return 0, 0
        self.expectations.expect(key, deletes={key_of(p) for p in pods})
        results = await asyncio.gather(*(self._delete_one(key, job, p) for p in pods))
        deleted = sum(1 for ok in results if ok)
        deleted_ready = sum(1 for ok, p in zip(results, pods, strict=True) if ok and is_ready(p))
        return deleted, deleted_ready

    async def _delete_one(self, key: str, job: Obj, pod: Obj) -> bool:
        meta = pod["metadata"]
        try:
            await self.client.delete(PODS, meta["name"], meta.get("namespace"))
        except errors.NotFound:
            self.expectations.deletion_observed(key, key_of(pod))
            return True
        except errors.StatusError as exc:
            self.expectations.deletion_observed(key, key_of(pod))
            self.recorder.event(job, WARNING, "FailedDelete", f"Error deleting: {exc}")
            return False
        self.recorder.event(job, NORMAL, "SuccessfulDelete", f"Deleted pod: {meta['name']}")
        return True


def _valid_index(pod: Obj, completions: int) -> bool:
    index = completion_index(pod)
    return index is not None and index < completions
