"""The embedded storage engine: a revision log in SQLite, durable before acknowledged.

Layout (one file, WAL mode, ``synchronous=FULL``):

* ``log(revision PRIMARY KEY, key, value, create_revision, prev_revision, deleted)`` — one row
  per write, and no other index: a secondary index by key costs a page write per distinct key
  in every commit (measured: it cut group-commit throughput by more than half). Revisions are
  allocated here, by the single writer, inside the write transaction: every successful write
  takes exactly the next integer, so the log has no gaps to fill and no writer can publish a
  revision below one already seen (kine's auto-increment gaps are the mistake this avoids).
  A delete writes a tombstone row holding the value it removed, so a DELETED watch event
  carries the object.
* ``meta(name, value)`` — ``compact_revision`` and the physical compaction's cursor.

Writes: the event loop accepts each write — checks it against its index of live keys
(key -> mod and create revision, including writes accepted but not yet committed), gives it
the next revision and queues its row; the rows of one turn of the loop go to the writer thread
together (one wake-up per turn, not per write). One writer thread takes whatever is queued
(about ``max_batch`` rows at most), inserts it with multi-row ``INSERT`` statements and commits
once: concurrent writers share one fsync (group commit), and the writer thread does little but
SQLite calls, which release the GIL. Results and watch events return to the event loop only
after the commit is durable. If a commit ever fails, the accepted state no longer matches the
file: the store fails the queued writes and refuses new ones until it is reopened (which
re-reads the log).

Reads: the event loop keeps a second copy of the key index as of the last published revision
(a ``KeyIndex``: a dict, with key order merged in lazily for range reads). A read at "now"
takes keys and revisions from it and fetches the rows by primary key. A read at an older
revision R also reads the log after R (a range of the primary key): each key written after R
held, at R, the revision its first later write names as ``prev_revision`` (0: it did not
exist). Row fetches run on a small pool of reader threads, each with its own connection and
snapshot; WAL lets them proceed while the writer writes. The index costs memory per live key
(about 200 bytes), which is what a one-machine store can afford.

Compaction (at revision C) is logical first — ``compact_revision`` is stored, and reads or
watches below it fail with ``CompactedError`` — then physical, in chunks that are ordinary
writer operations, so writers wait for at most one chunk: each row in ``(cursor, C]`` removes
the row it superseded (``prev_revision``), and a tombstone at or below C removes itself. After a
compaction the WAL is checkpointed and truncated, so the file does not grow without bound.

The current revision survives restarts even when compaction removed the newest row (a
tombstone): it is ``max(max(log.revision), compact_revision)``.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

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

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    revision INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    deleted INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

_COMPACT_CHUNK = 500
# Reads look a key's revision up in memory, then its row on disk; compaction may remove the row
# in between (only when the key changed meanwhile), and the read then starts over.
_READ_RETRIES = 5

#: One log row: (revision, key, value, create_revision, prev_revision, deleted).
Row = tuple[int, str, bytes, int, int, int]

#: Rows per multi-row INSERT. The writer prepares one statement per row count up to this
#: (kept in the connection's statement cache), so a batch of any size takes few steps.
_ROWS_PER_INSERT = 64


@functools.cache
def _insert_sql(rows: int) -> str:
    return "INSERT INTO log VALUES " + ",".join(["(?, ?, ?, ?, ?, ?)"] * rows)


@dataclass(slots=True)
class _Write:
    """A write the event loop accepted, waiting for the writer thread to commit it."""

    row: Row
    event: WatchEvent
    result: KeyValue
    future: asyncio.Future[KeyValue]


# Maintenance the writer thread runs inside its transactions (compaction, checkpoints).
_COMPACT_START, _COMPACT_CHUNK, _CHECKPOINT = range(3)


@dataclass(slots=True)
class _Maintenance:
    code: int
    target: int
    future: asyncio.Future[int]
    result: int = 0  # set by the writer thread


def _connect(path: str) -> sqlite3.Connection:
    # The statement cache holds the writer's multi-row INSERTs (one per row count) besides
    # the handful of other statements.
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=256
    )
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


class SqliteStorage:
    """The ``Storage`` protocol over one SQLite file; open it with :meth:`open`."""

    def __init__(self, path: str, *, max_batch: int = 1000, readers: int = 4) -> None:
        self._path = path
        self._max_batch = max_batch
        self._loop = asyncio.get_running_loop()
        # What the writer thread takes: the writes of one event-loop turn, a maintenance
        # operation, or None (stop).
        self._queue: queue.SimpleQueue[list[_Write] | _Maintenance | None] = queue.SimpleQueue()
        # Writes accepted during this turn of the event loop, handed to the writer together by
        # _flush: waking a sleeping thread costs tens of microseconds here (a cross-CPU
        # wake-up in a VM), so it is paid once per turn, not once per write.
        self._pending: list[_Write] = []
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="kyb-sqlite-read")
        self._reader_conns: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._closed = False
        self._failed: UnavailableError | None = None
        conn = _connect(path)
        conn.execute("PRAGMA journal_mode = WAL")
        # Keep the WAL from staying large after a burst: truncate it to this when it resets.
        conn.execute("PRAGMA journal_size_limit = 67108864")
        conn.executescript(_SCHEMA)
        self._writer_conn = conn
        row = conn.execute("SELECT value FROM meta WHERE name = 'compact_revision'").fetchone()
        self._compacted = int(row[0]) if row else 0
        (last,) = conn.execute("SELECT COALESCE(MAX(revision), 0) FROM log").fetchone()
        # The last revision handed to an accepted write (committed or not).
        self._accepted = max(int(last), self._compacted)
        # The live keys and their (mod, create) revisions including accepted, uncommitted
        # writes: what conditional writes are checked against.
        self._live: dict[str, tuple[int, int]] = {
            key: (rev, create)
            for key, rev, create, deleted in conn.execute(
                "SELECT key, MAX(revision), create_revision, deleted FROM log GROUP BY key"
            )
            if not deleted
        }
        # Values of accepted writes not committed yet, by revision (a conflict or a delete may
        # need them before they can be read back).
        self._uncommitted: dict[int, bytes] = {}
        # The index as of the last committed revision: reads at "now" find their rows through
        # it, and ranges come from its key order.
        self._index: KeyIndex[tuple[int, int]] = KeyIndex(self._live)
        self.hub = WatchHub(self._read_history, self._accepted)
        self._writer = threading.Thread(
            target=self._write_loop, name="kyb-sqlite-write", daemon=True
        )
        self._writer.start()

    @classmethod
    async def open(cls, path: str | Path, **kwargs: Any) -> SqliteStorage:
        """Open (creating if needed) the database at ``path``."""
        return cls(str(path), **kwargs)

    # ----- writes -------------------------------------------------------------------------
    #
    # The event loop accepts a write: it checks it against ``_live``, gives it the next
    # revision and queues its row. The writer thread commits whatever is queued in one
    # transaction and hands the batch back; only then are futures resolved and events
    # published. If a commit fails, the accepted state no longer matches the file: the store
    # fails every queued write and refuses new ones until it is reopened (which re-reads the
    # log), rather than guess.

    def _writable(self) -> None:
        if self._closed:
            raise UnavailableError("storage is closed")
        if self._failed is not None:
            raise self._failed

    def _accept(
        self, row: Row, kind: EventType, prev_value: bytes | None, result: KeyValue
    ) -> asyncio.Future[KeyValue]:
        future: asyncio.Future[KeyValue] = self._loop.create_future()
        self._uncommitted[row[0]] = row[2]
        pending = self._pending
        if not pending:
            self._loop.call_soon(self._flush)
        pending.append(
            _Write(row, WatchEvent(kind, row[1], row[2], row[0], prev_value), result, future)
        )
        return future

    def _flush(self) -> None:
        """Hand the writes accepted so far to the writer thread (one wake-up at most)."""
        if self._pending:
            self._queue.put(self._pending)
            self._pending = []

    async def _value_of(self, key: str, entry: tuple[int, int]) -> bytes | None:
        """The value ``key`` holds at ``entry``, or None if the key moved on meanwhile."""
        value = self._uncommitted.get(entry[0])
        if value is not None:
            return value
        rows = await self._read(self._fetch_rows, (entry[0],))
        if self._live.get(key) != entry or entry[0] not in rows:
            return None
        return rows[entry[0]].value

    async def _conflict(self, key: str, expected: int, entry: tuple[int, int]) -> ConflictError:
        value = await self._value_of(key, entry)
        current = KeyValue(key, value if value is not None else b"", entry[1], entry[0])
        return ConflictError(key, expected, current)

    async def create(self, key: str, value: bytes) -> KeyValue:
        if self._closed or self._failed is not None:
            self._writable()
        if key in self._live:
            raise KeyExistsError(key)
        rev = self._accepted = self._accepted + 1
        self._live[key] = (rev, rev)
        return await self._accept(
            (rev, key, value, rev, 0, 0), EventType.ADDED, None, KeyValue(key, value, rev, rev)
        )

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        self._writable()
        entry = self._live.get(key)
        if entry is None:
            raise KeyNotFoundError(key)
        cur_rev, create_rev = entry
        if expected_revision and expected_revision != cur_rev:
            raise await self._conflict(key, expected_revision, entry)
        rev = self._accepted = self._accepted + 1
        self._live[key] = (rev, create_rev)
        return await self._accept(
            (rev, key, value, create_rev, cur_rev, 0),
            EventType.MODIFIED,
            self._uncommitted.get(cur_rev),
            KeyValue(key, value, create_rev, rev),
        )

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        while True:
            self._writable()
            entry = self._live.get(key)
            if entry is None:
                raise KeyNotFoundError(key)
            cur_rev, create_rev = entry
            if expected_revision and expected_revision != cur_rev:
                raise await self._conflict(key, expected_revision, entry)
            old = await self._value_of(key, entry)
            if old is None or self._live.get(key) != entry:
                continue  # written while its value was read: check again
            self._writable()
            rev = self._accepted = self._accepted + 1
            del self._live[key]
            return await self._accept(
                (rev, key, old, create_rev, cur_rev, 1),
                EventType.DELETED,
                old,
                KeyValue(key, old, create_rev, rev),
            )

    async def _maintain(self, code: int, target: int) -> int:
        self._writable()
        future: asyncio.Future[int] = self._loop.create_future()
        self._flush()
        self._queue.put(_Maintenance(code, target, future))
        return await future

    async def compact(self, revision: int) -> None:
        if revision > self.hub.revision:
            raise FutureRevisionError(revision, self.hub.revision)
        if revision <= self._compacted:
            return
        cursor = await self._maintain(_COMPACT_START, revision)
        while cursor < revision:
            cursor = await self._maintain(_COMPACT_CHUNK, revision)
        await self._maintain(_CHECKPOINT, 0)

    def _write_loop(self) -> None:
        conn = self._writer_conn
        ops = self._queue
        failed: UnavailableError | None = None
        stop = False
        while not stop:
            batch: list[_Write | _Maintenance] = []
            item = ops.get()
            # Everything queued meanwhile joins this commit (group commit).
            while True:
                if item is None:
                    stop = True
                    break
                if isinstance(item, list):
                    batch += item
                else:
                    batch.append(item)
                if len(batch) >= self._max_batch or ops.empty():
                    break
                item = ops.get_nowait()
            if not batch:
                break
            if failed is None:
                failed = self._commit(conn, batch)
            self._loop.call_soon_threadsafe(self._deliver, batch, failed)
        conn.close()

    def _commit(
        self, conn: sqlite3.Connection, batch: list[_Write | _Maintenance]
    ) -> UnavailableError | None:
        """Write one batch in one transaction; returns the failure, if the commit failed.

        Rows go in as multi-row ``INSERT`` statements: each binds its parameters in one call
        and runs in one step with the GIL released, where ``executemany`` takes the GIL back
        after every row. A batch of plain writes that fits one statement runs it alone in
        autocommit mode (the statement is its own transaction, committed and fsync'd before
        it returns), saving the BEGIN and COMMIT round trips.
        """
        rows = [op.row for op in batch if type(op) is _Write]
        simple = len(rows) == len(batch) and len(rows) <= _ROWS_PER_INSERT
        checkpoint = False
        try:
            if simple:
                conn.execute(_insert_sql(len(rows)), [field for row in rows for field in row])
                return None
            conn.execute("BEGIN IMMEDIATE")
            for lo in range(0, len(rows), _ROWS_PER_INSERT):
                chunk = rows[lo : lo + _ROWS_PER_INSERT]
                conn.execute(_insert_sql(len(chunk)), [field for row in chunk for field in row])
            for op in batch:
                if type(op) is _Maintenance:
                    checkpoint |= op.code == _CHECKPOINT
                    op.result = self._run_maintenance(conn, op)
            conn.execute("COMMIT")
            if checkpoint:
                # TRUNCATE resets the WAL to zero bytes once no reader holds an old snapshot
                # (readers hold one only for the length of a query).
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            return UnavailableError(f"sqlite commit failed, reopen the store: {exc}")
        return None

    def _run_maintenance(self, conn: sqlite3.Connection, op: _Maintenance) -> int:
        if op.code == _COMPACT_START:
            if op.target > self._compacted:
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('compact_revision', ?)", (op.target,)
                )
                self._compacted = op.target
            row = conn.execute("SELECT value FROM meta WHERE name = 'compact_cursor'").fetchone()
            return int(row[0]) if row else 0
        if op.code == _COMPACT_CHUNK:
            return self._compact_chunk(conn, op.target)
        return 0

    def _compact_chunk(self, conn: sqlite3.Connection, target: int) -> int:
        row = conn.execute("SELECT value FROM meta WHERE name = 'compact_cursor'").fetchone()
        cursor = int(row[0]) if row else 0
        rows = conn.execute(
            "SELECT revision, prev_revision, deleted FROM log "
            "WHERE revision > ? AND revision <= ? ORDER BY revision LIMIT ?",
            (cursor, target, _COMPACT_CHUNK),
        ).fetchall()
        doomed: list[tuple[int]] = []
        for revision, prev_revision, deleted in rows:
            if prev_revision:
                doomed.append((prev_revision,))
            if deleted:
                doomed.append((revision,))
        conn.executemany("DELETE FROM log WHERE revision = ?", doomed)
        cursor = rows[-1][0] if len(rows) == _COMPACT_CHUNK else target
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('compact_cursor', ?)", (cursor,))
        return cursor

    def _deliver(self, batch: list[_Write | _Maintenance], failed: UnavailableError | None) -> None:
        """On the event loop: publish a committed batch, or fail it."""
        if failed is not None:
            self._failed = failed
            for op in batch:
                if not op.future.done():
                    op.future.set_exception(failed)
            return
        # One pass: resolving a future only schedules its waiter, which runs after this
        # method has published every event and updated the index.
        index = self._index
        uncommitted = self._uncommitted
        events = []
        for op in batch:
            if isinstance(op, _Write):
                row = op.row
                del uncommitted[row[0]]
                if row[5]:
                    index.delete(row[1])
                else:
                    index.set(row[1], (row[0], row[3]))
                events.append(op.event)
                future = op.future
                if not future.done():
                    future.set_result(op.result)
            elif not op.future.done():
                op.future.set_result(op.result)
        self.hub.publish(events)

    # ----- reads --------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self._path)
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            self._reader_conns.append(conn)
        return conn

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(connection, *args)`` on a reader thread, in one read snapshot."""
        if self._closed:
            raise UnavailableError("storage is closed")
        return await self._loop.run_in_executor(self._readers, self._in_snapshot, fn, args)

    def _in_snapshot(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            return fn(conn, *args)
        finally:
            conn.execute("COMMIT")

    def _check(self, revision: int) -> int:
        """Return the published revision after checking ``revision`` (0: now) is readable."""
        if self._closed:
            raise UnavailableError("storage is closed")
        now = self.hub.revision
        if revision > now:
            raise FutureRevisionError(revision, now)
        if revision and revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        return now

    @staticmethod
    def _fetch_rows(conn: sqlite3.Connection, revisions: Sequence[int]) -> dict[int, KeyValue]:
        """The log rows at ``revisions`` (one query: the list travels as a JSON array)."""
        rows = conn.execute(
            "SELECT l.key, l.value, l.create_revision, l.revision FROM json_each(?) j "
            "JOIN log l ON l.revision = j.value",
            (orjson.dumps(revisions),),
        )
        return {row[3]: KeyValue(row[0], row[1], row[2], row[3]) for row in rows}

    @staticmethod
    def _first_changes(
        conn: sqlite3.Connection, lo: str, hi: str, after: int, upto: int
    ) -> dict[str, int]:
        """For each key in ``[lo, hi)`` written in ``(after, upto]``: the revision it held at
        ``after`` (the first such write's ``prev_revision``; 0 if it did not exist)."""
        first: dict[str, int] = {}
        for key, prev in conn.execute(
            "SELECT key, prev_revision FROM log WHERE revision > ? AND revision <= ? "
            "AND key >= ? AND key < ? ORDER BY revision",
            (after, upto, lo, hi),
        ):
            first.setdefault(key, prev)
        return first

    async def get(self, key: str, revision: int = 0) -> KeyValue:
        for _ in range(_READ_RETRIES):
            now = self._check(revision)
            at = revision or now
            entry = self._index.get(key)
            if entry is not None and entry[0] <= at:
                target = entry[0]
            elif not revision:
                raise KeyNotFoundError(key)
            else:
                changes = await self._read(self._first_changes, key, key + "\x00", at, now)
                target = changes.get(key, 0)
                if not target:
                    raise KeyNotFoundError(key)
            rows = await self._read(self._fetch_rows, (target,))
            if target in rows:
                return rows[target]
            # Compaction removed the row between the index lookup and the read: look again.
        raise UnavailableError(f"could not read {key}: compaction kept racing the read")

    async def list(
        self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0
    ) -> ListResult:
        lo = max(prefix, start_after + "\x00") if start_after else prefix
        hi = prefix_end(prefix)
        for _ in range(_READ_RETRIES):
            now = self._check(revision)
            at = revision or now
            index = self._index
            state = {key: index[key][0] for key in index.irange(lo, hi)}
            if at != now:
                changes = await self._read(self._first_changes, lo, hi, at, now)
                for key, held in changes.items():
                    if held:
                        state[key] = held
                    else:
                        state.pop(key, None)
            keys = sorted(state) if at != now else builtins.list(state)
            more = 0 < limit < len(keys)
            page = keys[:limit] if more else keys
            wanted = [state[key] for key in page]
            rows = await self._read(self._fetch_rows, wanted)
            if len(rows) == len(wanted):
                items = [rows[rev] for rev in wanted]
                return ListResult(items, at, more, len(keys) - len(page) if more else 0)
        raise UnavailableError(f"could not list {prefix}: compaction kept racing the read")

    async def count(self, prefix: str) -> int:
        self._check(0)
        return self._index.count(prefix, prefix_end(prefix))

    async def current_revision(self) -> int:
        return self.hub.revision

    def watch(self, prefix: str, revision: int) -> WatchStream:
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        return self.hub.watch(prefix, revision)

    async def _read_history(
        self, prefix: str, after: int, upto: int, limit: int
    ) -> builtins.list[WatchEvent]:
        def run(conn: sqlite3.Connection) -> builtins.list[WatchEvent]:
            row = conn.execute("SELECT value FROM meta WHERE name = 'compact_revision'").fetchone()
            compacted = int(row[0]) if row else 0
            if after < compacted:
                raise CompactedError(after, compacted)
            rows = conn.execute(
                "SELECT l.key, l.value, l.revision, l.create_revision, l.deleted, p.value "
                "FROM log l LEFT JOIN log p ON p.revision = l.prev_revision "
                "WHERE l.revision > ? AND l.revision <= ? AND l.key >= ? AND l.key < ? "
                "ORDER BY l.revision LIMIT ?",
                (after, upto, prefix, prefix_end(prefix), limit),
            ).fetchall()
            events = []
            for key, value, rev, create_rev, deleted, prev in rows:
                if deleted:
                    kind = EventType.DELETED
                elif rev == create_rev:
                    kind = EventType.ADDED
                else:
                    kind = EventType.MODIFIED
                events.append(WatchEvent(kind, key, value, rev, prev))
            return events

        return await self._read(run)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._flush()  # pending writes finish first
        self._queue.put(None)
        await asyncio.to_thread(self._writer.join)
        self.hub.close()
        self._readers.shutdown(wait=True)
        for conn in self._reader_conns:
            conn.close()
