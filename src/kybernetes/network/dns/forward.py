"""Forwarding names outside the cluster zones to the host's resolvers, with a TTL cache.

The upstreams are the ``nameserver`` lines of the host's resolv.conf (path configurable, re-read
when its modification time changes, checked at most every few seconds), minus any that would
send queries back to this server (its own address and port, or a loopback address when it
listens on a wildcard address at the same port) and, when asked (a server inside a network
namespace cannot reach the host's loopback), every loopback one.

A query goes to the upstreams in turn over the client's transport (a truncated UDP answer is
passed back so the client retries over TCP) with a per-upstream timeout and an overall
deadline. Answers with NOERROR or NXDOMAIN are cached by (name, type, class) for their smallest
TTL (negative ones for the SOA's minimum), capped at ``max_ttl``; served from the cache, TTLs
count down. No upstream configured: REFUSED; none answering: SERVFAIL (the server's choice).

Invariants: the upstream sees the client's question and EDNS unchanged under a fresh random ID;
an answer is accepted only from the upstream it was sent to, with that ID and that question.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import secrets
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, cast

from dnslib import QTYPE, RCODE, DNSRecord

from kybernetes.network.dns.cache import TTLCache

log = logging.getLogger(__name__)

RELOAD_EVERY: Final = 5.0
OPT: Final = 41


class NoUpstreams(Exception):
    """No resolver is configured (or all would loop): the server answers REFUSED."""


class UpstreamFailed(Exception):
    """No upstream answered in time: the server answers SERVFAIL."""


@dataclass(frozen=True, slots=True)
class Upstream:
    host: str
    port: int = 53


def parse_upstream(text: str) -> Upstream:
    """``ip``, ``ip:port`` or ``[ipv6]:port`` as an ``Upstream`` (ValueError when malformed)."""
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = int(rest.removeprefix(":"))
    elif text.count(":") == 1:
        host, _, number = text.partition(":")
        port = int(number)
    return Upstream(str(ipaddress.ip_address(host)), port)


def nameservers(text: str) -> list[str]:
    """The ``nameserver`` addresses of a resolv.conf, in order (zone suffixes dropped)."""
    found = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            address = fields[1].split("%", 1)[0]
            with contextlib.suppress(ValueError):
                found.append(str(ipaddress.ip_address(address)))
    return found


def usable(
    servers: Sequence[str], listen: Sequence[tuple[str, int]], skip_loopback: bool
) -> list[Upstream]:
    """The upstreams worth asking: see the module docstring."""
    out = []
    for server in servers:
        ip = ipaddress.ip_address(server)
        if skip_loopback and ip.is_loopback:
            continue
        loops = False
        for host, port in listen:
            if port != 53:
                continue
            wildcard = host in ("", "0.0.0.0", "::")
            if server == host or (wildcard and ip.is_loopback):
                loops = True
        if not loops:
            out.append(Upstream(server))
    return out


class ResolvConfUpstreams:
    """The upstream list from a resolv.conf, refreshed when the file changes."""

    def __init__(
        self,
        path: Path,
        listen: Sequence[tuple[str, int]] = (),
        *,
        skip_loopback: bool = False,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.listen = list(listen)
        self.skip_loopback = skip_loopback
        self._now = now
        self._checked = -RELOAD_EVERY
        self._mtime: float | None = None
        self._upstreams: list[Upstream] = []

    def current(self) -> list[Upstream]:
        now = self._now()
        if now - self._checked >= RELOAD_EVERY:
            self._checked = now
            self._reload()
        return self._upstreams

    def _reload(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime
            if mtime == self._mtime:
                return
            text = self.path.read_text()
        except OSError as exc:
            if self._mtime is not None or self._upstreams:
                log.warning("resolv.conf unreadable path=%s error=%s", self.path, exc)
            self._mtime, self._upstreams = None, []
            return
        self._mtime = mtime
        found = nameservers(text)
        self._upstreams = usable(found, self.listen, self.skip_loopback)
        log.info(
            "upstream resolvers path=%s servers=%s skipped=%d",
            self.path,
            ",".join(u.host for u in self._upstreams) or "-",
            len(found) - len(self._upstreams),
        )


class _UDPExchange(asyncio.DatagramProtocol):
    """One connected socket per upstream; answers are matched to waiting queries by ID."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[bytes, asyncio.Future[bytes]]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) < 12:
            return
        (qid,) = struct.unpack_from("!H", data)
        waiting = self.pending.get(qid)
        if waiting is None:
            return
        question, future = waiting
        if data[12 : 12 + len(question)] == question and not future.done():
            future.set_result(data)

    def error_received(self, exc: Exception) -> None:
        for _, future in self.pending.values():
            if not future.done():
                future.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.error_received(exc or ConnectionError("upstream socket closed"))


def _question_bytes(query: bytes) -> bytes:
    """The wire question section of a single-question query (name, type, class)."""
    pos = 12
    while pos < len(query):
        length = query[pos]
        if length == 0:
            return query[12 : pos + 5]
        pos += length + 1
    raise ValueError("malformed question")


