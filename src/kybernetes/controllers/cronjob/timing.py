"""When a CronJob should have started a Job, and when to look at it again (pure functions).

These are the upstream controller's scheduling rules over a parsed ``Schedule``:

- ``most_recent(...)``: the latest activation in ``(earliest, now]``, where ``earliest`` is
  ``status.lastScheduleTime`` (or the creation time) moved up to ``now - startingDeadlineSeconds``
  when that is later; also how many activations were missed. Counting is approximate past the
  second one, exactly as upstream (interval between the first two activations); more than
  ``MANY_MISSED`` (100) missed activations is reported as a warning, never enumerated.
- ``requeue_after(...)``: seconds until the activation after the most recent one, plus 100 ms
  of slack for clock skew between machines.

Invariant: a result never lies before ``earliest``; with ``startingDeadlineSeconds`` no
activation older than the deadline is ever returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from kybernetes.controllers.cronjob.schedule import Schedule

__all__ = ["MANY_MISSED", "InvalidSchedule", "Missed", "most_recent", "requeue_after"]

MANY_MISSED: Final = 100
_SLACK: Final = 0.1


class InvalidSchedule(ValueError):
    """The schedule parses but its activations are less than a second apart (or never come)."""


@dataclass(frozen=True, slots=True)
class Missed:
    """The latest activation that is due (``None``: none yet) and how many were missed."""

    time: datetime | None
    count: int


def most_recent(
    schedule: Schedule,
    earliest: datetime,
    now: datetime,
    starting_deadline: int | None = None,
) -> Missed:
    """The latest activation in ``(earliest, now]`` (see the module docstring)."""
    if starting_deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=starting_deadline))
    first = schedule.next(earliest)
    if first is not None and now < first:
        return Missed(None, 0)
    second = schedule.next(first) if first is not None else None
    if first is not None and second is not None and now < second:
        return Missed(first, 1)
    # A schedule that never fires (``0 0 30 2 *``) reads as activations zero seconds apart.
    interval = round((second - first).total_seconds()) if first and second else 0
    if first is None or interval < 1:
        raise InvalidSchedule("time difference between two schedules is less than 1 second")
    missed = int((now - first).total_seconds()) // interval + 1
    # Jump close to ``now`` arithmetically, then let the schedule find the exact activations.
    start = first + timedelta(seconds=(missed - 2) * interval)
    latest = first
    t = schedule.next(start)
    while t is not None and t <= now:
        latest = t
        t = schedule.next(t)
    return Missed(latest, missed)


def requeue_after(schedule: Schedule, earliest: datetime, now: datetime) -> float | None:
    """Seconds from ``now`` until the next activation is due, plus slack (``None``: never)."""
    try:
        recent = most_recent(schedule, earliest, now).time or earliest
    except InvalidSchedule:
        recent = now
    upcoming = schedule.next(recent)
    if upcoming is None:
        return None
    return (upcoming - now).total_seconds() + _SLACK
