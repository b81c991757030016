"""NodePorts: a pod's host ports must be free on the node (``0.0.0.0`` collides with every IP)."""

from __future__ import annotations

from collections.abc import Sequence

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.events import ActionType, ClusterEvent, EventResource
from kybernetes.scheduler.framework.interface import NodeToStatus, PreFilterResult
from kybernetes.scheduler.framework.node_arrays import Batch
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.status import Code, Status

__all__ = ["ERR_REASON", "NodePorts"]

ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
_SKIP = Status(Code.SKIP)


class NodePorts:
    name = "NodePorts"

    def pre_filter(
        self, state: CycleState, pod: PodInfo
    ) -> tuple[PreFilterResult | None, Status | None]:
        return None, None if pod.host_ports else _SKIP

    def pre_filter_extensions(self) -> None:
        return None

    def filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], rejected: NodeToStatus
    ) -> list[NodeInfo]:
        ports = pod.host_ports
        passed: list[NodeInfo] = []
        for node in nodes:
            if node.used_ports and any(node.port_conflicts(ip, proto, p) for ip, proto, p in ports):
                rejected[node.name] = Status(Code.UNSCHEDULABLE, ERR_REASON, plugin=self.name)
            else:
                passed.append(node)
        return passed

    def filter_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> bool | None:
        return None if pod.host_ports else True

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return [
            ClusterEvent(EventResource.ASSIGNED_POD, ActionType.DELETE),
            ClusterEvent(EventResource.NODE, ActionType.ADD),
        ]
