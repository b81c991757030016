"""Reading a container's CRI log file the way ``kubectl logs`` wants it.

A CRI log record is one line: ``<RFC3339Nano> stdout|stderr F|P <text>``; ``P`` marks part
of a longer line, ``F`` its end. ``LogOptions`` are the kubelet's query parameters
(``tailLines``, ``sinceSeconds``/``sinceTime``, ``timestamps``, ``limitBytes``, ``follow``);
``stream_log`` writes the container's output, record by record, and when following waits for
new records, across a rotation of the file (the shim renames the full file and starts a new
one), until ``running()`` says the container has stopped and nothing is left to read.

Invariants: only whole records are ever written (a half-written last line waits for its
end); no more than ``limit_bytes`` bytes go out; with ``timestamps`` each output line starts
with its timestamp in Go's RFC3339Nano form (trailing zeros of the fraction dropped), once
per line, not per part.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

POLL_SECONDS = 0.1
_BLOCK = 64 * 1024
_FRACTION = re.compile(rb"\.(\d+)Z$")

Writer = Callable[[bytes], Awaitable[None]]


class LogOptionError(ValueError):
    """A query parameter that does not parse (the server answers 400)."""


@dataclass(frozen=True, slots=True)
class LogOptions:
    follow: bool = False
    previous: bool = False
    tail_lines: int | None = None
    since: float | None = None  # unix seconds; records before it are skipped
    timestamps: bool = False
    limit_bytes: int | None = None


def _bool(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None:
        return False
    if value in ("", "1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise LogOptionError(f"invalid boolean value {value!r} for parameter {name!r}")


def _int(query: Mapping[str, str], name: str, minimum: int) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise LogOptionError(f"invalid value {value!r} for parameter {name!r}") from None
    if number < minimum:
        raise LogOptionError(f"{name}: Invalid value: {number}: must be >= {minimum}")
    return number


def parse_time(text: str) -> float:
    """An RFC 3339 time (``2026-01-02T03:04:05.123456789Z``) as unix seconds."""
    value = text.strip()
    fraction = 0.0
    match = re.match(r"^(.*?)(\.\d+)?(Z|[+-]\d\d:\d\d)$", value)
    if match is None:
        raise LogOptionError(f"invalid time {text!r}")
    base, frac, zone = match.groups()
    if frac:
        fraction = float(frac)
    try:
        parsed = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        raise LogOptionError(f"invalid time {text!r}") from None
    return parsed.timestamp() + fraction


def parse_options(query: Mapping[str, str], now: float) -> LogOptions:
    since: float | None = None
    seconds = _int(query, "sinceSeconds", 1)
    since_time = query.get("sinceTime")
    if seconds is not None and since_time:
        raise LogOptionError("at most one of sinceTime or sinceSeconds may be specified")
    if seconds is not None:
        since = now - seconds
    elif since_time:
        since = parse_time(since_time)
    return LogOptions(
        follow=_bool(query, "follow"),
        previous=_bool(query, "previous"),
        tail_lines=_int(query, "tailLines", 0),
        since=since,
        timestamps=_bool(query, "timestamps"),
        limit_bytes=_int(query, "limitBytes", 1),
    )


def go_timestamp(raw: bytes) -> bytes:
    """``...05.120000000Z`` -> ``...05.12Z``: Go's RFC3339Nano drops trailing zeros."""
    match = _FRACTION.search(raw)
    if match is None:
        return raw
    digits = match.group(1).rstrip(b"0")
    return raw[: match.start()] + (b"." + digits if digits else b"") + b"Z"


class _Formatter:
    """CRI records -> output bytes, tracking whether the next record starts a new line."""

    def __init__(self, options: LogOptions) -> None:
        self.options = options
        self.at_line_start = True
        self.left = options.limit_bytes

    @property
    def exhausted(self) -> bool:
        return self.left is not None and self.left <= 0

    def format(self, record: bytes) -> bytes:
        parts = record.split(b" ", 3)
        if len(parts) < 3:
            return b""
        stamp, _stream, tag = parts[0], parts[1], parts[2]
        text = parts[3] if len(parts) > 3 else b""
        if self.options.since is not None and self.at_line_start:
            try:
                if parse_time(stamp.decode()) < self.options.since:
                    return b""
            except LogOptionError:
                return b""
        out = text + (b"\n" if tag != b"P" else b"")
        if self.options.timestamps and self.at_line_start:
            out = go_timestamp(stamp) + b" " + out
        self.at_line_start = tag != b"P"
        if self.left is not None:
            out = out[: self.left]
            self.left -= len(out)
        return out


