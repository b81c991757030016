"""The CRI log reader's options and the SPDY/3 codec."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from kybernetes.agent.server import logs, spdy

RECORDS = (
    b"2026-01-02T03:04:05.120000000Z stdout F one\n"
    b"2026-01-02T03:04:06.000000000Z stderr P par\n"
    b"2026-01-02T03:04:06.500000000Z stderr F tial\n"
    b"2026-01-02T03:04:07.000000001Z stdout F three\n"
)


async def read(path: Path, options: logs.LogOptions) -> bytes:
    out = bytearray()

    async def write(data: bytes) -> None:
        out.extend(data)

    await logs.stream_log(str(path), options, write)
    return bytes(out)


async def test_log_options(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(RECORDS)
    assert await read(path, logs.LogOptions()) == b"one\npartial\nthree\n"
    assert await read(path, logs.LogOptions(tail_lines=1)) == b"three\n"
    assert await read(path, logs.LogOptions(tail_lines=0)) == b""
    assert await read(path, logs.LogOptions(limit_bytes=5)) == b"one\np"
    since = logs.parse_time("2026-01-02T03:04:06Z")
    assert await read(path, logs.LogOptions(since=since)) == b"partial\nthree\n"
    stamped = await read(path, logs.LogOptions(timestamps=True))
    assert stamped.splitlines() == [
        b"2026-01-02T03:04:05.12Z one",
        b"2026-01-02T03:04:06Z partial",
        b"2026-01-02T03:04:07.000000001Z three",
    ]


async def test_follow_continues_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(RECORDS[:45])
    out = bytearray()
    ticks = 0

    async def write(data: bytes) -> None:
        out.extend(data)

    async def running() -> bool:
        nonlocal ticks
        ticks += 1
        if ticks == 2:
            os.rename(path, tmp_path / "0.log.1")
            path.write_bytes(b"2026-01-02T03:04:08Z stdout F after\n")
        return ticks < 5

    await logs.stream_log(str(path), logs.LogOptions(follow=True), write, running=running, poll=0)
    assert bytes(out) == b"one\nafter\n"


def test_the_spdy_dictionary_is_the_specs() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 3821447106


def test_header_blocks_and_frames_round_trip() -> None:
    client, server = spdy.HeaderCodec(), spdy.HeaderCodec()
    for n in range(3):  # one zlib context per direction for the whole connection
        block = client.encode({"streamtype": "data", "port": "80", "requestid": str(n)})
        frame = spdy.syn_stream_frame(2 * n + 1, block)
        reader = spdy.FrameReader()
        frames = reader.feed(frame[:5]) + reader.feed(
            frame[5:] + spdy.data_frame(1, b"x", fin=True)
        )
        syn, data = frames
        assert isinstance(syn, spdy.ControlFrame)
        assert syn.stream_id == 2 * n + 1
        assert server.decode(spdy.syn_stream_block(syn))["requestid"] == str(n)
        assert isinstance(data, spdy.DataFrame)
        assert data.fin
        assert data.data == b"x"
