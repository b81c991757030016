"""The watch cache: one resource's objects and recent history, in memory, kept by one watch.

For every resource the API server runs one cache: it lists the resource's key prefix from
storage, then watches it from the list's revision, so LIST, GET and WATCH are served from
memory and the database sees one watch per resource however many clients watch.

Invariants:

* ``revision`` is the storage revision the cache reflects; it only grows. Every object in
  ``objects`` is the latest value of its key as of ``revision``.
* ``history`` holds the last ``capacity`` events in revision order. A watch from revision R is
  served from it when no event after R has been forgotten (R is at or after the revision the
  cache listed at and the last event it dropped); older R gets 410 Expired, as upstream.
* An object is decoded once per revision; its watch-event line (framed as an HTTP chunk) is
  built at most once per event type, and every watcher that receives it shares those bytes
  (GET and LIST serialize afresh rather than keep a second copy of every object). A watcher
  with a ``sink`` has events written to its client as the cache applies them (no task switch
  per watcher: what keeps fan-out to a thousand watchers fast); it falls back to its queue
  whenever the sink declines.
* A watcher that falls ``WATCHER_BUFFER`` events behind is closed (the client re-watches from
  the last revision it saw); a slow client never holds memory for everybody else.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sortedcontainers import SortedDict

from kybernetes.storage.errors import CompactedError, StorageError
from kybernetes.storage.interface import EventType, Storage, WatchEvent, WatchStream
from kybernetes.storage.keys import prefix_end

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 10_000
WATCHER_BUFFER = 10_000

#: Builds the field-selector values of an object (``metadata.name``, ``spec.nodeName``...).
FieldsFunc = Callable[[Mapping[str, Any]], dict[str, str]]


@dataclass(slots=True)
class CachedObject:
    """One object as of ``revision``; ``obj`` is shared and must never be mutated."""

    key: str
    obj: dict[str, Any]
    revision: int
    _fields: dict[str, str] | None = None
    _chunks: dict[str, bytes] | None = None

    @property
    def json(self) -> bytes:
        """The object serialized. Not kept: keeping every object's bytes would cost about as
        much memory again as the objects themselves (~4 kB a pod, measured), while orjson
        serializes a pod in a few microseconds, so a GET or LIST serializes afresh."""
        return orjson.dumps(self.obj)

    def event_chunk(self, kind: str) -> bytes:
        """The watch-stream line ``{"type":kind,"object":...}`` framed as one HTTP/1.1 chunk
        (built once per kind, shared by every watcher the event goes to)."""
        chunks = self._chunks
        if chunks is None:
            chunks = self._chunks = {}
        chunk = chunks.get(kind)
        if chunk is None:
            line = b'{"type":"' + kind.encode() + b'","object":' + self.json + b"}\n"
            chunk = chunks[kind] = b"%x\r\n%b\r\n" % (len(line), line)
        return chunk

    def event_line(self, kind: str) -> memoryview:
        """The same line without the chunk framing (a view of ``event_chunk``'s bytes)."""
        chunk = self.event_chunk(kind)
        return memoryview(chunk)[chunk.index(b"\n") + 1 : -2]

    @property
    def labels(self) -> Mapping[str, str]:
        labels: Mapping[str, str] = self.obj.get("metadata", {}).get("labels") or {}
        return labels

    def fields(self, fn: FieldsFunc) -> dict[str, str]:
        if self._fields is None:
            self._fields = fn(self.obj)
        return self._fields


@dataclass(slots=True)
class CacheEvent:
    """A change the cache applied: ``obj`` is the new value (the last one for DELETED)."""

    type: str
    obj: CachedObject
    prev: CachedObject | None
    revision: int


def decode(key: str, value: bytes, revision: int) -> CachedObject:
    """Decode a stored object and stamp its resourceVersion."""
    obj = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return CachedObject(key, obj, revision)


#: Turns a stored value into the cached object (``decode``, or a decode plus a conversion).
Decoder = Callable[[str, bytes, int], CachedObject]


@dataclass(eq=False)
class CacheWatcher:
    """One client's watch on the cache: a filter, and a bounded buffer of matching events."""

    matches: Callable[[CachedObject], bool]
    events: deque[tuple[str, CachedObject]] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    #: Why the cache closed it (slow consumer, cache reset); ``None`` while open.
    reason: str | None = None
    #: Writes an event straight to the client, without waking the watcher's task; returns
    #: False when it cannot (a full send buffer...), and the event is queued instead. Used only
    #: while nothing is queued, so events reach the client in order.
    sink: Callable[[str, CachedObject], bool] | None = None

    def offer(self, event: CacheEvent) -> None:
        """Deliver ``event`` if it concerns this watcher (with upstream's transitions)."""
        new_match = event.type != "DELETED" and self.matches(event.obj)
        old_match = event.prev is not None and self.matches(event.prev)
        if event.type == "DELETED":
            if self.matches(event.obj):
                self._push("DELETED", event.obj)
        elif new_match and old_match:
            self._push("MODIFIED", event.obj)
        elif new_match:
            self._push("ADDED", event.obj)
        elif old_match:
            # The object left the selection: the watcher sees it deleted, at the new revision.
            self._push("DELETED", event.obj)

    def _push(self, kind: str, obj: CachedObject) -> None:
        if self.closed:
            return
        if self.sink is not None and not self.events and self.sink(kind, obj):
            return
        if len(self.events) >= WATCHER_BUFFER:
            self.close("the watcher fell too far behind")
            return
        self.events.append((kind, obj))
        self.wakeup.set()

    def close(self, reason: str) -> None:
        self.closed = True
        self.reason = reason
        self.wakeup.set()


class TooOldError(Exception):
    """The requested revision is older than the history the cache holds."""

    def __init__(self, revision: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {revision} ({oldest})")
        self.revision = revision
        self.oldest = oldest


class WatchCache:
    """One resource's cache; start it with :meth:`run` and wait for :meth:`wait_ready`."""

    def __init__(
        self,
        storage: Storage,
        prefix: str,
        *,
        capacity: int = DEFAULT_CAPACITY,
        decoder: Decoder = decode,
    ) -> None:
        self.storage = storage
        self.prefix = prefix
        self._decode = decoder
        self.objects: SortedDict[str, CachedObject] = SortedDict()
        self.history: deque[CacheEvent] = deque(maxlen=capacity)
        self.revision = 0
        # Every event after this revision is in ``history`` (it is the revision the cache
        # listed at, or the last event history has since forgotten).
        self._horizon = 0
        self._watchers: set[CacheWatcher] = set()
        self._ready = asyncio.Event()
        self._progress = asyncio.Condition()
        self._stream: WatchStream | None = None

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def watcher_count(self) -> int:
        return len(self._watchers)

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def run(self) -> None:
        """List, then watch, forever; start over with a fresh list if the watch breaks."""
        while True:
            try:
                await self._list()
                await self._watch()
            except (CompactedError, StorageError) as exc:
                log.warning("watch cache restarting prefix=%s reason=%s", self.prefix, exc)
                self._ready.clear()
                self.close_watchers("the watch cache was reset")
                await asyncio.sleep(0.5)

    async def _list(self) -> None:
        objects: SortedDict[str, CachedObject] = SortedDict()
        start_after = ""
        revision = 0
        while True:
            page = await self.storage.list(
                self.prefix, limit=5000, start_after=start_after, revision=revision
            )
            revision = page.revision
            for kv in page.items:
                objects[kv.key] = self._decode(kv.key, kv.value, kv.mod_revision)
            if not page.more:
                break
            start_after = page.items[-1].key
        self.objects = objects
        self.history.clear()
        self.revision = self._horizon = revision
        self._ready.set()
        async with self._progress:
            self._progress.notify_all()

    async def _watch(self) -> None:
        events = self.storage.watch(self.prefix, self.revision)
        self._stream = events
        try:
            async for event in events:
                if event.type is EventType.PROGRESS:
                    self.revision = max(self.revision, event.revision)
                else:
                    self._apply(event)
                async with self._progress:
                    self._progress.notify_all()
        finally:
            self._stream = None
            await events.aclose()

    def request_progress(self) -> None:
        """Ask storage to confirm the cache is current (see ``WatchStream.request_progress``)."""
        if self._stream is not None:
            self._stream.request_progress()

    def _apply(self, event: WatchEvent) -> None:
        prev = self.objects.get(event.key)
        obj = self._decode(event.key, event.value, event.revision)
        if event.type is EventType.DELETED:
            self.objects.pop(event.key, None)
            kind = "DELETED"
        else:
            self.objects[event.key] = obj
            kind = "ADDED" if prev is None else "MODIFIED"
        cache_event = CacheEvent(kind, obj, prev, event.revision)
        if len(self.history) == self.history.maxlen:
            self._horizon = self.history[0].revision
        self.history.append(cache_event)
        self.revision = event.revision
        for watcher in self._watchers:
            watcher.offer(cache_event)

    async def wait_for_revision(self, revision: int, within: float = 3.0) -> None:
        """Wait until the cache reflects ``revision`` (``TimeoutError`` after ``within`` s)."""
        if self.ready and self.revision >= revision:
            return
        async with asyncio.timeout(within), self._progress:
            await self._progress.wait_for(lambda: self.ready and self.revision >= revision)

    def items(self, namespace_prefix: str = "") -> Iterator[CachedObject]:
        """The objects under ``prefix + namespace_prefix`` in key order."""
        lo = self.prefix + namespace_prefix
        for key in self.objects.irange(lo, prefix_end(lo), inclusive=(True, False)):
            yield self.objects[key]

    def get(self, key: str) -> CachedObject | None:
        return self.objects.get(key)

    def watch(
        self, revision: int | None, matches: Callable[[CachedObject], bool], key_prefix: str
    ) -> CacheWatcher:
        """Start a watcher.

        ``revision`` None (or 0) sends a synthetic ADDED for every matching object first;
        otherwise every change after ``revision`` is replayed from history. Raises
        ``TooOldError`` when the history no longer reaches back to ``revision``.
        """
        watcher = CacheWatcher(matches)
        if not revision:
            for cached in self.items(key_prefix[len(self.prefix) :]):
                if matches(cached):
                    watcher.events.append(("ADDED", cached))
        else:
            if revision < self._horizon:
                raise TooOldError(revision, self._horizon)
            for event in self.history:
                if event.revision > revision and event.obj.key.startswith(key_prefix):
                    watcher.offer(event)
        if watcher.events:
            watcher.wakeup.set()
        self._watchers.add(watcher)
        return watcher

    def close_watchers(self, reason: str) -> None:
        """End every watch (their clients re-watch elsewhere or later)."""
        for watcher in self._watchers:
            watcher.close(reason)

    def stop_watching(self, watcher: CacheWatcher) -> None:
        self._watchers.discard(watcher)
