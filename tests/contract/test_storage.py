"""The storage contract (kybernetes.storage.interface), checked on every backend unchanged.

Backends may share a revision counter with other users (etcd), so expectations are relative
to the revision a test starts at; within one test only that test writes.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from kybernetes.storage.errors import (
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
)
from kybernetes.storage.interface import EventType, Storage, WatchEvent


async def take(events: AsyncIterator[WatchEvent], n: int, timeout: float = 10) -> list[WatchEvent]:
    """The next ``n`` events, failing if they do not come in time."""
    got: list[WatchEvent] = []
    async with asyncio.timeout(timeout):
        while len(got) < n:
            got.append(await anext(events))
    return got


async def nothing_more(events: AsyncIterator[WatchEvent], wait: float = 0.3) -> None:
    """Assert no further event arrives within ``wait`` seconds."""
    try:
        async with asyncio.timeout(wait):
            event = await anext(events)
    except TimeoutError:
        return
    pytest.fail(f"unexpected event {event}")


async def first_event(storage: Storage, prefix: str, revision: int) -> WatchEvent:
    """Open a watch, take its first event, close it."""
    events = storage.watch(prefix, revision)
    try:
        return (await take(events, 1))[0]
    finally:
        await events.aclose()


# ----- create / get ---------------------------------------------------------------------


async def test_create_then_get(storage: Storage) -> None:
    base = await storage.current_revision()
    kv = await storage.create("/registry/pods/default/a", b"one")
    assert kv.mod_revision == kv.create_revision == base + 1
    assert kv.value == b"one"
    got = await storage.get("/registry/pods/default/a")
    assert got == kv
    assert await storage.current_revision() == base + 1


async def test_create_existing_key_fails_and_changes_nothing(storage: Storage) -> None:
    first = await storage.create("/registry/pods/default/a", b"one")
    with pytest.raises(KeyExistsError):
        await storage.create("/registry/pods/default/a", b"two")
    assert await storage.get("/registry/pods/default/a") == first
    assert await storage.current_revision() == first.mod_revision


async def test_get_missing_key(storage: Storage) -> None:
    with pytest.raises(KeyNotFoundError):
        await storage.get("/registry/pods/default/missing")


async def test_revisions_increase_by_one_per_write(storage: Storage) -> None:
    base = await storage.current_revision()
    a = await storage.create("/r/a", b"1")
    b = await storage.create("/r/b", b"1")
    a2 = await storage.update("/r/a", b"2", a.mod_revision)
    d = await storage.delete("/r/b")
    assert [a.mod_revision, b.mod_revision, a2.mod_revision, d.mod_revision] == [
        base + 1,
        base + 2,
        base + 3,
        base + 4,
    ]
    assert await storage.current_revision() == base + 4


# ----- update / delete ------------------------------------------------------------------


async def test_update_with_expected_revision(storage: Storage) -> None:
    kv = await storage.create("/r/a", b"1")
    new = await storage.update("/r/a", b"2", kv.mod_revision)
    assert new.value == b"2"
    assert new.create_revision == kv.create_revision
    assert new.mod_revision == kv.mod_revision + 1
    assert await storage.get("/r/a") == new


async def test_stale_update_conflicts_and_reports_current(storage: Storage) -> None:
    kv = await storage.create("/r/a", b"1")
    new = await storage.update("/r/a", b"2", kv.mod_revision)
    with pytest.raises(ConflictError) as info:
        await storage.update("/r/a", b"3", kv.mod_revision)
    assert info.value.current == new
    assert await storage.get("/r/a") == new


async def test_unconditional_update(storage: Storage) -> None:
    kv = await storage.create("/r/a", b"1")
    await storage.update("/r/a", b"2", kv.mod_revision)
    new = await storage.update("/r/a", b"3", 0)
    assert (await storage.get("/r/a")).value == b"3" == new.value


async def test_update_missing_key(storage: Storage) -> None:
    with pytest.raises(KeyNotFoundError):
        await storage.update("/r/missing", b"1", 0)
    with pytest.raises(KeyNotFoundError):
        await storage.update("/r/missing", b"1", 5)


async def test_delete_returns_last_value_at_deletion_revision(storage: Storage) -> None:
    kv = await storage.create("/r/a", b"1")
    gone = await storage.delete("/r/a", kv.mod_revision)
    assert gone.value == b"1"
    assert gone.mod_revision == kv.mod_revision + 1
    assert gone.create_revision == kv.create_revision
    with pytest.raises(KeyNotFoundError):
        await storage.get("/r/a")


async def test_delete_preconditions(storage: Storage) -> None:
    kv = await storage.create("/r/a", b"1")
    await storage.update("/r/a", b"2", kv.mod_revision)
    with pytest.raises(ConflictError):
        await storage.delete("/r/a", kv.mod_revision)
    assert (await storage.get("/r/a")).value == b"2"
    with pytest.raises(KeyNotFoundError):
        await storage.delete("/r/missing")


async def test_recreated_key_gets_new_create_revision(storage: Storage) -> None:
    kv = await storage.create("/r/a", b"1")
    await storage.delete("/r/a")
    again = await storage.create("/r/a", b"2")
    assert again.create_revision == again.mod_revision == kv.mod_revision + 2


# ----- list / count ---------------------------------------------------------------------


async def _fill(storage: Storage, names: list[str]) -> None:
    for name in names:
        await storage.create(f"/registry/pods/{name}", name.encode())


async def test_list_prefix_in_key_order(storage: Storage) -> None:
    await _fill(storage, ["ns2/b", "ns1/z", "ns1/a", "ns10/c"])
    await storage.create("/registry/podsecurity/x", b"x")
    await storage.create("/registry/pod", b"x")
    result = await storage.list("/registry/pods/")
    assert [kv.key for kv in result.items] == [
        "/registry/pods/ns1/a",
        "/registry/pods/ns1/z",
        "/registry/pods/ns10/c",
        "/registry/pods/ns2/b",
    ]
    assert not result.more
    assert result.revision == await storage.current_revision()
    ns1 = await storage.list("/registry/pods/ns1/")
    assert [kv.value for kv in ns1.items] == [b"ns1/a", b"ns1/z"]


async def test_list_empty_prefix_match(storage: Storage) -> None:
    result = await storage.list("/registry/nothing/")
    assert result.items == []
    assert not result.more


async def test_list_pages_with_limit_and_start_after(storage: Storage) -> None:
    names = [f"ns/p{i:02d}" for i in range(7)]
    await _fill(storage, names)
    first = await storage.list("/registry/pods/", limit=3)
    assert [kv.value.decode() for kv in first.items] == names[:3]
    assert first.more
    assert first.remaining == 4
    # Writes after the first page do not show in later pages read at its revision.
    await storage.create("/registry/pods/ns/p035", b"late")
    await storage.delete("/registry/pods/ns/p04")
    second = await storage.list(
        "/registry/pods/", limit=3, start_after=first.items[-1].key, revision=first.revision
    )
    assert [kv.value.decode() for kv in second.items] == names[3:6]
    assert second.revision == first.revision
    assert second.more
    assert second.remaining == 1
    third = await storage.list(
        "/registry/pods/", limit=3, start_after=second.items[-1].key, revision=first.revision
    )
    assert [kv.value.decode() for kv in third.items] == names[6:]
    assert not third.more
    now = await storage.list("/registry/pods/")
    assert [kv.value for kv in now.items] == [
        b"ns/p00",
        b"ns/p01",
        b"ns/p02",
        b"ns/p03",
        b"late",
        b"ns/p05",
        b"ns/p06",
    ]


async def test_list_and_get_at_revision(storage: Storage) -> None:
    a = await storage.create("/r/a", b"1")
    b = await storage.create("/r/b", b"1")
    snapshot = b.mod_revision
    await storage.update("/r/a", b"2", a.mod_revision)
    await storage.delete("/r/b")
    await storage.create("/r/c", b"1")
    old = await storage.list("/r/", revision=snapshot)
    assert [(kv.key, kv.value) for kv in old.items] == [("/r/a", b"1"), ("/r/b", b"1")]
    assert old.revision == snapshot
    assert (await storage.get("/r/a", revision=snapshot)).value == b"1"
    assert (await storage.get("/r/b", revision=snapshot)).mod_revision == b.mod_revision
    with pytest.raises(KeyNotFoundError):
        await storage.get("/r/c", revision=snapshot)
    with pytest.raises(KeyNotFoundError):
        await storage.get("/r/b")


async def test_read_in_the_future(storage: Storage) -> None:
    await storage.create("/r/a", b"1")
    future = await storage.current_revision() + 10
    with pytest.raises(FutureRevisionError):
        await storage.list("/r/", revision=future)
    with pytest.raises(FutureRevisionError):
        await storage.get("/r/a", revision=future)


async def test_count(storage: Storage) -> None:
    await _fill(storage, ["a/1", "a/2", "b/1"])
    assert await storage.count("/registry/pods/") == 3
    assert await storage.count("/registry/pods/a/") == 2
    await storage.delete("/registry/pods/a/1")
    assert await storage.count("/registry/pods/a/") == 1
    assert await storage.count("/registry/none/") == 0


# ----- watch ----------------------------------------------------------------------------


async def test_watch_sees_later_changes_in_order(storage: Storage) -> None:
    base = await storage.current_revision()
    events = storage.watch("/w/", base)
    try:
        a = await storage.create("/w/a", b"1")
        await storage.create("/other/x", b"1")
        a2 = await storage.update("/w/a", b"2", a.mod_revision)
        gone = await storage.delete("/w/a")
        got = await take(events, 3)
        assert [(e.type, e.key, e.value, e.revision) for e in got] == [
            (EventType.ADDED, "/w/a", b"1", a.mod_revision),
            (EventType.MODIFIED, "/w/a", b"2", a2.mod_revision),
            (EventType.DELETED, "/w/a", b"2", gone.mod_revision),
        ]
        assert got[1].prev_value in (None, b"1")
        await nothing_more(events)
    finally:
        await events.aclose()


async def test_watch_replays_history_from_a_past_revision(storage: Storage) -> None:
    start = await storage.current_revision()
    a = await storage.create("/w/a", b"1")
    await storage.update("/w/a", b"2", a.mod_revision)
    await storage.create("/w/b", b"1")
    events = storage.watch("/w/", a.mod_revision)
    try:
        got = await take(events, 2)
        assert [(e.type, e.value) for e in got] == [
            (EventType.MODIFIED, b"2"),
            (EventType.ADDED, b"1"),
        ]
        c = await storage.create("/w/c", b"1")
        (live,) = await take(events, 1)
        assert live.revision == c.mod_revision
    finally:
        await events.aclose()
    everything = storage.watch("/w/", start)
    try:
        got = await take(everything, 4)
        assert [e.revision for e in got] == list(range(start + 1, start + 5))
    finally:
        await everything.aclose()


async def test_watch_is_exactly_once_under_concurrent_writes(storage: Storage) -> None:
    base = await storage.current_revision()
    watchers = [storage.watch("/c/", base) for _ in range(3)]

    async def writer(i: int) -> None:
        kv = await storage.create(f"/c/{i}", b"0")
        for n in range(1, 5):
            kv = await storage.update(f"/c/{i}", str(n).encode(), kv.mod_revision)

    try:
        await asyncio.gather(*(writer(i) for i in range(10)))
        for events in watchers:
            got = await take(events, 50)
            assert [e.revision for e in got] == list(range(base + 1, base + 51))
            await nothing_more(events, 0.1)
    finally:
        for events in watchers:
            await events.aclose()


async def test_watch_prefix_does_not_match_siblings(storage: Storage) -> None:
    base = await storage.current_revision()
    events = storage.watch("/registry/pods/", base)
    try:
        await storage.create("/registry/podsecuritypolicies/x", b"1")
        kv = await storage.create("/registry/pods/default/x", b"1")
        (got,) = await take(events, 1)
        assert got.key == kv.key
    finally:
        await events.aclose()


async def test_watch_from_the_future_fails(storage: Storage) -> None:
    await storage.create("/w/a", b"1")
    future = await storage.current_revision() + 100
    with pytest.raises(FutureRevisionError):
        await first_event(storage, "/w/", future)


async def test_many_watchers_each_see_everything(storage: Storage) -> None:
    base = await storage.current_revision()
    watchers = [storage.watch("/m/", base) for _ in range(20)]
    try:
        for i in range(5):
            await storage.create(f"/m/{i}", b"x")
        for events in watchers:
            assert len(await take(events, 5)) == 5
    finally:
        for events in watchers:
            await events.aclose()


# ----- compaction -----------------------------------------------------------------------


async def test_compaction_forgets_old_history_only(storage: Storage) -> None:
    a = await storage.create("/k/a", b"1")
    b = await storage.create("/k/b", b"1")
    await storage.update("/k/a", b"2", a.mod_revision)
    await storage.delete("/k/b")
    keep = await storage.create("/k/c", b"1")
    await storage.compact(keep.mod_revision)
    with pytest.raises(CompactedError):
        await storage.get("/k/a", revision=b.mod_revision)
    with pytest.raises(CompactedError):
        await storage.list("/k/", revision=b.mod_revision)
    with pytest.raises(CompactedError):
        await first_event(storage, "/k/", b.mod_revision)
    now = await storage.list("/k/", revision=keep.mod_revision)
    assert [(kv.key, kv.value) for kv in now.items] == [("/k/a", b"2"), ("/k/c", b"1")]
    assert (await storage.get("/k/a")).value == b"2"
    # Compacting again at or below is harmless; writes continue from the same revision.
    await storage.compact(keep.mod_revision)
    await storage.compact(a.mod_revision)
    d = await storage.create("/k/d", b"1")
    assert d.mod_revision == keep.mod_revision + 1
    events = storage.watch("/k/", keep.mod_revision)
    try:
        (got,) = await take(events, 1)
        assert got.key == "/k/d"
    finally:
        await events.aclose()


async def test_compact_in_the_future_fails(storage: Storage) -> None:
    await storage.create("/k/a", b"1")
    with pytest.raises(FutureRevisionError):
        await storage.compact(await storage.current_revision() + 5)


async def test_compaction_after_delete_keeps_the_revision(storage: Storage) -> None:
    a = await storage.create("/k/a", b"1")
    gone = await storage.delete("/k/a", a.mod_revision)
    await storage.compact(gone.mod_revision)
    assert await storage.current_revision() == gone.mod_revision
    again = await storage.create("/k/a", b"2")
    assert again.mod_revision == gone.mod_revision + 1


# ----- concurrency ----------------------------------------------------------------------


async def test_no_lost_update_with_fifty_concurrent_writers(storage: Storage) -> None:
    """Read-modify-write with expected revisions: the count equals the successful updates."""
    await storage.create("/counter", b"0")
    rng = random.Random(7)
    successes = 0

    async def worker() -> None:
        nonlocal successes
        for _ in range(4):
            for _attempt in range(200):
                kv = await storage.get("/counter")
                await asyncio.sleep(rng.random() / 1000)
                try:
                    await storage.update(
                        "/counter", str(int(kv.value) + 1).encode(), kv.mod_revision
                    )
                except ConflictError:
                    continue
                successes += 1
                break

    await asyncio.gather(*(worker() for _ in range(50)))
    final = await storage.get("/counter")
    assert int(final.value) == successes
    assert successes > 0


async def test_progress_request_reports_revisions_without_changes(storage: Storage) -> None:
    base = await storage.current_revision()
    events = storage.watch("/quiet/", base)
    try:
        await storage.create("/quiet/a", b"1")
        other = await storage.create("/busy/b", b"1")
        (first,) = await take(events, 1)
        assert first.key == "/quiet/a"
        events.request_progress()
        (progress,) = await take(events, 1)
        assert progress.type is EventType.PROGRESS
        assert progress.revision >= other.mod_revision
        later = await storage.create("/quiet/c", b"1")
        (nxt,) = await take(events, 1)
        assert (nxt.type, nxt.revision) == (EventType.ADDED, later.mod_revision)
    finally:
        await events.aclose()
