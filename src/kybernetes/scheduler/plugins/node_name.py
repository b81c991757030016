"""NodeName: a pod that names a node (``spec.nodeName``) fits only that node."""

from __future__ import annotations

from collections.abc import Sequence

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.events import ActionType, ClusterEvent, EventResource
from kybernetes.scheduler.framework.interface import NodeToStatus
from kybernetes.scheduler.framework.node_arrays import Batch
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.status import Code, Status

__all__ = ["ERR_REASON", "NodeName"]

ERR_REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = "NodeName"

    def filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], rejected: NodeToStatus
    ) -> list[NodeInfo]:
        wanted = pod.node_name
        if not wanted:
            return nodes
        for node in nodes:
            if node.name != wanted:
                rejected[node.name] = Status(
                    Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON, plugin=self.name
                )
        return [n for n in nodes if n.name == wanted]

    def filter_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> bool | None:
        return None if pod.node_name else True

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return [ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE)]
