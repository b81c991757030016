"""NodeResourcesBalancedAllocation: prefer nodes whose requested fractions of each resource
would be closest to one another after placing the pod (``1 - std`` of the fractions).

Uses the exact requests (no scoring defaults); a pod requesting nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kybernetes.scheduler.framework import node_arrays
from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.interface import MAX_NODE_SCORE
from kybernetes.scheduler.framework.node_arrays import Batch, IntArray
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.status import Code, Status
from kybernetes.scheduler.plugins.helper import ArgsError, expect_int, expect_mapping
from kybernetes.scheduler.plugins.resource_allocation import (
    ResourceSpec,
    allocations,
    balanced_score,
    pod_amount,
)

__all__ = ["BalancedAllocationArgs", "NodeResourcesBalancedAllocation", "parse_balanced_args"]

_SKIP = Status(Code.SKIP)
_DEFAULT_RESOURCES: tuple[ResourceSpec, ...] = (("cpu", 1), ("memory", 1))


@dataclass(frozen=True, slots=True)
class BalancedAllocationArgs:
    resources: tuple[ResourceSpec, ...] = _DEFAULT_RESOURCES


def parse_balanced_args(raw: Mapping[str, Any]) -> BalancedAllocationArgs:
    resources: list[ResourceSpec] = []
    for i, item in enumerate(raw.get("resources") or ()):
        item = expect_mapping(item, f"resources[{i}]")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ArgsError(f"resources[{i}].name", "must be a non-empty resource name")
        resources.append(
            (name, expect_int(item.get("weight", 1), f"resources[{i}].weight", 1, 100))
        )
    return BalancedAllocationArgs(tuple(resources) or _DEFAULT_RESOURCES)


class NodeResourcesBalancedAllocation:
    name = "NodeResourcesBalancedAllocation"

    def __init__(self, args: BalancedAllocationArgs | None = None) -> None:
        self.args = args or BalancedAllocationArgs()
        self._cpu_memory = tuple(n for n, _ in self.args.resources) == ("cpu", "memory")

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        requests = [pod_amount(pod.requests, n, non_zero=False) for n, _ in self.args.resources]
        return None if any(requests) else _SKIP

    def score_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> IntArray | None:
        if not self._cpu_memory:
            return None
        r = pod.requests
        return node_arrays.balanced_allocation(batch, r.cpu, r.memory)

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        r = pod.requests
        if self._cpu_memory:
            return _balanced_cpu_memory(r.cpu, r.memory, nodes)
        resources = self.args.resources
        requests = [pod_amount(r, name, non_zero=False) for name, _ in resources]
        scores: list[int] = []
        for node in nodes:
            allocatable, requested = allocations(node, resources, requests, non_zero=False)
            scores.append(balanced_score(requested, allocatable))
        return scores


def _balanced_cpu_memory(cpu: int, memory: int, nodes: list[NodeInfo]) -> list[int]:
    """The two-resource case inlined: ``std`` is half the fractions' difference."""
    scores: list[int] = []
    append = scores.append
    top = MAX_NODE_SCORE
    for n in nodes:
        ac = n.allocatable_cpu
        am = n.allocatable_memory
        if ac and am:
            fc = (n.requested_cpu + cpu) / ac
            fm = (n.requested_memory + memory) / am
            if fc > 1.0:
                fc = 1.0
            if fm > 1.0:
                fm = 1.0
            append(int((1 - abs(fc - fm) / 2) * top))
        else:
            append(top)
    return scores
