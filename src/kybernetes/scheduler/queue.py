"""The scheduling queue: activeQ, backoffQ and the unschedulable pods (upstream PriorityQueue).

Invariants:
- A pod is in at most one of the three places, found by UID in ``_where``.
- activeQ pops in QueueSort order (priority, then queue timestamp); stale heap entries (pods
  deleted or updated) are skipped, never surfaced.
- A pod that failed waits ``initial * 2**(attempts-1)`` seconds (capped at ``max``) from its
  failure before it may be popped again: it sits in backoffQ until then.
- A pod rejected by plugins stays unschedulable until a cluster event one of those plugins
  registered arrives (then it goes to backoffQ if still backing off, else activeQ), or for
  ``max_unschedulable_duration`` (5 minutes). If such an event arrived while the pod was
  being scheduled, its failure sends it to backoffQ instead (``move_request_cycle``).
- Pods rejected by PreEnqueue (scheduling gates) wait among the unschedulable, gated.
Time is the injected clock's monotonic time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Mapping, Sequence

from kybernetes.scheduler.framework.events import (
    UNSCHEDULABLE_TIMEOUT,
    ClusterEvent,
    EventResource,
)
from kybernetes.scheduler.framework.pod_info import PodInfo, QueuedPodInfo
from kybernetes.scheduler.framework.status import Status
from kybernetes.util.clock import Clock

__all__ = ["Nominator", "SchedulingQueue"]

_ACTIVE, _BACKOFF, _UNSCHEDULABLE = "active", "backoff", "unschedulable"
FLUSH_BACKOFF_PERIOD = 1.0
FLUSH_UNSCHEDULABLE_PERIOD = 30.0


class Nominator:
    """Pods nominated to nodes by preemption, by node (upstream PodNominator)."""

    def __init__(self) -> None:
        self._by_node: dict[str, list[PodInfo]] = {}
        self._node_of: dict[str, str] = {}

    def add(self, pod: PodInfo, node_name: str) -> None:
        self.delete(pod.uid)
        if not node_name:
            return
        self._by_node.setdefault(node_name, []).append(pod)
        self._node_of[pod.uid] = node_name

    def delete(self, uid: str) -> None:
        node = self._node_of.pop(uid, None)
        if node is None:
            return
        pods = [p for p in self._by_node[node] if p.uid != uid]
        if pods:
            self._by_node[node] = pods
        else:
            del self._by_node[node]

    def nominated_pods_for_node(self, node_name: str) -> Sequence[PodInfo]:
        return self._by_node.get(node_name, ())

    def has_nominated_pods(self) -> bool:
        return bool(self._by_node)

    def nominated_node(self, uid: str) -> str | None:
        return self._node_of.get(uid)


class _Entry:
    """An activeQ heap entry ordered by the QueueSort plugin."""

    __slots__ = ("less", "live", "qpi")

    def __init__(self, qpi: QueuedPodInfo, less: Callable[[QueuedPodInfo, QueuedPodInfo], bool]):
        self.qpi = qpi
        self.less = less
        self.live = True

    def __lt__(self, other: _Entry) -> bool:
        return self.less(self.qpi, other.qpi)


class SchedulingQueue:
    def __init__(
        self,
        less: Callable[[QueuedPodInfo, QueuedPodInfo], bool],
        clock: Clock,
        *,
        pre_enqueue: Callable[[PodInfo], Status | None] | None = None,
        events: Mapping[str, Sequence[ClusterEvent]] | None = None,
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        max_unschedulable_duration: float = 300.0,
        nominator: Nominator | None = None,
    ) -> None:
        self._less = less
        self._clock = clock
        self._pre_enqueue = pre_enqueue
        self._events: Mapping[str, Sequence[ClusterEvent]] = events or {}
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._max_unschedulable = max_unschedulable_duration
        self._active: list[_Entry] = []
        self._active_entries: dict[str, _Entry] = {}
        self._backoff: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._pods: dict[str, QueuedPodInfo] = {}
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._where: dict[str, str] = {}
        self._wakeup = asyncio.Event()
        self._closed = False
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self.nominator = nominator or Nominator()

    # -- placement -----------------------------------------------------------------------

    def _push_active(self, qpi: QueuedPodInfo) -> None:
        entry = _Entry(qpi, self._less)
        self._active_entries[qpi.uid] = entry
        heapq.heappush(self._active, entry)
        self._pods[qpi.uid] = qpi
        self._where[qpi.uid] = _ACTIVE
        self._wakeup.set()

    def _push_backoff(self, qpi: QueuedPodInfo) -> None:
        heapq.heappush(self._backoff, (qpi.backoff_expiry, next(self._seq), qpi.uid))
        self._pods[qpi.uid] = qpi
        self._where[qpi.uid] = _BACKOFF

    def _push_unschedulable(self, qpi: QueuedPodInfo) -> None:
        self._pods[qpi.uid] = qpi
        self._where[qpi.uid] = _UNSCHEDULABLE
        self._unschedulable[qpi.uid] = qpi

    def _take(self, uid: str) -> QueuedPodInfo | None:
        qpi = self._pods.pop(uid, None)
        where = self._where.pop(uid, None)
        if where == _ACTIVE:
            self._active_entries.pop(uid).live = False
        elif where == _UNSCHEDULABLE:
            del self._unschedulable[uid]
        return qpi

    def backoff_duration(self, attempts: int) -> float:
        duration = self._initial_backoff
        for _ in range(1, attempts):
            if duration > self._max_backoff - duration:
                return self._max_backoff
            duration += duration
        return min(duration, self._max_backoff)

    def _gate(self, qpi: QueuedPodInfo) -> bool:
        """Run PreEnqueue; True when the pod may enter activeQ/backoffQ."""
        status = self._pre_enqueue(qpi.pod_info) if self._pre_enqueue else None
        qpi.gated = status is not None and not status.is_success()
        if qpi.gated and status is not None:
            qpi.unschedulable_plugins = {status.plugin}
        return not qpi.gated

    def _requeue(self, qpi: QueuedPodInfo) -> None:
        """To backoffQ while backing off, else activeQ (after the PreEnqueue gate)."""
        if not self._gate(qpi):
            self._push_unschedulable(qpi)
        elif qpi.backoff_expiry > self._clock.monotonic():
            self._push_backoff(qpi)
        else:
            self._push_active(qpi)

    # -- the API the scheduler uses -------------------------------------------------------

    def __len__(self) -> int:
        return len(self._pods)

    def active_count(self) -> int:
        return len(self._active_entries)

    def pending_counts(self) -> dict[str, int]:
        """Pods in each part of the queue, gated ones apart (``scheduler_pending_pods``)."""
        gated = sum(1 for qpi in self._unschedulable.values() if qpi.gated)
        backoff = sum(1 for where in self._where.values() if where == _BACKOFF)
        return {
            "active": len(self._active_entries),
            "backoff": backoff,
            "unschedulable": len(self._unschedulable) - gated,
            "gated": gated,
        }

    def where(self, uid: str) -> str | None:
        """``"active"``, ``"backoff"``, ``"unschedulable"`` or None (for tests and metrics)."""
        return self._where.get(uid)

    def add(self, pod: PodInfo) -> None:
        """A new unscheduled pod."""
        self._take(pod.uid)
        qpi = QueuedPodInfo(pod, self._clock.monotonic())
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            self.nominator.add(pod, nominated)
        if self._gate(qpi):
            self._push_active(qpi)
        else:
            self._push_unschedulable(qpi)

    def update(self, pod: PodInfo) -> None:
        """The pod changed; an unschedulable pod gets another chance."""
        qpi = self._take(pod.uid)
        if qpi is None:
            self.add(pod)
            return
        qpi.pod_info = pod
        if self.nominator.nominated_node(pod.uid) is not None:
            nominated = (pod.pod.get("status") or {}).get("nominatedNodeName") or ""
            self.nominator.add(pod, nominated)
        self._requeue(qpi)

    def delete(self, uid: str) -> None:
        self._take(uid)
        self.nominator.delete(uid)

    async def pop(self) -> QueuedPodInfo | None:
        """The next pod to schedule; waits while activeQ is empty; None once closed."""
        while True:
            while self._active:
                entry = heapq.heappop(self._active)
                if not entry.live:
                    continue
                qpi = entry.qpi
                del self._active_entries[qpi.uid]
                del self._pods[qpi.uid]
                del self._where[qpi.uid]
                qpi.attempts += 1
                if qpi.initial_attempt_timestamp is None:
                    qpi.initial_attempt_timestamp = self._clock.monotonic()
                self.scheduling_cycle += 1
                return qpi
            if self._closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()

    def add_unschedulable_if_not_present(self, qpi: QueuedPodInfo, pod_cycle: int) -> None:
        """Put back a pod whose scheduling attempt failed (``pod_cycle`` was its cycle)."""
        if qpi.uid in self._where:
            return
        now = self._clock.monotonic()
        qpi.timestamp = now
        qpi.backoff_expiry = now + self.backoff_duration(qpi.attempts)
        if self.move_request_cycle >= pod_cycle or not qpi.unschedulable_plugins:
            self._push_backoff(qpi)
        else:
            self._push_unschedulable(qpi)

    def activate(self, uid: str) -> None:
        """Move an unschedulable or backing-off pod straight to activeQ."""
        if self._where.get(uid) in (_BACKOFF, _UNSCHEDULABLE):
            qpi = self._take(uid)
            if qpi is not None:
                qpi.backoff_expiry = 0.0
                self._requeue(qpi)

    def _interested(self, qpi: QueuedPodInfo, event: ClusterEvent) -> bool:
        if event.resource == EventResource.WILDCARD or not qpi.unschedulable_plugins:
            return True
        for plugin in qpi.unschedulable_plugins:
            for registered in self._events.get(plugin, ()):
                if event.matches(registered):
                    return True
        return False

    def move_all_to_active_or_backoff(
        self, event: ClusterEvent, pre_check: Callable[[PodInfo], bool] | None = None
    ) -> None:
        """Give the unschedulable pods that ``event`` may help another chance."""
        moving = [
            uid
            for uid, qpi in self._unschedulable.items()
            if self._interested(qpi, event) and (pre_check is None or pre_check(qpi.pod_info))
        ]
        for uid in moving:
            qpi = self._take(uid)
            if qpi is not None:
                self._requeue(qpi)
        self.move_request_cycle = self.scheduling_cycle

    def flush_backoff_completed(self) -> None:
        now = self._clock.monotonic()
        while self._backoff and self._backoff[0][0] <= now:
            expiry, _, uid = heapq.heappop(self._backoff)
            qpi = self._pods.get(uid)
            if qpi is None or self._where.get(uid) != _BACKOFF or qpi.backoff_expiry != expiry:
                continue
            self._take(uid)
            self._push_active(qpi)

    def flush_unschedulable_leftover(self) -> None:
        now = self._clock.monotonic()
        stale = [
            uid
            for uid, qpi in self._unschedulable.items()
            if now - qpi.timestamp > self._max_unschedulable
        ]
        for uid in stale:
            qpi = self._take(uid)
            if qpi is not None and self._interested(qpi, UNSCHEDULABLE_TIMEOUT):
                self._requeue(qpi)

    async def run(self) -> None:
        """Flush backoffQ every second and the stale unschedulable pods every 30 seconds."""
        since_leftover = 0.0
        while not self._closed:
            await self._clock.sleep(FLUSH_BACKOFF_PERIOD)
            self.flush_backoff_completed()
            since_leftover += FLUSH_BACKOFF_PERIOD
            if since_leftover >= FLUSH_UNSCHEDULABLE_PERIOD:
                since_leftover = 0.0
                self.flush_unschedulable_leftover()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()
