"""Crash safety of the sqlite backend, tested for real with SIGKILL.

A child process writes as fast as it can (16 concurrent writers sharing group commits) and
prints every acknowledged write and every watch event. It is killed with SIGKILL at a random
moment, twenty times. After each kill the store is reopened and:

* every acknowledged write is there, at the revision that was acknowledged, with its value;
* the log's revisions are exactly 1..current: strictly increasing, no gap, no repeat;
* the next child's watch resumes from the last revision the previous watch printed, and
  over all the runs (plus a final catch-up) every revision is seen exactly once.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kybernetes.storage.errors import KeyNotFoundError
from kybernetes.storage.sqlite import SqliteStorage

CHILD = Path(__file__).with_name("sqlite_crash_writer.py")
KILLS = 20

pytestmark = pytest.mark.slow


def run_child_until_killed(db: Path, tag: str, watch_from: int, rng: random.Random) -> list[str]:
    """Start the writer, SIGKILL it at a random moment after it is ready; return its lines."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(db), tag, str(watch_from)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()
        assert first.startswith("READY"), first
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    lines = rest.split("\n")
    # The last element is "" after a complete line, or a line the kill cut short: drop it.
    return lines[:-1]


async def check_store(db: Path, acked: list[tuple[str, str, int, str]]) -> int:
    """Check acknowledged writes and the log's revisions; return the current revision."""
    store = await SqliteStorage.open(db)
    try:
        current = await store.current_revision()
        for op, key, revision, value in acked:
            if op == "d":
                with pytest.raises(KeyNotFoundError):
                    await store.get(key, revision=revision)
                continue
            kv = await store.get(key, revision=revision)
            assert kv.mod_revision == revision, (key, revision)
            assert kv.value == value.encode()
        revisions = []
        history = store.watch("/", 0)
        try:
            async with asyncio.timeout(30):
                while len(revisions) < current:
                    revisions.append((await anext(history)).revision)
        finally:
            await history.aclose()
        assert revisions == list(range(1, current + 1))
        return current
    finally:
        await store.close()


async def final_events(db: Path, after: int) -> list[int]:
    store = await SqliteStorage.open(db)
    try:
        current = await store.current_revision()
        got: list[int] = []
        events = store.watch("/", after)
        try:
            async with asyncio.timeout(30):
                while after + len(got) < current:
                    got.append((await anext(events)).revision)
        finally:
            await events.aclose()
        return got
    finally:
        await store.close()


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    rng = random.Random(int(os.environ.get("KYB_CRASH_SEED", "2")))
    seen_events: list[int] = []
    last_seen = 0
    total_acked = 0
    for run in range(KILLS):
        lines = run_child_until_killed(db, f"r{run}", last_seen, rng)
        acked: list[tuple[str, str, int, str]] = []
        for line in lines:
            parts = line.split()
            if len(parts) == 5 and parts[0] == "W":
                acked.append((parts[1], parts[2], int(parts[3]), parts[4]))
            elif len(parts) == 4 and parts[0] == "E":
                seen_events.append(int(parts[1]))
        if seen_events:
            last_seen = seen_events[-1]
        total_acked += len(acked)
        asyncio.run(check_store(db, acked))
    seen_events += asyncio.run(final_events(db, last_seen))
    assert total_acked > KILLS * 10, "the child should get real work done before each kill"
    assert seen_events == list(range(1, len(seen_events) + 1))
