"""Keep-alive connections to backend endpoints, pooled per address.

``acquire(address)`` returns an idle connection to that endpoint (the most recently used one,
so a burst reuses warm sockets and the rest age out) or opens a new one within the connect
timeout; ``release()`` puts a connection whose last exchange ended cleanly back; ``discard()``
closes one that is in an unknown state. ``retain(addresses)`` closes idle connections to
endpoints that left every backend, so a removed pod's sockets do not linger.

Invariant: a connection is handed out to one request at a time, and an idle connection the
backend has closed (EOF seen) or that has idled past ``idle_timeout`` is never handed out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from kybernetes.network.ingress.endpoints import Address

READ_LIMIT = 64 * 1024  # the largest response head accepted from a backend


@dataclass(slots=True, eq=False)
class BackendConnection:
    address: Address
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False
    idle_since: float = field(default=0.0)

    def close(self) -> None:
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()


class BackendPool:
    """Idle backend connections by address, opened on demand."""

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        idle_timeout: float = 60.0,
        max_idle_per_address: int = 128,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.max_idle_per_address = max_idle_per_address
        self._idle: dict[Address, list[BackendConnection]] = {}

    async def acquire(self, address: Address) -> BackendConnection:
        """A connection to ``address``; raises ``OSError``/``TimeoutError`` if none opens."""
        idle = self._idle.get(address)
        if idle:
            oldest_allowed = time.monotonic() - self.idle_timeout
            while idle:
                conn = idle.pop()
                if conn.reader.at_eof() or conn.idle_since < oldest_allowed:
                    conn.close()
                    continue
                if conn.writer.transport.is_closing():
                    continue
                conn.reused = True
                return conn
        return await self.connect(address)

    async def connect(self, address: Address) -> BackendConnection:
        """A new connection to ``address`` (never a pooled one)."""
        async with asyncio.timeout(self.connect_timeout):
            reader, writer = await asyncio.open_connection(
                address.ip, address.port, limit=READ_LIMIT
            )
        return BackendConnection(address, reader, writer)

    def release(self, conn: BackendConnection) -> None:
        """Return a connection whose last response was read in full and may be reused."""
        if conn.reader.at_eof() or conn.writer.transport.is_closing():
            conn.close()
            return
        idle = self._idle.setdefault(conn.address, [])
        if len(idle) >= self.max_idle_per_address:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    @staticmethod
    def discard(conn: BackendConnection) -> None:
        conn.close()

    def retain(self, addresses: Iterable[Address]) -> None:
        """Close idle connections to every address not in ``addresses``."""
        keep = set(addresses)
        for address in [a for a in self._idle if a not in keep]:
            for conn in self._idle.pop(address):
                conn.close()

    def sweep(self) -> None:
        """Close idle connections the backend has closed or that idled past the timeout."""
        oldest_allowed = time.monotonic() - self.idle_timeout
        for address in list(self._idle):
            keep = []
            for conn in self._idle[address]:
                if conn.reader.at_eof() or conn.idle_since < oldest_allowed:
                    conn.close()
                else:
                    keep.append(conn)
            if keep:
                self._idle[address] = keep
            else:
                del self._idle[address]

    def idle_count(self, address: Address | None = None) -> int:
        if address is not None:
            return len(self._idle.get(address, ()))
        return sum(len(conns) for conns in self._idle.values())

    def close(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
