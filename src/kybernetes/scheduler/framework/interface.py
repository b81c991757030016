"""The plugin contract: one protocol per extension point, and what plugins may call.

Names and order follow upstream's ``framework/interface.go``. Two deliberate differences, both
for CPython speed: Filter and Score take the whole batch of candidate nodes in one call (a plugin
loops in a comprehension instead of the framework calling it once per node; plugins may also
offer a numpy version over a ``Batch`` of the snapshot's columns), and a success is
``None`` rather than a Status object. A Filter plugin returns the nodes that pass and records a
``Status`` naming itself for every node it rejects; it must keep the order of the nodes it gets.

``ClusterAPI`` is the only way the scheduler reaches the outside world (the lead wires it to the
REST client and informers); ``Handle`` is what the framework offers plugins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from kybernetes.api.selectors import Selector
from kybernetes.api.types import Pod
from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.events import ClusterEvent
from kybernetes.scheduler.framework.node_arrays import Batch, BoolArray, IntArray
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo, QueuedPodInfo
from kybernetes.scheduler.framework.snapshot import Snapshot
from kybernetes.scheduler.framework.status import Status

__all__ = [
    "MAX_NODE_SCORE",
    "BatchFilterPlugin",
    "BatchScorePlugin",
    "BindPlugin",
    "ClusterAPI",
    "EnqueueExtensions",
    "FilterPlugin",
    "Handle",
    "NodeToStatus",
    "PermitPlugin",
    "Plugin",
    "PostFilterPlugin",
    "PostFilterResult",
    "PreBindPlugin",
    "PreEnqueuePlugin",
    "PreFilterExtensions",
    "PreFilterPlugin",
    "PreFilterResult",
    "PreScorePlugin",
    "QueueSortPlugin",
    "ReservePlugin",
    "ScoreExtensions",
    "ScorePlugin",
]

#: Upstream's ``MaxNodeScore``: every normalised score lies in ``[0, MAX_NODE_SCORE]``.
MAX_NODE_SCORE = 100

#: Node name -> the status of the plugin that rejected it.
NodeToStatus = dict[str, Status]


@dataclass(frozen=True, slots=True)
class PreFilterResult:
    """``node_names``: the only nodes worth filtering; None means every node."""

    node_names: frozenset[str] | None = None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return other
        return PreFilterResult(self.node_names & other.node_names)


@dataclass(frozen=True, slots=True)
class PostFilterResult:
    """The node a PostFilter plugin nominated ("" clears the pod's nomination)."""

    nominated_node_name: str


class ClusterAPI(Protocol):
    """The scheduler's outside world. Writes are async; reads come from informer caches."""

    async def bind(self, pod: Pod, node_name: str) -> None:
        """Create the pod's ``binding`` subresource; raise on failure."""
        ...

    async def evict(self, victim: Pod, preemptor: Pod, message: str) -> None:
        """Preempt ``victim``: DisruptionTarget condition, then a graceful delete."""
        ...

    async def set_nominated_node_name(self, pod: Pod, node_name: str) -> None:
        """Patch ``status.nominatedNodeName`` ("" clears it)."""
        ...

    async def set_pod_condition(self, pod: Pod, condition: Mapping[str, Any]) -> None:
        """Set one ``status.conditions`` entry (PodScheduled) on the pod."""
        ...

    async def record_event(
        self, pod: Pod, event_type: str, reason: str, action: str, message: str
    ) -> None:
        """Record an Event about the pod (``Scheduled``, ``FailedScheduling``, ``Preempted``)."""
        ...

    def priority_class(self, name: str) -> Mapping[str, Any] | None:
        """The PriorityClass called ``name``, or None."""
        ...

    def pod_disruption_budgets(self) -> Sequence[Mapping[str, Any]]:
        """Every PodDisruptionBudget (preemption avoids violating them)."""
        ...

    def namespace_labels(self) -> Mapping[str, Mapping[str, str]]:
        """Every namespace's labels by name (for affinity ``namespaceSelector``)."""
        ...

    def default_spread_selector(self, pod: Pod) -> Selector:
        """The selectors of the Services, ReplicaSets, ReplicationControllers and StatefulSets
        that select ``pod``, merged (upstream ``helper.DefaultSelector``)."""
        ...

    def persistent_volume_claim(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The PVC, or None."""
        ...


class Handle(Protocol):
    """What the framework offers its plugins (upstream ``framework.Handle``)."""

    @property
    def api(self) -> ClusterAPI: ...

    def snapshot(self) -> Snapshot: ...

    def nominated_pods_for_node(self, node_name: str) -> Sequence[PodInfo]: ...

    def run_filter_plugins_with_nominated_pods(
        self, state: CycleState, pod: PodInfo, node: NodeInfo
    ) -> Status | None: ...

    def run_pre_filter_extension_add_pod(
        self, state: CycleState, pod: PodInfo, pod_to_add: PodInfo, node: NodeInfo
    ) -> Status | None: ...

    def run_pre_filter_extension_remove_pod(
        self, state: CycleState, pod: PodInfo, pod_to_remove: PodInfo, node: NodeInfo
    ) -> Status | None: ...


class Plugin(Protocol):
    @property
    def name(self) -> str: ...


@runtime_checkable
class EnqueueExtensions(Protocol):
    def events_to_register(self) -> Sequence[ClusterEvent]:
        """The cluster events that may make a pod this plugin rejected schedulable."""
        ...


@runtime_checkable
class PreEnqueuePlugin(Plugin, Protocol):
    def pre_enqueue(self, pod: PodInfo) -> Status | None: ...


@runtime_checkable
class QueueSortPlugin(Plugin, Protocol):
    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool: ...


class PreFilterExtensions(Protocol):
    """Keeps a plugin's PreFilter state right when preemption adds or removes pods."""

    def add_pod(
        self, state: CycleState, pod: PodInfo, pod_to_add: PodInfo, node: NodeInfo
    ) -> Status | None: ...

    def remove_pod(
        self, state: CycleState, pod: PodInfo, pod_to_remove: PodInfo, node: NodeInfo
    ) -> Status | None: ...


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(
        self, state: CycleState, pod: PodInfo
    ) -> tuple[PreFilterResult | None, Status | None]:
        """Precompute for Filter; ``Status(SKIP)`` skips this plugin's Filter for the cycle."""
        ...

    def pre_filter_extensions(self) -> PreFilterExtensions | None: ...


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], rejected: NodeToStatus
    ) -> list[NodeInfo]:
        """The nodes that can run ``pod``; each rejected node gets a Status in ``rejected``."""
        ...


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    async def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status | None]: ...


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        """Precompute for Score; ``Status(SKIP)`` skips this plugin's Score for the cycle."""
        ...


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """One raw score per node, in order."""
        ...


