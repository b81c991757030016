"""The channel protocol of exec and attach over WebSocket (``v5``/``v4``/``channel.k8s.io``).

Every binary message is one channel byte and a payload: 0 stdin (client to server), 1 stdout,
2 stderr, 3 error (server to client: in v4 and v5 a ``metav1.Status`` JSON, in v1 text), 4
resize (``{"Width":W,"Height":H}``), and in v5 only 255, a close signal whose payload is the
channel being closed (kubectl sends ``[255, 0]`` at the end of its stdin). The Python client
may send stdin as a text message; its first character is then the channel.

``serve_exec`` relays one ``ExecProcess`` and ends with the status on channel 3: ``Success``,
or ``command terminated with non-zero exit code: ...`` with reason ``NonZeroExitCode`` and
the code as the cause, as upstream's kubelet does.

Invariants: all output is sent before the status, the status before the socket closes; a
client that goes away kills the process; sends on one socket never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Final

import orjson
from aiohttp import WSMsgType, web

from kybernetes.agent.runtime.streaming import ExecProcess

log = logging.getLogger(__name__)

V5: Final = "v5.channel.k8s.io"
V4: Final = "v4.channel.k8s.io"
V1: Final = "channel.k8s.io"
PROTOCOLS: Final = (V5, V4, V1)

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
DRAIN_SECONDS = 2.0  # after the process ends: how long its output may keep arriving


def success() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def failure(message: str, reason: str = "InternalError") -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": reason}


def exit_status(code: int, command: Sequence[str] = ()) -> dict[str, Any]:
    if code == 0:
        return success()
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"[{' '.join(command)}], exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


class ChannelSocket:
    """One accepted WebSocket speaking a channel protocol; sends are serialized."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.protocol = ws.ws_protocol or V1
        self._lock = asyncio.Lock()

    async def send(self, channel: int, data: bytes) -> None:
        async with self._lock:
            if not self.ws.closed:
                await self.ws.send_bytes(bytes([channel]) + data)

    async def send_status(self, status: dict[str, Any]) -> None:
        if self.protocol == V1:
            message = status.get("message", "") if status.get("status") != "Success" else ""
            if message:
                await self.send(ERROR, str(message).encode())
            return
        await self.send(ERROR, orjson.dumps(status))

    async def close(self) -> None:
        async with self._lock:
            with contextlib.suppress(ConnectionError):
                await self.ws.close()


async def accept(request: web.Request) -> ChannelSocket:
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0, heartbeat=None)
    await ws.prepare(request)
    return ChannelSocket(ws)


def decode(message: Any) -> tuple[int, bytes] | None:
    """(channel, payload) of a client message, or None for anything else."""
    if message.type == WSMsgType.BINARY and message.data:
        data: bytes = message.data
        return data[0], data[1:]
    if message.type == WSMsgType.TEXT and message.data:
        text: str = message.data
        return ord(text[0]), text[1:].encode()
    return None


async def _pump(reader: asyncio.StreamReader, socket: ChannelSocket, channel: int) -> None:
    while True:
        data = await reader.read(32 * 1024)
        if not data:
            return
        await socket.send(channel, data)


async def _inbound(socket: ChannelSocket, process: ExecProcess) -> None:
    """Client messages to the process, until the socket closes."""
    async for message in socket.ws:
        found = decode(message)
        if found is None:
            continue
        channel, payload = found
        if channel == STDIN:
            await process.write(payload)
        elif channel == RESIZE:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                size = orjson.loads(payload)
                process.resize(int(size.get("Width", 0)), int(size.get("Height", 0)))
        elif channel == CLOSE and socket.protocol == V5 and payload[:1] == bytes([STDIN]):
            await process.close_stdin()


async def serve_exec(
    socket: ChannelSocket, process: ExecProcess, command: Sequence[str] = ()
) -> None:
    """Relay ``process`` over ``socket`` until it ends (or the client leaves); then close."""
    pumps = [asyncio.ensure_future(_pump(process.stdout, socket, STDOUT))]
    if process.stderr is not None:
        pumps.append(asyncio.ensure_future(_pump(process.stderr, socket, STDERR)))
    inbound = asyncio.ensure_future(_inbound(socket, process))
    waiter = asyncio.ensure_future(process.wait())
    try:
        await asyncio.wait({waiter, inbound}, return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():  # the client went away first
            await process.kill()
            return
        code = waiter.result()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_SECONDS):
                await asyncio.gather(*pumps, return_exceptions=True)
        await socket.send_status(exit_status(code, command))
    except Exception as exc:  # the runtime failed: say so on the error channel
        log.warning("exec failed error=%s", exc)
        with contextlib.suppress(Exception):
            await socket.send_status(failure(str(exc)))
    finally:
        for task in (*pumps, inbound, waiter):
            task.cancel()
        await asyncio.gather(*pumps, inbound, waiter, return_exceptions=True)
        if not waiter.done() or waiter.cancelled():
            with contextlib.suppress(Exception):
                await process.kill()
        await socket.close()
