"""NodeAffinity: ``nodeSelector`` and required node affinity filter nodes; preferred node
affinity scores them by the summed weights of the terms they match.

PreFilter returns Skip for a pod without either, so the Filter costs nothing for most pods;
when every required term pins ``metadata.name``, PreFilter limits the nodes to those names.
"""

from __future__ import annotations

from collections.abc import Sequence

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.events import ActionType, ClusterEvent, EventResource
from kybernetes.scheduler.framework.interface import NodeToStatus, PreFilterResult
from kybernetes.scheduler.framework.node_arrays import Batch
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.status import Code, Status
from kybernetes.scheduler.plugins.helper import default_normalize_score

__all__ = ["ERR_REASON_POD", "NodeAffinity"]

ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
_SKIP = Status(Code.SKIP)


class NodeAffinity:
    name = "NodeAffinity"

    def pre_filter(
        self, state: CycleState, pod: PodInfo
    ) -> tuple[PreFilterResult | None, Status | None]:
        required = pod.required_node_affinity
        if required is None:
            return None, _SKIP
        terms = required.terms
        if not terms:
            return None, None
        names: set[str] = set()
        for term in terms:
            if term.name_in is None:
                return None, None
            names |= term.name_in
        return PreFilterResult(frozenset(names)), None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], rejected: NodeToStatus
    ) -> list[NodeInfo]:
        required = pod.required_node_affinity
        if required is None:
            return nodes
        matches = required.matches
        passed = [n for n in nodes if matches(n.labels, n.name)]
        if len(passed) != len(nodes):
            kept = {id(n) for n in passed}
            for node in nodes:
                if id(node) not in kept:
                    rejected[node.name] = Status(
                        Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_POD, plugin=self.name
                    )
        return passed

    def filter_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> bool | None:
        return True if pod.required_node_affinity is None else None

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        return None if pod.preferred_node_affinity else _SKIP

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        preferred = pod.preferred_node_affinity
        return [preferred.score(n.labels, n.name) for n in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=False)

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return [ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)]