@runtime_checkable
class BatchFilterPlugin(Protocol):
    def filter_batch(
        self, state: CycleState, pod: PodInfo, batch: Batch
    ) -> BoolArray | bool | None:
        """The vectorised Filter: a mask over ``batch`` (True: every node passes), or None when
        this pod needs the per-node ``filter``. Must agree with ``filter`` on every node."""
        ...


@runtime_checkable
class BatchScorePlugin(Protocol):
    def score_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> IntArray | int | None:
        """The vectorised Score *after* NormalizeScore (an int: the same for every node), or
        None when this pod needs the per-node ``score``. Must agree with ``score``."""
        ...


@runtime_checkable
class ScoreExtensions(Protocol):
    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Rescale ``scores`` in place into ``[0, MAX_NODE_SCORE]``."""
        ...


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


@runtime_checkable
class PermitPlugin(Plugin, Protocol):
    def permit(
        self, state: CycleState, pod: PodInfo, node_name: str
    ) -> tuple[Status | None, float]:
        """Allow (None), reject, or ``Status(WAIT)`` with a timeout in seconds."""
        ...


@runtime_checkable
class PreBindPlugin(Plugin, Protocol):
    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """Bind, or ``Status(SKIP)`` to leave the pod to the next Bind plugin."""
        ...
