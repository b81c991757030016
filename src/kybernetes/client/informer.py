"""Informers: a local, indexed mirror of one resource, kept current by list + watch.

An ``Informer`` lists the resource (page by page), files every object into its ``Indexer`` and
then watches from the list's resourceVersion, applying each event to the cache before calling the
registered handlers. Handlers only enqueue work (DESIGN.md §1 rule 2): they run on the informer's
task and must not block.

Recovery follows client-go's reflector: a watch that ends (server timeout, dropped connection)
is resumed from the last resourceVersion seen, bookmarks included; a ``410 Gone`` (the revision
was compacted) means events were lost, so the informer lists again and reconciles the cache with
the new list, reporting additions, updates and deletions it missed. Errors back off
exponentially (up to 30 s) and never end the informer.

Invariants: the cache only moves forward (an event is applied in the order the server sent it);
``wait_synced()`` returns once the first full list is in the cache; every handler sees each
object's transitions in order, and a handler that raises is logged, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from kybernetes.api import errors
from kybernetes.client.cache import Indexer, IndexFunc, key_of
from kybernetes.client.resource import Resource
from kybernetes.client.rest import Client
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
_MAX_BACKOFF: Final = 30.0


@dataclass(frozen=True, slots=True)
class Handler:
    """Callbacks for one consumer of an informer; any of them may be left out."""

    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


class Informer:
    """List-then-watch mirror of one resource (optionally one namespace, filtered by selectors)."""

    def __init__(
        self,
        client: Client,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float = 0.0,
        page_size: int = 500,
        clock: Clock | None = None,
        indexers: dict[str, IndexFunc] | None = None,
        transform: Callable[[Obj], Obj] | None = None,
    ) -> None:
        self.client = client
        self.transform = transform
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.page_size = page_size
        self.clock: Clock = clock or RealClock()
        self.store = Indexer(indexers)
        self.resource_version = ""
        self._handlers: list[Handler] = []
        self._synced = asyncio.Event()

    # --- consumers -------------------------------------------------------------------------

    def add_handler(self, handler: Handler) -> None:
        """Register callbacks; if the cache is already filled, replay it as additions."""
        self._handlers.append(handler)
        if self._synced.is_set() and handler.on_add is not None:
            for obj in self.store.list():
                _call(handler.on_add, obj)

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        self.store.add_indexer(name, func)

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    # --- the reflector loop ----------------------------------------------------------------

    async def run(self) -> None:
        """Mirror the resource until cancelled."""
        backoff = 0.5
        listed = False
        resync = (
            asyncio.create_task(self._resync_loop(), name=f"resync {self.resource.plural}")
            if self.resync_period > 0
            else None
        )
        try:
            while True:
                try:
                    if not listed:
                        await self._list()
                        listed = True
                    started = self.clock.monotonic()
                    if await self._watch() or self.clock.monotonic() - started > 1.0:
                        backoff = 0.5
                    else:  # ended at once with nothing: the server is going away; slow down
                        await self.clock.sleep(backoff)
                        backoff = min(backoff * 2, _MAX_BACKOFF)
                except errors.Gone:
                    log.info(
                        "watch expired, listing again resource=%s rv=%s",
                        self.resource.plural,
                        self.resource_version,
                    )
                    listed = False
                except (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                    log.warning(
                        "list/watch failed resource=%s error=%s retry_in=%.1fs",
                        self.resource.plural,
                        exc,
                        backoff,
                    )
                    await self.clock.sleep(backoff * random.uniform(1.0, 1.5))
                    backoff = min(backoff * 2, _MAX_BACKOFF)
        finally:
            if resync is not None:
                resync.cancel()

    async def _list(self) -> None:
        items, rv = await self.client.list_all(
            self.resource,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            page_size=self.page_size,
        )
        if self.transform is not None:
            items = [self.transform(obj) for obj in items]
        fresh = {key_of(obj): obj for obj in items}
        previous = self.store.items()
        self.store.replace(fresh)
        self.resource_version = rv
        for key, gone in previous.items():
            if key not in fresh:
                self._notify_delete(gone)
        for key, obj in fresh.items():
            old = previous.get(key)
            if old is None:
                self._notify_add(obj)
            elif old["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._notify_update(old, obj)
        self._synced.set()

    async def _watch(self) -> int:
        """Apply events until the stream ends; returns how many arrived."""
        # Like client-go, ask the server to end the stream after 5-10 minutes so connections
        # are spread over time and a half-dead one is noticed.
        timeout = int(random.uniform(300, 600))
        count = 0
        async for kind, obj in self.client.watch(
            self.resource,
            self.namespace,
            resource_version=self.resource_version,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            timeout_seconds=timeout,
        ):
            count += 1
            if self.transform is not None and kind != "BOOKMARK":
                obj = self.transform(obj)
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if kind == "BOOKMARK":
                if rv:
                    self.resource_version = rv
                continue
            key = key_of(obj)
            if kind == "DELETED":
                self.store.remove(key)
                self._notify_delete(obj)
            elif kind in ("ADDED", "MODIFIED"):
                old = self.store.upsert(key, obj)
                if old is None:
                    self._notify_add(obj)
                else:
                    self._notify_update(old, obj)
            if rv:
                self.resource_version = rv
        return count

    async def _resync_loop(self) -> None:
        while True:
            await self.clock.sleep(self.resync_period)
            if self._synced.is_set():
                for obj in self.store.list():
                    self._notify_update(obj, obj)

    # --- fan-out to handlers -----------------------------------------------------------------

    def _notify_add(self, obj: Obj) -> None:
        for handler in self._handlers:
            if handler.on_add is not None:
                _call(handler.on_add, obj)

    def _notify_update(self, old: Obj, new: Obj) -> None:
        for handler in self._handlers:
            if handler.on_update is not None:
                _call(handler.on_update, old, new)

    def _notify_delete(self, obj: Obj) -> None:
        for handler in self._handlers:
            if handler.on_delete is not None:
                _call(handler.on_delete, obj)


def strip_managed_fields(obj: Obj) -> Obj:
    """Drop ``metadata.managedFields``: no component reads them, and on pods they are often the
    largest part of the object (an update that omits them keeps the stored ones)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        del meta["managedFields"]
    return obj


