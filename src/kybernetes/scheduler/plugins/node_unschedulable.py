"""NodeUnschedulable: cordoned nodes (``spec.unschedulable``) take only pods that tolerate
the ``node.kubernetes.io/unschedulable:NoSchedule`` taint."""

from __future__ import annotations

from collections.abc import Sequence

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.events import ActionType, ClusterEvent, EventResource
from kybernetes.scheduler.framework.interface import NodeToStatus
from kybernetes.scheduler.framework.node_arrays import FLAG_UNSCHEDULABLE, Batch, BoolArray
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.status import Code, Status
from kybernetes.scheduler.framework.taints import NO_SCHEDULE, tolerates

__all__ = ["ERR_REASON_UNSCHEDULABLE", "NodeUnschedulable"]

ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
_TAINT = ("node.kubernetes.io/unschedulable", "", NO_SCHEDULE)


class NodeUnschedulable:
    name = "NodeUnschedulable"

    def filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], rejected: NodeToStatus
    ) -> list[NodeInfo]:
        if not [n for n in nodes if n.unschedulable]:
            return nodes
        if any(tolerates(t, _TAINT) for t in pod.tolerations):
            return nodes
        for node in nodes:
            if node.unschedulable:
                rejected[node.name] = Status(
                    Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_UNSCHEDULABLE, plugin=self.name
                )
        return [n for n in nodes if not n.unschedulable]

    def filter_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> BoolArray | bool:
        if not batch.any_flagged(FLAG_UNSCHEDULABLE) or any(
            tolerates(t, _TAINT) for t in pod.tolerations
        ):
            return True
        mask: BoolArray = ~batch.flagged(FLAG_UNSCHEDULABLE)
        return mask

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return [ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT)]
