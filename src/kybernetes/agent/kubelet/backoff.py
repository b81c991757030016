"""Exponential back-off keyed by an id, with client-go's ``flowcontrol.Backoff`` semantics.

The kubelet uses one for container restarts (CrashLoopBackOff) and one for image pulls
(ImagePullBackOff), both 10 s doubling to 5 min. ``next(key, event_time)`` records a failure at
``event_time`` (a container's finish time, a failed pull): the first one, or one more than twice
the maximum after the previous, starts at ``initial``; every other doubles the delay up to
``maximum``. ``in_backoff_since(key, event_time)`` says whether ``now`` is still within the
current delay counted from ``event_time``.

Invariant: pure state plus an injected clock; entries that expired (no failure for twice the
maximum) are dropped by ``gc``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kybernetes.util.clock import Clock

INITIAL: Final = 10.0
MAXIMUM: Final = 300.0


@dataclass(slots=True)
class _Entry:
    delay: float
    last_update: float


class Backoff:
    """Per-key exponential delays (seconds), times are wall-clock seconds from ``clock.now``."""

    def __init__(self, clock: Clock, initial: float = INITIAL, maximum: float = MAXIMUM) -> None:
        self.clock = clock
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, _Entry] = {}

    def _expired(self, event_time: float, entry: _Entry) -> bool:
        return event_time - entry.last_update > 2 * self.maximum

    def get(self, key: str) -> float:
        """The current delay of ``key`` (0 when it has none)."""
        entry = self._entries.get(key)
        return entry.delay if entry is not None else 0.0

    def next(self, key: str, event_time: float) -> float:
        """Record a failure at ``event_time``; returns the delay now in force."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            entry = self._entries[key] = _Entry(self.initial, event_time)
        else:
            entry.delay = min(entry.delay * 2, self.maximum)
            entry.last_update = event_time
        return entry.delay

    def in_backoff_since(self, key: str, event_time: float) -> bool:
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return False
        return self.clock.now() - event_time < entry.delay

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds until the delay counted from ``event_time`` is over (0 when it is)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, event_time + entry.delay - self.clock.now())

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def gc(self) -> None:
        now = self.clock.now()
        for key in [k for k, e in self._entries.items() if self._expired(now, e)]:
            del self._entries[key]


def go_duration(seconds: float) -> str:
    """``seconds`` as Go's ``time.Duration.String`` prints it (``10s``, ``1m20s``, ``5m0s``,
    ``1.234s``, ``250ms``); callers truncate to the precision they want first."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    nanos = round(abs(seconds) * 1e9)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + _decimal(nanos, size) + unit
    hours, rest = divmod(nanos, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    out = sign
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + _decimal(rest, 10**9) + "s"


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    width = len(str(unit)) - 1
    return f"{whole}." + f"{frac:0{width}d}".rstrip("0")
