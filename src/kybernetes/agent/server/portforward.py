"""Port-forwarding into a pod, in the two protocols clients speak.

* ``SPDY/3.1+portforward.k8s.io`` (kubectl 1.32): the WebSocket's binary messages carry a
  SPDY/3.1 byte stream (``spdy.py``). For each local connection kubectl opens an ``error``
  and a ``data`` stream with the same ``requestid`` and ``port`` headers; each gets an empty
  SYN_REPLY at once. Bytes flow as DATA frames on the data stream; a failure to connect is
  written as text on the error stream. When the pod's side ends, the data stream ends (FIN);
  a FIN from kubectl half-closes the connection to the pod.
* ``v4.channel.k8s.io`` (the Python client, ``?ports=80,8080``): for the i-th port, channel
  ``2i`` carries data and ``2i+1`` errors; each channel's first message is the port, 2 bytes
  little-endian. One connection per port for the socket's lifetime.

``dial(port)`` opens the connection to the pod (the server connects to the pod's IP).

Invariants: every connection to the pod is closed when its stream or the socket ends; sends
on the socket never interleave (one lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from aiohttp import WSMsgType, web

from kybernetes.agent.server import spdy

log = logging.getLogger(__name__)

SPDY_PROTOCOL: Final = "SPDY/3.1+portforward.k8s.io"
CHANNEL_PROTOCOLS: Final = ("v4.channel.k8s.io", "v5.channel.k8s.io")
PROTOCOLS: Final = (SPDY_PROTOCOL, *CHANNEL_PROTOCOLS)
CHUNK: Final = 32 * 1024

Dial = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class _Sender:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.lock = asyncio.Lock()

    async def send(self, data: bytes) -> None:
        async with self.lock:
            if not self.ws.closed:
                await self.ws.send_bytes(data)


@dataclass
class _Pair:
    """The error and data streams of one forwarded connection."""

    port: int
    error_stream: int = 0
    data_stream: int = 0
    inbound: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class SpdySession:
    """One kubectl port-forward session (SPDY in WebSocket)."""

    def __init__(self, ws: web.WebSocketResponse, dial: Dial, target: str) -> None:
        self.sender = _Sender(ws)
        self.ws = ws
        self.dial = dial
        self.target = target  # for error messages: the pod's name
        self.codec = spdy.HeaderCodec()
        self.pairs: dict[str, _Pair] = {}
        self.by_stream: dict[int, _Pair] = {}
        self.last_stream = 0

    async def run(self) -> None:
        reader = spdy.FrameReader()
        try:
            async for message in self.ws:
                if message.type != WSMsgType.BINARY:
                    continue
                for frame in reader.feed(message.data):
                    if not await self._handle(frame):
                        return
        except spdy.ProtocolError as exc:
            log.info("port-forward protocol error pod=%s error=%s", self.target, exc)
            await self.sender.send(spdy.goaway_frame(self.last_stream, spdy.PROTOCOL_ERROR))
        finally:
            for pair in self.pairs.values():
                pair.inbound.put_nowait(None)
                if pair.task is not None:
                    pair.task.cancel()
            tasks = [p.task for p in self.pairs.values() if p.task is not None]
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, frame: spdy.Frame) -> bool:
        if isinstance(frame, spdy.DataFrame):
            pair = self.by_stream.get(frame.stream_id)
            if pair is not None and frame.stream_id == pair.data_stream:
                if frame.data:
                    pair.inbound.put_nowait(frame.data)
                if frame.fin:
                    pair.inbound.put_nowait(None)
            return True
        if frame.type == spdy.SYN_STREAM:
            await self._syn_stream(frame)
        elif frame.type == spdy.RST_STREAM:
            pair = self.by_stream.get(frame.stream_id)
            if pair is not None and pair.task is not None:
                pair.task.cancel()
        elif frame.type == spdy.PING:
            await self.sender.send(spdy.control_frame(spdy.PING, 0, frame.data))
        elif frame.type == spdy.GOAWAY:
            return False
        return True

    async def _syn_stream(self, frame: spdy.ControlFrame) -> None:
        stream_id = frame.stream_id
        self.last_stream = max(self.last_stream, stream_id)
        headers = self.codec.decode(spdy.syn_stream_block(frame))
        await self.sender.send(spdy.syn_reply_frame(stream_id, self.codec.encode({})))
        request_id = headers.get("requestid", "")
        try:
            port = int(headers.get("port", ""))
        except ValueError:
            await self.sender.send(spdy.rst_stream_frame(stream_id, spdy.PROTOCOL_ERROR))
            return
        pair = self.pairs.setdefault(request_id, _Pair(port))
        self.by_stream[stream_id] = pair
        kind = headers.get("streamtype")
        if kind == "error":
            pair.error_stream = stream_id
        elif kind == "data":
            pair.data_stream = stream_id
        if pair.error_stream and pair.data_stream and pair.task is None:
            pair.task = asyncio.ensure_future(self._forward(pair))

    async def _forward(self, pair: _Pair) -> None:
        try:
            reader, writer = await self.dial(pair.port)
        except (OSError, TimeoutError) as exc:
            message = f"error forwarding port {pair.port} to pod {self.target}: {exc}"
            await self.sender.send(spdy.data_frame(pair.error_stream, message.encode(), fin=True))
            await self.sender.send(spdy.data_frame(pair.data_stream, b"", fin=True))
            return
        upstream = asyncio.ensure_future(self._to_pod(pair, writer))
        try:
            while data := await reader.read(CHUNK):
                await self.sender.send(spdy.data_frame(pair.data_stream, data))
            await self.sender.send(spdy.data_frame(pair.data_stream, b"", fin=True))
            await upstream
        finally:
            upstream.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _to_pod(pair: _Pair, writer: asyncio.StreamWriter) -> None:
        while (data := await pair.inbound.get()) is not None:
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()


async def serve_channels(ws: web.WebSocketResponse, dial: Dial, ports: list[int]) -> None:
    """The Python client's port-forward protocol (see the module docstring)."""
    sender = _Sender(ws)
    connections: dict[int, asyncio.StreamWriter] = {}
    readers: list[asyncio.Task[None]] = []

    async def from_pod(index: int, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(CHUNK):
            await sender.send(bytes([2 * index]) + data)

    for index, port in enumerate(ports):
        for channel in (2 * index, 2 * index + 1):
            await sender.send(bytes([channel]) + struct.pack("<H", port))
        try:
            reader, writer = await dial(port)
        except (OSError, TimeoutError) as exc:
            await sender.send(
                bytes([2 * index + 1]) + f"error forwarding port {port}: {exc}".encode()
            )
            continue
        connections[index] = writer
        readers.append(asyncio.ensure_future(from_pod(index, reader)))
    try:
        inbound = asyncio.ensure_future(_channel_inbound(ws, connections))
        if readers:
            await asyncio.wait({inbound, *readers}, return_when=asyncio.FIRST_COMPLETED)
        else:
            inbound.cancel()
    finally:
        inbound.cancel()
        for task in readers:
            task.cancel()
        for writer in connections.values():
            writer.close()
        await asyncio.gather(inbound, *readers, return_exceptions=True)
        await ws.close()


async def _channel_inbound(
    ws: web.WebSocketResponse, connections: dict[int, asyncio.StreamWriter]
) -> None:
    async for message in ws:
        if message.type == WSMsgType.BINARY and message.data:
            data: bytes = message.data
        elif message.type == WSMsgType.TEXT and message.data:
            data = message.data.encode()
        else:
            continue
        channel, payload = data[0], data[1:]
        writer = connections.get(channel // 2)
        if writer is not None and channel % 2 == 0 and payload:
            writer.write(payload)
            await writer.drain()


def parse_ports(values: list[str]) -> list[int]:
    ports: list[int] = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                port = int(part)
                if not 0 < port < 65536:
                    raise ValueError(f"invalid port {port}")
                ports.append(port)
    return ports
