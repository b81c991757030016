"""Moving message bodies and upgraded streams between two connections without buffering them.

``relay_body`` copies one body from a reader to a writer in the framing it arrived in (a
``Content-Length`` body, a chunked body re-sent chunk for chunk with its trailers, or a body that
ends when the connection closes, optionally re-framed as chunked). ``tunnel`` relays both
directions of an upgraded connection (WebSocket after ``101 Switching Protocols``) until either
side closes or stays silent past the idle timeout.

``stall`` is how long any single read or write may wait (not a deadline for the whole body).

Invariant: at most ``CHUNK`` bytes of a body are held at a time, and every read and every drain
is bounded by a timeout, so a slow or silent peer costs one connection, never memory or a stuck
task.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from kybernetes.network.ingress.http1 import CRLF, Framing, HTTPError

CHUNK: Final = 64 * 1024
SMALL_BODY: Final = 64 * 1024  # bodies up to this size are read whole and sent with the head


async def read_exactly(reader: asyncio.StreamReader, n: int, stall: float) -> bytes:
    async with asyncio.timeout(stall):
        return await reader.readexactly(n)


async def _copy_length(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int, stall: float
) -> None:
    while n > 0:
        async with asyncio.timeout(stall):
            data = await reader.read(min(n, CHUNK))
            if not data:
                raise asyncio.IncompleteReadError(b"", n)
            writer.write(data)
            await writer.drain()
        n -= len(data)


async def _copy_chunked(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stall: float, dechunk: bool
) -> None:
    while True:
        async with asyncio.timeout(stall):
            line = await reader.readuntil(CRLF)
        try:
            size = int(line.partition(b";")[0].strip(), 16)
        except ValueError:
            raise HTTPError(400, "malformed chunk size") from None
        if not dechunk:
            writer.write(line)
        if size == 0:
            while True:  # trailer section, up to its blank line
                async with asyncio.timeout(stall):
                    trailer = await reader.readuntil(CRLF)
                if not dechunk:
                    writer.write(trailer)
                if trailer == CRLF:
                    break
            async with asyncio.timeout(stall):
                await writer.drain()
            return
        await _copy_length(reader, writer, size, stall)
        if await read_exactly(reader, 2, stall) != CRLF:
            raise HTTPError(400, "malformed chunk")
        if not dechunk:
            writer.write(CRLF)


async def _copy_until_close(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunked: bool, stall: float
) -> None:
    while True:
        async with asyncio.timeout(stall):
            data = await reader.read(CHUNK)
            if not data:
                break
            if chunked:
                writer.write(b"%x\r\n%b\r\n" % (len(data), data))
            else:
                writer.write(data)
            await writer.drain()
    if chunked:
        writer.write(b"0\r\n\r\n")
    async with asyncio.timeout(stall):
        await writer.drain()


async def relay_body(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    framing: Framing,
    length: int,
    stall: float,
    *,
    rechunk: bool = False,
    dechunk: bool = False,
) -> None:
    """Copy one body; ``rechunk`` re-frames an until-close body as chunked, ``dechunk`` strips
    chunked framing (for an HTTP/1.0 client, whose connection then ends the body)."""
    if framing is Framing.LENGTH:
        await _copy_length(reader, writer, length, stall)
    elif framing is Framing.CHUNKED:
        await _copy_chunked(reader, writer, stall, dechunk)
    elif framing is Framing.UNTIL_CLOSE:
        await _copy_until_close(reader, writer, rechunk, stall)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, idle: float) -> None:
    while True:
        async with asyncio.timeout(idle):
            data = await reader.read(CHUNK)
        if not data:
            break
        writer.write(data)
        async with asyncio.timeout(idle):
            await writer.drain()
    if writer.can_write_eof() and not writer.transport.is_closing():
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()


async def tunnel(
    a_reader: asyncio.StreamReader,
    a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader,
    b_writer: asyncio.StreamWriter,
    idle: float,
) -> None:
    """Relay both directions until both have ended, or either fails or idles out."""
    tasks = {
        asyncio.ensure_future(_pipe(a_reader, b_writer, idle)),
        asyncio.ensure_future(_pipe(b_reader, a_writer, idle)),
    }
    try:
        pending = tasks
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if any(t.exception() is not None for t in done if not t.cancelled()):
                break
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
