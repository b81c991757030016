"""Wire-level behaviour of the server without sockets, and the forwarder's pure parts."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from dns_fixtures import (
    ask,
    endpoint,
    endpoint_slice,
    make_server,
    make_zone,
    populated_index,
    query,
)
from dnslib import CLASS, QTYPE, RCODE, RR, SOA, A, DNSRecord

from kybernetes.network.dns.cache import TTLCache, WireCache
from kybernetes.network.dns.forward import (
    Forwarder,
    ResolvConfUpstreams,
    Upstream,
    _min_ttl,
    nameservers,
    usable,
)
from kybernetes.network.dns.index import ClusterIndex


def big_index() -> ClusterIndex:
    index = populated_index()
    index.apply_service(
        {"metadata": {"name": "big", "namespace": "default"}, "spec": {"clusterIP": "None"}}
    )
    eps = [endpoint(f"10.42.1.{i}") for i in range(1, 61)]
    index.apply_slice(endpoint_slice("big-1", "big", eps, []))
    return index


def test_large_udp_answer_is_truncated_and_complete_over_tcp() -> None:
    server = make_server(make_zone(big_index()))
    name = "big.default.svc.cluster.local"
    udp = ask(server, name)
    assert udp.header.tc == 1
    assert udp.rr == []
    assert ask(server, name, tcp=True).header.tc == 0
    assert len(ask(server, name, tcp=True).rr) == 60
    edns = ask(server, name, edns=True)  # 4096 bytes offered: fits
    assert edns.header.tc == 0
    assert len(edns.rr) == 60
    assert any(rr.rtype == QTYPE.OPT for rr in edns.ar)


def test_edns_is_echoed() -> None:
    reply = ask(make_server(), "web.default.svc.cluster.local", edns=True)
    assert [QTYPE.get(rr.rtype) for rr in reply.ar] == ["OPT"]


def test_wire_cache_answers_repeats_with_the_new_id() -> None:
    server = make_server()
    first = server.answer_local(bytes(query("web.default.svc.cluster.local", qid=1).pack()), False)
    second = server.answer_local(bytes(query("web.default.svc.cluster.local", qid=2).pack()), False)
    assert isinstance(first, bytes)
    assert isinstance(second, bytes)
    assert first[2:] == second[2:]
    assert struct.unpack("!H", second[:2]) == (2,)
    assert len(server.wire_cache) == 1


@pytest.mark.parametrize(
    ("packet", "answer"),
    [
        (b"\x12\x34", None),  # too short to answer
        (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff", RCODE.FORMERR),
    ],
)
def test_malformed(packet: bytes, answer: int | None) -> None:
    reply = make_server().answer_local(packet, False)
    if answer is None:
        assert reply is None
    else:
        assert isinstance(reply, bytes)
        assert reply[:2] == b"\x12\x34"
        assert reply[3] & 0x0F == answer


def test_responses_are_ignored() -> None:
    q = query("web.default.svc.cluster.local")
    q.header.qr = 1
    assert make_server().answer_local(bytes(q.pack()), False) is None


def test_other_opcode_is_notimp_and_other_class_refused() -> None:
    server = make_server()
    q = query("web.default.svc.cluster.local")
    q.header.opcode = 2
    reply = server.answer_local(bytes(q.pack()), False)
    assert isinstance(reply, bytes)
    assert DNSRecord.parse(reply).header.rcode == RCODE.NOTIMP
    q = query("version.bind", "TXT")
    q.q.qclass = CLASS.CH
    reply = server.answer_local(bytes(q.pack()), False)
    assert isinstance(reply, bytes)
    assert DNSRecord.parse(reply).header.rcode == RCODE.REFUSED


# --- the forwarder's pure parts ---------------------------------------------------------------

RESOLV = """# generated
search example.internal
nameserver 127.0.0.53
nameserver 192.0.2.1 # comment
nameserver fe80::1%eth0
nameserver not-an-address
options edns0 trust-ad
"""


def test_nameservers() -> None:
    assert nameservers(RESOLV) == ["127.0.0.53", "192.0.2.1", "fe80::1"]


@pytest.mark.parametrize(
    ("listen", "skip_loopback", "expected"),
    [
        ([("127.0.0.1", 5353)], False, ["127.0.0.53", "192.0.2.1", "fe80::1"]),
        ([("127.0.0.53", 53)], False, ["192.0.2.1", "fe80::1"]),
        ([("0.0.0.0", 53)], False, ["192.0.2.1", "fe80::1"]),
        ([("10.43.0.10", 53)], True, ["192.0.2.1", "fe80::1"]),
        ([("192.0.2.1", 53)], False, ["127.0.0.53", "fe80::1"]),
    ],
)
def test_usable_upstreams_never_loop(
    listen: list[tuple[str, int]], skip_loopback: bool, expected: list[str]
) -> None:
    got = usable(nameservers(RESOLV), listen, skip_loopback)
    assert [u.host for u in got] == expected


def test_resolv_conf_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 192.0.2.1\n")
    now = [0.0]
    upstreams = ResolvConfUpstreams(path, now=lambda: now[0])
    assert upstreams.current() == [Upstream("192.0.2.1")]
    path.write_text("nameserver 192.0.2.2\n")
    import os

    os.utime(path, (1, 1))
    assert upstreams.current() == [Upstream("192.0.2.1")]  # not checked again yet
    now[0] = 10.0
    assert upstreams.current() == [Upstream("192.0.2.2")]
    path.unlink()
    now[0] = 20.0
    assert upstreams.current() == []


def test_min_ttl_positive_and_negative() -> None:
    reply = DNSRecord.question("example.com").reply()
    reply.add_answer(RR("example.com", QTYPE.A, rdata=A("192.0.2.1"), ttl=300))
    reply.add_answer(RR("example.com", QTYPE.A, rdata=A("192.0.2.2"), ttl=60))
    assert _min_ttl(reply) == 60
    negative = DNSRecord.question("nope.example.com").reply()
    negative.header.rcode = RCODE.NXDOMAIN
    soa = SOA("ns.example.com", "h.example.com", (1, 2, 3, 4, 900))
    negative.add_auth(RR("example.com", QTYPE.SOA, rdata=soa, ttl=3600))
    assert _min_ttl(negative) == 900


def test_cached_answers_count_down_their_ttl() -> None:
    now = [100.0]
    forwarder = Forwarder(list, now=lambda: now[0])
    q = DNSRecord.question("example.com")
    reply = q.reply()
    reply.add_answer(RR("example.com", QTYPE.A, rdata=A("192.0.2.1"), ttl=20))
    reply.add_answer(RR("example.com", QTYPE.A, rdata=A("192.0.2.2"), ttl=90))
    stored = DNSRecord.parse(forwarder._store(q, bytes(reply.pack())))
    assert [rr.ttl for rr in stored.rr] == [20, 20]
    now[0] = 107.0
    hit = forwarder.cached(DNSRecord.question("EXAMPLE.com"))
    assert hit is not None
    assert [rr.ttl for rr in hit.rr] == [13, 13]
    now[0] = 121.0
    assert forwarder.cached(q) is None


def test_ttl_cache_is_bounded_lru() -> None:
    now = [0.0]
    cache: TTLCache[str, int] = TTLCache(2, lambda: now[0])
    cache.put("a", 1, 10)
    cache.put("b", 2, 10)
    assert cache.get("a") == (1, 0.0)
    cache.put("c", 3, 10)  # evicts b, the least recently used
    assert cache.get("b") is None
    assert len(cache) == 2
    now[0] = 10.0
    assert cache.get("a") is None


def test_wire_cache_drops_other_generations() -> None:
    cache = WireCache(2)
    cache.put(b"k", b"v", 1)
    assert cache.get(b"k", 1) == b"v"
    assert cache.get(b"k", 2) is None
    cache.put(b"x", b"y", 2)
    assert cache.get(b"k", 2) is None
    cache.put(b"z", b"z", 2)
    cache.put(b"w", b"w", 2)
    assert len(cache) <= 2
