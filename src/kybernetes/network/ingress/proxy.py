"""The ingress data path: HTTP/1.1 from clients, routed and relayed to backend endpoints.

``Proxy.handle`` serves one client connection (plain or TLS) with keep-alive: it reads a request
head, routes it through the current ``Snapshot`` (route table plus resolved upstreams), sends it
to an endpoint over a pooled keep-alive connection with ``X-Forwarded-*``/``X-Real-IP`` set and
hop-by-hop headers dropped (RFC 7230 §6.1), and streams the response back. Small bodies are read
whole and sent with their head (one write each way); larger ones are streamed chunk by chunk.
``Upgrade`` requests (WebSocket) get their own backend connection and, after ``101``, a
bidirectional tunnel.

Answers as ingress-nginx gives them: 404 when no rule and no default backend matches, 503 when
the backend has no ready endpoint, 502 when no endpoint could be reached, 504 when the backend
did not answer in time, 400/431/505 for requests this proxy refuses to forward.

Timeouts on the per-request path are deadlines on the connection checked by one watchdog task
(a timer per wait costs about a quarter of the proxy's time on small requests); streamed bodies
and tunnels bound each read with ``asyncio.timeout``.

Invariants: a request that fails to connect is retried on the next endpoint (each at most once,
up to ``max_attempts``); a request is re-sent after it reached a backend only when it is
idempotent and its body was buffered, and never after any byte of the response was passed on.
A snapshot swap never affects a request already routed. Shutdown stops accepting, closes idle
connections at once and lets requests in flight finish within the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from kybernetes.network.ingress import relay
from kybernetes.network.ingress.endpoints import Upstream
from kybernetes.network.ingress.http1 import (
    HEAD_END,
    HOP_BY_HOP,
    IDEMPOTENT,
    Framing,
    Head,
    HTTPError,
    error_response,
    forwarded_lines,
    parse_request,
    parse_response,
    request_framing,
    response_framing,
    route_key,
    serialize,
)
from kybernetes.network.ingress.pool import BackendConnection, BackendPool
from kybernetes.network.ingress.routes import BackendRef, RouteTable

log = logging.getLogger(__name__)

REQUEST_HEAD_LIMIT: Final = 64 * 1024
_REPLACED: Final = HOP_BY_HOP | frozenset(
    {
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-proto",
        b"x-forwarded-scheme",
        b"x-real-ip",
    }
)
_BACKEND_ERRORS: Final = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Every wait the proxy makes is bounded by one of these (seconds)."""

    header: float = 60.0  # a client's first request head
    keepalive: float = 75.0  # an idle client connection between requests
    connect: float = 5.0  # opening a backend connection
    read: float = 60.0  # a backend's response head; each body read or write on either side
    tunnel_idle: float = 3600.0  # an upgraded (WebSocket) connection with no traffic
    shutdown_grace: float = 10.0  # requests in flight when the proxy stops


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the proxy routes by: replaced whole by the controller, never changed in place."""

    table: RouteTable
    upstreams: Mapping[BackendRef, Upstream] = field(default_factory=dict)


EMPTY: Final = Snapshot(RouteTable({}, {}, None, None))


class _Finished(Exception):
    """The exchange is over; ``keep`` says whether the client connection may be reused."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep


