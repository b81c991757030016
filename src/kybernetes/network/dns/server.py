"""The DNS wire server: UDP and TCP on one address and port, cluster answers or forwarding.

A query is answered, cheapest first: from the ``WireCache`` (a repeat of a recent cluster
query under the same index generation: the cached bytes behind the query's ID, no parsing);
from the ``ClusterZone`` (parsed with dnslib, packed, then cached if it fits any UDP answer);
else from the ``Forwarder`` (its TTL cache, then the upstreams). Cluster answers are
authoritative (AA); every answer offers recursion (RA). UDP answers larger than the client's
limit (512 bytes, or its EDNS size up to 4096) go out empty with TC set so it retries over TCP.
Malformed queries get FORMERR, other opcodes NOTIMP, other classes than IN REFUSED.

Where to listen (``Listen``): any address and port. ``freebind`` (Linux ``IP_FREEBIND``) binds
an address the node does not hold yet, e.g. the kube-dns ClusterIP 10.43.0.10, so the server
answers as soon as the address appears on an interface; without it, a missing address
(``EADDRNOTAVAIL``) is retried every second while ``wait_for_address`` is set.

Invariant: each query gets at most one answer carrying its ID; a cluster answer is never
served from the wire cache after the index generation it was built under has moved on.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import struct
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Final, cast

from dnslib import CLASS, EDNS0, OPCODE, QTYPE, RCODE, DNSHeader, DNSRecord

from kybernetes.network.dns import metrics
from kybernetes.network.dns.cache import WireCache
from kybernetes.network.dns.forward import Forwarder, NoUpstreams, UpstreamFailed
from kybernetes.network.dns.zone import Answer, ClusterZone

log = logging.getLogger(__name__)

EDNS_SIZE: Final = 1232
MAX_UDP: Final = 4096
MIN_UDP: Final = 512
IP_FREEBIND: Final = getattr(socket, "IP_FREEBIND", 15)
MAX_IN_FLIGHT: Final = 2048


@dataclass(frozen=True, slots=True)
class Listen:
    """Where the server listens; port 0 picks a free port (the same for UDP and TCP)."""

    host: str = "127.0.0.1"
    port: int = 53
    freebind: bool = False
    wait_for_address: bool = True


@dataclass(frozen=True, slots=True)
class _Deferred:
    """A query that needs upstream I/O (forwarding, or chasing an ExternalName's CNAME)."""

    query: DNSRecord
    wire: bytes
    answer: Answer | None


def _udp_limit(query: DNSRecord) -> int:
    for rr in query.ar:
        if rr.rtype == QTYPE.OPT:
            return max(MIN_UDP, min(int(rr.rclass), MAX_UDP))
    return MIN_UDP


def _has_edns(query: DNSRecord) -> bool:
    return any(rr.rtype == QTYPE.OPT for rr in query.ar)


def _header_only(data: bytes, rcode: int) -> bytes | None:
    """An answer carrying just the query's ID and ``rcode``, for queries we cannot parse."""
    if len(data) < 12:
        return None
    (qid, flags) = struct.unpack_from("!HH", data)
    if flags & 0x8000:
        return None  # a response, not a query: never answer it
    opcode_rd = flags & 0x7900
    return struct.pack("!HHHHHH", qid, 0x8080 | opcode_rd | rcode, 0, 0, 0, 0)


class DNSServer:
    """Serves one ``ClusterZone`` (and forwards the rest) on UDP and TCP."""

    def __init__(
        self,
        zone: ClusterZone,
        forwarder: Forwarder | None,
        listen: Listen | None = None,
        *,
        wire_cache_size: int = 20000,
        tcp_idle_timeout: float = 10.0,
    ) -> None:
        self.zone = zone
        self.forwarder = forwarder
        self.listen = listen or Listen()
        self.wire_cache = WireCache(wire_cache_size)
        self.tcp_idle_timeout = tcp_idle_timeout
        self.port = 0
        self.ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- answering -----------------------------------------------------------------------

    def _reply(self, query: DNSRecord, answer: Answer, *, aa: bool = True) -> DNSRecord:
        header = DNSHeader(
            id=query.header.id, qr=1, aa=int(aa), ra=1, rd=query.header.rd, rcode=answer.rcode
        )
        reply = DNSRecord(header, questions=list(query.questions))
        reply.rr = list(answer.answer)
        reply.auth = list(answer.authority)
        reply.ar = list(answer.additional)
        if _has_edns(query):
            reply.ar.append(EDNS0(udp_len=EDNS_SIZE))
        return reply

    def _fit(self, query: DNSRecord, wire: bytes, tcp: bool) -> bytes:
        if tcp or len(wire) <= _udp_limit(query):
            return wire
        header = DNSHeader(id=query.header.id, qr=1, aa=1, ra=1, rd=query.header.rd, tc=1)
        reply = DNSRecord(header, questions=list(query.questions))
        if _has_edns(query):
            reply.ar.append(EDNS0(udp_len=EDNS_SIZE))
        return bytes(reply.pack())

    def _error(self, query: DNSRecord, rcode: int, tcp: bool) -> bytes:
        return self._finish(query, self._reply(query, Answer(rcode=rcode), aa=False), tcp)

    def _finish(self, query: DNSRecord, reply: DNSRecord, tcp: bool) -> bytes:
        metrics.response(reply.header.rcode)
        return self._fit(query, bytes(reply.pack()), tcp)

    def answer_local(self, data: bytes, tcp: bool) -> bytes | _Deferred | None:
        """The answer when no I/O is needed; a ``_Deferred`` otherwise; None to stay silent."""
        generation = self.zone.index.generation
        key = bytes(data[2:])
        cached = self.wire_cache.get(key, generation)
        if cached is not None:
            metrics.WIRE_HITS.inc()
            metrics.response(cached[1] & 0x0F)
            return data[:2] + cached
        try:
            query = DNSRecord.parse(data)
        except Exception:  # dnslib raises many exception types on malformed input
            metrics.response(RCODE.FORMERR)
            return _header_only(data, RCODE.FORMERR)
        if query.header.qr:
            return None
        if query.header.opcode != OPCODE.QUERY:
            return self._error(query, RCODE.NOTIMP, tcp)
        if len(query.questions) != 1:
            return self._error(query, RCODE.FORMERR, tcp)
        q = query.q
        if q.qclass != CLASS.IN:
            return self._error(query, RCODE.REFUSED, tcp)
        answer = self.zone.resolve(str(q.qname), q.qtype)
        if answer is None or answer.chase is not None:
            return _Deferred(query, data, answer)
        wire = bytes(self._reply(query, answer).pack())
        metrics.response(answer.rcode)
        if len(wire) <= MIN_UDP and answer.rcode != RCODE.SERVFAIL:
            self.wire_cache.put(key, wire[2:], generation)
        return self._fit(query, wire, tcp)

    async def answer_remote(self, pending: _Deferred, tcp: bool) -> bytes:
        """Finish a query that needed the upstreams."""
        query = pending.query
        if pending.answer is not None:
            return await self._chase(query, pending.answer, tcp)
        if self.forwarder is None:
            return self._error(query, RCODE.REFUSED, tcp)
        cached = self.forwarder.cached(query)
        if cached is not None:
            metrics.FORWARD_HITS.inc()
            return self._finish(query, cached, tcp)
        try:
            wire = await self.forwarder.resolve(query, pending.wire, tcp=tcp)
        except NoUpstreams:
            metrics.FORWARDS.labels("no_upstream").inc()
            return self._error(query, RCODE.REFUSED, tcp)
        except (UpstreamFailed, TimeoutError) as exc:
            metrics.FORWARDS.labels("failed").inc()
            log.warning(
                "forward failed name=%s type=%s error=%s", q_name(query), q_type(query), exc
            )
            reply = self._reply(query, Answer(rcode=RCODE.SERVFAIL), aa=False)
            return self._finish(query, reply, tcp)
        metrics.FORWARDS.labels("answered").inc()
        metrics.response(wire[3] & 0x0F if len(wire) > 3 else RCODE.SERVFAIL)
        return self._fit(query, wire, tcp)

    async def _chase(self, query: DNSRecord, answer: Answer, tcp: bool) -> bytes:
        """Append the upstream's records for an ExternalName's out-of-zone CNAME target."""
        target = answer.chase
        if target is not None and self.forwarder is not None:
            inner = DNSRecord.question(target, QTYPE.get(query.q.qtype))
            found = self.forwarder.cached(inner)
            if found is None:
                try:
                    wire = await self.forwarder.resolve(inner, bytes(inner.pack()), tcp=tcp)
                    found = DNSRecord.parse(wire)
                except Exception as exc:  # the CNAME alone is still a useful answer
                    log.info("cname chase failed target=%s error=%s", target, exc)
            if found is not None and found.header.rcode == RCODE.NOERROR:
                answer.answer.extend(found.rr)
        answer.chase = None
        return self._finish(query, self._reply(query, answer), tcp)

    async def handle(self, data: bytes, tcp: bool) -> bytes | None:
        """The whole answer to one query (used by TCP and by tests)."""
        local = self.answer_local(data, tcp)
        if isinstance(local, _Deferred):
            return await self.answer_remote(local, tcp)
        return local

    # --- transports ----------------------------------------------------------------------

    def _socket(self, kind: int, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.listen.host else socket.AF_INET
        sock = socket.socket(family, kind)
        try:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.listen.freebind:
                level = socket.IPPROTO_IPV6 if family == socket.AF_INET6 else socket.IPPROTO_IP
                sock.setsockopt(level, IP_FREEBIND, 1)
            sock.bind((self.listen.host, port))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        # Port 0: the kernel picks a free UDP port, which TCP may hold already; pick again.
        tries = 20 if self.listen.port == 0 else 1
        for attempt in range(tries):
            udp = self._socket(socket.SOCK_DGRAM, self.listen.port)
            try:
                tcp = self._socket(socket.SOCK_STREAM, udp.getsockname()[1])
            except OSError as exc:
                udp.close()
                if exc.errno != errno.EADDRINUSE or attempt == tries - 1:
                    raise
                continue
            except BaseException:
                udp.close()
                raise
            return udp, tcp
        raise OSError(errno.EADDRINUSE, "no port free for both UDP and TCP")

    async def run(self) -> None:
        """Serve until cancelled."""
        loop = asyncio.get_running_loop()
        waited = 0
        while True:
            try:
                udp, tcp = self._bind()
                break
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL or not self.listen.wait_for_address:
                    raise
                if waited % 60 == 0:
                    log.info(
                        "dns listen address absent host=%s waited=%ds", self.listen.host, waited
                    )
                waited += 1
                await asyncio.sleep(1.0)
        self.port = udp.getsockname()[1]
        transport, _ = await loop.create_datagram_endpoint(lambda: _UDP(self), sock=udp)
        server = await asyncio.start_server(self._serve_tcp, sock=tcp, limit=70000)
        log.info("dns serving host=%s port=%d zone=%s", self.listen.host, self.port, self.zone_name)
        self.ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.ready.clear()
            transport.close()
            server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await server.wait_closed()

    @property
    def zone_name(self) -> str:
        return ".".join(self.zone.zone)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                async with asyncio.timeout(self.tcp_idle_timeout):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    data = await reader.readexactly(length)
                metrics.TCP_REQUESTS.inc()
                reply = await self.handle(data, tcp=True)
                if reply is not None:
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        metrics.UDP_REQUESTS.inc()
        local = self.server.answer_local(data, tcp=False)
        if local is None or self.transport is None:
            return
        if isinstance(local, bytes):
            self.transport.sendto(local, addr)
            return
        if self.server.in_flight >= MAX_IN_FLIGHT:
            return  # overloaded: the client retries
        self.server.spawn(self._remote(local, addr))

    async def _remote(self, pending: _Deferred, addr: tuple[str | int, ...]) -> None:
        reply = await self.server.answer_remote(pending, tcp=False)
        if self.transport is not None:
            self.transport.sendto(reply, addr)


def q_name(query: DNSRecord) -> str:
    return str(query.q.qname)


def q_type(query: DNSRecord) -> str:
    return str(QTYPE.get(query.q.qtype))
