"""The TTL-after-finished controller: delete finished Jobs ``ttlSecondsAfterFinished`` later.

A Job qualifies once it has ``spec.ttlSecondsAfterFinished`` and a ``Complete`` or ``Failed``
condition; it expires that many seconds after the condition's ``lastTransitionTime``. Before
expiry the key is requeued for exactly the time left (on the injected clock). At expiry the
controller re-reads the Job from the API server (the TTL may have been changed, the Job
replaced), and deletes it in the foreground with a uid precondition, as upstream does, so its
pods go first.

Invariant: a Job is deleted only when the live object, not the cached one, has expired.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kybernetes.api import errors
from kybernetes.api.meta import parse_time
from kybernetes.client.cache import split_key
from kybernetes.client.informer import Handler
from kybernetes.client.resource import JOBS
from kybernetes.controllers.base import ControllerContext, QueueController

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def expires_at(job: Mapping[str, Any]) -> float | None:
    """When a finished Job with a TTL expires (epoch seconds), else ``None``."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None:
        return None
    for condition in (job.get("status") or {}).get("conditions") or ():
        if (
            condition.get("type") in ("Complete", "Failed")
            and condition.get("status") == "True"
            and condition.get("lastTransitionTime")
        ):
            return parse_time(condition["lastTransitionTime"]).timestamp() + float(ttl)
    return None


class TTLAfterFinishedController(QueueController):
    name = "ttl-after-finished"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self.jobs = self.informer(context.informers.informer(JOBS))
        self.jobs.add_handler(Handler(self._changed, lambda _old, new: self._changed(new)))

    def _changed(self, job: Obj) -> None:
        if expires_at(job) is not None:
            self.enqueue(job)

    async def sync(self, key: str) -> None:
        cached = self.jobs.store.get(key)
        if cached is None:
            return
        expiry = expires_at(cached)
        if expiry is None:
            return
        left = expiry - self.clock.now()
        if left > 0:
            self.queue.add_after(key, left)
            return
        namespace, name = split_key(key)
        try:
            fresh = await self.client.get(JOBS, name, namespace)
        except errors.NotFound:
            return
        fresh_expiry = expires_at(fresh)
        if fresh_expiry is None:
            return
        if fresh_expiry > self.clock.now():
            self.queue.add_after(key, fresh_expiry - self.clock.now())
            return
        log.info("deleting expired job job=%s ttl_expired_at=%.0f", key, fresh_expiry)
        try:
            await self.client.delete(
                JOBS,
                name,
                namespace,
                propagation_policy="Foreground",
                preconditions={"uid": fresh["metadata"]["uid"]},
            )
        except (errors.NotFound, errors.Conflict):
            return
