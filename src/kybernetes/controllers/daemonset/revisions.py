"""A DaemonSet's history: the ControllerRevision of its current template, and the old ones.

The *current* revision is the one whose data records the DaemonSet's template. When none does,
one is created as ``<ds>-<hash>``, the hash (``history.hash_template``) taken over the template
and ``status.collisionCount``; a different revision already holding that name is a collision,
answered as upstream by bumping ``collisionCount`` in the status and retrying on the next sync.
When several record the template (a race between two syncs), the newest is kept, the others'
pods are relabelled with its hash and the duplicates deleted. The current revision's number is
raised above every old one, so going back to an old template makes it the newest.

Invariant: the hash in a revision's ``controller-revision-hash`` label is the one its pods carry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from kybernetes.api import errors
from kybernetes.api.meta import labels_of, name_of, namespace_of
from kybernetes.client.cache import key_of
from kybernetes.client.resource import CONTROLLERREVISIONS, DAEMONSETS, PODS
from kybernetes.client.rest import Client
from kybernetes.controllers import history

log = logging.getLogger(__name__)

Obj = dict[str, Any]


async def construct_history(
    client: Client,
    ds: Obj,
    controller_ref: Mapping[str, Any],
    owned: list[Obj],
    namespace_pods: Sequence[Obj],
) -> tuple[Obj, list[Obj]]:
    """The current revision (created or renumbered as needed) and the old ones."""
    wanted = history.template_patch(ds["spec"]["template"])
    current = [r for r in owned if r.get("data") == wanted]
    old = [r for r in owned if r.get("data") != wanted]
    number = history.next_number(old)
    if not current:
        return await _snapshot(client, ds, controller_ref, number), old
    keep = history.by_revision(current)[-1]
    for duplicate in current:
        if duplicate is not keep:
            await _merge_duplicate(client, duplicate, keep, namespace_pods)
    if int(keep.get("revision") or 0) < number:
        keep = await history.renumber(client, keep, number)
    return keep, old


async def _snapshot(client: Client, ds: Obj, controller_ref: Mapping[str, Any], number: int) -> Obj:
    collision_count = (ds.get("status") or {}).get("collisionCount")
    template = ds["spec"]["template"]
    hash_ = history.hash_template(template, collision_count)
    revision = history.new_revision(
        ds, controller_ref, template, number, hash_, history.POD_REVISION_LABEL
    )
    try:
        created = await client.create(CONTROLLERREVISIONS, revision, namespace_of(ds))
    except errors.AlreadyExists:
        existing = await client.get(
            CONTROLLERREVISIONS, revision["metadata"]["name"], namespace_of(ds)
        )
        if history.same_data(existing, revision):
            return existing
        fresh = await client.get(DAEMONSETS, name_of(ds), namespace_of(ds))
        if (fresh.get("status") or {}).get("collisionCount") != collision_count:
            raise RuntimeError(
                f"found a stale collision count of DaemonSet {name_of(ds)!r}; will retry"
            ) from None
        fresh.setdefault("status", {})["collisionCount"] = (collision_count or 0) + 1
        await client.update_status(DAEMONSETS, fresh)
        log.info(
            "hash collision, collision count bumped daemonset=%s collision_count=%d",
            key_of(ds),
            fresh["status"]["collisionCount"],
        )
        raise
    log.info("controller revision created daemonset=%s revision=%s", key_of(ds), name_of(created))
    return created


async def _merge_duplicate(
    client: Client, duplicate: Obj, keep: Obj, namespace_pods: Sequence[Obj]
) -> None:
    """Relabel the duplicate revision's pods with the kept one's hash, then delete it."""
    old_hash = labels_of(duplicate).get(history.POD_REVISION_LABEL)
    new_hash = labels_of(keep).get(history.POD_REVISION_LABEL)
    for pod in namespace_pods:
        if old_hash and labels_of(pod).get(history.POD_REVISION_LABEL) == old_hash:
            patch = {"metadata": {"labels": {history.POD_REVISION_LABEL: new_hash}}}
            await client.patch(PODS, name_of(pod), patch, namespace_of(pod))
    try:
        await client.delete(
            CONTROLLERREVISIONS,
            name_of(duplicate),
            namespace_of(duplicate),
            preconditions={"uid": duplicate["metadata"]["uid"]},
        )
    except (errors.NotFound, errors.Conflict):
        return