def _min_ttl(record: DNSRecord) -> int | None:
    if record.header.rcode == RCODE.NXDOMAIN or not record.rr:
        soas = [rr for rr in record.auth if rr.rtype == QTYPE.SOA]
        if not soas:
            return None
        return min(min(int(rr.ttl), int(rr.rdata.times[4])) for rr in soas)
    ttls = [int(rr.ttl) for rr in (*record.rr, *record.auth, *record.ar) if rr.rtype != OPT]
    return min(ttls) if ttls else None


def _cap_ttls(record: DNSRecord, ttl: int) -> bool:
    """Lower every record's TTL to at most ``ttl`` (as CoreDNS's cache does); True if changed."""
    changed = False
    for rr in (*record.rr, *record.auth, *record.ar):
        if rr.rtype != OPT and rr.ttl > ttl:
            rr.ttl = ttl
            changed = True
    return changed


class Forwarder:
    """Resolves names outside the cluster through the upstreams; see the module docstring."""

    def __init__(
        self,
        upstreams: Callable[[], list[Upstream]],
        *,
        attempt_timeout: float = 2.0,
        deadline: float = 5.0,
        cache_size: int = 10000,
        max_ttl: float = 30.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstreams = upstreams
        self.attempt_timeout = attempt_timeout
        self.deadline = deadline
        self.max_ttl = max_ttl
        self.cache: TTLCache[tuple[str, int, int], tuple[bytes, int]] = TTLCache(cache_size, now)
        self._udp: dict[Upstream, _UDPExchange] = {}
        self._first = 0  # index of the upstream that answered last

    async def close(self) -> None:
        for exchange in self._udp.values():
            if exchange.transport is not None:
                exchange.transport.close()
        self._udp.clear()

    def cached(self, query: DNSRecord) -> DNSRecord | None:
        """The cached answer to ``query`` with counted-down TTLs and its ID, if any."""
        q = query.q
        hit = self.cache.get((str(q.qname).lower(), q.qtype, q.qclass))
        if hit is None:
            return None
        (wire, ttl), age = hit
        answer = DNSRecord.parse(wire)
        _cap_ttls(answer, max(0, ttl - int(age)))
        answer.header.id = query.header.id
        answer.questions = [q]
        return answer

    async def resolve(self, query: DNSRecord, wire: bytes, *, tcp: bool) -> bytes:
        """The upstream's answer (wire form, with the client's ID) to the client's ``wire``."""
        servers = self.upstreams()
        if not servers:
            raise NoUpstreams()
        question = _question_bytes(wire)
        errors: list[str] = []
        async with asyncio.timeout(self.deadline):
            # Each upstream twice at most (a lost datagram is not a dead server), in turn.
            for attempt in range(2 * len(servers)):
                server = servers[(self._first + attempt) % len(servers)]
                try:
                    async with asyncio.timeout(self.attempt_timeout):
                        answer = await self._exchange(server, wire[2:], question, tcp=tcp)
                except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError) as e:
                    errors.append(f"{server.host}:{server.port}:{type(e).__name__}")
                    continue
                self._first = (self._first + attempt) % len(servers)
                return wire[:2] + self._store(query, answer)[2:]
        raise UpstreamFailed(" ".join(errors))

    def _store(self, query: DNSRecord, answer: bytes) -> bytes:
        """Cache ``answer`` when it may be; returns it with TTLs capped as the cache holds it."""
        try:
            record = DNSRecord.parse(answer)
        except Exception:  # dnslib raises many types on malformed input
            return answer
        if record.header.tc or record.header.rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN):
            return answer
        found = _min_ttl(record)
        if found is None:
            return answer
        ttl = int(min(found, self.max_ttl))
        if _cap_ttls(record, ttl):
            answer = bytes(record.pack())
        q = query.q
        self.cache.put((str(q.qname).lower(), q.qtype, q.qclass), (answer, ttl), ttl)
        return answer

    async def _exchange(
        self, server: Upstream, body: bytes, question: bytes, *, tcp: bool
    ) -> bytes:
        qid = secrets.randbelow(65536)
        message = struct.pack("!H", qid) + body
        if tcp:
            return await self._tcp(server, message, qid)
        exchange = self._udp.get(server)
        if exchange is None or exchange.transport is None:
            loop = asyncio.get_running_loop()
            _, exchange = await loop.create_datagram_endpoint(
                _UDPExchange, remote_addr=(server.host, server.port)
            )
            self._udp[server] = exchange
        while qid in exchange.pending:
            qid = secrets.randbelow(65536)
            message = struct.pack("!H", qid) + body
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        exchange.pending[qid] = (question, future)
        try:
            if exchange.transport is None:
                raise ConnectionError("upstream socket closed")
            exchange.transport.sendto(message)
            return await future
        finally:
            exchange.pending.pop(qid, None)

    async def _tcp(self, server: Upstream, message: bytes, qid: int) -> bytes:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            writer.write(struct.pack("!H", len(message)) + message)
            await writer.drain()
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(length)
                if len(data) >= 2 and struct.unpack_from("!H", data)[0] == qid:
                    return data
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
