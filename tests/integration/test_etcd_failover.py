"""An etcd member SIGKILLed under write load: the cluster keeps serving and loses nothing.

A writer loop creates keys one after another (a fixed number, under a deadline) while three
more writers add load, and a watch opened before the kill follows the prefix. Midway one member
is killed by PID: the raft leader (a new one must be elected while writes continue), or the
member serving the watch stream (the watch must resume elsewhere from its last revision).

Afterwards: every acknowledged write is readable with the revision it was acknowledged at (also
from the killed member once restarted), the sequential writer's revisions strictly increase,
and the watch saw every acknowledged write exactly once, in revision order. A write that failed
is unknown, not lost: it may or may not have been applied, and the watch may show it; nothing
else may appear.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

import pytest

from kybernetes.storage.errors import UnavailableError
from kybernetes.storage.etcd import EtcdStorage
from kybernetes.storage.interface import EventType, KeyValue, WatchEvent
from kybernetes.testing.etcd import EtcdCluster

pytestmark = [pytest.mark.etcd, pytest.mark.slow]

WRITES = 300  # by the sequential writer
LOAD_WRITERS = 3
LOAD_WRITES = 100  # by each load writer
KILL_AT = 100  # the sequential writer kills the victim right after this write
DEADLINE = 60.0  # seconds for the whole load
WATCHERS = "etcd_debugging_mvcc_watcher_total"  # etcd's gauge of registered watchers


@dataclass
class Ledger:
    """What the writers know: acknowledged writes, and writes with an unknown outcome."""

    acked: dict[str, KeyValue] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    sequential_revisions: list[int] = field(default_factory=list)
    sequential_failures: list[int] = field(default_factory=list)


async def write(storage: EtcdStorage, ledger: Ledger, key: str) -> KeyValue | None:
    try:
        kv = await storage.create(key, key.encode())
    except UnavailableError:
        # The request may or may not have been applied: etcd did not answer.
        ledger.unknown.add(key)
        return None
    ledger.acked[key] = kv
    return kv


async def sequential_writer(storage: EtcdStorage, ledger: Ledger, kill: Callable[[], None]) -> None:
    for i in range(WRITES):
        kv = await write(storage, ledger, f"/load/seq/{i:05d}")
        if kv is None:
            ledger.sequential_failures.append(i)
        else:
            ledger.sequential_revisions.append(kv.mod_revision)
        if i == KILL_AT:
            kill()  # SIGKILL by PID: instant, the load writers are mid-request


async def load_writer(storage: EtcdStorage, ledger: Ledger, n: int) -> None:
    for i in range(LOAD_WRITES):
        await write(storage, ledger, f"/load/bg{n}/{i:05d}")


async def follow(
    storage: EtcdStorage, revision: int, seen: list[WatchEvent], done: asyncio.Event
) -> None:
    """Collect events until ``done``; reopen from the last revision if the watch fails."""
    last = revision
    while not done.is_set():
        events = storage.watch("/load/", last)
        try:
            async for event in events:
                seen.append(event)
                last = event.revision
        except UnavailableError:
            await asyncio.sleep(0.05)
        finally:
            await events.aclose()


async def watch_member(cluster: EtcdCluster) -> int:
    """The member whose gauge shows our (only) watcher, once etcd has registered it."""
    async with asyncio.timeout(10):
        while True:
            for i in range(cluster.size):
                if cluster.is_running(i) and (await cluster.metric(i, WATCHERS) or 0) >= 1:
                    return i
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("victim", ["leader", "watch-member"])
async def test_member_killed_under_write_load(victim: str) -> None:
    async with EtcdCluster(members=3) as cluster:
        storage = await EtcdStorage.connect(cluster.endpoints, prefix="/failover")
        try:
            await run_scenario(cluster, storage, victim)
        finally:
            await storage.close()


async def run_scenario(cluster: EtcdCluster, storage: EtcdStorage, victim: str) -> None:
    ledger = Ledger()
    seen: list[WatchEvent] = []
    watch_done = asyncio.Event()
    base = await storage.current_revision()

    async with asyncio.TaskGroup() as tg:
        watcher = tg.create_task(follow(storage, base, seen, watch_done))
        streaming = await watch_member(cluster)
        leader = await cluster.leader()
        assert leader is not None
        target = leader if victim == "leader" else streaming

        started = time.monotonic()
        async with asyncio.timeout(DEADLINE):
            await asyncio.gather(
                sequential_writer(storage, ledger, lambda: cluster.kill(target)),
                *(load_writer(storage, ledger, n) for n in range(LOAD_WRITERS)),
            )
        elapsed = time.monotonic() - started

        # The watch must catch up with every acknowledged write, then it is stopped.
        newest = max(kv.mod_revision for kv in ledger.acked.values())
        async with asyncio.timeout(30):
            while not seen or seen[-1].revision < newest:
                await asyncio.sleep(0.05)
        if target == streaming:
            # Its stream died with the member; it went on from a live one.
            assert await watch_member(cluster) != target
        watch_done.set()
        watcher.cancel()

    total = WRITES + LOAD_WRITERS * LOAD_WRITES
    print(f"{victim}: {total} writes in {elapsed:.2f}s, {len(ledger.unknown)} unknown outcomes")
    assert not cluster.is_running(target)
    assert len(ledger.acked) + len(ledger.unknown) == total
    # The cluster kept serving: only the writes in flight around the kill may have failed
    # (one or two per writer: etcd times a proposal lost with the old leader out after ~5 s).
    assert all(KILL_AT < i <= KILL_AT + 2 for i in ledger.sequential_failures)
    assert len(ledger.unknown) <= 2 * (1 + LOAD_WRITERS), ledger.unknown

    # Revisions: one per write, strictly increasing in the order the writer saw them.
    revisions = ledger.sequential_revisions
    assert all(a < b for a, b in pairwise(revisions))
    assert len({kv.mod_revision for kv in ledger.acked.values()}) == len(ledger.acked)

    # Every acknowledged write is readable, as acknowledged.
    listed = await storage.list("/load/")
    stored = {kv.key: kv for kv in listed.items}
    for key, kv in ledger.acked.items():
        assert stored[key] == kv
    assert set(stored) <= set(ledger.acked) | ledger.unknown

    # The watch: strictly increasing revisions (so nothing twice), every acked write, in
    # order, and nothing that was not written.
    assert all(a.revision < b.revision for a, b in pairwise(seen))
    assert all(e.type is EventType.ADDED for e in seen)
    by_key = {e.key: e for e in seen}
    assert len(by_key) == len(seen)
    for key, kv in ledger.acked.items():
        assert by_key[key].revision == kv.mod_revision
        assert by_key[key].value == kv.value
    assert set(by_key) <= set(ledger.acked) | ledger.unknown

    # The killed member comes back from its WAL and catches up with everything acknowledged.
    await cluster.restart(target)
    alone = await EtcdStorage.connect([cluster.endpoints[target]], prefix="/failover")
    try:
        again = await alone.list("/load/")
        assert {kv.key: kv for kv in again.items} == stored
    finally:
        await alone.close()
