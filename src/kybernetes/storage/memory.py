"""An in-memory backend with the exact semantics of the durable ones, for unit tests.

It keeps the whole revision log in a list (index ``i`` holds revision ``i + 1 + offset``) and
the live keys in a dict. Nothing is durable; everything else — revisions, conflicts, history
reads, compaction, watches through :class:`~kybernetes.storage.watchhub.WatchHub` — behaves
as the sqlite backend does, and the same contract suite checks both.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from kybernetes.storage.errors import (
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    UnavailableError,
)
from kybernetes.storage.interface import EventType, KeyValue, ListResult, WatchEvent, WatchStream
from kybernetes.storage.keyindex import KeyIndex
from kybernetes.storage.keys import prefix_end
from kybernetes.storage.watchhub import WatchHub


@dataclass(frozen=True, slots=True)
class _Row:
    kv: KeyValue
    deleted: bool
    prev_value: bytes | None


class MemoryStorage:
    """The ``Storage`` protocol held in memory."""

    def __init__(self) -> None:
        self._log: list[_Row | None] = []  # None: forgotten by compaction
        self._live: KeyIndex[KeyValue] = KeyIndex()
        self._compacted = 0
        self._closed = False
        self.hub = WatchHub(self._read_history, 0)

    @property
    def _revision(self) -> int:
        return len(self._log)

    def _append(self, kv: KeyValue, kind: EventType, prev: bytes | None) -> None:
        if self._closed:
            raise UnavailableError("storage is closed")
        self._log.append(_Row(kv, kind is EventType.DELETED, prev))
        self.hub.publish([WatchEvent(kind, kv.key, kv.value, kv.mod_revision, prev)])

    async def create(self, key: str, value: bytes) -> KeyValue:
        if key in self._live:
            raise KeyExistsError(key)
        rev = self._revision + 1
        kv = KeyValue(key, value, rev, rev)
        self._live.set(key, kv)
        self._append(kv, EventType.ADDED, None)
        return kv

    def _current(self, key: str, expected: int) -> KeyValue:
        cur = self._live.get(key)
        if cur is None:
            raise KeyNotFoundError(key)
        if expected and expected != cur.mod_revision:
            raise ConflictError(key, expected, cur)
        return cur

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        cur = self._current(key, expected_revision)
        kv = KeyValue(key, value, cur.create_revision, self._revision + 1)
        self._live.set(key, kv)
        self._append(kv, EventType.MODIFIED, cur.value)
        return kv

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        cur = self._current(key, expected_revision)
        kv = KeyValue(key, cur.value, cur.create_revision, self._revision + 1)
        self._live.delete(key)
        self._append(kv, EventType.DELETED, cur.value)
        return kv

    def _check(self, revision: int) -> None:
        if self._closed:
            raise UnavailableError("storage is closed")
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        if revision and revision < self._compacted:
            raise CompactedError(revision, self._compacted)

    def _at(self, revision: int) -> dict[str, KeyValue]:
        """The live keys as of ``revision`` (replaying the kept log)."""
        state: dict[str, KeyValue] = {}
        for row in self._log[:revision]:
            if row is None:
                continue
            if row.deleted:
                state.pop(row.kv.key, None)
            else:
                state[row.kv.key] = row.kv
        return state

    async def get(self, key: str, revision: int = 0) -> KeyValue:
        self._check(revision)
        kv = self._at(revision).get(key) if revision else self._live.get(key)
        if kv is None:
            raise KeyNotFoundError(key)
        return kv

    async def list(
        self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0
    ) -> ListResult:
        self._check(revision)
        at = revision or self._revision
        hi = prefix_end(prefix)
        if at == self._revision:
            live = self._live
            state = {k: live[k] for k in live.irange(prefix, hi) if k > start_after}
            keys = list(state)
        else:
            state = self._at(at)
            keys = sorted(k for k in state if prefix <= k < hi and k > start_after)
        if limit > 0 and len(keys) > limit:
            page = keys[:limit]
            return ListResult([state[k] for k in page], at, True, len(keys) - limit)
        return ListResult([state[k] for k in keys], at)

    async def count(self, prefix: str) -> int:
        self._check(0)
        return self._live.count(prefix, prefix_end(prefix))

    def watch(self, prefix: str, revision: int) -> WatchStream:
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        return self.hub.watch(prefix, revision)

    async def _read_history(
        self, prefix: str, after: int, upto: int, limit: int
    ) -> builtins.list[WatchEvent]:
        if after < self._compacted:
            raise CompactedError(after, self._compacted)
        hi = prefix_end(prefix)
        events: builtins.list[WatchEvent] = []
        for row in self._log[after:upto]:
            if row is None or not prefix <= row.kv.key < hi:
                continue
            kv = row.kv
            if row.deleted:
                kind = EventType.DELETED
            elif kv.create_revision == kv.mod_revision:
                kind = EventType.ADDED
            else:
                kind = EventType.MODIFIED
            events.append(WatchEvent(kind, kv.key, kv.value, kv.mod_revision, row.prev_value))
            if len(events) == limit:
                break
        return events

    async def current_revision(self) -> int:
        return self._revision

    async def compact(self, revision: int) -> None:
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        if revision <= self._compacted:
            return
        latest: dict[str, int] = {}
        for index in range(revision):
            row = self._log[index]
            if row is None:
                continue
            previous = latest.get(row.kv.key)
            if previous is not None:
                self._log[previous] = None
            if row.deleted:
                self._log[index] = None
                latest.pop(row.kv.key, None)
            else:
                latest[row.kv.key] = index
        self._compacted = revision

    async def close(self) -> None:
        self._closed = True
        self.hub.close()
