"""Pod garbage collection: what no kubelet will ever clean up.

Every ``period`` (20 s, upstream's ``gcCheckPeriod``):

- **Terminated pods** (Succeeded or Failed) beyond ``terminated_pod_threshold`` (12,500) are
  deleted, oldest first.
- **Orphaned pods**: pods bound to a node that no longer exists (and still does not after a
  quarantine of 40 s, so a node being re-registered is not mistaken for a deleted one) get the
  ``DisruptionTarget`` condition (reason ``DeletionByPodGC``), phase Failed, and are deleted at
  once (grace period 0), as upstream.
- **Unscheduled terminating pods**: a pod being deleted that was never bound has no kubelet to
  finish its graceful deletion; it is deleted with grace period 0.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339
from kybernetes.client.resource import NODES, PODS
from kybernetes.controllers.base import ControllerContext, QueueController

log = logging.getLogger(__name__)

Obj = dict[str, Any]
DEFAULT_THRESHOLD: Final = 12_500
DEFAULT_PERIOD: Final = 20.0
QUARANTINE: Final = 40.0
_TICK: Final = "tick"


class PodGarbageCollector(QueueController):
    name = "pod-garbage-collector"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self.threshold = int(context.options.get("terminated_pod_threshold", DEFAULT_THRESHOLD))
        self.period = float(context.options.get("pod_gc_period", DEFAULT_PERIOD))
        self.pods = self.informer(context.informers.informer(PODS))
        self.nodes = self.informer(context.informers.informer(NODES))
        self._missing_since: dict[str, float] = {}  # node name -> monotonic time first missed
        self.queue.add(_TICK)

    async def sync(self, key: str) -> None:
        try:
            await self._collect()
        finally:
            self.queue.add_after(_TICK, self.period)

    async def _collect(self) -> None:
        pods = self.pods.store.list()
        terminated = [
            p for p in pods if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        ]
        excess = len(terminated) - self.threshold
        if excess > 0:
            terminated.sort(key=lambda p: p["metadata"].get("creationTimestamp", ""))
            for pod in terminated[:excess]:
                await self._delete(pod, "terminated pods over threshold")
        now = self.clock.monotonic()
        missing_now: set[str] = set()
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if not node:
                if pod["metadata"].get("deletionTimestamp"):
                    await self._delete(pod, "unscheduled and terminating", grace=0)
                continue
            if self.nodes.store.get(node) is not None:
                continue
            missing_now.add(node)
            since = self._missing_since.setdefault(node, now)
            if now - since >= QUARANTINE:
                await self._orphaned(pod)
        self._missing_since = {n: t for n, t in self._missing_since.items() if n in missing_now}

    async def _orphaned(self, pod: Obj) -> None:
        status = dict(pod.get("status") or {})
        if status.get("phase") not in ("Succeeded", "Failed"):
            stamp = now_rfc3339(datetime.fromtimestamp(self.clock.now(), UTC))
            conditions = [
                c for c in status.get("conditions") or () if c.get("type") != "DisruptionTarget"
            ]
            conditions.append(
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists",
                    "lastTransitionTime": stamp,
                }
            )
            status.update(phase="Failed", conditions=conditions)
            try:
                await self.client.update_status(PODS, {**pod, "status": status})
            except (errors.NotFound, errors.Conflict):
                return
        await self._delete(pod, "bound to a node that no longer exists", grace=0)

    async def _delete(self, pod: Obj, why: str, grace: int | None = None) -> None:
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        log.info("collecting pod pod=%s/%s reason=%s", namespace, name, why)
        try:
            await self.client.delete(
                PODS,
                name,
                namespace,
                grace_period_seconds=grace,
                preconditions={"uid": pod["metadata"]["uid"]},
            )
        except (errors.NotFound, errors.Conflict):
            return
