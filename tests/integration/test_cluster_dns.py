"""Cluster DNS against a real API server: objects made through the API, resolved over UDP and
TCP on 127.0.0.1, names outside the cluster forwarded to a tiny upstream the test runs itself."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import pytest_asyncio
from dnslib import QTYPE, RCODE, RR, SOA, A, DNSRecord

from kybernetes.client.resource import ENDPOINTSLICES, NAMESPACES, SERVICES
from kybernetes.client.rest import Client
from kybernetes.network.dns import ClusterDNS, ClusterDNSConfig, Listen, ensure_kube_dns_service
from kybernetes.network.dns.kubedns import ensure_kube_dns_endpoints
from kybernetes.testing.apiserver import running_apiserver

NS = "dns-test"
ZONE = "cluster.local"

# --- a DNS client and a fake upstream ---------------------------------------------------------


class _Once(asyncio.DatagramProtocol):
    def __init__(self, future: asyncio.Future[bytes]) -> None:
        self.future = future

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not self.future.done():
            self.future.set_result(data)


async def resolve(
    port: int, name: str, qtype: str = "A", *, tcp: bool = False, timeout: float = 3.0
) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    wire = bytes(q.pack())
    async with asyncio.timeout(timeout):
        if tcp:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(struct.pack("!H", len(wire)) + wire)
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(length)
            finally:
                writer.close()
                await writer.wait_closed()
        else:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[bytes] = loop.create_future()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Once(future), remote_addr=("127.0.0.1", port)
            )
            try:
                transport.sendto(wire)
                data = await future
            finally:
                transport.close()
    reply = DNSRecord.parse(data)
    assert reply.header.id == q.header.id
    return reply


def addresses(reply: DNSRecord) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype in (QTYPE.A, QTYPE.AAAA))


@dataclass
class FakeUpstream(asyncio.DatagramProtocol):
    """Answers ``*.example.test``: A 192.0.2.7 (TTL 60), NXDOMAIN for ``nx.``; counts queries."""

    queries: list[tuple[str, str, str]] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None
    port: int = 0

    def answer(self, data: bytes, proto: str) -> bytes:
        q = DNSRecord.parse(data)
        name = str(q.q.qname).lower()
        self.queries.append((proto, name, str(QTYPE.get(q.q.qtype))))
        reply = q.reply()
        reply.header.aa = 0
        if name.startswith("nx."):
            reply.header.rcode = RCODE.NXDOMAIN
            soa = SOA("ns.example.test", "h.example.test", (1, 60, 60, 60, 30))
            reply.add_auth(RR("example.test", QTYPE.SOA, rdata=soa, ttl=60))
        elif q.q.qtype == QTYPE.A:
            reply.add_answer(RR(q.q.qname, QTYPE.A, rdata=A("192.0.2.7"), ttl=60))
        return bytes(reply.pack())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if self.transport is not None:
            self.transport.sendto(self.answer(data, "udp"), addr)

    async def serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = self.answer(await reader.readexactly(length), "tcp")
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def fake_upstream() -> AsyncIterator[FakeUpstream]:
    loop = asyncio.get_running_loop()
    upstream = FakeUpstream()
    for _ in range(20):  # a free UDP port whose TCP twin is free too
        transport, _ = await loop.create_datagram_endpoint(
            lambda: upstream, local_addr=("127.0.0.1", 0)
        )
        upstream.port = transport.get_extra_info("sockname")[1]
        try:
            server = await asyncio.start_server(upstream.serve_tcp, "127.0.0.1", upstream.port)
            break
        except OSError:
            transport.close()
    else:
        raise RuntimeError("no free port pair")
    try:
        yield upstream
    finally:
        transport.close()
        server.close()
        await server.wait_closed()


@dataclass
class Env:
    client: Client
    dns: ClusterDNS
    upstream: FakeUpstream

    @property
    def port(self) -> int:
        return self.dns.port


@contextlib.asynccontextmanager
async def running_dns(client: Client, config: ClusterDNSConfig) -> AsyncIterator[ClusterDNS]:
    dns = ClusterDNS(client, config)
    task = asyncio.create_task(dns.run())
    try:
        async with asyncio.timeout(10):
            await dns.wait_ready()
        yield dns
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest_asyncio.fixture
async def env() -> AsyncIterator[Env]:
    async with running_apiserver() as api, Client(api.url) as client, fake_upstream() as up:
        await client.create(NAMESPACES, {"metadata": {"name": NS}})
        config = ClusterDNSConfig(
            listen=Listen("127.0.0.1", 0), upstreams=(f"127.0.0.1:{up.port}",), upstream_timeout=0.5
        )
        async with running_dns(client, config) as dns:
            yield Env(client, dns, up)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> float:
    """Seconds until ``check`` holds (polled every 2 ms)."""
    started = time.perf_counter()
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.002)
    return time.perf_counter() - started


def service(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"name": "http", "port": 80, "protocol": "TCP"}])
    return {"metadata": {"name": name, "namespace": NS}, "spec": spec}


def endpoint_slice(name: str, svc: str, endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"kubernetes.io/service-name": svc},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
    }


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("tcp", [False, True])
async def test_service_a_record_follows_the_api(env: Env, tcp: bool) -> None:
    name = f"web.{NS}.svc.{ZONE}"
    assert (await resolve(env.port, name, tcp=tcp)).header.rcode == RCODE.NXDOMAIN
    created = await env.client.create(SERVICES, service("web"), NS)
    ip = created["spec"]["clusterIP"]

    async def visible() -> bool:
        return addresses(await resolve(env.port, name, tcp=tcp)) == [ip]

    took = await eventually(visible)
    assert took < 1.0, f"service visible in DNS after {took * 1000:.0f} ms"
    reply = await resolve(env.port, name, tcp=tcp)
    assert reply.header.aa == 1
    assert reply.rr[0].ttl == 5
    nodata = await resolve(env.port, name, "AAAA", tcp=tcp)
    assert (nodata.header.rcode, nodata.rr) == (RCODE.NOERROR, [])
    assert QTYPE.get(nodata.auth[0].rtype) == "SOA"
    ptr = await resolve(env.port, ".".join(reversed(ip.split("."))) + ".in-addr.arpa", "PTR")
    assert [str(rr.rdata) for rr in ptr.rr] == [f"{name}."]
    srv = await resolve(env.port, f"_http._tcp.{name}", "SRV", tcp=tcp)
    assert [str(rr.rdata) for rr in srv.rr] == [f"0 100 80 {name}."]

    await env.client.delete(SERVICES, "web", NS)

    async def gone() -> bool:
        return bool((await resolve(env.port, name, tcp=tcp)).header.rcode == RCODE.NXDOMAIN)

    await eventually(gone)


async def test_headless_service_endpoints_hostnames_and_srv(env: Env) -> None:
    await env.client.create(SERVICES, service("db", clusterIP="None"), NS)
    endpoints = [
        {"addresses": ["10.42.0.5"], "hostname": "db-0", "conditions": {"ready": True}},
        {"addresses": ["10.42.0.6"], "hostname": "db-1", "conditions": {"ready": True}},
        {"addresses": ["10.42.0.7"], "hostname": "db-2", "conditions": {"ready": False}},
    ]
    await env.client.create(ENDPOINTSLICES, endpoint_slice("db-a", "db", endpoints), NS)
    name = f"db.{NS}.svc.{ZONE}"

    async def two() -> bool:
        return addresses(await resolve(env.port, name)) == ["10.42.0.5", "10.42.0.6"]

    await eventually(two)
    assert addresses(await resolve(env.port, f"db-1.{name}")) == ["10.42.0.6"]
    assert (await resolve(env.port, f"db-2.{name}")).header.rcode == RCODE.NXDOMAIN
    srv = await resolve(env.port, f"_pg._tcp.{name}", "SRV", tcp=True)
    assert sorted(str(rr.rdata) for rr in srv.rr) == [
        f"0 50 5432 db-0.{name}.",
        f"0 50 5432 db-1.{name}.",
    ]
    assert sorted(str(rr.rname) for rr in srv.ar) == [f"db-0.{name}.", f"db-1.{name}."]
    ptr = await resolve(env.port, "5.0.42.10.in-addr.arpa", "PTR")
    assert [str(rr.rdata) for rr in ptr.rr] == [f"db-0.{name}."]

    current = await env.client.get(ENDPOINTSLICES, "db-a", NS)
    current["endpoints"][2]["conditions"]["ready"] = True
    del current["endpoints"][0]
    await env.client.update(ENDPOINTSLICES, current)

    async def moved() -> bool:
        return addresses(await resolve(env.port, name)) == ["10.42.0.6", "10.42.0.7"]

    took = await eventually(moved)
    assert took < 1.0
    assert (await resolve(env.port, "5.0.42.10.in-addr.arpa", "PTR")).header.rcode == 3


async def test_pods_external_names_and_namespaces(env: Env) -> None:
    pod = await resolve(env.port, f"10-42-3-4.{NS}.pod.{ZONE}")
    assert addresses(pod) == ["10.42.3.4"]
    assert (await resolve(env.port, f"10-42-3-4.nope.pod.{ZONE}")).header.rcode == 3
    assert (await resolve(env.port, f"{NS}.svc.{ZONE}")).header.rcode == RCODE.NOERROR
    assert (await resolve(env.port, f"nope.svc.{ZONE}")).header.rcode == RCODE.NXDOMAIN
    ext = service("ext", type="ExternalName", externalName="www.example.test")
    await env.client.create(SERVICES, ext, NS)
    name = f"ext.{NS}.svc.{ZONE}"

    async def chased() -> bool:
        reply = await resolve(env.port, name)
        return [str(rr.rdata) for rr in reply.rr] == ["www.example.test.", "192.0.2.7"]

    await eventually(chased)
    txt = await resolve(env.port, f"dns-version.{ZONE}", "TXT")
    assert [str(rr.rdata) for rr in txt.rr] == ['"1.1.0"']


@pytest.mark.parametrize("tcp", [False, True])
async def test_forwarding_and_its_cache(env: Env, tcp: bool) -> None:
    reply = await resolve(env.port, "www.example.test", tcp=tcp)
    assert addresses(reply) == ["192.0.2.7"]
    assert reply.header.aa == 0
    assert reply.rr[0].ttl == 30  # the upstream's 60, capped as CoreDNS's "cache 30" does
    assert env.upstream.queries == [("tcp" if tcp else "udp", "www.example.test.", "A")]
    again = await resolve(env.port, "WWW.example.test", tcp=tcp)
    assert addresses(again) == ["192.0.2.7"]
    assert 28 <= again.rr[0].ttl <= 30
    assert len(env.upstream.queries) == 1
    nx = await resolve(env.port, "nx.example.test", tcp=tcp)
    assert nx.header.rcode == RCODE.NXDOMAIN
    await resolve(env.port, "nx.example.test", tcp=tcp)
    assert len(env.upstream.queries) == 2


async def test_unreachable_and_missing_upstreams() -> None:
    async with running_apiserver() as api, Client(api.url) as client:
        # A port nobody listens on: every attempt times out or is refused -> SERVFAIL.
        probe = await asyncio.get_running_loop().create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        dead = probe[0].get_extra_info("sockname")[1]
        probe[0].close()
        config = ClusterDNSConfig(
            listen=Listen("127.0.0.1", 0),
            upstreams=(f"127.0.0.1:{dead}",),
            upstream_timeout=0.2,
            forward_deadline=0.5,
        )
        async with running_dns(client, config) as dns:
            started = time.perf_counter()
            reply = await resolve(dns.port, "www.example.test")
            assert reply.header.rcode == RCODE.SERVFAIL
            assert time.perf_counter() - started < 1.5
            tcp = await resolve(dns.port, "www.example.test", tcp=True)
            assert tcp.header.rcode == RCODE.SERVFAIL
        config = ClusterDNSConfig(listen=Listen("127.0.0.1", 0), resolv_conf=None)
        async with running_dns(client, config) as dns:
            assert (await resolve(dns.port, "www.example.test")).header.rcode == RCODE.REFUSED
            ok = await resolve(dns.port, f"kubernetes.default.svc.{ZONE}")
            assert addresses(ok) == ["10.43.0.1"]


async def test_kube_dns_service_and_endpoints(env: Env) -> None:
    first = await ensure_kube_dns_service(env.client)
    again = await ensure_kube_dns_service(env.client)
    assert first["spec"]["clusterIP"] == "10.43.0.10"
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert {p["name"] for p in first["spec"]["ports"]} == {"dns", "dns-tcp", "metrics"}
    assert first["metadata"]["labels"]["k8s-app"] == "kube-dns"
    eps = await ensure_kube_dns_endpoints(env.client, ["10.42.0.1"], node_name="node-1")
    same = await ensure_kube_dns_endpoints(env.client, ["10.42.0.1"], node_name="node-1")
    assert eps["metadata"]["resourceVersion"] == same["metadata"]["resourceVersion"]
    moved = await ensure_kube_dns_endpoints(env.client, ["10.42.0.2"])
    assert moved["endpoints"][0]["addresses"] == ["10.42.0.2"]

    async def named() -> bool:
        reply = await resolve(env.port, f"kube-dns.kube-system.svc.{ZONE}")
        return addresses(reply) == ["10.43.0.10"]

    await eventually(named)
    assert addresses(await resolve(env.port, f"ns.dns.{ZONE}")) == ["10.43.0.10"]
    ptr = await resolve(env.port, "10.0.43.10.in-addr.arpa", "PTR")
    assert [str(rr.rdata) for rr in ptr.rr] == [f"kube-dns.kube-system.svc.{ZONE}."]


async def test_many_queries_per_second_from_one_client(env: Env) -> None:
    """Not a benchmark (see the report); checks that concurrent UDP queries all get answers."""
    await env.client.create(SERVICES, service("hot"), NS)
    name = f"hot.{NS}.svc.{ZONE}"

    async def ready() -> bool:
        return bool(addresses(await resolve(env.port, name)))

    await eventually(ready)
    replies = await asyncio.gather(*(resolve(env.port, name) for _ in range(200)))
    assert all(len(r.rr) == 1 for r in replies)
