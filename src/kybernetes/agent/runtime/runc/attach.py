"""Attaching to a running container through its shim's attach socket (``kubectl attach``).

The shim (``shim.py``) owns the container's stdio and serves ``attach.sock`` in the container's
directory: a ``SOCK_SEQPACKET`` socket whose messages are a kind byte and a payload (``1``
stdout, ``2`` stderr from the shim; ``0`` stdin, ``3`` end of input, ``4`` terminal size from
the client). ``ShimAttach`` is one such connection dressed as an ``ExecProcess``, so the
server relays it exactly as it relays an exec: output as it is written, stdin, resizes.

Leaving is not stopping: ``kill`` only disconnects (telling the shim that this client's input
has ended, which closes the container's stdin if it has ``stdinOnce``), and ``wait`` returns 0
once the shim closes the connection because the container has exited, as upstream's kubelet
reports success for an attach that ran to its end.

Invariants: the socket is reached through ``/proc/self/fd`` of its directory, so no path limit
applies; at most ``BUFFER`` bytes of output wait for the client here, beyond that the shim's
socket holds them (and the shim drops a client that falls too far behind); the socket is
closed when its reader ends (at the shim's end, or cancelled by ``kill``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

from kybernetes.agent.runtime.interface import RuntimeError_
from kybernetes.agent.runtime.runc.shim import (
    ATTACH_SOCKET,
    CLOSE_STDIN,
    READ_SIZE,
    RESIZE,
    STDERR,
    STDIN,
)

CHUNK = 32 * 1024
BUFFER = 1 << 20


class ShimAttach:
    """One attach connection; see the module docstring."""

    def __init__(self, sock: socket.socket, *, stdin: bool, stderr: bool) -> None:
        self._sock = sock
        self._stdin = stdin
        self.stdout = asyncio.StreamReader()
        self.stderr: asyncio.StreamReader | None = asyncio.StreamReader() if stderr else None
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                message = await loop.sock_recv(self._sock, READ_SIZE + 1)
                if not message:
                    return
                kind, data = message[0], message[1:]
                target = self.stderr if kind == STDERR else self.stdout
                if target is None or not data:
                    continue
                target.feed_data(data)
                # the client is slower than the container (a reader has no "drained" event)
                while _buffered(target) > BUFFER:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        except OSError:
            return
        finally:
            self._sock.close()
            self.stdout.feed_eof()
            if self.stderr is not None:
                self.stderr.feed_eof()

    async def _send(self, message: bytes) -> None:
        with contextlib.suppress(OSError, ValueError):  # the shim is gone: so is the container
            await asyncio.get_running_loop().sock_sendall(self._sock, message)

    async def write(self, data: bytes) -> None:
        if not self._stdin:
            return
        for start in range(0, len(data), CHUNK):
            await self._send(bytes([STDIN]) + data[start : start + CHUNK])

    async def close_stdin(self) -> None:
        if self._stdin:
            await self._send(bytes([CLOSE_STDIN]))

    def resize(self, width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            return
        # a size lost to a full socket is not retried: the next one comes
        with contextlib.suppress(OSError, ValueError):
            self._sock.send(bytes([RESIZE]) + f"{width} {height}".encode())

    async def wait(self) -> int:
        await asyncio.shield(self._reader)
        return 0

    async def kill(self) -> None:
        """Detach: the container goes on."""
        if not self._reader.done():
            await self.close_stdin()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def _buffered(reader: asyncio.StreamReader) -> int:
    # StreamReader has no public view of its buffer; its feed side has no flow control.
    return len(getattr(reader, "_buffer", b""))


async def attach(directory: str, *, stdin: bool, stderr: bool) -> ShimAttach:
    """Connect to the shim of the container whose directory is ``directory``."""
    dir_fd = os.open(directory, os.O_PATH | os.O_CLOEXEC)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    sock.setblocking(False)
    try:
        path = f"/proc/self/fd/{dir_fd}/{ATTACH_SOCKET}"
        await asyncio.get_running_loop().sock_connect(sock, path)
    except OSError as exc:
        sock.close()
        raise RuntimeError_(f"cannot attach: the container's shim is not there ({exc})") from None
    finally:
        os.close(dir_fd)
    return ShimAttach(sock, stdin=stdin, stderr=stderr)
