"""``Scheduler``: watches unscheduled pods and binds each to the best node, one pod per cycle.

The scheduling cycle (``schedule_one``) runs without awaiting between snapshot and Permit, so
the cache cannot change under it; the binding cycle (PreBind, Bind) runs as its own task so the
next pod's cycle starts at once. A pod is assumed in the cache before binding starts and
forgotten if binding fails, so later cycles count it exactly while its bind is in flight.
The outside world is reached only through the injected ``ClusterAPI``; cluster changes come in
through the ``on_*`` methods, which the informers call. Every attempt's result and duration are
recorded (``metrics.py``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from typing import Any

from kybernetes.api.types import Node, Pod
from kybernetes.scheduler import metrics
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.config import Profile, SchedulerConfiguration, default_configuration
from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.diagnosis import FitError
from kybernetes.scheduler.framework.events import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    ASSIGNED_POD_UPDATE,
    NODE_ADD,
    NODE_DELETE,
    ClusterEvent,
    node_update_event,
)
from kybernetes.scheduler.framework.interface import ClusterAPI
from kybernetes.scheduler.framework.pod_info import PodInfo, QueuedPodInfo, pod_uid
from kybernetes.scheduler.framework.runtime import EXTENSION_POINTS, Framework
from kybernetes.scheduler.framework.snapshot import Snapshot
from kybernetes.scheduler.framework.status import Code, Status
from kybernetes.scheduler.plugins.registry import REGISTRY
from kybernetes.scheduler.queue import Nominator, SchedulingQueue
from kybernetes.scheduler.schedule_one import Algorithm, SchedulingError
from kybernetes.util.clock import Clock, RealClock

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)

MAX_EVENT_MESSAGE = 1024
CLEANUP_PERIOD = 1.0


def _truncate(message: str) -> str:
    if len(message) <= MAX_EVENT_MESSAGE:
        return message
    return message[: MAX_EVENT_MESSAGE - 3] + "..."


def _assigned(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


class Scheduler:
    def __init__(
        self,
        api: ClusterAPI,
        config: SchedulerConfiguration | None = None,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        assumed_pod_ttl: float = 0.0,
    ) -> None:
        self.api = api
        self.config = config or default_configuration()
        self.clock = clock or RealClock()
        self._rng = rng or random.Random()
        self.cache = Cache(self.clock, assumed_pod_ttl)
        self.snapshot = Snapshot()
        nominator = Nominator()
        self.profiles: dict[str, Framework] = {
            p.scheduler_name: self._build_framework(p, nominator) for p in self.config.profiles
        }
        first = next(iter(self.profiles.values()))
        events: dict[str, list[ClusterEvent]] = {}
        for fwk in self.profiles.values():
            for plugin, registered in fwk.events.items():
                events.setdefault(plugin, []).extend(registered)
        self.queue = SchedulingQueue(
            first.less,
            self.clock,
            pre_enqueue=self._pre_enqueue,
            events=events,
            initial_backoff=self.config.pod_initial_backoff_seconds,
            max_backoff=self.config.pod_max_backoff_seconds,
            nominator=nominator,
        )
        metrics.PENDING_PODS.track(self.queue)
        self.algorithm = Algorithm(self._rng, self.config.percentage_of_nodes_to_score)
        self._unscheduled: dict[str, PodInfo] = {}
        self._bindings: set[asyncio.Task[None]] = set()
        self._closed = False

    def _build_framework(self, profile: Profile, nominator: Nominator) -> Framework:
        fwk = Framework(
            profile.scheduler_name,
            self.api,
            nominator,
            self.clock,
            profile.percentage_of_nodes_to_score,
        )
        for name in profile.plugin_names():
            spec = REGISTRY[name]
            plugin = spec.build(fwk, profile.plugin_args.get(name), self._rng)
            points = [
                p for p in EXTENSION_POINTS if any(e.name == name for e in profile.plugins[p])
            ]
            fwk.add_plugin(plugin, points, profile.score_weight(name))
        return fwk

    # -- helpers -------------------------------------------------------------------------

    def _priority(self, pod: Mapping[str, Any]) -> int | None:
        spec = pod.get("spec") or {}
        if spec.get("priority") is not None:
            return int(spec["priority"])
        name = spec.get("priorityClassName")
        if name:
            priority_class = self.api.priority_class(name)
            if priority_class is not None:
                return int(priority_class.get("value") or 0)
        return None

    def _pod_info(self, pod: Pod) -> PodInfo:
        return PodInfo(pod, self._priority(pod))

    def _pre_enqueue(self, pod: PodInfo) -> Status | None:
        fwk = self.profiles.get(pod.scheduler_name)
        return fwk.run_pre_enqueue_plugins(pod) if fwk is not None else None

    def responsible_for(self, pod: Mapping[str, Any]) -> bool:
        return ((pod.get("spec") or {}).get("schedulerName") or "default-scheduler") in (
            self.profiles
        )

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._bindings.add(task)
        task.add_done_callback(self._bindings.discard)

    # -- informer events -----------------------------------------------------------------

    def on_pod_add(self, pod: Pod) -> None:
        if _assigned(pod):
            self.cache.add_pod(pod, self._priority(pod))
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_ADD)
            return
        if not self.responsible_for(pod) or (pod.get("metadata") or {}).get("deletionTimestamp"):
            return
        info = self._pod_info(pod)
        self._unscheduled[info.uid] = info
        self.queue.add(info)

    def on_pod_update(self, old: Pod, new: Pod) -> None:
        if _assigned(new):
            if not _assigned(old):
                self._forget_unscheduled(pod_uid(new))
                self.on_pod_add(new)
                return
            self.cache.update_pod(new, self._priority(new))
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_UPDATE)
            return
        if not self.responsible_for(new):
            return
        info = self._pod_info(new)
        if self.cache.is_assumed(info.uid):
            return
        if info.terminating:
            self._forget_unscheduled(info.uid)
            return
        self._unscheduled[info.uid] = info
        self.queue.update(info)

    def on_pod_delete(self, pod: Pod) -> None:
        uid = pod_uid(pod)
        if _assigned(pod):
            self.cache.remove_pod(pod)
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE)
            return
        self._forget_unscheduled(uid)
        for fwk in self.profiles.values():
            fwk.reject_waiting_pod(uid, "", "pod was deleted")

    def _forget_unscheduled(self, uid: str) -> None:
        self._unscheduled.pop(uid, None)
        self.queue.delete(uid)

    def on_node_add(self, node: Node) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(NODE_ADD)

    def on_node_update(self, old: Node, new: Node) -> None:
        self.cache.update_node(new)
        event = node_update_event(old, new)
        if event is not None:
            self.queue.move_all_to_active_or_backoff(event)

    def on_node_delete(self, node: Node) -> None:
        self.cache.remove_node((node.get("metadata") or {}).get("name") or "")
        self.queue.move_all_to_active_or_backoff(NODE_DELETE)

    def on_cluster_event(self, event: ClusterEvent) -> None:
        """Any other change that may help pods (PVC, PV, StorageClass...)."""
        self.queue.move_all_to_active_or_backoff(event)

    # -- the scheduling cycle ------------------------------------------------------------

    async def schedule_one(self) -> bool:
        """Schedule the next pod; False once the queue is closed."""
        qpi = await self.queue.pop()
        if qpi is None:
            return False
        started = time.perf_counter()
        pod = qpi.pod_info
        fwk = self.profiles.get(pod.scheduler_name)
        if fwk is None or pod.uid not in self._unscheduled or self.cache.is_assumed(pod.uid):
            return True
        pod_cycle = self.queue.scheduling_cycle
        self.cache.update_snapshot(self.snapshot)
        fwk.set_snapshot(self.snapshot)
        state = CycleState()
        try:
            result = self.algorithm.schedule_pod(fwk, state, pod, self.snapshot)
        except FitError as err:
            await self._post_filter(fwk, state, qpi, err, pod_cycle, started)
            return True
        except SchedulingError as err:
            self._failure(qpi, str(err), "SchedulerError", set(), None, pod_cycle, started)
            return True
        host = result.suggested_host
        assumed = pod.with_node(host)
        self.cache.assume_pod(assumed)
        self.queue.nominator.delete(pod.uid)
        status = fwk.run_reserve_plugins_reserve(state, assumed, host)
        if status is None:
            status = fwk.run_permit_plugins(state, assumed, host)
            if status is not None and status.code == Code.WAIT:
                status = None
        if status is not None:
            fwk.run_reserve_plugins_unreserve(state, assumed, host)
            self.cache.forget_pod(assumed)
            reason = "Unschedulable" if status.is_rejected() else "SchedulerError"
            plugins = {status.plugin} if status.plugin else set()
            self._failure(qpi, status.message(), reason, plugins, None, pod_cycle, started)
            return True
        self._spawn(self._binding_cycle(fwk, state, qpi, assumed, host, pod_cycle, started))
        return True

    async def _post_filter(
        self,
        fwk: Framework,
        state: CycleState,
        qpi: QueuedPodInfo,
        err: FitError,
        cycle: int,
        started: float,
    ) -> None:
        diagnosis = err.diagnosis
        nominated: str | None = None
        if fwk.post_filter_plugins:
            statuses = dict(diagnosis.node_to_status)
            if diagnosis.absent_status is not None:
                for node in self.snapshot.node_info_list:
                    statuses.setdefault(node.name, diagnosis.absent_status)
            result, status = await fwk.run_post_filter_plugins(state, qpi.pod_info, statuses)
            if status.code != Code.ERROR:
                diagnosis.post_filter_msg = status.message()
            if result is not None:
                nominated = result.nominated_node_name
        plugins = set(diagnosis.unschedulable_plugins)
        self._failure(qpi, str(err), "Unschedulable", plugins, nominated, cycle, started)

    async def _binding_cycle(
        self,
        fwk: Framework,
        state: CycleState,
        qpi: QueuedPodInfo,
        assumed: PodInfo,
        host: str,
        cycle: int,
        started: float,
    ) -> None:
        status = await fwk.wait_on_permit(assumed)
        if status is None:
            status = await fwk.run_pre_bind_plugins(state, assumed, host)
        if status is None:
            status = await fwk.run_bind_plugins(state, assumed, host)
        if status is not None:
            fwk.run_reserve_plugins_unreserve(state, assumed, host)
            self.cache.forget_pod(assumed)
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE)
            reason = "Unschedulable" if status.is_rejected() else "SchedulerError"
            self._failure(qpi, status.message(), reason, set(), None, cycle, started)
            return
        self.cache.finish_binding(assumed)
        metrics.attempt(metrics.SCHEDULED, fwk.profile_name, started)
        message = f"Successfully assigned {assumed.namespace}/{assumed.name} to {host}"
        await self.api.record_event(assumed.pod, "Normal", "Scheduled", "Binding", message)

    def _failure(
        self,
        qpi: QueuedPodInfo,
        message: str,
        reason: str,
        plugins: set[str],
        nominated: str | None,
        cycle: int,
        started: float,
    ) -> None:
        """Requeue the pod (if it still waits) and tell the API why it did not schedule."""
        pod = qpi.pod_info
        result = metrics.UNSCHEDULABLE if reason == "Unschedulable" else metrics.ERROR
        metrics.attempt(result, pod.scheduler_name, started)
        current = self._unscheduled.get(pod.uid)
        if current is not None:
            qpi.pod_info = current
            qpi.unschedulable_plugins = plugins
            self.queue.add_unschedulable_if_not_present(qpi, cycle)
        log.info("scheduling failed pod=%s reason=%s message=%r", pod.key, reason, message)
        if nominated is not None:
            self.queue.nominator.add(pod, nominated)
        self._spawn(self._report_failure(pod, _truncate(message), reason, nominated))

    async def _report_failure(
        self, pod: PodInfo, message: str, reason: str, nominated: str | None
    ) -> None:
        try:
            if nominated is not None:
                await self.api.set_nominated_node_name(pod.pod, nominated)
            condition = {
                "type": "PodScheduled",
                "status": "False",
                "reason": reason,
                "message": message,
            }
            await self.api.set_pod_condition(pod.pod, condition)
            await self.api.record_event(
                pod.pod, "Warning", "FailedScheduling", "Scheduling", message
            )
        except Exception:  # a failed report is retried by the next attempt, never fatal
            log.exception("reporting a scheduling failure failed pod=%s", pod.key)

    # -- lifecycle -----------------------------------------------------------------------

    async def wait_for_bindings(self) -> None:
        """Wait until every binding cycle and failure report in flight has finished."""
        while self._bindings:
            await asyncio.gather(*list(self._bindings), return_exceptions=True)
            # Finished tasks leave the set from their done callbacks, which run only once the
            # loop turns; gathering tasks already done need not yield (Python 3.12 does not).
            await asyncio.sleep(0)

    async def _cleanup_loop(self) -> None:
        while not self._closed:
            await self.clock.sleep(CLEANUP_PERIOD)
            for expired in self.cache.cleanup_expired_assumed_pods():
                log.info("assumed pod expired pod=%s node=%s", expired.key, expired.node_name)

    async def run(self) -> None:
        """Schedule pods until ``close()`` (or cancellation)."""
        try:
            async with asyncio.TaskGroup() as group:
                background = [
                    group.create_task(self.queue.run()),
                    group.create_task(self._cleanup_loop()),
                ]
                while True:
                    if not await self.schedule_one():
                        break
                    await asyncio.sleep(0)  # let informer events and binding tasks run
                for task in background:
                    task.cancel()
        finally:
            for task in list(self._bindings):
                task.cancel()

    def close(self) -> None:
        self._closed = True
        self.queue.close()
