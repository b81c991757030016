"""One pod's placement decision (upstream ``schedule_one.go``): filter, score, pick a host.

Invariants: the nodes examined start where the previous cycle stopped and wrap around, and
the search stops as soon as ``num_feasible_nodes_to_find`` feasible nodes are found (so each
cycle examines a different slice of a large cluster); among the best-scored nodes one is
picked uniformly at random.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.diagnosis import Diagnosis, FitError
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.runtime import Framework
from kybernetes.scheduler.framework.snapshot import Snapshot
from kybernetes.scheduler.framework.status import Code, Status

__all__ = [
    "Algorithm",
    "NoNodesAvailableError",
    "ScheduleResult",
    "SchedulingError",
    "num_feasible_nodes_to_find",
]

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
BASE_PERCENTAGE_OF_NODES_TO_SCORE = 50


class SchedulingError(Exception):
    """An internal failure of a cycle (not a pod that does not fit)."""


class NoNodesAvailableError(SchedulingError):
    def __init__(self) -> None:
        super().__init__("no nodes available to schedule pods")


@dataclass(frozen=True, slots=True)
class ScheduleResult:
    suggested_host: str
    evaluated_nodes: int
    feasible_nodes: int


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """How many feasible nodes to look for (upstream's adaptive percentageOfNodesToScore)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage <= 0:
        percentage = max(
            BASE_PERCENTAGE_OF_NODES_TO_SCORE - num_all_nodes // 125,
            MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND,
        )
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


def _window(nodes: list[NodeInfo], begin: int, count: int) -> list[NodeInfo]:
    """``count`` nodes from ``begin``, wrapping around the end of ``nodes``."""
    total = len(nodes)
    begin %= total
    end = begin + count
    if end <= total:
        return nodes[begin:end]
    return nodes[begin:] + nodes[: end - total]


class Algorithm:
    def __init__(self, rng: random.Random, percentage_of_nodes_to_score: int = 0) -> None:
        self._rng = rng
        self._percentage = percentage_of_nodes_to_score
        self.next_start_node_index = 0

    def schedule_pod(
        self, fwk: Framework, state: CycleState, pod: PodInfo, snapshot: Snapshot
    ) -> ScheduleResult:
        """The host for ``pod``; raises ``FitError`` when none fits."""
        if not len(snapshot):
            raise NoNodesAvailableError
        feasible, diagnosis = self.find_nodes_that_fit(fwk, state, pod, snapshot)
        if not feasible:
            raise FitError(pod, len(snapshot), diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_to_status)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        scores = self.prioritize(fwk, state, pod, feasible)
        return ScheduleResult(self.select_host(feasible, scores), evaluated, len(feasible))

    def find_nodes_that_fit(
        self, fwk: Framework, state: CycleState, pod: PodInfo, snapshot: Snapshot
    ) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        result, status, plugins = fwk.run_pre_filter_plugins(state, pod)
        diagnosis.unschedulable_plugins = plugins
        if status is not None:
            if not status.is_rejected():
                raise SchedulingError(status.message())
            diagnosis.absent_status = status
            diagnosis.pre_filter_msg = status.message()
            return [], diagnosis
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            node = snapshot.get(nominated)
            if node is not None and (
                fwk.run_filter_plugins_with_nominated_pods(state, pod, node) is None
            ):
                return [node], diagnosis
        nodes = snapshot.node_info_list
        if result is not None and result.node_names is not None:
            nodes = [n for n in nodes if n.name in result.node_names]
            names = " ".join(sorted(plugins)) if plugins else ""
            diagnosis.absent_status = Status(
                Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"node(s) didn't satisfy plugin(s) [{names}]"
            )
        feasible = self.find_nodes_that_pass_filters(fwk, state, pod, diagnosis, nodes)
        diagnosis.unschedulable_plugins.update(
            s.plugin for s in diagnosis.node_to_status.values() if s.plugin
        )
        return feasible, diagnosis

    def find_nodes_that_pass_filters(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        diagnosis: Diagnosis,
        nodes: list[NodeInfo],
    ) -> list[NodeInfo]:
        total = len(nodes)
        if not total:
            return []
        percentage = fwk.percentage_of_nodes_to_score
        wanted = num_feasible_nodes_to_find(
            self._percentage if percentage is None else percentage, total
        )
        start = self.next_start_node_index % total
        if not fwk.filter_plugins:
            self.next_start_node_index = (start + wanted) % total
            return _window(nodes, start, wanted)
        feasible: list[NodeInfo] = []
        processed = 0
        rejected = diagnosis.node_to_status
        while len(feasible) < wanted and processed < total:
            need = wanted - len(feasible)
            if processed:
                # Size the next batch by the pass rate so far, so that few batches are needed
                # even when most nodes are rejected (upstream's parallel workers overshoot too).
                need = max(need, need * processed // max(len(feasible), 1))
            chunk = _window(nodes, start + processed, min(need, total - processed))
            processed += len(chunk)
            feasible.extend(fwk.filter_nodes(state, pod, chunk, rejected))
        self.next_start_node_index = (start + processed) % total
        return feasible[:wanted]

    def prioritize(
        self, fwk: Framework, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> list[int]:
        if not fwk.score_plugins:
            return [1] * len(nodes)
        status = fwk.run_pre_score_plugins(state, pod, nodes)
        if status is not None:
            raise SchedulingError(status.message())
        return fwk.run_score_plugins(state, pod, nodes)

    def select_host(self, nodes: list[NodeInfo], scores: list[int]) -> str:
        """The highest-scored node; ties broken uniformly at random."""
        best = max(scores)
        ties = [i for i, s in enumerate(scores) if s == best]
        if len(ties) == 1:
            return nodes[ties[0]].name
        return nodes[ties[self._rng.randrange(len(ties))]].name
