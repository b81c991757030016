"""A component's own ``/metrics`` and ``/healthz`` over plain HTTP, for ``kyb scheduler`` and
``kyb controller-manager`` run on their own (``--metrics-bind-address``).

Upstream serves these on the components' secure ports (10259, 10257) behind delegated
authentication; here they are plain HTTP on loopback by default, as kube-proxy's metrics port
is. In ``kyb server`` every component shares one process and its default registry, and the API
server's ``/metrics`` serves it (as k3s does).

Invariant: the server only reads the registry; it is never needed for the component to work.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)


def parse_bind_address(text: str, default_port: int) -> tuple[str, int] | None:
    """``127.0.0.1:10259`` -> (host, port); ``:10259`` binds every address; ``0`` or "" -> None
    (no server)."""
    text = text.strip()
    if text in ("", "0"):
        return None
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"bad bind address {text!r}: expected HOST:PORT") from None
    return host.strip("[]") or "0.0.0.0", number


class MetricsServer:
    def __init__(self, host: str, port: int, registry: CollectorRegistry = REGISTRY) -> None:
        self.host = host
        self.port = port
        self.registry = registry
        self._runner: web.AppRunner | None = None

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def start(self) -> int:
        """Listen; the bound port (0 picks a free one)."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        server = getattr(site, "_server", None)
        for sock in getattr(server, "sockets", None) or []:
            self.port = int(sock.getsockname()[1])
            break
        log.info("metrics server listening address=%s port=%d", self.host, self.port)
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