def _call(func: Callable[..., None], *args: Obj) -> None:
    try:
        func(*args)
    except Exception:
        log.exception("informer handler failed handler=%s", getattr(func, "__qualname__", func))


class InformerFactory:
    """Shares one informer per (resource, namespace, selectors) among all consumers.

    Informers asked for before ``run()`` start with it; those asked for later start at once.
    Objects are stored without ``managedFields`` (``strip_managed_fields``) unless told otherwise.
    """

    def __init__(
        self,
        client: Client,
        *,
        clock: Clock | None = None,
        resync_period: float = 0.0,
        transform: Callable[[Obj], Obj] | None = strip_managed_fields,
    ):
        self.client = client
        self.transform = transform
        self.clock: Clock = clock or RealClock()
        self.resync_period = resync_period
        self._informers: dict[tuple[Resource, str | None, str | None, str | None], Informer] = {}
        self._group: asyncio.TaskGroup | None = None

    def informer(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Informer:
        key = (resource, namespace, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(
                self.client,
                resource,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                resync_period=self.resync_period,
                clock=self.clock,
                transform=self.transform,
            )
            self._informers[key] = informer
            if self._group is not None:
                self._group.create_task(informer.run(), name=f"informer {resource.plural}")
        return informer

    async def run(self) -> None:
        """Run every informer (present and future) until cancelled."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            for informer in self._informers.values():
                group.create_task(informer.run(), name=f"informer {informer.resource.plural}")
            try:
                await asyncio.Event().wait()
            finally:
                self._group = None

    async def wait_synced(self) -> None:
        """Return once every informer created so far has completed its first list."""
        await asyncio.gather(*(i.wait_synced() for i in list(self._informers.values())))
