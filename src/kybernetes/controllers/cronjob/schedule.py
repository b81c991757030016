"""Cron schedules and their next activation time, with robfig/cron v3 semantics.

``parse(spec, zone)`` reads what ``cron.ParseStandard`` reads (five fields, names, ranges, steps,
lists, ``?``, the ``@hourly``-style descriptors, ``@every <duration>`` and a legacy ``TZ=`` /
``CRON_TZ=`` prefix) into a ``Schedule``; ``Schedule.next(t)`` is the first activation strictly
after ``t``. The CronJob controller computes every scheduling decision with it.

``next`` walks the fields the way robfig does: it works on wall-clock fields in the schedule's
zone and moves through absolute time, resolving a wall time that a DST change skips or repeats
as Go's ``time.Date`` does. So the upstream quirks hold here too: a daily ``30 2 * * *`` in
America/New_York does not run on the spring-forward day, and ``30 1 * * *`` runs twice on the
fall-back day.

Invariant: ``next(t) > t`` whenever it is not ``None`` (``None`` when nothing matches within
five years, e.g. ``0 0 30 2 *``).
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

__all__ = ["Schedule", "ScheduleError", "parse", "zone_of"]

_STAR: Final = 1 << 63
_MONTHS: Final = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS: Final = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_BOUNDS: Final[tuple[tuple[int, int, dict[str, int]], ...]] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, _MONTHS),
    (0, 6, _DAYS),
)
# Descriptor -> (minute, hour, day of month, month, day of week) as five-field text.
_DESCRIPTORS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_EPOCH: Final = datetime(1970, 1, 1)


class ScheduleError(ValueError):
    """The schedule text does not parse (the message is the parser's reason)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """Bit sets per field (bit n set: value n matches; ``_STAR`` marks ``*``/``?``)."""

    minute: int
    hour: int
    dom: int
    month: int
    dow: int
    zone: tzinfo
    every: int = 0  # seconds, for ``@every``; the bit sets are unused then

    def next(self, after: datetime) -> datetime | None:
        """The first activation strictly after ``after`` (an aware datetime), in UTC."""
        if self.every:
            whole = after.replace(microsecond=0)
            return (whole + timedelta(seconds=self.every)).astimezone(UTC)
        found = self._next_in_zone(after)
        return found.astimezone(UTC) if found is not None else None

    def _next_in_zone(self, after: datetime) -> datetime | None:
        zone = self.zone
        t = _at(int(after.timestamp()) + 1, zone)  # the upcoming whole second
        added = False
        year_limit = t.year + 5
        while t.year <= year_limit:
            while not (1 << t.month) & self.month:
                if not added:
                    added = True
                    t = _go_date(t.year, t.month, 1, 0, 0, zone)
                t = _go_date(t.year, t.month + 1, t.day, t.hour, t.minute, zone)
                if t.month == 1:
                    break
            else:
                while not self._day_matches(t):
                    if not added:
                        added = True
                        t = _go_date(t.year, t.month, t.day, 0, 0, zone)
                    t = _go_date(t.year, t.month, t.day + 1, t.hour, t.minute, zone)
                    if t.hour != 0:  # midnight moved by DST: go back (or on) to it
                        shift = 24 - t.hour if t.hour > 12 else -t.hour
                        t = _add(t, shift * 3600)
                    if t.day == 1:
                        break
                else:
                    while not (1 << t.hour) & self.hour:
                        if not added:
                            added = True
                            t = _go_date(t.year, t.month, t.day, t.hour, 0, zone)
                        t = _add(t, 3600)
                        if t.hour == 0:
                            break
                    else:
                        while not (1 << t.minute) & self.minute:
                            if not added:
                                added = True
                                t = _at(int(t.timestamp()) // 60 * 60, zone)
                            t = _add(t, 60)
                            if t.minute == 0:
                                break
                        else:
                            if t.second == 0:
                                return t
                            # Standard schedules fire at second 0: on to the next minute.
                            added = True
                            t = _at(int(t.timestamp()) // 60 * 60 + 60, zone)
        return None

    def _day_matches(self, t: datetime) -> bool:
        dom = bool((1 << t.day) & self.dom)
        dow = bool((1 << ((t.weekday() + 1) % 7)) & self.dow)
        if self.dom & _STAR or self.dow & _STAR:
            return dom and dow
        return dom or dow


def _at(timestamp: int, zone: tzinfo) -> datetime:
    return datetime.fromtimestamp(timestamp, zone)


def _add(t: datetime, seconds: int) -> datetime:
    """Absolute-time addition (aware ``+`` in Python is wall-clock arithmetic)."""
    return _at(int(t.timestamp()) + seconds, t.tzinfo or UTC)


def _offset(timestamp: int, zone: tzinfo) -> int:
    delta = _at(timestamp, zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _go_date(year: int, month: int, day: int, hour: int, minute: int, zone: tzinfo) -> datetime:
    """Go's ``time.Date``: fields may overflow (normalised), and a wall time that does not
    exist or exists twice resolves with the offset Go's two-step lookup finds."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    naive = datetime(year, month, 1) + timedelta(days=day - 1, hours=hour, minutes=minute)
    unix = int((naive - _EPOCH).total_seconds())
    first = _offset(unix, zone)
    return _at(unix - _offset(unix - first, zone), zone)


def _bits(expr: str, low: int, high: int, names: dict[str, int]) -> int:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    extra = 0
    if low_high[0] in ("*", "?"):
        start, end, extra = low, high, _STAR
    else:
        start = _number(low_high[0], names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _number(low_high[1], names)
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    if len(range_and_step) == 2:
        step = _number(range_and_step[1], {})
        if len(low_high) == 1 and not extra:
            end = high
        if step > 1:
            extra = 0
    elif len(range_and_step) == 1:
        step = 1
    else:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < low or end > high or start > end or step == 0:
        raise ScheduleError(f"invalid range {expr}: allowed {low}-{high}")
    bits = 0
    for value in range(start, end + 1, step):
        bits |= 1 << value
    return bits | extra


def _number(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ScheduleError(f"failed to parse int from {text}")
    return int(text)


def _duration_seconds(text: str) -> int:
    parts = re.findall(r"([0-9.]+)([a-zµμ]+)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ScheduleError(f"failed to parse duration @every {text}")
    total = 0.0
    for number, unit in parts:
        if unit not in _DURATION_UNITS:
            raise ScheduleError(f"failed to parse duration @every {text}")
        total += float(number) * _DURATION_UNITS[unit]
    return max(1, int(total))  # robfig: at least one second, whole seconds


def zone_of(name: str | None) -> tzinfo:
    """The zone ``spec.timeZone`` names (UTC when unset); ``ScheduleError`` if unknown."""
    if not name or name == "UTC":
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError(f"unknown time zone {name}") from exc


def parse(spec: str, zone: str | None = None) -> Schedule:
    """``cron.ParseStandard`` of ``spec`` in ``zone`` (a ``TZ=`` prefix in ``spec`` wins)."""
    spec = spec.strip()
    if spec.startswith(("TZ=", "CRON_TZ=")):
        head, _, spec = spec.partition(" ")
        zone = head.split("=", 1)[1]
        spec = spec.strip()
    location = zone_of(zone)
    if not spec:
        raise ScheduleError("empty spec string")
    if spec.startswith("@every "):
        return Schedule(0, 0, 0, 0, 0, location, _duration_seconds(spec[len("@every ") :]))
    if spec.startswith("@"):
        if spec not in _DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: {spec}")
    bits = []
    for text, (low, high, names) in zip(fields, _BOUNDS, strict=True):
        value = 0
        for expr in text.split(","):
            value |= _bits(expr, low, high, names)
        bits.append(value)
    return Schedule(bits[0], bits[1], bits[2], bits[3], bits[4], location)
