"""Cron schedules as CronJobs accept them: ``github.com/robfig/cron/v3``'s ``ParseStandard``.

``parse_error(schedule)`` returns the parser's error text (the ``detail`` of the field error
upstream reports) or ``None`` for a valid schedule. Standard schedules have five fields
(minute, hour, day of month, month, day of week) with ``*``, ``?``, ranges ``a-b``, steps
``/n``, lists ``a,b`` and month/weekday names; descriptors ``@yearly``, ``@annually``,
``@monthly``, ``@weekly``, ``@daily``, ``@midnight``, ``@hourly`` and ``@every <duration>`` are
accepted. A ``TZ=``/``CRON_TZ=`` prefix is parsed here as robfig does; the CronJob validator
rejects it separately in favour of ``spec.timeZone``.
"""

from __future__ import annotations

import re
import zoneinfo

__all__ = ["is_known_time_zone", "parse_error"]

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
# (min, max, names) per field: minute, hour, day of month, month, day of week.
_BOUNDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, _MONTHS),
    (0, 6, _DAYS),
)
_DESCRIPTORS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_INT64_MAX = 2**63 - 1


class _CronError(Exception):
    pass


def _atoi(text: str) -> int:
    """Go's ``strconv.Atoi`` with its error wording."""
    if re.fullmatch(r"[+-]?[0-9]+", text) is None:
        raise _CronError(
            f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
        )
    value = int(text)
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise _CronError(
            f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": value out of range'
        )
    if value < 0:
        raise _CronError(f"negative number ({value}) not allowed: {text}")
    return value


def _int_or_name(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    return _atoi(text)


def _range(expr: str, low: int, high: int, names: dict[str, int]) -> None:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    if low_high[0] in ("*", "?"):
        start, end = low, high
    else:
        start = _int_or_name(low_high[0], names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], names)
        else:
            raise _CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if single:
            end = high
    else:
        raise _CronError(f"too many slashes: {expr}")
    if start < low:
        raise _CronError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise _CronError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise _CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise _CronError(f"step of range should be a positive number: {expr}")


def _duration_error(text: str) -> str | None:
    """What Go's ``time.ParseDuration`` says about ``text``, or ``None`` when it parses."""
    quoted = f'"{text}"'
    rest = text[1:] if text[:1] in ("+", "-") else text
    if rest == "0":
        return None
    if not rest:
        return f"time: invalid duration {quoted}"
    while rest:
        number = re.match(r"[0-9]*(?:\.[0-9]*)?", rest)
        digits = number.group(0) if number else ""
        if digits in ("", "."):
            return f"time: invalid duration {quoted}"
        rest = rest[len(digits) :]
        unit = re.match(r"[^0-9.]*", rest)
        unit_text = unit.group(0) if unit else ""
        if not unit_text:
            return f"time: missing unit in duration {quoted}"
        if unit_text not in ("ns", "us", "µs", "μs", "ms", "s", "m", "h"):
            return f'time: unknown unit "{unit_text}" in duration {quoted}'
        rest = rest[len(unit_text) :]
    return None


def is_known_time_zone(name: str) -> bool:
    """Whether Go's ``time.LoadLocation`` knows ``name`` (``UTC`` always; IANA names)."""
    if name in ("", "UTC"):
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def parse_error(schedule: str) -> str | None:
    """The error ``cron.ParseStandard(schedule)`` returns, or ``None``."""
    try:
        _parse(schedule)
    except _CronError as exc:
        return str(exc)
    return None


def _parse(spec: str) -> None:
    if not spec:
        raise _CronError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        location = spec[spec.index("=") + 1 : space if space >= 0 else len(spec)]
        if not is_known_time_zone(location):
            raise _CronError(f"provided bad location {location}: unknown time zone {location}")
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return
        if spec.startswith("@every "):
            problem = _duration_error(spec[len("@every ") :])
            if problem:
                raise _CronError(f"failed to parse duration {spec}: {problem}")
            return
        raise _CronError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != 5:
        raise _CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    for field, (low, high, names) in zip(fields, _BOUNDS, strict=True):
        for expr in (part for part in field.split(",") if part):
            _range(expr, low, high, names)
