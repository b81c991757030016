"""Watch fan-out: slow consumers catch up from the log instead of growing without bound."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.storage.errors import CompactedError, UnavailableError
from kybernetes.storage.memory import MemoryStorage
from kybernetes.storage.watchhub import WatchHub


async def test_a_slow_watcher_overflows_then_catches_up_from_history() -> None:
    store = MemoryStorage()
    store.hub = WatchHub(store._read_history, 0, queue_limit=5)
    events = store.watch("/", 0)
    try:
        first = await store.create("/a", b"0")
        assert (await anext(events)).revision == first.mod_revision
        for i in range(50):  # far more than the queue holds, while nobody reads
            await store.create(f"/k{i:02d}", b"x")
        sub = next(iter(store.hub._subs))
        assert sub.overflowed
        assert len(sub.events) == 0
        got = [(await anext(events)).revision for _ in range(50)]
        assert got == list(range(2, 52))
        late = await store.create("/late", b"x")
        assert (await anext(events)).revision == late.mod_revision
    finally:
        await events.aclose()
    assert store.hub.watcher_count == 0


async def test_a_watcher_behind_compaction_gets_compacted_error() -> None:
    store = MemoryStorage()
    store.hub = WatchHub(store._read_history, 0, queue_limit=2)
    events = store.watch("/", 0)
    try:
        kv = await store.create("/a", b"0")
        assert (await anext(events)).revision == kv.mod_revision
        for i in range(10):
            kv = await store.update("/a", str(i).encode(), kv.mod_revision)
        await store.compact(kv.mod_revision)
        with pytest.raises(CompactedError):
            await anext(events)
    finally:
        await events.aclose()


async def test_closing_the_store_ends_watches() -> None:
    store = MemoryStorage()
    events = store.watch("/", 0)
    waiter = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    await store.close()
    with pytest.raises(UnavailableError):
        await asyncio.wait_for(waiter, 5)
    with pytest.raises(UnavailableError):
        store.watch("/", 0)


async def test_prefixes_that_do_not_end_at_a_slash_still_match() -> None:
    store = MemoryStorage()
    partial = store.watch("/registry/po", 0)
    aligned = store.watch("/registry/", 0)
    everything = store.watch("", 0)
    try:
        await store.create("/registry/pods/a", b"1")
        await store.create("/registry/services/b", b"1")
        async with asyncio.timeout(5):
            assert (await anext(partial)).key == "/registry/pods/a"
            assert [(await anext(aligned)).key for _ in range(2)] == [
                "/registry/pods/a",
                "/registry/services/b",
            ]
            assert [(await anext(everything)).key for _ in range(2)] == [
                "/registry/pods/a",
                "/registry/services/b",
            ]
    finally:
        for stream in (partial, aligned, everything):
            await stream.aclose()
