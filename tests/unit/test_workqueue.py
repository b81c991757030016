"""The work queue: coalescing, per-key exclusivity, delays and backoff on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.client.workqueue import (
    BucketRateLimiter,
    ExponentialRateLimiter,
    ShutDown,
    WorkQueue,
)
from kybernetes.util.clock import FakeClock


async def test_adds_coalesce_and_order_is_fifo() -> None:
    queue = WorkQueue("t-fifo", clock=FakeClock())
    for key in ("a", "b", "a", "c", "b"):
        queue.add(key)
    assert len(queue) == 3
    assert [await queue.get() for _ in range(3)] == ["a", "b", "c"]


async def test_key_added_while_processing_comes_back_after_done_only() -> None:
    queue = WorkQueue("t-exclusive", clock=FakeClock())
    queue.add("a")
    assert await queue.get() == "a"
    queue.add("a")
    queue.add("a")
    assert len(queue) == 0  # held by a worker: never handed to a second one
    queue.done("a")
    assert len(queue) == 1
    assert await queue.get() == "a"
    queue.done("a")
    assert len(queue) == 0


async def test_get_waits_for_an_add() -> None:
    queue = WorkQueue("t-wait", clock=FakeClock())
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    queue.add("x")
    assert await asyncio.wait_for(getter, 1) == "x"


async def test_add_after_fires_on_the_clock_and_earliest_deadline_wins() -> None:
    clock = FakeClock()
    queue = WorkQueue("t-after", clock=clock)
    queue.add_after("a", 10)
    queue.add_after("a", 3)
    await asyncio.sleep(0)
    clock.advance(2.9)
    await asyncio.sleep(0)
    assert len(queue) == 0
    clock.advance(0.2)
    await asyncio.sleep(0)
    assert len(queue) == 1
    assert await queue.get() == "a"
    queue.done("a")
    clock.advance(10)
    await asyncio.sleep(0)
    assert len(queue) == 0  # the later timer was superseded


def test_exponential_backoff_doubles_and_forget_resets() -> None:
    limiter = ExponentialRateLimiter(base=0.005, maximum=1.0)
    delays = [limiter.when("k") for _ in range(10)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[-1] == 1.0
    assert limiter.num_requeues("k") == 10
    limiter.forget("k")
    assert limiter.when("k") == 0.005


def test_bucket_allows_burst_then_paces() -> None:
    clock = FakeClock()
    bucket = BucketRateLimiter(qps=10, burst=3, clock=clock)
    assert [bucket.when("x") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.when("x") == pytest.approx(0.1)
    clock.advance(1)
    assert bucket.when("x") == 0.0


async def test_rate_limited_requeue_uses_backoff() -> None:
    clock = FakeClock()
    queue = WorkQueue("t-rl", clock=clock, rate_limiter=ExponentialRateLimiter(base=1.0))
    queue.add_rate_limited("k")
    queue.add_rate_limited("k")  # a later deadline (2 s) never replaces the pending 1 s one
    await asyncio.sleep(0)
    clock.advance(1)
    await asyncio.sleep(0)
    assert await queue.get() == "k"
    assert queue.num_requeues("k") == 2
    queue.forget("k")
    assert queue.num_requeues("k") == 0


async def test_shutdown_drains_then_raises() -> None:
    queue = WorkQueue("t-shutdown", clock=FakeClock())
    queue.add("a")
    queue.shutdown()
    queue.add("b")  # refused after shutdown
    assert await queue.get() == "a"
    with pytest.raises(ShutDown):
        await queue.get()
