"""The controllers' work queue: keys, not events; one worker per key at a time; backoff retries.

Semantics are client-go's ``workqueue``:

- ``add(key)`` while the key waits is a no-op (adds coalesce); while a worker holds the key, it
  is marked dirty and queued again when the worker calls ``done(key)``. So a key is never
  processed by two workers at once, and a change that arrives mid-sync is never lost.
- ``add_after(key, delay)`` queues the key later (the earliest pending deadline wins);
  ``add_rate_limited(key)`` uses the rate limiter's delay for that key (per-key exponential
  backoff, 5 ms doubling to 1000 s, and an overall token bucket of 10/s, burst 100, as
  client-go's default controller limiter); ``forget(key)`` resets its backoff after a success.
- ``shutdown()`` makes ``get()`` raise ``ShutDown`` once the queue is drained.

Invariants: a key is in at most one of {waiting, processing-and-clean}; FIFO order among waiting
keys; depth, adds, retries, the time keys wait and the time workers hold them are exported as
Prometheus metrics per queue name (client-go's names).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Final, Protocol

from prometheus_client import Counter, Gauge, Histogram

from kybernetes.util.clock import Clock, RealClock

QUEUE_DEPTH: Final = Gauge("workqueue_depth", "Current depth of the work queue.", ["name"])
QUEUE_ADDS: Final = Counter("workqueue_adds_total", "Keys added to the work queue.", ["name"])
QUEUE_RETRIES: Final = Counter(
    "workqueue_retries_total", "Keys re-queued with rate limiting.", ["name"]
)
_BUCKETS: Final = tuple(1e-8 * 10**i for i in range(10))  # client-go's: 10 ns to 10 s
QUEUE_DURATION: Final = Histogram(
    "workqueue_queue_duration_seconds",
    "How long in seconds an item stays in workqueue before being requested.",
    ["name"],
    buckets=_BUCKETS,
)
WORK_DURATION: Final = Histogram(
    "workqueue_work_duration_seconds",
    "How long in seconds processing an item from workqueue takes.",
    ["name"],
    buckets=_BUCKETS,
)


class ShutDown(Exception):
    """The queue was shut down and has nothing left to hand out."""


class RateLimiter(Protocol):
    def when(self, key: str) -> float:
        """Seconds to wait before ``key`` may be processed again (records one failure)."""
        ...

    def forget(self, key: str) -> None: ...

    def num_requeues(self, key: str) -> int: ...


class ExponentialRateLimiter:
    """``base * 2**failures`` per key, capped at ``maximum``."""

    def __init__(self, base: float = 0.005, maximum: float = 1000.0) -> None:
        self.base = base
        self.maximum = maximum
        self._failures: dict[str, int] = {}

    def when(self, key: str) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        if failures > 60:  # 2**60 * base is past any cap; avoid float overflow
            return self.maximum
        return min(self.base * float(2**failures), self.maximum)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: str) -> int:
        return self._failures.get(key, 0)


class BucketRateLimiter:
    """A token bucket shared by all keys: ``qps`` tokens a second, ``burst`` at most."""

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock | None = None) -> None:
        self.qps = qps
        self.burst = burst
        self.clock: Clock = clock or RealClock()
        self._tokens = float(burst)
        self._last = self.clock.monotonic()

    def when(self, key: str) -> float:
        now = self.clock.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, key: str) -> None:
        return None

    def num_requeues(self, key: str) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay any of several limiters asks for."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, key: str) -> float:
        return max(limiter.when(key) for limiter in self.limiters)

    def forget(self, key: str) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)


def default_controller_rate_limiter(clock: Clock | None = None) -> RateLimiter:
    return MaxOfRateLimiter(ExponentialRateLimiter(), BucketRateLimiter(clock=clock))


class WorkQueue:
    """A rate-limited, delaying, deduplicating FIFO of string keys."""

    def __init__(
        self,
        name: str,
        *,
        clock: Clock | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self.name = name
        self.clock: Clock = clock or RealClock()
        self.rate_limiter = rate_limiter or default_controller_rate_limiter(self.clock)
        self._queue: collections.deque[str] = collections.deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiting: dict[str, float] = {}  # key -> monotonic deadline of its add_after
        self._timers: set[asyncio.Task[None]] = set()
        self._ready = asyncio.Event()
        self._shutting_down = False
        self._depth = QUEUE_DEPTH.labels(name)
        self._adds = QUEUE_ADDS.labels(name)
        self._retries = QUEUE_RETRIES.labels(name)
        self._queue_duration = QUEUE_DURATION.labels(name)
        self._work_duration = WORK_DURATION.labels(name)
        self._added_at: dict[str, float] = {}  # dirty key -> when it was added
        self._started_at: dict[str, float] = {}  # key being processed -> when it was handed out

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, key: str) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._adds.inc()
        self._dirty.add(key)
        self._added_at[key] = self.clock.monotonic()
        if key in self._processing:
            return
        self._queue.append(key)
        self._depth.set(len(self._queue))
        self._ready.set()

    def add_after(self, key: str, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        deadline = self.clock.monotonic() + delay
        current = self._waiting.get(key)
        if current is not None and current <= deadline:
            return
        self._waiting[key] = deadline
        task = asyncio.get_running_loop().create_task(self._fire(key, deadline, delay))
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _fire(self, key: str, deadline: float, delay: float) -> None:
        await self.clock.sleep(delay)
        if self._waiting.get(key) == deadline:
            del self._waiting[key]
            self.add(key)

    def add_rate_limited(self, key: str) -> None:
        self._retries.inc()
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: str) -> None:
        self.rate_limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return self.rate_limiter.num_requeues(key)

    async def get(self) -> str:
        """The next key; the caller owns it until ``done(key)``."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            self._ready.clear()
            await self._ready.wait()
        key = self._queue.popleft()
        self._depth.set(len(self._queue))
        self._processing.add(key)
        self._dirty.discard(key)
        now = self.clock.monotonic()
        self._queue_duration.observe(now - self._added_at.pop(key, now))
        self._started_at[key] = now
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        started = self._started_at.pop(key, None)
        if started is not None:
            self._work_duration.observe(self.clock.monotonic() - started)
        if key in self._dirty:
            self._queue.append(key)
            self._depth.set(len(self._queue))
            self._ready.set()

    def shutdown(self) -> None:
        self._shutting_down = True
        for task in list(self._timers):
            task.cancel()
        self._waiting.clear()
        self._ready.set()
