"""The garbage collector: dependents follow their owners (ownerReferences), in all three modes.

It watches every deletable resource the server serves (through the shared informers, indexed
by owner uid) and keeps a map of every live uid. A work item is one object; its sync applies
whichever of these rules holds, level-triggered:

- **Orphan**: the object is being deleted and carries the ``orphan`` finalizer: remove the
  ownerReference to it from every dependent, then remove the finalizer (the API server then
  deletes it).
- **Foreground**: the object is being deleted and carries ``foregroundDeletion``: delete its
  dependents; once none of them still blocks (``blockOwnerDeletion: true``), remove the
  finalizer.
- **Background / dangling owners**: the object has ownerReferences. If every owner is gone
  (checked by a live GET, never trusted to a lagging cache) or is itself waiting for its
  dependents, delete the object — in the foreground when an owner is waiting on it, so the
  chain unwinds bottom-up. If only some owners are gone, drop the references to them.

Deleting an owner enqueues its dependents; a new dependent enqueues itself. Every delete carries
a uid precondition and every reference removal a resourceVersion test, so a name reused by a new
object is never touched.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.api.resources import for_kind
from kybernetes.client.cache import OWNER_UID_INDEX, index_by_owner_uid, key_of, split_key
from kybernetes.client.discovery import server_resources
from kybernetes.client.informer import Handler, Informer
from kybernetes.client.resource import Resource
from kybernetes.controllers.base import ControllerContext, QueueController

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ORPHAN: Final = "orphan"
FOREGROUND: Final = "foregroundDeletion"
_SKIPPED: Final = frozenset({("", "events"), ("events.k8s.io", "events")})
_REDISCOVERY_SECONDS: Final = 30.0


def _item(resource: Resource, key: str) -> str:
    return f"{resource.group}|{resource.version}|{resource.plural}|{key}"


class GarbageCollector(QueueController):
    name = "garbage-collector"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self._by_plural: dict[tuple[str, str, str], Informer] = {}
        self._by_kind: dict[tuple[str, str], Resource] = {}  # (group, kind) -> resource
        self._uids: dict[str, tuple[Resource, str]] = {}
        self._started = asyncio.Event()

    # --- watching everything ---------------------------------------------------------------

    async def _discover(self) -> None:
        for served in await server_resources(self.client):
            resource = served.resource
            if (resource.group, resource.plural) in _SKIPPED:
                continue
            if not {"list", "watch", "delete"} <= served.verbs:
                continue
            if (resource.group, resource.version, resource.plural) in self._by_plural:
                continue
            informer = self.context.informers.informer(resource)
            informer.add_indexer(OWNER_UID_INDEX, index_by_owner_uid)
            informer.add_handler(self._handler(resource))
            self._by_plural[(resource.group, resource.version, resource.plural)] = informer
            self._by_kind[(resource.group, resource.kind)] = resource

    def _handler(self, resource: Resource) -> Handler:
        def added(obj: Obj) -> None:
            self._uids[obj["metadata"]["uid"]] = (resource, key_of(obj))
            if _needs_attention(obj):
                self.queue.add(_item(resource, key_of(obj)))

        def updated(old: Obj, new: Obj) -> None:
            added(new)

        def deleted(obj: Obj) -> None:
            meta = obj["metadata"]
            uid = meta.get("uid", "")
            self._uids.pop(uid, None)
            for informer_resource, dependent in self._dependents(uid):
                self.queue.add(_item(informer_resource, key_of(dependent)))
            # An owner deleting in the foreground waits on this object: look at it again.
            for ref in meta.get("ownerReferences") or ():
                owner = self._uids.get(ref.get("uid", ""))
                if owner is not None:
                    self.queue.add(_item(*owner))

        return Handler(added, updated, deleted)

    def _dependents(self, uid: str) -> list[tuple[Resource, Obj]]:
        out: list[tuple[Resource, Obj]] = []
        for informer in self._by_plural.values():
            out.extend(
                (informer.resource, o) for o in informer.store.by_index(OWNER_UID_INDEX, uid)
            )
        return out

    async def run(self, workers: int = 1) -> None:
        await self._discover()
        self._informers.extend(self._by_plural.values())
        async with asyncio.TaskGroup() as group:
            group.create_task(self._rediscover())
            group.create_task(super().run(workers))

    async def _rediscover(self) -> None:
        """New kinds (custom resources) join the graph within ``_REDISCOVERY_SECONDS``."""
        while True:
            await self.clock.sleep(_REDISCOVERY_SECONDS)
            try:
                await self._discover()
            except errors.StatusError as exc:
                log.warning("rediscovery failed error=%s", exc)

    # --- one object ----------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        group, version, plural, obj_key = key.split("|", 3)
        informer = self._by_plural.get((group, version, plural))
        if informer is None:
            return
        obj = informer.store.get(obj_key)
        if obj is None:
            return
        resource = informer.resource
        meta = obj["metadata"]
        finalizers = meta.get("finalizers") or ()
        if meta.get("deletionTimestamp"):
            if ORPHAN in finalizers:
                await self._orphan_dependents(obj)
                await self._remove_finalizer(resource, obj, ORPHAN)
                return
            if FOREGROUND in finalizers:
                await self._delete_dependents(resource, obj)
                return
        if meta.get("ownerReferences"):
            await self._check_owners(resource, obj)

    async def _owner_state(self, ref: Obj, namespace: str) -> str:
        """``present``, ``absent`` or ``waiting`` (being deleted in the foreground)."""
        group = ref.get("apiVersion", "").rpartition("/")[0]
        version = ref.get("apiVersion", "").rpartition("/")[2]
        resource = self._by_kind.get((group, ref.get("kind", "")))
        if resource is None:
            info = for_kind(group, version, ref.get("kind", ""))
            if info is None:
                return "present"  # an owner kind we cannot look up is never assumed gone
            resource = Resource(info.group, info.version, info.plural, info.kind, info.namespaced)
        try:
            owner = await self.client.get(
                resource, ref["name"], namespace if resource.namespaced else None
            )
        except errors.NotFound:
            return "absent"
        meta = owner["metadata"]
        if meta.get("uid") != ref.get("uid"):
            return "absent"
        if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or ()):
            return "waiting"
        return "present"

    async def _check_owners(self, resource: Resource, obj: Obj) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        refs = meta["ownerReferences"]
        states = [await self._owner_state(ref, namespace) for ref in refs]
        if "present" in states:
            dangling = [ref["uid"] for ref, s in zip(refs, states, strict=True) if s == "absent"]
            if dangling:
                await self._drop_refs(resource, obj, set(dangling))
            return
        if meta.get("deletionTimestamp"):
            return
        waiting_on_me = any(
            s == "waiting" and ref.get("blockOwnerDeletion")
            for ref, s in zip(refs, states, strict=True)
        )
        policy = "Foreground" if waiting_on_me else "Background"
        log.info(
            "deleting object whose owners are gone object=%s/%s policy=%s",
            resource.plural,
            key_of(obj),
            policy,
        )
        try:
            await self.client.delete(
                resource,
                meta["name"],
                namespace or None,
                propagation_policy=policy,
                preconditions={"uid": meta["uid"]},
            )
        except (errors.NotFound, errors.Conflict):
            return

    async def _delete_dependents(self, resource: Resource, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        blocking = 0
        for dep_resource, dependent in self._dependents(uid):
            ref = next(r for r in dependent["metadata"]["ownerReferences"] if r.get("uid") == uid)
            if ref.get("blockOwnerDeletion"):
                blocking += 1
            if not dependent["metadata"].get("deletionTimestamp"):
                self.queue.add(_item(dep_resource, key_of(dependent)))
        if blocking == 0:
            await self._remove_finalizer(resource, owner, FOREGROUND)
        # Otherwise each dependent's deletion (an informer event) brings the owner back here.

    async def _orphan_dependents(self, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        for dep_resource, dependent in self._dependents(uid):
            await self._drop_refs(dep_resource, dependent, {uid})

    async def _drop_refs(self, resource: Resource, obj: Obj, uids: set[str]) -> None:
        meta = obj["metadata"]
        kept = [r for r in meta.get("ownerReferences") or () if r.get("uid") not in uids]
        patch = [
            {"op": "test", "path": "/metadata/uid", "value": meta["uid"]},
            {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
            _set_or_remove("/metadata/ownerReferences", kept),
        ]
        namespace, name = split_key(key_of(obj))
        try:
            await self.client.patch(resource, name, patch, namespace or None, patch_type="json")
        except errors.NotFound:
            return

    async def _remove_finalizer(self, resource: Resource, obj: Obj, finalizer: str) -> None:
        meta = obj["metadata"]
        kept = [f for f in meta.get("finalizers") or () if f != finalizer]
        patch = [
            {"op": "test", "path": "/metadata/uid", "value": meta["uid"]},
            {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
            _set_or_remove("/metadata/finalizers", kept),
        ]
        namespace, name = split_key(key_of(obj))
        try:
            await self.client.patch(resource, name, patch, namespace or None, patch_type="json")
        except errors.NotFound:
            return
        log.info(
            "finalizer removed object=%s/%s finalizer=%s", resource.plural, key_of(obj), finalizer
        )


def _set_or_remove(path: str, values: list[Any]) -> dict[str, Any]:
    """A JSON patch op that leaves no empty list behind (Go omits empty metadata lists)."""
    if values:
        return {"op": "replace", "path": path, "value": values}
    return {"op": "remove", "path": path}


def _needs_attention(obj: Obj) -> bool:
    meta = obj["metadata"]
    if meta.get("ownerReferences"):
        return True
    return bool(meta.get("deletionTimestamp")) and bool(
        {ORPHAN, FOREGROUND} & set(meta.get("finalizers") or ())
    )
