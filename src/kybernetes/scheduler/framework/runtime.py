"""``Framework``: runs one profile's plugins at each extension point (upstream frameworkImpl).

Invariants: plugins run in the order the profile lists them; a plugin that returned Skip from
PreFilter (PreScore) is not called at Filter (Score) in that cycle; every non-success status
names the plugin that returned it; Score totals are the sums of each plugin's normalised scores
times its weight. The framework is also the ``Handle`` its plugins see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from operator import add
from typing import Protocol

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.events import ClusterEvent
from kybernetes.scheduler.framework.interface import (
    BatchFilterPlugin,
    BatchScorePlugin,
    BindPlugin,
    ClusterAPI,
    EnqueueExtensions,
    FilterPlugin,
    NodeToStatus,
    PermitPlugin,
    PostFilterPlugin,
    PostFilterResult,
    PreBindPlugin,
    PreEnqueuePlugin,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    QueueSortPlugin,
    ReservePlugin,
    ScoreExtensions,
    ScorePlugin,
)
from kybernetes.scheduler.framework.node_arrays import Batch, BoolArray, IntArray
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo, QueuedPodInfo
from kybernetes.scheduler.framework.snapshot import Snapshot
from kybernetes.scheduler.framework.status import Code, Status
from kybernetes.util.clock import Clock

__all__ = ["EXTENSION_POINTS", "Framework", "PodNominator"]

#: Extension point names as KubeSchedulerConfiguration spells them.
EXTENSION_POINTS = (
    "preEnqueue",
    "queueSort",
    "preFilter",
    "filter",
    "postFilter",
    "preScore",
    "score",
    "reserve",
    "permit",
    "preBind",
    "bind",
)


class PodNominator(Protocol):
    """The pods nominated to run on a node after preemption (kept by the queue)."""

    def nominated_pods_for_node(self, node_name: str) -> Sequence[PodInfo]: ...

    def has_nominated_pods(self) -> bool: ...


_Normalize = Callable[[CycleState, PodInfo, list[int]], None]
_FilterBatch = Callable[[CycleState, PodInfo, Batch], "BoolArray | bool | None"]
_ScoreBatch = Callable[[CycleState, PodInfo, Batch], "IntArray | int | None"]


class _WaitingPod:
    """A pod a Permit plugin asked to wait; resolved by ``allow``/``reject`` or its timeout."""

    __slots__ = ("future", "pending")

    def __init__(self, pending: set[str]) -> None:
        self.future: asyncio.Future[Status | None] = asyncio.get_running_loop().create_future()
        self.pending = pending


class Framework:
    """One scheduling profile: its plugins per extension point and their score weights."""

    def __init__(
        self,
        profile_name: str,
        api: ClusterAPI,
        nominator: PodNominator,
        clock: Clock,
        percentage_of_nodes_to_score: int | None = None,
    ) -> None:
        self.profile_name = profile_name
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self._api = api
        self._nominator = nominator
        self._clock = clock
        self._snapshot = Snapshot()
        self.pre_enqueue_plugins: list[PreEnqueuePlugin] = []
        self.queue_sort_plugin: QueueSortPlugin | None = None
        self.pre_filter_plugins: list[PreFilterPlugin] = []
        self.filter_plugins: list[FilterPlugin] = []
        self.post_filter_plugins: list[PostFilterPlugin] = []
        self.pre_score_plugins: list[PreScorePlugin] = []
        self.score_plugins: list[tuple[ScorePlugin, int, _Normalize | None]] = []
        #: The vectorised variants, aligned with ``filter_plugins`` / ``score_plugins``.
        self._filter_batches: list[_FilterBatch | None] = []
        self._score_batches: list[_ScoreBatch | None] = []
        self.reserve_plugins: list[ReservePlugin] = []
        self.permit_plugins: list[PermitPlugin] = []
        self.pre_bind_plugins: list[PreBindPlugin] = []
        self.bind_plugins: list[BindPlugin] = []
        self.events: dict[str, list[ClusterEvent]] = {}
        self._waiting: dict[str, _WaitingPod] = {}

    # -- building ------------------------------------------------------------------------

    def add_plugin(self, plugin: object, points: Sequence[str], weight: int = 1) -> None:
        """Register ``plugin`` at each of ``points`` it implements."""
        name = str(getattr(plugin, "name", type(plugin).__name__))
        for point in points:
            if point == "preEnqueue" and isinstance(plugin, PreEnqueuePlugin):
                self.pre_enqueue_plugins.append(plugin)
            elif point == "queueSort" and isinstance(plugin, QueueSortPlugin):
                self.queue_sort_plugin = plugin
            elif point == "preFilter" and isinstance(plugin, PreFilterPlugin):
                self.pre_filter_plugins.append(plugin)
            elif point == "filter" and isinstance(plugin, FilterPlugin):
                self.filter_plugins.append(plugin)
                self._filter_batches.append(
                    plugin.filter_batch if isinstance(plugin, BatchFilterPlugin) else None
                )
            elif point == "postFilter" and isinstance(plugin, PostFilterPlugin):
                self.post_filter_plugins.append(plugin)
            elif point == "preScore" and isinstance(plugin, PreScorePlugin):
                self.pre_score_plugins.append(plugin)
            elif point == "score" and isinstance(plugin, ScorePlugin):
                normalize = plugin.normalize_score if isinstance(plugin, ScoreExtensions) else None
                self.score_plugins.append((plugin, weight, normalize))
                self._score_batches.append(
                    plugin.score_batch if isinstance(plugin, BatchScorePlugin) else None
                )
            elif point == "reserve" and isinstance(plugin, ReservePlugin):
                self.reserve_plugins.append(plugin)
            elif point == "permit" and isinstance(plugin, PermitPlugin):
                self.permit_plugins.append(plugin)
            elif point == "preBind" and isinstance(plugin, PreBindPlugin):
                self.pre_bind_plugins.append(plugin)
            elif point == "bind" and isinstance(plugin, BindPlugin):
                self.bind_plugins.append(plugin)
        if isinstance(plugin, EnqueueExtensions) and name not in self.events:
            self.events[name] = list(plugin.events_to_register())

    # -- Handle --------------------------------------------------------------------------

    @property
    def api(self) -> ClusterAPI:
        return self._api

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def set_snapshot(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def nominated_pods_for_node(self, node_name: str) -> Sequence[PodInfo]:
        return self._nominator.nominated_pods_for_node(node_name)

    def has_nominated_pods(self) -> bool:
        return self._nominator.has_nominated_pods()

    # -- queue ---------------------------------------------------------------------------

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        if self.queue_sort_plugin is None:
            return a.timestamp < b.timestamp
        return self.queue_sort_plugin.less(a, b)

    def run_pre_enqueue_plugins(self, pod: PodInfo) -> Status | None:
        for plugin in self.pre_enqueue_plugins:
            status = plugin.pre_enqueue(pod)
            if status is not None and not status.is_success():
                return status.with_plugin(plugin.name)
        return None

    # -- filtering -----------------------------------------------------------------------

    def run_pre_filter_plugins(
        self, state: CycleState, pod: PodInfo
    ) -> tuple[PreFilterResult | None, Status | None, set[str]]:
        """Merged PreFilterResult, the first failure, and the plugins that rejected the pod."""
        result: PreFilterResult | None = None
        limiting: list[str] = []
        for plugin in self.pre_filter_plugins:
            plugin_result, status = plugin.pre_filter(state, pod)
            if status is not None and status.code == Code.SKIP:
                state.skip_filter_plugins.add(plugin.name)
                continue
            if status is not None and not status.is_success():
                status.with_plugin(plugin.name)
                return None, status, {plugin.name} if status.is_rejected() else set()
            if plugin_result is not None and plugin_result.node_names is not None:
                limiting.append(plugin.name)
                result = plugin_result if result is None else result.merge(plugin_result)
                if result.node_names is not None and not result.node_names:
                    if len(limiting) == 1:
                        message = f"node(s) didn't satisfy plugin {limiting[0]}"
                    else:
                        message = (
                            f"node(s) didn't satisfy plugin(s) [{' '.join(limiting)}] "
                            "simultaneously"
                        )
                    status = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, message)
                    return result, status, set(limiting)
        return result, None, set()

    def run_filter_plugins(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], rejected: NodeToStatus
    ) -> list[NodeInfo]:
        """The nodes that pass every Filter plugin; the others get their status in ``rejected``."""
        skip = state.skip_filter_plugins
        for plugin in self.filter_plugins:
            if skip and plugin.name in skip:
                continue
            nodes = plugin.filter(state, pod, nodes, rejected)
            if not nodes:
                break
        return nodes

    def filter_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> Batch:
        """The sub-batch that passes every Filter plugin, vectorised where plugins can be.

        Records no statuses: the caller asks ``run_filter_plugins`` for them only when it
        needs them (when the pod fits nowhere); the nodes that pass are the same either way.
        """
        skip = state.skip_filter_plugins
        mask: BoolArray | None = None
        per_node: list[FilterPlugin] = []
        for plugin, vector in zip(self.filter_plugins, self._filter_batches, strict=True):
            if skip and plugin.name in skip:
                continue
            result = vector(state, pod, batch) if vector is not None else None
            if result is None:
                per_node.append(plugin)
            elif not isinstance(result, bool):
                mask = result if mask is None else mask & result
        passed = batch if mask is None else batch.select(mask)
        if per_node and len(passed):
            nodes = passed.node_infos()
            scratch: NodeToStatus = {}
            for plugin in per_node:
                nodes = plugin.filter(state, pod, nodes, scratch)
                if not nodes:
                    break
            if len(nodes) != len(passed):
                kept = {id(n) for n in nodes}
                passed = passed.select(passed.mask_of(kept))
        return passed

    def run_filter_plugins_with_nominated_pods(
        self, state: CycleState, pod: PodInfo, node: NodeInfo
    ) -> Status | None:
        """Filter one node as if the higher-or-equal priority pods nominated to it ran there."""
        nominated = [
            p
            for p in self._nominator.nominated_pods_for_node(node.name)
            if p.priority >= pod.priority and p.uid != pod.uid
        ]
        rejected: NodeToStatus = {}
        if nominated:
            state_with = state.clone()
            node_with = node.clone()
            for other in nominated:
                node_with.add_pod(other)
                status = self.run_pre_filter_extension_add_pod(state_with, pod, other, node_with)
                if status is not None and not status.is_success():
                    return status
            if not self.run_filter_plugins(state_with, pod, [node_with], rejected):
                return rejected[node.name]
        if not self.run_filter_plugins(state, pod, [node], rejected):
            return rejected[node.name]
        return None

    def filter_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], rejected: NodeToStatus
    ) -> list[NodeInfo]:
        """Batch Filter, taking nominated pods into account on the nodes that have some."""
        if not self._nominator.has_nominated_pods():
            return self.run_filter_plugins(state, pod, nodes, rejected)
        nominated = self._nominator.nominated_pods_for_node
        plain = [n for n in nodes if not nominated(n.name)]
        if len(plain) == len(nodes):
            return self.run_filter_plugins(state, pod, nodes, rejected)
        passed = {id(n) for n in self.run_filter_plugins(state, pod, plain, rejected)}
        for node in nodes:
            if nominated(node.name):
                status = self.run_filter_plugins_with_nominated_pods(state, pod, node)
                if status is None:
                    passed.add(id(node))
                else:
                    rejected[node.name] = status
        return [n for n in nodes if id(n) in passed]

    def run_pre_filter_extension_add_pod(
        self, state: CycleState, pod: PodInfo, pod_to_add: PodInfo, node: NodeInfo
    ) -> Status | None:
        for plugin in self.pre_filter_plugins:
            extensions = plugin.pre_filter_extensions()
            if extensions is None or plugin.name in state.skip_filter_plugins:
                continue
            status = extensions.add_pod(state, pod, pod_to_add, node)
            if status is not None and not status.is_success():
                return status.with_plugin(plugin.name)
        return None

    def run_pre_filter_extension_remove_pod(
        self, state: CycleState, pod: PodInfo, pod_to_remove: PodInfo, node: NodeInfo
    ) -> Status | None:
        for plugin in self.pre_filter_plugins:
            extensions = plugin.pre_filter_extensions()
            if extensions is None or plugin.name in state.skip_filter_plugins:
                continue
            status = extensions.remove_pod(state, pod, pod_to_remove, node)
            if status is not None and not status.is_success():
                return status.with_plugin(plugin.name)
        return None

    async def run_post_filter_plugins(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        """The first PostFilter plugin that succeeds wins; otherwise the joined failures."""
        messages: list[str] = []
        result: PostFilterResult | None = None
        for plugin in self.post_filter_plugins:
            plugin_result, status = await plugin.post_filter(state, pod, statuses)
            if status is None or status.is_success():
                return plugin_result, Status(Code.SUCCESS, plugin=plugin.name)
            if not status.is_rejected():
                return None, status.with_plugin(plugin.name)
            messages.extend(status.reasons)
            if plugin_result is not None:
                result = plugin_result
        return result, Status(Code.UNSCHEDULABLE, *messages)

    # -- scoring -------------------------------------------------------------------------

    def run_pre_score_plugins(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        for plugin in self.pre_score_plugins:
            status = plugin.pre_score(state, pod, nodes)
            if status is None or status.is_success():
                continue
            if status.code == Code.SKIP:
                state.skip_score_plugins.add(plugin.name)
                continue
            return status.with_plugin(plugin.name)
        return None

    def run_score_plugins(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> list[int]:
        """Each node's total: the weighted sum of every plugin's normalised score."""
        totals = [0] * len(nodes)
        skip = state.skip_score_plugins
        for plugin, weight, normalize in self.score_plugins:
            if skip and plugin.name in skip:
                continue
            scores = plugin.score(state, pod, nodes)
            if normalize is not None:
                normalize(state, pod, scores)
            if weight != 1:
                scores = [s * weight for s in scores]
            totals = list(map(add, totals, scores))
        return totals

    def score_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> IntArray:
        """``run_score_plugins`` over a batch, vectorised where plugins can be."""
        totals = batch.zeros()
        constant = 0
        skip = state.skip_score_plugins
        for (plugin, weight, normalize), vector in zip(
            self.score_plugins, self._score_batches, strict=True
        ):
            if skip and plugin.name in skip:
                continue
            result = vector(state, pod, batch) if vector is not None else None
            if result is None:
                scores = plugin.score(state, pod, batch.node_infos())
                if normalize is not None:
                    normalize(state, pod, scores)
                result = batch.int_array(scores)
            if isinstance(result, int):
                constant += result * weight
            elif weight == 1:
                totals += result
            else:
                totals += result * weight
        if constant:
            totals += constant
        return totals

    # -- reserve, permit, binding --------------------------------------------------------

    def run_reserve_plugins_reserve(
        self, state: CycleState, pod: PodInfo, node_name: str
    ) -> Status | None:
        for plugin in self.reserve_plugins:
            status = plugin.reserve(state, pod, node_name)
            if status is not None and not status.is_success():
                return status.with_plugin(plugin.name)
        return None

    def run_reserve_plugins_unreserve(
        self, state: CycleState, pod: PodInfo, node_name: str
    ) -> None:
        for plugin in reversed(self.reserve_plugins):
            plugin.unreserve(state, pod, node_name)

    def run_permit_plugins(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """None to go on, ``Status(WAIT)`` when some plugin asked to wait, or the rejection."""
        waiting: dict[str, float] = {}
        for plugin in self.permit_plugins:
            status, timeout = plugin.permit(state, pod, node_name)
            if status is None or status.is_success():
                continue
            if status.code == Code.WAIT:
                waiting[plugin.name] = timeout
                continue
            return status.with_plugin(plugin.name)
        if not waiting:
            return None
        self._waiting[pod.uid] = _WaitingPod(set(waiting))
        asyncio.get_running_loop().create_task(self._expire_waiting(pod.uid, max(waiting.values())))
        return Status(Code.WAIT)

    async def _expire_waiting(self, uid: str, seconds: float) -> None:
        await self._clock.sleep(seconds)
        self.reject_waiting_pod(uid, "", "rejected due to timeout after waiting")

    async def wait_on_permit(self, pod: PodInfo) -> Status | None:
        waiting = self._waiting.get(pod.uid)
        if waiting is None:
            return None
        try:
            return await waiting.future
        finally:
            self._waiting.pop(pod.uid, None)

    def allow_waiting_pod(self, uid: str, plugin: str) -> None:
        waiting = self._waiting.get(uid)
        if waiting is None or waiting.future.done():
            return
        waiting.pending.discard(plugin)
        if not waiting.pending:
            waiting.future.set_result(None)

    def reject_waiting_pod(self, uid: str, plugin: str, message: str) -> bool:
        waiting = self._waiting.get(uid)
        if waiting is None or waiting.future.done():
            return False
        waiting.future.set_result(Status(Code.UNSCHEDULABLE, message, plugin=plugin))
        return True

    async def run_pre_bind_plugins(
        self, state: CycleState, pod: PodInfo, node_name: str
    ) -> Status | None:
        for plugin in self.pre_bind_plugins:
            status = await plugin.pre_bind(state, pod, node_name)
            if status is not None and not status.is_success():
                return status.with_plugin(plugin.name)
        return None

    async def run_bind_plugins(
        self, state: CycleState, pod: PodInfo, node_name: str
    ) -> Status | None:
        if not self.bind_plugins:
            return Status(Code.SKIP)
        for plugin in self.bind_plugins:
            status = await plugin.bind(state, pod, node_name)
            if status is not None and status.code == Code.SKIP:
                continue
            if status is not None and not status.is_success():
                return status.with_plugin(plugin.name)
            return None
        return Status(Code.SKIP)
