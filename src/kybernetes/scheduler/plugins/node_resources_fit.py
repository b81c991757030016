"""NodeResourcesFit: a node must have room for the pod's requests (cpu, memory,
ephemeral-storage, extended resources such as ``nvidia.com/gpu``, and one more pod);
nodes are scored by a strategy: LeastAllocated (default), MostAllocated or
RequestedToCapacityRatio, over weighted resources.

A shortage is UnschedulableAndUnresolvable when the request exceeds the node's whole
allocatable amount (preemption cannot help), Unschedulable otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kybernetes.scheduler.framework import node_arrays
from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.events import ActionType, ClusterEvent, EventResource
from kybernetes.scheduler.framework.interface import MAX_NODE_SCORE, NodeToStatus
from kybernetes.scheduler.framework.node_arrays import Batch, BoolArray, IntArray
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.status import Code, Status
from kybernetes.scheduler.plugins.helper import ArgsError, expect_int, expect_mapping
from kybernetes.scheduler.plugins.resource_allocation import (
    ResourceSpec,
    Scorer,
    allocations,
    least_allocated,
    most_allocated,
    pod_amount,
    requested_to_capacity_ratio,
)

__all__ = ["FitArgs", "NodeResourcesFit", "insufficient_resources", "parse_fit_args"]

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
_DEFAULT_RESOURCES: tuple[ResourceSpec, ...] = (("cpu", 1), ("memory", 1))
_DEFAULT_SHAPE = ((0, 0), (100, 10))


@dataclass(frozen=True, slots=True)
class FitArgs:
    strategy: str = LEAST_ALLOCATED
    resources: tuple[ResourceSpec, ...] = _DEFAULT_RESOURCES
    shape: tuple[tuple[int, int], ...] = _DEFAULT_SHAPE
    ignored_resources: frozenset[str] = frozenset()
    ignored_resource_groups: frozenset[str] = frozenset()


def parse_fit_args(raw: Mapping[str, Any]) -> FitArgs:
    strategy_raw = expect_mapping(raw.get("scoringStrategy"), "scoringStrategy")
    strategy = strategy_raw.get("type", LEAST_ALLOCATED)
    if strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO):
        raise ArgsError(
            "scoringStrategy.type",
            f'unsupported value "{strategy}": supported values are "{LEAST_ALLOCATED}", '
            f'"{MOST_ALLOCATED}", "{REQUESTED_TO_CAPACITY_RATIO}"',
        )
    resources: list[ResourceSpec] = []
    for i, item in enumerate(strategy_raw.get("resources") or ()):
        field = f"scoringStrategy.resources[{i}]"
        item = expect_mapping(item, field)
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ArgsError(f"{field}.name", "must be a non-empty resource name")
        resources.append((name, expect_int(item.get("weight", 1), f"{field}.weight", 1, 100)))
    shape: list[tuple[int, int]] = []
    ratio = expect_mapping(strategy_raw.get("requestedToCapacityRatio"), "requestedToCapacityRatio")
    for i, point in enumerate(ratio.get("shape") or ()):
        field = f"scoringStrategy.requestedToCapacityRatio.shape[{i}]"
        point = expect_mapping(point, field)
        utilization = expect_int(point.get("utilization"), f"{field}.utilization", 0, 100)
        score = expect_int(point.get("score"), f"{field}.score", 0, 10)
        if shape and utilization <= shape[-1][0]:
            raise ArgsError(f"{field}.utilization", "values must be sorted in increasing order")
        shape.append((utilization, score))
    if strategy == REQUESTED_TO_CAPACITY_RATIO and not shape:
        raise ArgsError("scoringStrategy.requestedToCapacityRatio.shape", "must not be empty")
    return FitArgs(
        strategy=strategy,
        resources=tuple(resources) or _DEFAULT_RESOURCES,
        shape=tuple(shape) or _DEFAULT_SHAPE,
        ignored_resources=frozenset(raw.get("ignoredResources") or ()),
        ignored_resource_groups=frozenset(raw.get("ignoredResourceGroups") or ()),
    )


def insufficient_resources(
    pod: PodInfo, node: NodeInfo, scalar: Mapping[str, int]
) -> list[tuple[str, bool]]:
    """Each shortage as ``(reason, unresolvable)`` (upstream ``fitsRequest``)."""
    found: list[tuple[str, bool]] = []
    if len(node.pods) + 1 > node.allocatable_pods:
        found.append(("Too many pods", False))
    r = pod.requests
    if r.cpu > 0 and r.cpu > node.allocatable_cpu - node.requested_cpu:
        found.append(("Insufficient cpu", r.cpu > node.allocatable_cpu))
    if r.memory > 0 and r.memory > node.allocatable_memory - node.requested_memory:
        found.append(("Insufficient memory", r.memory > node.allocatable_memory))
    eph = r.ephemeral_storage
    if eph > 0 and eph > node.allocatable_ephemeral_storage - node.requested_ephemeral_storage:
        found.append(("Insufficient ephemeral-storage", eph > node.allocatable_ephemeral_storage))
    for name, amount in scalar.items():
        allocatable = node.allocatable_scalar.get(name, 0)
        if amount > allocatable - node.requested_scalar.get(name, 0):
            found.append((f"Insufficient {name}", amount > allocatable))
    return found


class NodeResourcesFit:
    name = "NodeResourcesFit"

    def __init__(self, args: FitArgs | None = None) -> None:
        self.args = args or FitArgs()
        self._weights = tuple(weight for _, weight in self.args.resources)
        scorers: dict[str, Scorer] = {
            LEAST_ALLOCATED: least_allocated,
            MOST_ALLOCATED: most_allocated,
        }
        self._scorer = scorers.get(self.args.strategy) or requested_to_capacity_ratio(
            self.args.shape
        )
        self._fast_least = self.args.strategy == LEAST_ALLOCATED and self.args.resources == (
            _DEFAULT_RESOURCES
        )

    def _scalar(self, pod: PodInfo) -> dict[str, int]:
        scalar = pod.requests.scalar
        if not scalar or not (self.args.ignored_resources or self.args.ignored_resource_groups):
            return scalar
        return {
            name: amount
            for name, amount in scalar.items()
            if name not in self.args.ignored_resources
            and name.split("/", 1)[0] not in self.args.ignored_resource_groups
        }

    def filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], rejected: NodeToStatus
    ) -> list[NodeInfo]:
        r = pod.requests
        cpu, memory = r.cpu, r.memory
        scalar = self._scalar(pod)
        if not scalar and not r.ephemeral_storage:
            # Integer compares on precomputed free amounts: the hottest loop of a cycle.
            if cpu > 0 and memory > 0:
                passed = [
                    n
                    for n in nodes
                    if cpu <= n.free_cpu and memory <= n.free_memory and n.free_pods > 0
                ]
            elif cpu > 0:
                passed = [n for n in nodes if cpu <= n.free_cpu and n.free_pods > 0]
            elif memory > 0:
                passed = [n for n in nodes if memory <= n.free_memory and n.free_pods > 0]
            else:
                passed = [n for n in nodes if n.free_pods > 0]
        else:
            passed = [n for n in nodes if not insufficient_resources(pod, n, scalar)]
        if len(passed) != len(nodes):
            kept = {id(n) for n in passed}
            for node in nodes:
                if id(node) in kept:
                    continue
                shortages = insufficient_resources(pod, node, scalar)
                code = (
                    Code.UNSCHEDULABLE_AND_UNRESOLVABLE
                    if any(unresolvable for _, unresolvable in shortages)
                    else Code.UNSCHEDULABLE
                )
                rejected[node.name] = Status(
                    code, *(reason for reason, _ in shortages), plugin=self.name
                )
        return passed

    def filter_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> BoolArray | None:
        r = pod.requests
        if r.ephemeral_storage or self._scalar(pod):
            return None
        return node_arrays.fits(batch, r.cpu, r.memory)

    def score_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> IntArray | None:
        if not self._fast_least:
            return None
        r = pod.requests
        return node_arrays.least_allocated(batch, r.non_zero_cpu, r.non_zero_memory)

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        r = pod.requests
        if self._fast_least:
            return _least_allocated_cpu_memory(r.non_zero_cpu, r.non_zero_memory, nodes)
        resources = self.args.resources
        requests = [pod_amount(r, name, non_zero=True) for name, _ in resources]
        scorer, weights = self._scorer, self._weights
        scores: list[int] = []
        for node in nodes:
            allocatable, requested = allocations(node, resources, requests, non_zero=True)
            scores.append(scorer(requested, allocatable, weights))
        return scores

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return [
            ClusterEvent(
                EventResource.ASSIGNED_POD, ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN
            ),
            ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE),
        ]


def _least_allocated_cpu_memory(cpu: int, memory: int, nodes: list[NodeInfo]) -> list[int]:
    """LeastAllocated over cpu and memory with weight 1 each: the default, inlined for speed."""
    scores: list[int] = []
    append = scores.append
    top = MAX_NODE_SCORE
    for n in nodes:
        ac = n.allocatable_cpu
        am = n.allocatable_memory
        rc = n.non_zero_cpu + cpu
        rm = n.non_zero_memory + memory
        if ac and am:
            sc = 0 if rc > ac else (ac - rc) * top // ac
            sm = 0 if rm > am else (am - rm) * top // am
            append((sc + sm) // 2)
        elif ac:
            append(0 if rc > ac else (ac - rc) * top // ac)
        elif am:
            append(0 if rm > am else (am - rm) * top // am)
        else:
            append(0)
    return scores
