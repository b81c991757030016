"""Resource-allocation scoring shared by NodeResourcesFit and NodeResourcesBalancedAllocation.

For each scored resource a node contributes ``(allocatable, requested + pod request)``;
resources the node lacks, and extended resources the pod does not ask for, are left out, as
upstream's ``resourceAllocationScorer`` does. Fit scores with the non-zero requests (cpu and
memory defaulted for containers that name none); BalancedAllocation with the exact ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from kybernetes.scheduler.framework.interface import MAX_NODE_SCORE
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.resources import CPU, EPHEMERAL_STORAGE, MEMORY, Requests

__all__ = [
    "ResourceSpec",
    "allocations",
    "balanced_score",
    "least_allocated",
    "most_allocated",
    "requested_to_capacity_ratio",
]

ResourceSpec = tuple[str, int]  # (name, weight)
Scorer = Callable[[list[int], list[int], Sequence[int]], int]


def pod_amount(requests: Requests, name: str, non_zero: bool) -> int:
    if non_zero and name == CPU:
        return requests.non_zero_cpu
    if non_zero and name == MEMORY:
        return requests.non_zero_memory
    return requests.amount(name)


def allocations(
    node: NodeInfo, resources: Sequence[ResourceSpec], pod_requests: Sequence[int], non_zero: bool
) -> tuple[list[int], list[int]]:
    """``(allocatable, requested)`` per resource; 0/0 for a resource left out."""
    allocatable: list[int] = []
    requested: list[int] = []
    for (name, _), pod_request in zip(resources, pod_requests, strict=True):
        if name == CPU:
            alloc = node.allocatable_cpu
            used = node.non_zero_cpu if non_zero else node.requested_cpu
        elif name == MEMORY:
            alloc = node.allocatable_memory
            used = node.non_zero_memory if non_zero else node.requested_memory
        elif name == EPHEMERAL_STORAGE:
            alloc = node.allocatable_ephemeral_storage
            used = node.requested_ephemeral_storage
        elif pod_request == 0 or name not in node.allocatable_scalar:
            alloc = used = 0
            pod_request = 0
        else:
            alloc = node.allocatable_scalar[name]
            used = node.requested_scalar.get(name, 0)
        allocatable.append(alloc)
        requested.append(used + pod_request if alloc else 0)
    return allocatable, requested


def least_allocated(requested: list[int], allocatable: list[int], weights: Sequence[int]) -> int:
    score = weight_sum = 0
    for req, alloc, weight in zip(requested, allocatable, weights, strict=True):
        if alloc == 0:
            continue
        score += (0 if req > alloc else (alloc - req) * MAX_NODE_SCORE // alloc) * weight
        weight_sum += weight
    return score // weight_sum if weight_sum else 0


def most_allocated(requested: list[int], allocatable: list[int], weights: Sequence[int]) -> int:
    score = weight_sum = 0
    for req, alloc, weight in zip(requested, allocatable, weights, strict=True):
        if alloc == 0:
            continue
        score += min(req, alloc) * MAX_NODE_SCORE // alloc * weight
        weight_sum += weight
    return score // weight_sum if weight_sum else 0


def requested_to_capacity_ratio(shape: Sequence[tuple[int, int]]) -> Scorer:
    """Upstream's broken-linear scorer; ``shape`` is (utilization, score 0-10) points."""
    points = [(u, s * MAX_NODE_SCORE // 10) for u, s in shape]

    def raw(utilization: int) -> int:
        for i, (u, s) in enumerate(points):
            if utilization <= u:
                if i == 0:
                    return s
                pu, ps = points[i - 1]
                return ps + (s - ps) * (utilization - pu) // (u - pu)
        return points[-1][1]

    def scorer(requested: list[int], allocatable: list[int], weights: Sequence[int]) -> int:
        score = weight_sum = 0
        for req, alloc, weight in zip(requested, allocatable, weights, strict=True):
            if alloc == 0:
                continue
            value = raw(100) if req > alloc else raw(req * 100 // alloc)
            if value > 0:
                score += value * weight
                weight_sum += weight
        return round(score / weight_sum) if weight_sum else 0

    return scorer


def balanced_score(requested: list[int], allocatable: list[int]) -> int:
    """``(1 - std(fractions)) * 100`` over the resources the node has."""
    fractions = [
        min(req / alloc, 1.0) for req, alloc in zip(requested, allocatable, strict=True) if alloc
    ]
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    else:
        std = 0.0
    return int((1 - std) * MAX_NODE_SCORE)
