"""The builtin data plane: the in-project asyncio ``Proxy`` on the controller's ports.

``update`` swaps the snapshot into the proxy in one assignment, drops pooled connections to
endpoints no backend has any more, and rebuilds the SNI certificates when asked. ``serve``
creates the certificates (a fake one first), listens for HTTP and HTTPS, then sweeps idle
backend connections until cancelled; on the way out it closes the listeners and lets requests
in flight finish within the proxy's shutdown grace.

Invariant: certificates given before the HTTPS listener exists are kept and loaded before it
accepts its first connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

from kybernetes.network.ingress.dataplane import TLSSource
from kybernetes.network.ingress.endpoints import Address
from kybernetes.network.ingress.proxy import Proxy, Snapshot, Timeouts
from kybernetes.network.ingress.tls import Certificates

log = logging.getLogger(__name__)


class BuiltinDataPlane:
    """The asyncio proxy, its listeners and its certificates."""

    def __init__(
        self, bind_address: str, http_port: int | None, https_port: int | None, timeouts: Timeouts
    ) -> None:
        self.bind_address = bind_address
        self.http_port, self.https_port = http_port, https_port
        self.proxy = Proxy(timeouts=timeouts)
        self.certificates: Certificates | None = None
        self.ports: dict[str, int] = {}
        self._tls: TLSSource | None = None

    def update(self, snapshot: Snapshot, tls: TLSSource | None) -> None:
        self.proxy.snapshot = snapshot
        live: set[Address] = {a for u in snapshot.upstreams.values() for a in u.addresses}
        self.proxy.pool.retain(live)
        if tls is not None:
            if self.certificates is None:
                self._tls = tls
            else:
                self.certificates.update(*tls)

    async def serve(self, started: asyncio.Event) -> None:
        servers: list[asyncio.Server] = []
        try:
            if self.https_port is not None:
                self.certificates = await asyncio.to_thread(Certificates)
                if self._tls is not None:
                    self.certificates.update(*self._tls)
                    self._tls = None
            servers = await self._listen()
            started.set()
            await self._sweep_loop()
        finally:
            for server in servers:
                server.close()
            await self.proxy.shutdown()

    async def _listen(self) -> list[asyncio.Server]:
        servers: list[asyncio.Server] = []
        listeners: list[tuple[str, int | None, ssl.SSLContext | None]] = [
            ("http", self.http_port, None)
        ]
        if self.certificates is not None:
            listeners.append(("https", self.https_port, self.certificates.server_context()))
        try:
            for scheme, port, ctx in listeners:
                if port is None:
                    continue
                server = await self.proxy.listen(self.bind_address, port, ctx)
                servers.append(server)
                self.ports[scheme] = server.sockets[0].getsockname()[1]
                log.info(
                    "ingress listening scheme=%s address=%s port=%d",
                    scheme,
                    self.bind_address,
                    self.ports[scheme],
                )
        except BaseException:
            for server in servers:
                server.close()
            raise
        return servers

    async def _sweep_loop(self) -> None:
        """Close idle backend connections past their idle timeout now and then."""
        while True:
            await asyncio.sleep(self.proxy.pool.idle_timeout / 2)
            with contextlib.suppress(Exception):
                self.proxy.pool.sweep()