@dataclass(slots=True, eq=False)
class _Client:
    """One client connection, as the watchdog and shutdown see it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    task: asyncio.Task[object] | None
    forwarded: list[bytes]  # X-Forwarded-* and X-Real-IP lines, the same for every request
    busy: bool = False
    deadline: float = 0.0  # loop time when the current wait is given up; 0: none
    backend: BackendConnection | None = None  # the connection being waited on, if any
    expired: bool = False  # the watchdog cut the wait short


class Proxy:
    """Serves client connections against the current snapshot."""

    def __init__(
        self,
        pool: BackendPool | None = None,
        timeouts: Timeouts | None = None,
        *,
        max_attempts: int = 5,
    ) -> None:
        self.timeouts = t = timeouts or Timeouts()
        self.pool = pool or BackendPool(connect_timeout=t.connect)
        self.max_attempts = max_attempts
        self.snapshot: Snapshot = EMPTY
        self._clients: set[_Client] = set()
        self._closing = False
        self._watchdog: asyncio.Task[None] | None = None
        self._tick = max(0.05, min(1.0, t.header / 4, t.keepalive / 4, t.read / 4))

    # --- listening, the watchdog and shutdown ----------------------------------------------

    async def listen(
        self, host: str, port: int, ssl_context: ssl.SSLContext | None = None
    ) -> asyncio.Server:
        scheme = b"https" if ssl_context is not None else b"http"
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(), name="ingress watchdog")

        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self.handle(reader, writer, scheme)

        return await asyncio.start_server(
            on_connection,
            host,
            port,
            limit=REQUEST_HEAD_LIMIT,
            ssl=ssl_context,
            ssl_handshake_timeout=10.0 if ssl_context is not None else None,
            backlog=1024,
            reuse_address=True,
        )

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._tick)
            now = loop.time()
            for client in list(self._clients):
                if client.deadline and now > client.deadline:
                    client.deadline = 0.0
                    client.expired = True
                    if client.backend is not None:
                        client.backend.close()
                    else:
                        client.writer.transport.abort()

    async def shutdown(self) -> None:
        """Close idle client connections; give busy ones the grace period, then cut them."""
        self._closing = True
        for client in list(self._clients):
            if not client.busy:
                client.writer.transport.close()
        tasks = {c.task for c in self._clients if c.task is not None}
        if tasks:
            await asyncio.wait(tasks, timeout=self.timeouts.shutdown_grace)
        for client in list(self._clients):
            client.writer.transport.abort()
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        self.pool.close()

    # --- one client connection -------------------------------------------------------------

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, scheme: bytes
    ) -> None:
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname")
        client_ip = (peer[0] if peer else "").encode()
        port = str(local[1] if local else 0).encode()
        forwarded = [
            b"X-Real-IP: " + client_ip,
            b"X-Forwarded-For: " + client_ip,
            b"X-Forwarded-Port: " + port,
            b"X-Forwarded-Proto: " + scheme,
            b"X-Forwarded-Scheme: " + scheme,
        ]
        client = _Client(reader, writer, asyncio.current_task(), forwarded)
        self._clients.add(client)
        loop = asyncio.get_running_loop()
        wait = self.timeouts.header
        try:
            while not self._closing:
                client.deadline = loop.time() + wait
                try:
                    data = await reader.readuntil(HEAD_END)
                except asyncio.LimitOverrunError:
                    writer.write(error_response(431, False))
                    return
                client.busy = True
                try:
                    keep = await self._exchange(client, parse_request(data))
                except HTTPError as exc:
                    writer.write(error_response(exc.status, False))
                    return
                except _Finished as done:
                    keep = done.keep
                finally:
                    client.busy = False
                    client.backend = None
                if not keep:
                    return
                wait = self.timeouts.keepalive
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            return
        except Exception:
            log.exception("ingress connection failed client=%s", client_ip.decode())
        finally:
            self._clients.discard(client)
            with contextlib.suppress(OSError, RuntimeError, TimeoutError):
                await self._drain(writer)
            writer.transport.close()

    async def _drain(self, writer: asyncio.StreamWriter) -> None:
        if writer.transport.get_write_buffer_size():
            async with asyncio.timeout(self.timeouts.read):
                await writer.drain()

    # --- one request -----------------------------------------------------------------------

    async def _exchange(self, client: _Client, head: Head) -> bool:
        """Serve one request; returns whether the client connection stays open."""
        reader, writer = client.reader, client.writer
        host, path, target = route_key(head)
        framing, length = request_framing(head)
        keep = head.keep_alive() and not self._closing
        match = self.snapshot.table.match(host, path)
        upstream = self.snapshot.upstreams.get(match.backend) if match.backend else None
        if not match.routed or upstream is None or not upstream.addresses:
            keep = keep and framing is Framing.NONE  # an unread body would poison the stream
            status = 404 if not match.routed else 503
            writer.write(error_response(status, keep, head.method == b"HEAD"))
            return keep

        loop = asyncio.get_running_loop()
        upgrade = head.get(b"upgrade") if b"upgrade" in head.connection else None
        body = b""
        streaming = framing is not Framing.NONE
        if (
            framing is Framing.LENGTH
            and length <= relay.SMALL_BODY
            and b"100-continue" not in head.tokens(b"expect")
        ):
            client.deadline = loop.time() + self.timeouts.read
            body = await reader.readexactly(length)
            streaming = False
        client.deadline = 0.0
        lines = forwarded_lines(head, _REPLACED)
        lines += client.forwarded
        host_header = head.get(b"host")
        lines.append(b"X-Forwarded-Host: " + (host_header or host.encode("latin-1")))
        if host_header is None:
            lines.append(b"Host: " + host.encode("latin-1"))
        if framing is Framing.CHUNKED:
            lines.append(b"Transfer-Encoding: chunked")
        if upgrade is not None:
            lines += [b"Upgrade: " + upgrade, b"Connection: upgrade"]
        request = serialize(head.method + b" " + target + b" HTTP/1.1", lines) + body
        replayable = not streaming and head.method in IDEMPOTENT
        failed = 502

        for address in upstream.candidates()[: self.max_attempts]:
            fresh = upgrade is not None
            while True:
                try:
                    conn = await (self.pool.connect if fresh else self.pool.acquire)(address)
                except (OSError, TimeoutError) as exc:
                    if upstream.mark_failed(address):
                        log.info(
                            "backend connect failed backend=%s/%s:%s address=%s error=%r",
                            *upstream.ref,
                            address,
                            exc,
                        )
                    break  # next endpoint
                conn.writer.write(request)
                sender = None
                if streaming:
                    sender = asyncio.ensure_future(self._send_body(reader, conn, framing, length))
                client.backend, client.expired = conn, False
                client.deadline = loop.time() + self.timeouts.read
                try:
                    response = await self._response_head(conn, writer, head)
                except (*_BACKEND_ERRORS, HTTPError) as exc:
                    client.deadline = 0.0
                    self._abandon(conn, sender)
                    if client.expired:
                        log.warning("backend timed out address=%s path=%s", address, path)
                        failed = 504
                        break
                    if replayable and conn.reused and not fresh:
                        fresh = True  # a pooled connection the backend had closed: reconnect
                        continue
                    log.info("backend failed address=%s error=%r", address, exc)
                    if replayable:
                        break
                    writer.write(error_response(502, keep and not streaming))
                    return keep and not streaming
                return await self._respond(client, head, conn, response, sender, keep)
            if failed == 504:
                break
        keep = keep and not streaming
        writer.write(error_response(failed, keep))
        return keep

    @staticmethod
    def _abandon(conn: BackendConnection, sender: asyncio.Future[None] | None) -> None:
        conn.close()
        if sender is not None:
            sender.cancel()

    async def _send_body(
        self, reader: asyncio.StreamReader, conn: BackendConnection, framing: Framing, length: int
    ) -> None:
        try:
            await relay.relay_body(reader, conn.writer, framing, length, self.timeouts.read)
        except BaseException:
            conn.close()  # the response read fails at once instead of waiting for a timeout
            raise

    @staticmethod
    async def _response_head(
        conn: BackendConnection, writer: asyncio.StreamWriter, request: Head
    ) -> Head:
        """The final response head; interim 1xx responses (but 101) go straight through."""
        while True:
            data = await conn.reader.readuntil(HEAD_END)
            response = parse_response(data)
            if 100 <= response.status < 200 and response.status != 101:
                if request.http11:
                    writer.write(data)
                continue
            return response

    async def _respond(
        self,
        client: _Client,
        request: Head,
        conn: BackendConnection,
        response: Head,
        sender: asyncio.Future[None] | None,
        keep: bool,
    ) -> bool:
        """Pass the response on; returns whether the client connection stays open."""
        writer = client.writer
        if response.status == 101:
            client.deadline = 0.0
            if request.get(b"upgrade") is None:
                self._abandon(conn, sender)
                writer.write(error_response(502, False))
                return False
            writer.write(serialize(response.start, [h[2] for h in response.headers]))
            try:
                idle = self.timeouts.tunnel_idle
                await relay.tunnel(client.reader, writer, conn.reader, conn.writer, idle)
            finally:
                self._abandon(conn, sender)
            return False
        framing, length = response_framing(response, request.method)
        backend_keep = response.keep_alive() and framing is not Framing.UNTIL_CLOSE
        lines = forwarded_lines(response)
        rechunk = dechunk = False
        if framing is Framing.CHUNKED:
            if request.http11:
                lines.append(b"Transfer-Encoding: chunked")
            else:
                dechunk, keep = True, False
        elif framing is Framing.UNTIL_CLOSE:
            if request.http11:
                lines.append(b"Transfer-Encoding: chunked")
                rechunk = True
            else:
                keep = False
        if not keep:
            lines.append(b"Connection: close")
        elif not request.http11:
            lines.append(b"Connection: keep-alive")
        out = serialize(response.start, lines)
        try:
            if framing is Framing.LENGTH and length <= relay.SMALL_BODY:
                writer.write(out + await conn.reader.readexactly(length))
                client.deadline = 0.0
            else:
                client.deadline = 0.0
                writer.write(out)
                await relay.relay_body(
                    conn.reader,
                    writer,
                    framing,
                    length,
                    self.timeouts.read,
                    rechunk=rechunk,
                    dechunk=dechunk,
                )
            await self._drain(writer)
        except (*_BACKEND_ERRORS, TimeoutError, HTTPError):
            client.deadline = 0.0
            self._abandon(conn, sender)
            return False  # the head is out: closing is the only way left to signal the error
        if sender is not None and (
            not sender.done() or sender.cancelled() or sender.exception() is not None
        ):
            self._abandon(conn, sender)  # the backend answered before it read the whole body
            return False
        if backend_keep:
            self.pool.release(conn)
        else:
            conn.close()
        return keep
