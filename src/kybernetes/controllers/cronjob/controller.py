"""The CronJob controller: start a Job at each scheduled time, keep history within limits.

One sync per CronJob key, level-triggered, on the injected clock:

1. Forget finished Jobs in ``status.active`` (``SawCompletedJob``), note the newest successful
   completion in ``status.lastSuccessfulTime``, and drop active references to Jobs that no longer
   exist (checked with a live GET, ``MissingJob``).
2. Delete the oldest finished Jobs past ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit``
   (background propagation, ``SuccessfulDelete``).
3. Unless suspended or being deleted: find the most recent due activation (``timing``). Too old
   for ``startingDeadlineSeconds`` -> ``MissSchedule``; already started (same Job name, or equal
   to ``lastScheduleTime``) -> nothing; ``Forbid`` with an active Job -> ``JobAlreadyActive``;
   ``Replace`` -> delete the active Jobs first; then create ``<name>-<minutes since epoch>``
   (``SuccessfulCreate``) and record it in ``status.active`` and ``status.lastScheduleTime``.
4. Requeue the key for the next activation with ``queue.add_after`` (so a ``FakeClock`` fires
   it in zero wall time).

Invariant: at most one Job per scheduled time (the deterministic name makes a second create
``AlreadyExists``); status is written once per sync, with the resourceVersion it read.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.api.meta import controller_of, is_controlled_by, name_of, parse_time, uid_of
from kybernetes.client.cache import OWNER_UID_INDEX, index_by_owner_uid, key_of, split_key
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.informer import Handler
from kybernetes.client.resource import CRONJOBS, JOBS
from kybernetes.controllers.base import ControllerContext, QueueController
from kybernetes.controllers.cronjob.jobs import (
    finished_condition,
    job_from_template,
    job_name,
    job_ref,
)
from kybernetes.controllers.cronjob.schedule import Schedule, ScheduleError, parse, zone_of
from kybernetes.controllers.cronjob.timing import InvalidSchedule, most_recent, requeue_after

log = logging.getLogger(__name__)

Obj = dict[str, Any]
COMPONENT: Final = "cronjob-controller"


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CronJobController(QueueController):
    name = "cronjob"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self.recorder = context.recorder(COMPONENT)
        self.cronjobs = self.informer(context.informers.informer(CRONJOBS))
        self.jobs = self.informer(context.informers.informer(JOBS))
        self.jobs.add_indexer(OWNER_UID_INDEX, index_by_owner_uid)
        self.cronjobs.add_handler(Handler(self.enqueue, self._cronjob_updated))
        self.jobs.add_handler(
            Handler(self._job_changed, lambda _old, new: self._job_changed(new), self._job_changed)
        )

    # --- events ----------------------------------------------------------------------------

    def _cronjob_updated(self, old: Obj, new: Obj) -> None:
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        rescheduled = old_spec.get("schedule") != new_spec.get("schedule") or old_spec.get(
            "timeZone"
        ) != new_spec.get("timeZone")
        if not rescheduled:
            self.enqueue(new)
            return
        try:
            schedule = _schedule_of(new)
        except ScheduleError:
            self.enqueue(new)  # the sync reports it
            return
        delay = requeue_after(schedule, self._earliest(new), self._now())
        if delay is not None:
            self.enqueue_after(new, delay)

    def _job_changed(self, job: Obj) -> None:
        ref = controller_of(job)
        if ref is None or ref.get("kind") != "CronJob":
            return
        namespace = (job.get("metadata") or {}).get("namespace", "")
        cronjob = self.cronjobs.store.get_by_name(ref.get("name", ""), namespace)
        if cronjob is not None and uid_of(cronjob) == ref.get("uid"):
            self.enqueue(cronjob)

    # --- sync ------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    @staticmethod
    def _earliest(cronjob: Obj) -> datetime:
        meta, status = cronjob["metadata"], cronjob.get("status") or {}
        last = status.get("lastScheduleTime")
        return parse_time(last) if last else parse_time(meta["creationTimestamp"])

    async def sync(self, key: str) -> None:
        cached = self.cronjobs.store.get(key)
        if cached is None:
            return
        cronjob = copy.deepcopy(cached)
        jobs = [
            job
            for job in self.jobs.store.by_index(OWNER_UID_INDEX, uid_of(cronjob))
            if is_controlled_by(job, uid_of(cronjob))
        ]
        changed = await self._reconcile_jobs(cronjob, jobs)
        changed = await self._clean_up_history(cronjob, jobs) or changed
        delay, scheduled = await self._schedule(cronjob)
        if changed or scheduled:
            status = cronjob.setdefault("status", {})
            if not status.get("active"):
                status.pop("active", None)
            await self.client.update_status(CRONJOBS, cronjob)
        if delay is not None:
            self.queue.add_after(key, delay)

    async def _reconcile_jobs(self, cronjob: Obj, jobs: list[Obj]) -> bool:
        status = cronjob.setdefault("status", {})
        active: list[Obj] = status.setdefault("active", [])
        changed = False
        for job in jobs:
            uid = uid_of(job)
            listed = any(ref.get("uid") == uid for ref in active)
            finished = finished_condition(job)
            if not listed and finished is None:
                self.recorder.event(
                    cronjob,
                    WARNING,
                    "UnexpectedJob",
                    f"Saw a job that the controller did not create or forgot: {name_of(job)}",
                )
            elif listed and finished is not None:
                active[:] = [ref for ref in active if ref.get("uid") != uid]
                self.recorder.event(
                    cronjob,
                    NORMAL,
                    "SawCompletedJob",
                    f"Saw completed job: {name_of(job)}, condition: {finished}",
                )
                changed = True
            if finished == "Complete":
                done = (job.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if done and (not last or parse_time(done) > parse_time(last)):
                    status["lastSuccessfulTime"] = done
                    changed = True
        known = {uid_of(job) for job in jobs}
        for ref in list(active):
            if ref.get("uid") in known:
                continue
            try:
                live = await self.client.get(JOBS, ref["name"], ref.get("namespace"))
            except errors.NotFound:
                live = None
            if live is None or uid_of(live) != ref.get("uid"):
                self.recorder.event(
                    cronjob, NORMAL, "MissingJob", f"Active job went missing: {ref['name']}"
                )
                active.remove(ref)
                changed = True
        return changed

    async def _clean_up_history(self, cronjob: Obj, jobs: list[Obj]) -> bool:
        spec = cronjob.get("spec") or {}
        changed = False
        for kind, limit_field in (
            ("Complete", "successfulJobsHistoryLimit"),
            ("Failed", "failedJobsHistoryLimit"),
        ):
            limit = spec.get(limit_field)
            if limit is None:
                continue
            finished = [job for job in jobs if finished_condition(job) == kind]
            excess = len(finished) - int(limit)
            if excess <= 0:
                continue
            finished.sort(key=_start_order)
            for job in finished[:excess]:
                changed = await self._delete_job(cronjob, job) or changed
        return changed

    async def _delete_job(self, cronjob: Obj, job: Obj) -> bool:
        namespace, name = split_key(key_of(job))
        try:
            await self.client.delete(JOBS, name, namespace, propagation_policy="Background")
        except errors.NotFound:
            pass
        except errors.StatusError as exc:
            self.recorder.event(cronjob, WARNING, "FailedDelete", f"Deleted job: {exc}")
            return False
        status = cronjob.setdefault("status", {})
        status["active"] = [r for r in status.get("active") or () if r.get("uid") != uid_of(job)]
        self.recorder.event(cronjob, NORMAL, "SuccessfulDelete", f"Deleted job {name}")
        log.info("job deleted cronjob=%s job=%s", key_of(cronjob), name)
        return True

    async def _schedule(self, cronjob: Obj) -> tuple[float | None, bool]:
        """Start the due Job, if any; returns (seconds until the next look, status changed)."""
        meta, spec = cronjob["metadata"], cronjob.get("spec") or {}
        status = cronjob.setdefault("status", {})
        if meta.get("deletionTimestamp") or spec.get("suspend"):
            return None, False
        try:
            zone_of(spec.get("timeZone"))
        except ScheduleError as exc:
            self.recorder.event(
                cronjob,
                WARNING,
                "UnknownTimeZone",
                f"invalid timeZone: {spec.get('timeZone')!r}: {exc}",
            )
            return None, False
        if "TZ" in spec.get("schedule", ""):
            self.recorder.event(
                cronjob,
                WARNING,
                "UnsupportedSchedule",
                f"CRON_TZ or TZ used in schedule {spec.get('schedule')!r} is not officially "
                "supported, see https://kubernetes.io/docs/concepts/workloads/controllers/"
                "cron-jobs/ for more details",
            )
        try:
            schedule = _schedule_of(cronjob)
        except ScheduleError as exc:
            self.recorder.event(
                cronjob,
                WARNING,
                "UnparseableSchedule",
                f"unparseable schedule: {spec.get('schedule')!r} : {exc}",
            )
            return None, False
        now, earliest = self._now(), self._earliest(cronjob)
        try:
            missed = most_recent(schedule, earliest, now, spec.get("startingDeadlineSeconds"))
        except InvalidSchedule as exc:
            self.recorder.event(
                cronjob,
                WARNING,
                "InvalidSchedule",
                f"invalid schedule: {spec.get('schedule')} : {exc}",
            )
            return None, False
        if missed.count > 100:
            self.recorder.event(
                cronjob,
                WARNING,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                "or check clock skew",
            )
        scheduled = missed.time
        if scheduled is None:
            return requeue_after(schedule, earliest, now), False
        next_look = requeue_after(schedule, earliest, now)
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled.timestamp() + deadline < now.timestamp():
            self.recorder.event(
                cronjob,
                WARNING,
                "MissSchedule",
                "Missed scheduled time to start a job: "
                + scheduled.strftime("%a, %d %b %Y %H:%M:%S +0000"),
            )
            return next_look, False
        active: list[Obj] = status.setdefault("active", [])
        name = job_name(cronjob, scheduled)
        if any(ref.get("name") == name for ref in active) or status.get(
            "lastScheduleTime"
        ) == _stamp(scheduled):
            return next_look, False
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and active:
            self.recorder.event(
                cronjob,
                NORMAL,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy "
                "is Forbid",
            )
            return next_look, False
        if policy == "Replace":
            for ref in list(active):
                try:
                    job = await self.client.get(JOBS, ref["name"], ref.get("namespace"))
                except errors.StatusError as exc:
                    self.recorder.event(cronjob, WARNING, "FailedGet", f"Get job: {exc}")
                    raise
                if not await self._delete_job(cronjob, job):
                    raise RuntimeError(f"could not replace job {ref['name']}")
        created = await self._create_job(cronjob, scheduled, schedule)
        if created is None:
            return next_look, False
        status["active"] = [*status.get("active", []), job_ref(created)]
        status["lastScheduleTime"] = _stamp(scheduled)
        return requeue_after(schedule, self._earliest(cronjob), now), True

    async def _create_job(
        self, cronjob: Obj, scheduled: datetime, schedule: Schedule
    ) -> Obj | None:
        """Create the Job for ``scheduled``; ``None`` when someone else's Job has that name."""
        request = job_from_template(cronjob, scheduled, schedule.zone)
        namespace = cronjob["metadata"]["namespace"]
        try:
            job = await self.client.create(JOBS, request, namespace)
        except errors.AlreadyExists:
            job = await self.client.get(JOBS, request["metadata"]["name"], namespace)
            if not is_controlled_by(job, uid_of(cronjob)):
                return None
            if any(r.get("uid") == uid_of(job) for r in cronjob["status"].get("active") or ()):
                return None
            log.info("job already exists cronjob=%s job=%s", key_of(cronjob), name_of(job))
            return job
        except errors.StatusError as exc:
            self.recorder.event(cronjob, WARNING, "FailedCreate", f"Error creating job: {exc}")
            raise
        self.recorder.event(cronjob, NORMAL, "SuccessfulCreate", f"Created job {name_of(job)}")
        log.info(
            "job created cronjob=%s job=%s scheduled=%s",
            key_of(cronjob),
            name_of(job),
            _stamp(scheduled),
        )
        return job


def _schedule_of(cronjob: Obj) -> Schedule:
    spec = cronjob.get("spec") or {}
    return parse(spec.get("schedule", ""), spec.get("timeZone"))


def _start_order(job: Obj) -> tuple[int, float, str]:
    """Oldest first by ``status.startTime``; Jobs that never started sort last (by name)."""
    started = (job.get("status") or {}).get("startTime")
    if started:
        return (0, parse_time(started).timestamp(), name_of(job))
    return (1, 0.0, name_of(job))
