"""The CRD controller: turns stored CustomResourceDefinitions into served resources.

It watches CRDs through the API server's own watch cache (no HTTP, no second storage watch)
and, for each CRD, does what upstream's naming, establishing, discovery and finalizing
controllers and its custom resource handler do together:

1. writes ``status.acceptedNames`` and the ``NamesAccepted``/``Established`` conditions
   (``names.py``);
2. once established, serves every served version through a ``CustomResourceStore`` of its
   own (storage-version first), and publishes it in discovery (both forms) and OpenAPI v3;
3. when the CRD is deleted (it then carries the cleanup finalizer, ``definitions.py``), marks
   it ``Terminating``, deletes every custom object, waits until they are gone (finalizers on
   them are honoured), removes the finalizer, and stops serving once the CRD is gone.

Invariants:
- One reconcile at a time (a lock): the served stores, discovery and OpenAPI always describe
  one consistent set of CRDs.
- A served version is rebuilt only when what it is built from changes (spec and accepted
  names); its watch cache keeps running otherwise, so watches survive status writes.
- Level-triggered: a reconcile reads the CRD from the cache and converges; missed events are
  repaired by the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from kybernetes.api import errors
from kybernetes.api.resources import ResourceInfo, version_priority
from kybernetes.apiserver.crd import names
from kybernetes.apiserver.crd.definitions import CLEANUP_FINALIZER, DefinitionStore
from kybernetes.apiserver.crd.store import CustomResourceStore
from kybernetes.apiserver.crd.versions import ServedVersion, accepted_view, served_versions
from kybernetes.apiserver.discovery import Discovery
from kybernetes.apiserver.openapi import OpenAPIV3, custom_group_version
from kybernetes.apiserver.registry import DeleteOptions, ListOptions, Store
from kybernetes.storage.interface import Storage

log = logging.getLogger(__name__)

CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")
_CLEANUP_POLL = 0.2


class _Served:
    """The stores one CRD serves, and what they were built from."""

    def __init__(self, basis: bytes, stores: list[CustomResourceStore]) -> None:
        self.basis = basis
        self.stores = stores
        self.tasks: list[asyncio.Task[None]] = []


class CustomResourceController:
    """Serves the custom resources of every established CRD (see module docstring)."""

    def __init__(
        self,
        *,
        storage: Storage,
        stores: dict[tuple[str, str], Store],
        other_versions: dict[tuple[str, str, str], Store],
        custom: dict[tuple[str, str, str], CustomResourceStore],
        discovery: Discovery,
        openapi: OpenAPIV3,
        builtin: list[ResourceInfo],
        now: Callable[[], datetime],
        configure: Callable[[Store], None],
    ) -> None:
        self.storage = storage
        self.stores = stores
        self.other_versions = other_versions
        self.custom = custom
        self.discovery = discovery
        self.openapi = openapi
        self.builtin = builtin
        self.now = now
        self.configure = configure
        self.definitions: DefinitionStore = self._definition_store()
        self._served: dict[str, _Served] = {}
        self._cleanups: dict[str, asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()
        self._published: set[tuple[str, str]] = set()

    def _definition_store(self) -> DefinitionStore:
        """Swap the generic CRD store for the one with upstream's delete and write hooks."""
        current = self.stores[CRDS]
        if isinstance(current, DefinitionStore):
            store = current
        else:
            current.__class__ = DefinitionStore
            store = current  # type: ignore[assignment]
        store.on_change = self.reconcile_now
        return store

    # ----- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        """Serve what is stored now, then follow every CRD change until cancelled."""
        try:
            while True:
                await self.definitions.cache.wait_ready()
                watcher = self.definitions.cache.watch(
                    None, lambda _c: True, self.definitions.prefix
                )
                try:
                    while not watcher.closed:
                        pending: set[str] = set()
                        while watcher.events:
                            _, cached = watcher.events.popleft()
                            pending.add(cached.obj["metadata"]["name"])
                        for name in sorted(pending):
                            await self.reconcile_now(name)
                        watcher.wakeup.clear()
                        if not watcher.events and not watcher.closed:
                            await watcher.wakeup.wait()
                finally:
                    self.definitions.cache.stop_watching(watcher)
                await self._reconcile_all()
        finally:
            for task in self._cleanups.values():
                task.cancel()
            for served in self._served.values():
                self._stop(served)

    async def start(self) -> None:
        """Serve every CRD stored now (before the server accepts requests)."""
        await self.definitions.cache.wait_ready()
        await self._reconcile_all()

    async def _reconcile_all(self) -> None:
        names_now = {c.obj["metadata"]["name"] for c in self.definitions.cache.items()}
        for name in sorted(names_now | set(self._served)):
            await self.reconcile_now(name)

    async def reconcile_now(self, name: str) -> None:
        """Bring one CRD's status and serving up to date with what storage holds."""
        await self.definitions.sync()
        async with self._lock:
            try:
                await self._reconcile(name)
            except errors.StatusError as exc:
                log.warning("crd reconcile failed crd=%s reason=%s", name, exc)

    async def _reconcile(self, name: str) -> None:
        cached = self.definitions.cache.get(self.definitions.key("", name))
        if cached is None:
            served = self._served.pop(name, None)
            if served is not None:
                self._stop(served)
                self._publish()
                log.info("crd no longer served crd=%s", name)
            return
        crd = cached.obj
        everything = [c.obj for c in self.definitions.cache.items()]
        desired = names.desired_status(crd, everything)
        if not names.same_status(crd, {"status": desired}):
            crd = await self._write_status(name, lambda old: names.desired_status(old, everything))
        if (crd.get("metadata") or {}).get("deletionTimestamp") and name not in self._cleanups:
            self._cleanups[name] = asyncio.create_task(self._cleanup(name))
        if names.is_true(crd, "Established"):
            await self._serve(name, crd)

    async def _write_status(
        self, name: str, compute: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any]:
        def mutate(old: dict[str, Any]) -> dict[str, Any]:
            new = names.with_status(old, compute(old), self.now())
            new["metadata"].pop("resourceVersion", None)
            return new

        result, _ = await Store.update(self.definitions, "", name, mutate, subresource="status")
        return result

    # ----- serving ------------------------------------------------------------------------

    async def _serve(self, name: str, crd: dict[str, Any]) -> None:
        view = accepted_view(crd)
        basis = orjson.dumps([view.get("spec"), (crd.get("metadata") or {}).get("uid")])
        served = self._served.get(name)
        if served is not None and served.basis == basis:
            return
        versions = served_versions(crd)
        stores = [CustomResourceStore(v, self.storage, now=self.now) for v in versions]
        fresh = _Served(basis, stores)
        for store in stores:
            self.configure(store)
            fresh.tasks.append(asyncio.create_task(store.cache.run()))
        for store in stores:
            await store.cache.wait_ready()
        if served is not None:
            self._stop(served)
        self._served[name] = fresh
        self._install(fresh)
        self._publish()
        log.info(
            "crd served crd=%s versions=%s",
            name,
            ",".join(s.info.version for s in stores),
        )

    def _install(self, served: _Served) -> None:
        if not served.stores:
            return
        first = served.stores[0]
        storage_first = sorted(
            served.stores,
            key=lambda s: s.info.version != s.version.storage_version,
        )
        self.stores[(first.info.group, first.info.plural)] = storage_first[0]
        for store in served.stores:
            info = store.info
            self.custom[(info.group, info.version, info.plural)] = store
            if store is not storage_first[0]:
                self.other_versions[(info.group, info.version, info.plural)] = store

    def _stop(self, served: _Served) -> None:
        for store in served.stores:
            info = store.info
            key = (info.group, info.plural)
            if self.stores.get(key) is store:
                del self.stores[key]
            gvr = (info.group, info.version, info.plural)
            if self.other_versions.get(gvr) is store:
                del self.other_versions[gvr]
            if self.custom.get(gvr) is store:
                del self.custom[gvr]
            store.cache.close_watchers("the resource is no longer served")
        for task in served.tasks:
            task.cancel()

    def _publish(self) -> None:
        """Discovery and OpenAPI for the built-in resources plus every served CRD."""
        versions: list[ServedVersion] = [
            store.version for served in self._served.values() for store in served.stores
        ]
        versions.sort(
            key=lambda v: (
                v.info.group,
                tuple(-x if isinstance(x, int) else x for x in version_priority(v.info.version)),
                v.info.plural,
            )
        )
        self.discovery.set_resources([*self.builtin, *(v.info for v in versions)])
        by_gv: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for served_name, served in self._served.items():
            cached = self.definitions.cache.get(self.definitions.key("", served_name))
            if cached is None:
                continue
            view = accepted_view(cached.obj)
            for store in served.stores:
                by_gv.setdefault((store.info.group, store.info.version), []).append(view)
        for group, version in self._published - set(by_gv):
            self.openapi.remove_custom_group_version(group, version)
        for (group, version), crds in by_gv.items():
            schemas, infos = custom_group_version(crds, group, version)
            self.openapi.set_custom_group_version(group, version, schemas, infos)
        self._published = set(by_gv)

    # ----- deletion -----------------------------------------------------------------------

    async def _cleanup(self, name: str) -> None:
        """Delete every object of a deleted CRD, then let the CRD go."""
        try:
            await self._write_status(name, lambda old: _terminating(old))
            while True:
                served = self._served.get(name)
                store = served.stores[0] if served is not None and served.stores else None
                if store is None:
                    break
                with contextlib.suppress(errors.StatusError):
                    await store.delete_collection(ListOptions(), DeleteOptions())
                await store.sync()
                if not any(True for _ in store.cache.items()):
                    break
                await asyncio.sleep(_CLEANUP_POLL)

            def release(obj: dict[str, Any]) -> dict[str, Any]:
                meta = obj["metadata"]
                meta["finalizers"] = [
                    f for f in meta.get("finalizers") or [] if f != CLEANUP_FINALIZER
                ]
                if not meta["finalizers"]:
                    del meta["finalizers"]
                meta.pop("resourceVersion", None)
                return obj

            with contextlib.suppress(errors.NotFound):
                await Store.update(self.definitions, "", name, release)
            log.info("crd instances removed crd=%s", name)
        except errors.NotFound:
            pass
        except errors.StatusError as exc:
            log.warning("crd cleanup failed crd=%s reason=%s", name, exc)
        finally:
            self._cleanups.pop(name, None)
        await self.reconcile_now(name)


def _terminating(crd: dict[str, Any]) -> dict[str, Any]:
    status = dict(crd.get("status") or {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != names.TERMINATING]
    conditions.append(
        {
            "type": names.TERMINATING,
            "status": "True",
            "reason": "InstanceDeletionInProgress",
            "message": "CustomResource deletion is in progress",
        }
    )
    status["conditions"] = conditions
    return status
