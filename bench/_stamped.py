"""TLS client connections whose every read carries the kernel's receive time.

A benchmark client on the same two cores as the server cannot stamp an arrival in user space
without adding its own delays: with a thousand watch streams, the time to decrypt and look at
the first 999 events is added to the 1,000th. Here each connection is a plain socket with
``SO_TIMESTAMPNS`` (the kernel notes when each segment arrived, on ``CLOCK_REALTIME``, the clock
of ``time.time()``) and TLS runs through an ``ssl.SSLObject`` over memory buffers, so a read
hands back the plaintext together with the time its last segment reached the socket, however
late the client gets to it.

Not a benchmark itself: ``make bench`` runs only ``bench/[a-z]*.py``.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from typing import Final

SO_TIMESTAMPNS: Final = getattr(socket, "SO_TIMESTAMPNS", 35)  # also the cmsg type
_TIMESPEC: Final = struct.Struct("@qq")  # struct timespec on 64-bit Linux
_READ: Final = 1 << 16


class StampedTLS:
    """One TLS client connection (blocking until ``setblocking(False)``)."""

    def __init__(self, context: ssl.SSLContext, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=host)
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                data = self.sock.recv(_READ)
                if not data:
                    raise ConnectionError("closed during the TLS handshake") from None
                self._incoming.write(data)
        self._flush()

    def fileno(self) -> int:
        return self.sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> float:
        """Write ``data``; the wall-clock time just before it went to the socket."""
        self.tls.write(data)
        sent = time.time()
        self._flush()
        return sent

    def receive(self) -> tuple[float, bytes]:
        """One read: the kernel's receive time of its last segment and the plaintext it
        completed (empty when no TLS record was completed). Raises ``BlockingIOError`` on a
        non-blocking socket with nothing to read, ``ConnectionError`` once the peer closed."""
        data, ancillary, _, _ = self.sock.recvmsg(_READ, socket.CMSG_SPACE(_TIMESPEC.size))
        if not data:
            raise ConnectionError("closed by the server")
        stamp = time.time()  # only if the kernel gave none
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = _TIMESPEC.unpack_from(payload)
                stamp = seconds + nanoseconds / 1e9
        self._incoming.write(data)
        plain = bytearray()
        while True:
            try:
                chunk = self.tls.read(_READ)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            if not chunk:
                break
            plain += chunk
        self._flush()
        return stamp, bytes(plain)

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self.sock.sendall(data)


def http_exchange(conn: StampedTLS, request: bytes) -> tuple[float, float, int, bytes]:
    """Send one HTTP/1.1 request on a blocking ``conn`` and read its answer (which must carry
    a Content-Length): (sent, answer's kernel receive time, status, body)."""
    sent = conn.send(request)
    buffer = b""
    while True:
        stamp, plain = conn.receive()
        buffer += plain
        head, found, body = buffer.partition(b"\r\n\r\n")
        if not found:
            continue
        lines = head.split(b"\r\n")
        length = next(
            (int(v) for k, _, v in (x.partition(b":") for x in lines[1:])
             if k.strip().lower() == b"content-length"),
            None,
        )  # fmt: skip
        if length is None:
            raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")
        if len(body) >= length:
            return sent, stamp, int(lines[0].split()[1]), body[:length]
