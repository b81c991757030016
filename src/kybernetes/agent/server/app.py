"""The agent's HTTPS server (the kubelet's port 10250): logs, exec, attach, port-forward, stats.

Endpoints, as the kubelet's: ``/containerLogs/{ns}/{pod}/{container}``,
``/exec/{ns}/{pod}[/{uid}]/{container}``, ``/attach/...`` (WebSocket channel protocols,
``channels.py``), ``/portForward/{ns}/{pod}[/{uid}]`` (``portforward.py``), ``/stats/summary``,
``/metrics`` and ``/metrics/resource`` (``stats.py``) and ``/healthz``. Exec and attach are
relayed alike (``channels.serve_exec``): exec runs a process (``runtime.streaming``), attach
joins the container's own stdio through the runtime (the runc shim's attach socket); a runtime
that cannot attach gets the container's log followed from its end, output only.
Only the API server calls it: TLS with a certificate from the cluster CA, and a client
certificate required, signed by that CA, whose user (CN) or group (O) is allowed
(``kube-apiserver-kubelet-client``, ``system:masters``). Without a TLS context (tests only)
nobody is authenticated.

Invariants: a request is answered only after its client is authorized; a failure before a
WebSocket is accepted is a plain-text HTTP error (400/404, the kubelet's messages), after it an
error Status on the error channel; nothing here writes to the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import NameOID

from kybernetes.agent.runtime.streaming import attach_process, exec_process
from kybernetes.agent.server import channels, logs, portforward, stats
from kybernetes.agent.server.host import ContainerLookupError, KubeletHost

log = logging.getLogger(__name__)

APISERVER_USER = "kube-apiserver-kubelet-client"
MASTERS = "system:masters"
DIAL_SECONDS = 10.0

Dialer = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _dial(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async with asyncio.timeout(DIAL_SECONDS):
        return await asyncio.open_connection(host, port)


@dataclass(frozen=True)
class KubeletServerConfig:
    bind_address: str = "0.0.0.0"
    port: int = 10250
    #: Serving context that requires client certificates from the cluster CA.
    ssl_context: ssl.SSLContext | None = None
    allowed_users: frozenset[str] = field(default_factory=lambda: frozenset({APISERVER_USER}))
    allowed_groups: frozenset[str] = field(default_factory=lambda: frozenset({MASTERS}))


@dataclass(frozen=True)
class KubeletTLS:
    """The server's certificate and key, and the CA whose client certificates it accepts."""

    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    def context(self) -> ssl.SSLContext:
        """TLS 1.2+, requiring a client certificate signed by the CA."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        # ssl loads a chain only from files: private ones, gone once loaded.
        with tempfile.TemporaryDirectory(prefix="kyb-kubelet-tls-") as tmp:
            cert, key = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
            with open(cert, "wb") as f:
                f.write(self.cert_pem)
            with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
                f.write(self.key_pem)
            ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(cadata=self.ca_pem.decode("ascii"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


class KubeletServer:
    """Serves one node's pods; ``host`` may be set after ``start`` (503 until then)."""

    def __init__(
        self,
        config: KubeletServerConfig,
        host: KubeletHost | None = None,
        *,
        dial: Dialer = _dial,
    ) -> None:
        self.config = config
        self.host = host
        self.dial = dial
        self.port = config.port
        #: The node's usage summaries (``stats.StatsSource``), set with ``host``.
        self.stats: stats.StatsSource | None = None
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._authorize])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self._logs)
        for verb in ("exec", "attach"):
            handler = self._exec if verb == "exec" else self._attach
            for path in (
                f"/{verb}/{{ns}}/{{pod}}/{{container}}",
                f"/{verb}/{{ns}}/{{pod}}/{{uid}}/{{container}}",
            ):
                app.router.add_route("GET", path, handler)
                app.router.add_route("POST", path, handler)
        for path in ("/portForward/{ns}/{pod}", "/portForward/{ns}/{pod}/{uid}"):
            app.router.add_route("GET", path, self._port_forward)
            app.router.add_route("POST", path, self._port_forward)
        stats.add_routes(app, lambda: self.stats)
        return app

    async def start(self) -> int:
        """Listen; the bound port (``config.port`` 0 picks a free one)."""
        runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(
            runner, self.config.bind_address, self.config.port, ssl_context=self.config.ssl_context
        )
        await site.start()
        self._runner = runner
        server = getattr(site, "_server", None)
        for sock in getattr(server, "sockets", None) or []:
            self.port = int(sock.getsockname()[1])
            break
        log.info("kubelet server listening address=%s port=%d", self.config.bind_address, self.port)
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def run(self) -> None:
        """Serve until cancelled."""
        if self._runner is None:
            await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    # ----- authentication and authorization ---------------------------------------------

    @web.middleware
    async def _authorize(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self.config.ssl_context is not None:
            transport = request.transport
            ssl_object = transport.get_extra_info("ssl_object") if transport else None
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if not der:
                return web.Response(status=401, text="Unauthorized")
            cert = x509.load_der_x509_certificate(der)
            user = _names(cert, NameOID.COMMON_NAME)
            groups = _names(cert, NameOID.ORGANIZATION_NAME)
            allowed = bool(user & self.config.allowed_users) or bool(
                groups & self.config.allowed_groups
            )
            if not allowed:
                who = next(iter(user), "")
                return web.Response(
                    status=403, text=f"Forbidden (user={who}, verb=get, resource=nodes)"
                )
        if self.host is None and request.path not in ("/healthz", "/metrics"):
            return web.Response(status=503, text="the kubelet is starting")
        try:
            return await handler(request)
        except ContainerLookupError as exc:
            return web.Response(status=exc.code, text=str(exc))

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    # ----- logs -------------------------------------------------------------------------

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        host = self._host()
        try:
            options = logs.parse_options(request.query, logs.now())
        except logs.LogOptionError as exc:
            return web.Response(status=400, text=str(exc))
        match = request.match_info
        pod = host.pod(match["ns"], match["pod"])
        container = await host.log_container(pod, match["container"], options.previous)
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)

        async def running() -> bool:
            return await host.is_running(container.id)

        with contextlib.suppress(ConnectionError):
            await logs.stream_log(container.log_path, options, response.write, running=running)
            await response.write_eof()
        return response

    # ----- exec and attach --------------------------------------------------------------

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        host = self._host()
        match = request.match_info
        query = request.query
        command = query.getall("command", [])
        stdin = _flag(query.get("stdin") or query.get("input"))
        tty = _flag(query.get("tty"))
        pod = host.pod(match["ns"], match["pod"])
        if not command:
            return web.Response(status=400, text="you must specify at least one command")
        socket = await channels.accept(request)
        try:
            container = await host.running_container(pod, match["container"])
            process = await exec_process(host.runtime, container.id, command, stdin=stdin, tty=tty)
        except Exception as exc:
            await socket.send_status(channels.failure(str(exc)))
            await socket.close()
            return socket.ws
        await channels.serve_exec(socket, process, command)
        return socket.ws

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        host = self._host()
        match = request.match_info
        query = request.query
        stdin = _flag(query.get("stdin") or query.get("input"))
        stderr = _flag(query.get("stderr")) and not _flag(query.get("tty"))
        pod = host.pod(match["ns"], match["pod"])
        socket = await channels.accept(request)
        try:
            container = await host.running_container(pod, match["container"])
            process = await attach_process(host.runtime, container.id, stdin=stdin, stderr=stderr)
        except Exception as exc:
            await socket.send_status(channels.failure(str(exc)))
            await socket.close()
            return socket.ws
        if process is not None:
            await channels.serve_exec(socket, process)
            return socket.ws
        # A runtime that cannot attach: what the container writes from now on, from its log.

        async def write(stream: bytes, text: bytes) -> None:
            channel = channels.STDERR if stream == b"stderr" else channels.STDOUT
            await socket.send(channel, text)

        async def running() -> bool:
            return not socket.ws.closed and await host.is_running(container.id)

        async def drain_client() -> None:  # stdin of a running container is the shim's
            async for _message in socket.ws:
                pass

        client = asyncio.ensure_future(drain_client())
        follow = asyncio.ensure_future(logs.follow_records(container.log_path, write, running))
        try:
            await asyncio.wait({client, follow}, return_when=asyncio.FIRST_COMPLETED)
            if follow.done() and not socket.ws.closed:
                await socket.send_status(channels.success())
        finally:
            for task in (client, follow):
                task.cancel()
            await asyncio.gather(client, follow, return_exceptions=True)
            await socket.close()
        return socket.ws

    # ----- port-forward -----------------------------------------------------------------

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        host = self._host()
        match = request.match_info
        pod = host.pod(match["ns"], match["pod"])
        address = await host.pod_address(pod)
        try:
            ports = portforward.parse_ports(request.query.getall("ports", []))
        except ValueError as exc:
            return web.Response(status=400, text=str(exc))
        ws = web.WebSocketResponse(protocols=portforward.PROTOCOLS, max_msg_size=0)
        await ws.prepare(request)

        async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await self.dial(address, port)

        target = f"{match['ns']}/{match['pod']}"
        if ws.ws_protocol == portforward.SPDY_PROTOCOL:
            await portforward.SpdySession(ws, dial, target).run()
        else:
            await portforward.serve_channels(ws, dial, ports)
        await ws.close()
        return ws

    def _host(self) -> KubeletHost:
        if self.host is None:
            raise ContainerLookupError("the kubelet is starting", 503)
        return self.host


def _names(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> frozenset[str]:
    return frozenset(str(a.value) for a in cert.subject.get_attributes_for_oid(oid))


def _flag(value: str | None) -> bool:
    return value in ("1", "true", "True", "TRUE", "t", "")
