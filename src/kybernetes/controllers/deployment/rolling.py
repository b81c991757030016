"""The RollingUpdate strategy: grow the new ReplicaSet and shrink the old ones, step by step.

Each sync makes at most one kind of move, as upstream's ``rolloutRolling``: scale the new
ReplicaSet up (never past ``replicas + maxSurge`` pods in all), else scale old ReplicaSets down
(never below ``replicas - maxUnavailable`` available pods, unhealthy old pods first), else, once
the rollout is complete, clean up old history. The decisions are the pure functions below; the
ReplicaSet controller then creates and deletes the pods.

Invariant: availability is read from ReplicaSet status (pods that are ready for
``minReadySeconds``), so old pods go only after new ones have proven available.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kybernetes.controllers.deployment import progress
from kybernetes.controllers.deployment.replicas import new_rs_new_replicas
from kybernetes.controllers.deployment.sync import Reconciler
from kybernetes.controllers.deployment.util import (
    active,
    by_creation,
    max_unavailable,
    replicas,
    spec_total,
    status_of,
    status_total,
)

Obj = dict[str, Any]


def new_rs_target(d: Mapping[str, Any], all_rss: Sequence[Obj | None], new: Obj) -> int:
    """The size the new ReplicaSet should have now (``reconcileNewReplicaSet``)."""
    if replicas(new) >= replicas(d):
        return replicas(d)
    return new_rs_new_replicas(d, all_rss, new)


def max_scaled_down(d: Mapping[str, Any], all_rss: Sequence[Obj | None], new: Obj) -> int:
    """How many old replicas may go now without dropping below the minimum available."""
    min_available = replicas(d) - max_unavailable(d)
    new_unavailable = replicas(new) - int(status_of(new).get("availableReplicas") or 0)
    return spec_total(all_rss) - min_available - new_unavailable


def unhealthy_cleanup(old: Sequence[Obj], budget: int) -> list[tuple[Obj, int]]:
    """Old ReplicaSets (oldest first) shrunk by their unavailable replicas, within ``budget``."""
    plan: list[tuple[Obj, int]] = []
    removed = 0
    for rs in by_creation(old):
        if removed >= budget:
            break
        unavailable = replicas(rs) - int(status_of(rs).get("availableReplicas") or 0)
        if replicas(rs) == 0 or unavailable <= 0:
            continue
        count = min(budget - removed, unavailable)
        plan.append((rs, replicas(rs) - count))
        removed += count
    return plan


def scale_down_plan(
    d: Mapping[str, Any], all_rss: Sequence[Obj | None], old: Sequence[Obj]
) -> list[tuple[Obj, int]]:
    """Old ReplicaSets (oldest first) shrunk while availability stays above the minimum."""
    min_available = replicas(d) - max_unavailable(d)
    available = status_total(all_rss, "availableReplicas")
    if available <= min_available:
        return []
    budget = available - min_available
    plan: list[tuple[Obj, int]] = []
    removed = 0
    for rs in by_creation(old):
        if removed >= budget:
            break
        if replicas(rs) == 0:
            continue
        count = min(replicas(rs), budget - removed)
        plan.append((rs, replicas(rs) - count))
        removed += count
    return plan


async def rollout_rolling(r: Reconciler, d: Obj, rs_list: Sequence[Obj]) -> None:
    new, old = await r.new_and_old(d, rs_list, create=True)
    if new is None:  # only when the create was skipped; new_and_old raises on failures
        return
    all_rss: list[Obj | None] = [*old, new]
    target = new_rs_target(d, all_rss, new)
    scaled, _ = await r.scale_and_record(new, target, d)
    if scaled:
        await r.sync_rollout_status(all_rss, new, d)
        return
    if await _reconcile_old(r, d, all_rss, active(old), new):
        await r.sync_rollout_status(all_rss, new, d)
        return
    if progress.complete(d, status_of(d)):
        await r.cleanup(old, d)
    await r.sync_rollout_status(all_rss, new, d)


async def _reconcile_old(
    r: Reconciler, d: Obj, all_rss: list[Obj | None], old: list[Obj], new: Obj
) -> bool:
    if spec_total(old) == 0:
        return False
    budget = max_scaled_down(d, all_rss, new)
    if budget <= 0:
        return False
    removed = 0
    current = {id(rs): rs for rs in old}
    for rs, size in unhealthy_cleanup(old, budget):
        _, updated = await r.scale_and_record(rs, size, d)
        removed += replicas(rs) - size
        current[id(rs)] = updated
    old = list(current.values())
    for rs, size in scale_down_plan(d, [*old, new], old):
        await r.scale_and_record(rs, size, d)
        removed += replicas(rs) - size
    return removed > 0
