"""TaintToleration: NoSchedule/NoExecute taints repel pods that do not tolerate them (Filter);
untolerated PreferNoSchedule taints lower a node's score (Score, reversed on normalisation)."""

from __future__ import annotations

from collections.abc import Sequence

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.events import ActionType, ClusterEvent, EventResource
from kybernetes.scheduler.framework.interface import MAX_NODE_SCORE, NodeToStatus
from kybernetes.scheduler.framework.node_arrays import (
    FLAG_HARD_TAINTS,
    FLAG_PREFER_TAINTS,
    Batch,
    BoolArray,
)
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.status import Code, Status
from kybernetes.scheduler.framework.taints import (
    NO_EXECUTE,
    NO_SCHEDULE,
    PREFER_NO_SCHEDULE,
    find_untolerated,
    tolerates,
)
from kybernetes.scheduler.plugins.helper import default_normalize_score

__all__ = ["TaintToleration"]

_HARD = (NO_SCHEDULE, NO_EXECUTE)


class TaintToleration:
    name = "TaintToleration"

    def filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], rejected: NodeToStatus
    ) -> list[NodeInfo]:
        tainted = [n for n in nodes if n.hard_taints]
        if not tainted:
            return nodes
        tolerations = pod.tolerations
        passed: list[NodeInfo] = []
        for node in nodes:
            if not node.hard_taints:
                passed.append(node)
                continue
            taint = find_untolerated(node.hard_taints, tolerations, _HARD)
            if taint is None:
                passed.append(node)
            else:
                rejected[node.name] = Status(
                    Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                    f"node(s) had untolerated taint {{{taint[0]}: {taint[1]}}}",
                    plugin=self.name,
                )
        return passed

    def filter_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> BoolArray | bool:
        if not batch.any_flagged(FLAG_HARD_TAINTS):
            return True
        tainted = batch.flagged(FLAG_HARD_TAINTS)
        tolerations = pod.tolerations
        mask: BoolArray = ~tainted
        for j in tainted.nonzero()[0].tolist():
            if find_untolerated(batch.node(j).hard_taints, tolerations, _HARD) is None:
                mask[j] = True
        return mask

    def score_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> int | None:
        """No PreferNoSchedule taint in the batch: every count is 0, normalised (reversed)
        to the top score."""
        return None if batch.any_flagged(FLAG_PREFER_TAINTS) else MAX_NODE_SCORE

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        tolerations = [t for t in pod.tolerations if not t[3] or t[3] == PREFER_NO_SCHEDULE]
        return [
            sum(
                1
                for taint in node.prefer_taints
                if not any(tolerates(t, taint) for t in tolerations)
            )
            if node.prefer_taints
            else 0
            for node in nodes
        ]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return [ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT)]
