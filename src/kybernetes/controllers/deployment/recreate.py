"""The Recreate strategy: every old pod is gone before any new pod is created.

As upstream's ``rolloutRecreate``: scale every old ReplicaSet to zero; wait until none of their
pods is left (terminating ones included: a pod that still runs still holds its resources); only
then create the new ReplicaSet, if needed, and scale it to ``replicas`` at once.

Invariant: old and new pods never run at the same time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kybernetes.controllers.deployment import progress
from kybernetes.controllers.deployment.sync import Reconciler
from kybernetes.controllers.deployment.util import active, replicas, status_of, status_total

Obj = dict[str, Any]


def old_pods_running(
    new: Obj | None, old: Sequence[Obj], pods_by_rs: Mapping[str, Sequence[Obj]]
) -> bool:
    """Any old ReplicaSet still reports pods, or any non-finished pod of one still exists."""
    if status_total(old, "replicas") > 0:
        return True
    new_uid = (new or {}).get("metadata", {}).get("uid")
    for rs_uid, pods in pods_by_rs.items():
        if rs_uid == new_uid:
            continue
        if any((p.get("status") or {}).get("phase") not in ("Failed", "Succeeded") for p in pods):
            return True
    return False


async def rollout_recreate(
    r: Reconciler, d: Obj, rs_list: Sequence[Obj], pods_by_rs: Mapping[str, Sequence[Obj]]
) -> None:
    new, old = await r.new_and_old(d, rs_list, create=False)
    all_rss: list[Obj | None] = [*old, new]
    scaled_down = False
    for rs in active(old):
        scaled, _ = await r.scale_and_record(rs, 0, d)
        scaled_down = scaled_down or scaled
    if scaled_down or old_pods_running(new, old, pods_by_rs):
        await r.sync_rollout_status(all_rss, new, d)
        return
    if new is None:
        new, old = await r.new_and_old(d, rs_list, create=True)
        all_rss = [*old, new]
    if new is not None:
        await r.scale_and_record(new, replicas(d), d)
    if progress.complete(d, status_of(d)):
        await r.cleanup(old, d)
    await r.sync_rollout_status(all_rss, new, d)
