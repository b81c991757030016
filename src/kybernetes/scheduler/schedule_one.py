"""One pod's placement decision (upstream ``schedule_one.go``): filter, score, pick a host.

Invariants: the nodes examined start where the previous cycle stopped and wrap around, and
the search stops as soon as ``num_feasible_nodes_to_find`` feasible nodes are found (so each
cycle examines a different slice of a large cluster); among the best-scored nodes one is
picked uniformly at random.

Two paths compute the same thing: the per-node one (lists of NodeInfos through every plugin)
and, when numpy and the snapshot's ``NodeArrays`` are there, the batch one (numpy over node
positions, each plugin vectorised where it can be, per-node otherwise). They examine the same
nodes in the same order, find the same feasible ones, give the same scores and draw the same
random tie-break; the batch path works out per-node rejection statuses only when the pod fits
nowhere (they are read only then).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from kybernetes.scheduler.framework import node_arrays
from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.diagnosis import Diagnosis, FitError
from kybernetes.scheduler.framework.node_arrays import Batch, IntArray, NodeArrays
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
    def __init__(
        self, rng: random.Random, percentage_of_nodes_to_score: int = 0, vectorized: bool = True
    ) -> None:
        self._rng = rng
        self._percentage = percentage_of_nodes_to_score
        self.next_start_node_index = 0
        self.vectorized = vectorized and node_arrays.AVAILABLE

    def schedule_pod(
        self, fwk: Framework, state: CycleState, pod: PodInfo, snapshot: Snapshot
    ) -> ScheduleResult:
        """The host for ``pod``; raises ``FitError`` when none fits."""
        if not len(snapshot):
            raise NoNodesAvailableError
        arrays = snapshot.arrays
        if (
            self.vectorized
            and arrays is not None
            and arrays.nodes is snapshot.node_info_list
            and not fwk.has_nominated_pods()
        ):
            return self._schedule_batch(fwk, state, pod, snapshot, arrays)
        feasible, diagnosis = self.find_nodes_that_fit(fwk, state, pod, snapshot)
        if not feasible:
            raise FitError(pod, len(snapshot), diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_to_status)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        scores = self.prioritize(fwk, state, pod, feasible)
        return ScheduleResult(self.select_host(feasible, scores), evaluated, len(feasible))

    def _candidates(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: Snapshot,
        diagnosis: Diagnosis,
    ) -> list[NodeInfo] | NodeInfo:
        """PreFilter: the nodes worth filtering, or the pod's nominated node when it fits."""
        result, status, plugins = fwk.run_pre_filter_plugins(state, pod)
        diagnosis.unschedulable_plugins = plugins
        if status is not None:
            if not status.is_rejected():
                raise SchedulingError(status.message())
            diagnosis.absent_status = status
            diagnosis.pre_filter_msg = status.message()
            return []
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            node = snapshot.get(nominated)
            if node is not None and (
                fwk.run_filter_plugins_with_nominated_pods(state, pod, node) is None
            ):
                return node
        nodes = snapshot.node_info_list
        if result is not None and result.node_names is not None:
            nodes = [n for n in nodes if n.name in result.node_names]
            names = " ".join(sorted(plugins)) if plugins else ""
            diagnosis.absent_status = Status(
                Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"node(s) didn't satisfy plugin(s) [{names}]"
            )
        return nodes

    def find_nodes_that_fit(
        self, fwk: Framework, state: CycleState, pod: PodInfo, snapshot: Snapshot
    ) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        found = self._candidates(fwk, state, pod, snapshot, diagnosis)
        if isinstance(found, NodeInfo):
            return [found], diagnosis
        if not found and diagnosis.pre_filter_msg:
            return [], diagnosis
        feasible = self.find_nodes_that_pass_filters(fwk, state, pod, diagnosis, found)
        diagnosis.unschedulable_plugins.update(
            s.plugin for s in diagnosis.node_to_status.values() if s.plugin
        )
        return feasible, diagnosis

    def _schedule_batch(
        self,
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        snapshot: Snapshot,
        arrays: NodeArrays,
    ) -> ScheduleResult:
        diagnosis = Diagnosis()
        found = self._candidates(fwk, state, pod, snapshot, diagnosis)
        if isinstance(found, NodeInfo):
            return ScheduleResult(found.name, 1, 1)
        total = len(found)
        if not total:
            raise FitError(pod, len(snapshot), diagnosis)
        percentage = fwk.percentage_of_nodes_to_score
        wanted = num_feasible_nodes_to_find(
            self._percentage if percentage is None else percentage, total
        )
        start = self.next_start_node_index % total
        ring: IntArray | None = (
            None if found is snapshot.node_info_list else arrays.positions_of(n.name for n in found)
        )
        parts: list[Batch] = []
        count = processed = 0
        while count < wanted and processed < total:
            need = wanted - count
            if processed:
                need = max(need, need * processed // max(count, 1))
            size = min(need, total - processed)
            batch = arrays.batch(node_arrays.ring_slice(ring, total, start + processed, size))
            processed += size
            if fwk.filter_plugins:
                batch = fwk.filter_batch(state, pod, batch)
            parts.append(batch)
            count += len(batch)
            if not fwk.filter_plugins:
                break
        self.next_start_node_index = (start + processed) % total
        if not count:
            # Nothing fits: the per-node filters give every node's status for the message.
            fwk.filter_nodes(state, pod, _window(found, start, total), diagnosis.node_to_status)
            diagnosis.unschedulable_plugins.update(
                s.plugin for s in diagnosis.node_to_status.values() if s.plugin
            )
            raise FitError(pod, len(snapshot), diagnosis)
        feasible = Batch.join(parts, wanted)
        evaluated = len(feasible) + processed - count
        if len(feasible) == 1:
            return ScheduleResult(feasible.node(0).name, evaluated, 1)
        if fwk.score_plugins:
            status = fwk.run_pre_score_plugins(state, pod, feasible)
            if status is not None:
                raise SchedulingError(status.message())
            totals = fwk.score_batch(state, pod, feasible)
            best = totals.max()
            ties = node_arrays.flatnonzero(totals == best)
            count = len(ties)
        else:
            ties = None
            count = len(feasible)
        choice = 0 if count == 1 else self._rng.randrange(count)
        index = choice if ties is None else int(ties[choice])
        return ScheduleResult(feasible.node(index).name, evaluated, len(feasible))

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
