"""Injected time: every component reads the clock through a ``Clock`` so tests run in zero time.

``RealClock`` is the process's clocks and ``asyncio.sleep``. ``FakeClock`` starts at a given
instant and moves only when a test calls ``advance``; sleepers whose deadline has passed are
woken in deadline order.

Invariants: ``monotonic()`` never goes backwards; on a ``FakeClock`` a ``sleep(d)`` returns only
after ``advance`` has moved the clock by at least ``d`` since the sleep began (a sleep of zero or
less returns at once after yielding to the loop).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time, monotonic time and sleeping, as one injectable object."""

    def now(self) -> float:
        """Seconds since the Unix epoch (wall time: for timestamps written into objects)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for durations and deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` have passed on this clock."""
        ...


class RealClock:
    """The process's clocks."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told to; for tests of timeouts, backoff and expiry."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._seq), future))
        await future

    def advance(self, seconds: float) -> None:
        """Move both clocks forward and wake every sleeper whose deadline has come."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds
        self._mono += seconds
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    @property
    def sleepers(self) -> int:
        """How many sleeps are waiting (cancelled ones included until their deadline)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())