def _tail_offset(fd: int, lines: int) -> int:
    """The offset of the last ``lines`` records of the file (0 when it has fewer)."""
    size = os.fstat(fd).st_size
    if lines <= 0:
        return size
    pos, seen = size, 0
    # The last record ends with a newline; it does not start one.
    skip_last = True
    while pos > 0:
        start = max(0, pos - _BLOCK)
        block = os.pread(fd, pos - start, start)
        index = len(block)
        while True:
            index = block.rfind(b"\n", 0, index)
            if index < 0:
                break
            if skip_last and start + index == size - 1:
                skip_last = False
                continue
            seen += 1
            if seen == lines:
                return start + index + 1
        pos = start
    return 0


async def stream_log(
    path: str,
    options: LogOptions,
    write: Writer,
    *,
    running: Callable[[], Awaitable[bool]] | None = None,
    poll: float = POLL_SECONDS,
) -> None:
    """Write the log at ``path``; with ``follow``, keep writing until ``running()`` is false."""
    formatter = _Formatter(options)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        offset = _tail_offset(fd, options.tail_lines) if options.tail_lines is not None else 0
        pending = b""
        while True:
            chunk = os.pread(fd, _BLOCK, offset)
            if chunk:
                offset += len(chunk)
                pending += chunk
                records = pending.split(b"\n")
                pending = records.pop()
                out = b"".join(formatter.format(r) for r in records if r)
                if out:
                    await write(out)
                if formatter.exhausted:
                    return
                continue
            if not options.follow:
                return
            # At the end of what is written: a rotation gives the path a new file.
            replaced = _replaced(path, fd, offset)
            if replaced is not None:
                os.close(fd)
                fd, offset, pending = replaced, 0, b""
                continue
            if running is None or not await running():
                # one last look: the container may have written just before stopping
                if os.fstat(fd).st_size > offset:
                    continue
                return
            await asyncio.sleep(poll)
    finally:
        os.close(fd)


def _replaced(path: str, fd: int, offset: int) -> int | None:
    """A descriptor of the file now at ``path`` if it is not the one ``fd`` reads and ``fd``
    has been read to its end (``offset``).

    The shim writes the old file's last record before it renames it, so once the rename is
    seen, the old file's size is final: whatever it got after our last read comes first.
    """
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return None
    mine = os.fstat(fd)
    if (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
        return None
    if mine.st_size > offset:
        return None  # read the rest of the old file first
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None


def now() -> float:
    return datetime.now(UTC).timestamp()


async def follow_records(
    path: str,
    write: Callable[[bytes, bytes], Awaitable[None]],
    running: Callable[[], Awaitable[bool]],
    poll: float = POLL_SECONDS,
) -> None:
    """From the current end of the log: ``write(stream, text)`` for each new record, while
    the container runs (``kubectl attach``: what it writes from now on, stream by stream)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        offset, pending = os.fstat(fd).st_size, b""
        while True:
            chunk = os.pread(fd, _BLOCK, offset)
            if chunk:
                offset += len(chunk)
                pending += chunk
                records = pending.split(b"\n")
                pending = records.pop()
                for record in records:
                    parts = record.split(b" ", 3)
                    if len(parts) >= 3:
                        text = parts[3] if len(parts) > 3 else b""
                        await write(parts[1], text + (b"" if parts[2] == b"P" else b"\n"))
                continue
            replaced = _replaced(path, fd, offset)
            if replaced is not None:
                os.close(fd)
                fd, offset, pending = replaced, 0, b""
                continue
            if not await running():
                return
            await asyncio.sleep(poll)
    finally:
        os.close(fd)
