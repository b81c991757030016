"""What the sqlite backend promises beyond the shared contract: restart and compaction on disk."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from kybernetes.storage.compactor import run_compactor
from kybernetes.storage.sqlite import SqliteStorage


def log_rows(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        (n,) = conn.execute("SELECT COUNT(*) FROM log").fetchone()
        return int(n)
    finally:
        conn.close()


async def test_reopen_keeps_keys_revisions_and_conflict_checks(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = await SqliteStorage.open(db)
    a = await store.create("/a", b"1")
    b = await store.create("/b", b"1")
    await store.delete("/b", b.mod_revision)
    await store.close()
    store = await SqliteStorage.open(db)
    try:
        assert await store.current_revision() == 3
        assert await store.get("/a") == a
        assert [kv.key for kv in (await store.list("/")).items] == ["/a"]
        again = await store.create("/b", b"2")
        assert again.mod_revision == 4
        updated = await store.update("/a", b"2", a.mod_revision)
        assert updated.create_revision == a.create_revision
    finally:
        await store.close()


async def test_compaction_removes_superseded_rows_and_survives_restart(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = await SqliteStorage.open(db)
    kv = await store.create("/counter", b"0")
    for i in range(1, 1200):  # more than two compaction chunks
        kv = await store.update("/counter", str(i).encode(), kv.mod_revision)
    doomed = await store.create("/doomed", b"x")
    gone = await store.delete("/doomed", doomed.mod_revision)
    assert log_rows(db) == 1202
    await store.compact(gone.mod_revision)
    # Only the live value of /counter remains; the tombstone at the compaction point went too.
    assert log_rows(db) == 1
    assert (tmp_path / "state.db-wal").stat().st_size == 0
    await store.close()
    store = await SqliteStorage.open(db)
    try:
        assert await store.current_revision() == gone.mod_revision
        nxt = await store.create("/next", b"x")
        assert nxt.mod_revision == gone.mod_revision + 1
        assert (await store.get("/counter")).value == b"1199"
    finally:
        await store.close()


async def test_compactor_compacts_one_interval_behind(tmp_path: Path) -> None:
    store = await SqliteStorage.open(tmp_path / "state.db")
    try:
        kv = await store.create("/a", b"0")
        task = asyncio.create_task(run_compactor(store, interval=0.05))
        for i in range(5):
            kv = await store.update("/a", str(i).encode(), kv.mod_revision)
        await asyncio.sleep(0.3)
        task.cancel()
        assert store._compacted > 1
        assert store._compacted <= kv.mod_revision
        assert (await store.get("/a")).value == b"4"
    finally:
        await store.close()
