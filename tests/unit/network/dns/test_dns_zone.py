"""The cluster zone's answers, table-driven, through the server's no-I/O path (no sockets)."""

from __future__ import annotations

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
from dnslib import QTYPE, RCODE, DNSRecord

from kybernetes.network.dns.server import _Deferred

Z = "cluster.local"

# name, type, rcode, sorted answer rdata (NOERROR with [] is NODATA)
CASES = [
    # ClusterIP services
    (f"web.default.svc.{Z}", "A", "NOERROR", ["10.43.0.20"]),
    (f"WEB.Default.SVC.{Z.upper()}.", "A", "NOERROR", ["10.43.0.20"]),
    (f"web.default.svc.{Z}", "AAAA", "NOERROR", []),
    (f"web.default.svc.{Z}", "MX", "NOERROR", []),
    (f"web.default.svc.{Z}", "TXT", "NOERROR", []),
    (f"web.default.svc.{Z}", "PTR", "NOERROR", []),
    (f"web.default.svc.{Z}", "ANY", "NOERROR", []),
    (f"nope.default.svc.{Z}", "A", "NXDOMAIN", []),
    (f"nope.default.svc.{Z}", "TXT", "NXDOMAIN", []),
    (f"web.nons.svc.{Z}", "A", "NXDOMAIN", []),
    (f"web.other.svc.{Z}", "A", "NXDOMAIN", []),
    # schema apexes: NODATA; unknown namespaces and shapes: NXDOMAIN
    (f"default.svc.{Z}", "A", "NOERROR", []),
    (f"nons.svc.{Z}", "A", "NXDOMAIN", []),
    (f"svc.{Z}", "A", "NOERROR", []),
    (f"pod.{Z}", "A", "NOERROR", []),
    (Z, "A", "NOERROR", []),
    (f"foo.{Z}", "A", "NXDOMAIN", []),
    (f"a.b.c.d.e.default.svc.{Z}", "A", "NXDOMAIN", []),
    # what clients ask while walking the search path (ndots:5)
    (f"web.default.svc.{Z}.default.svc.{Z}", "A", "NXDOMAIN", []),
    (f"example.com.default.svc.{Z}", "A", "NXDOMAIN", []),
    (f"example.com.svc.{Z}", "A", "NXDOMAIN", []),
    (f"example.com.{Z}", "A", "NXDOMAIN", []),
    (f"web.default.{Z}", "A", "NXDOMAIN", []),
    # headless: ready endpoints, hostnames, dashed IPs
    (f"db.default.svc.{Z}", "A", "NOERROR", ["10.42.0.5", "10.42.0.6", "10.42.0.7"]),
    (f"db-0.db.default.svc.{Z}", "A", "NOERROR", ["10.42.0.5"]),
    (f"DB-1.db.default.svc.{Z}", "A", "NOERROR", ["10.42.0.6"]),
    (f"10-42-0-7.db.default.svc.{Z}", "A", "NOERROR", ["10.42.0.7"]),
    (f"10-42-0-8.db.default.svc.{Z}", "A", "NXDOMAIN", []),
    (f"db-9.db.default.svc.{Z}", "A", "NXDOMAIN", []),
    (f"db-0.db.default.svc.{Z}", "AAAA", "NOERROR", []),
    (f"empty.default.svc.{Z}", "A", "NXDOMAIN", []),
    (f"nr.default.svc.{Z}", "A", "NOERROR", ["10.42.0.9"]),
    (f"portless.default.svc.{Z}", "A", "NOERROR", ["10.42.0.11"]),
    # an endpoint of a ClusterIP service by its dashed address
    (f"10-42-0-30.web.default.svc.{Z}", "A", "NOERROR", ["10.42.0.30"]),
    # SRV
    (f"_http._tcp.web.default.svc.{Z}", "SRV", "NOERROR", [f"0 100 80 web.default.svc.{Z}."]),
    (f"_DNS._UDP.web.default.svc.{Z}", "SRV", "NOERROR", [f"0 100 53 web.default.svc.{Z}."]),
    (f"_http._udp.web.default.svc.{Z}", "SRV", "NXDOMAIN", []),
    (f"_nope._tcp.web.default.svc.{Z}", "SRV", "NXDOMAIN", []),
    (f"_http._tcp.web.default.svc.{Z}", "A", "NOERROR", ["10.43.0.20"]),
    (
        f"_postgres._tcp.db.default.svc.{Z}",
        "SRV",
        "NOERROR",
        [
            f"0 33 5432 10-42-0-7.db.default.svc.{Z}.",
            f"0 33 5432 db-0.db.default.svc.{Z}.",
            f"0 33 5432 db-1.db.default.svc.{Z}.",
        ],
    ),
    (
        f"web.default.svc.{Z}",
        "SRV",
        "NOERROR",
        [f"0 33 {p} web.default.svc.{Z}." for p in (443, 53, 80)],
    ),
    (f"portless.default.svc.{Z}", "SRV", "NOERROR", []),
    # ExternalName
    (f"ext.default.svc.{Z}", "CNAME", "NOERROR", ["example.com."]),
    (f"inzone.default.svc.{Z}", "A", "NOERROR", ["10.43.0.20", f"web.default.svc.{Z}."]),
    (f"x.ext.default.svc.{Z}", "A", "NXDOMAIN", []),
    # pods insecure
    (f"10-42-0-99.default.pod.{Z}", "A", "NOERROR", ["10.42.0.99"]),
    (f"10-42-0-99.default.pod.{Z}", "AAAA", "NOERROR", []),
    (f"fd00--1.default.pod.{Z}", "AAAA", "NOERROR", ["fd00::1"]),
    (f"10-42-0-99.nons.pod.{Z}", "A", "NXDOMAIN", []),
    (f"notanip.default.pod.{Z}", "A", "NXDOMAIN", []),
    (f"default.pod.{Z}", "A", "NOERROR", []),
    # fixed names
    (f"dns-version.{Z}", "TXT", "NOERROR", ['"1.1.0"']),
    (f"ns.dns.{Z}", "A", "NOERROR", ["10.43.0.10"]),
    (Z, "NS", "NOERROR", [f"ns.dns.{Z}."]),
    # reverse
    ("20.0.43.10.in-addr.arpa", "PTR", "NOERROR", [f"web.default.svc.{Z}."]),
    ("10.0.43.10.in-addr.arpa", "PTR", "NOERROR", [f"kube-dns.kube-system.svc.{Z}."]),
    ("5.0.42.10.in-addr.arpa", "PTR", "NOERROR", [f"db-0.db.default.svc.{Z}."]),
    ("7.0.42.10.in-addr.arpa", "PTR", "NOERROR", [f"10-42-0-7.db.default.svc.{Z}."]),
    ("30.0.42.10.in-addr.arpa", "PTR", "NOERROR", [f"10-42-0-30.web.default.svc.{Z}."]),
    ("8.0.42.10.in-addr.arpa", "PTR", "NXDOMAIN", []),
    ("99.0.43.10.in-addr.arpa", "PTR", "NXDOMAIN", []),
    ("20.0.43.10.in-addr.arpa", "A", "NOERROR", []),
    ("0.43.10.in-addr.arpa", "PTR", "NOERROR", []),
]


@pytest.mark.parametrize(("name", "qtype", "rcode", "expected"), CASES)
def test_answers(name: str, qtype: str, rcode: str, expected: list[str]) -> None:
    reply = ask(make_server(), name, qtype)
    assert RCODE.get(reply.header.rcode) == rcode
    assert sorted(str(rr.rdata) for rr in reply.rr) == sorted(expected)
    assert reply.header.aa == 1
    assert reply.header.id == 4242
    for rr in reply.rr:
        assert rr.ttl == (28800 if qtype == "TXT" and expected else 5)
    if not expected:  # negative answers carry the zone's SOA
        assert [QTYPE.get(rr.rtype) for rr in reply.auth] == ["SOA"]
        assert reply.auth[0].ttl == 5


def test_owner_name_keeps_the_question_case() -> None:
    reply = ask(make_server(), f"Web.Default.svc.{Z}", "A")
    assert str(reply.rr[0].rname) == f"Web.Default.svc.{Z}."


def test_srv_additional_section_has_target_addresses() -> None:
    reply = ask(make_server(), f"_postgres._tcp.db.default.svc.{Z}", "SRV")
    extra = {str(rr.rname): str(rr.rdata) for rr in reply.ar}
    assert extra == {
        f"db-0.db.default.svc.{Z}.": "10.42.0.5",
        f"db-1.db.default.svc.{Z}.": "10.42.0.6",
        f"10-42-0-7.db.default.svc.{Z}.": "10.42.0.7",
    }


def test_soa_shape() -> None:
    reply = ask(make_server(), Z, "SOA")
    soa = reply.rr[0].rdata
    assert str(soa.mname) == f"ns.dns.{Z}."
    assert str(soa.rname) == f"hostmaster.{Z}."
    assert soa.times == (1_700_000_000, 7200, 1800, 86400, 5)
    negative = ask(make_server(), "99.0.43.10.in-addr.arpa", "PTR")
    assert str(negative.auth[0].rname) == "43.10.in-addr.arpa."


def test_external_name_out_of_zone_is_chased_by_the_server() -> None:
    zone = make_zone()
    answer = zone.resolve(f"ext.default.svc.{Z}", QTYPE.A)
    assert answer is not None
    assert [str(rr.rdata) for rr in answer.answer] == ["example.com."]
    assert answer.chase == "example.com"
    local = make_server(zone).answer_local(query(f"ext.default.svc.{Z}").pack(), False)
    assert isinstance(local, _Deferred)


@pytest.mark.parametrize("name", ["example.com", "8.8.8.8.in-addr.arpa", "1.0.0.127.in-addr.arpa"])
def test_names_outside_the_zones_are_not_answered(name: str) -> None:
    assert make_zone().resolve(name, QTYPE.A) is None


def test_not_synced_turns_nxdomain_into_servfail() -> None:
    server = make_server(make_zone(synced=lambda: False))
    assert ask(server, f"nope.default.svc.{Z}").header.rcode == RCODE.SERVFAIL
    assert ask(server, f"web.default.svc.{Z}").header.rcode == RCODE.NOERROR


@pytest.mark.parametrize(
    ("mode", "rcode"), [("insecure", "NOERROR"), ("verified", "NXDOMAIN"), ("disabled", "NXDOMAIN")]
)
def test_pod_modes(mode: str, rcode: str) -> None:
    server = make_server(make_zone(pods=mode))
    assert RCODE.get(ask(server, f"10-42-0-99.default.pod.{Z}").header.rcode) == rcode


def test_pods_verified_answers_existing_pods_only() -> None:
    index = populated_index()
    index.apply_pod(
        {"metadata": {"name": "p", "namespace": "default"}, "status": {"podIP": "10.42.0.99"}}
    )
    server = make_server(make_zone(index, pods="verified"))
    assert ask(server, f"10-42-0-99.default.pod.{Z}").header.rcode == RCODE.NOERROR
    assert ask(server, f"10-42-0-99.other.pod.{Z}").header.rcode == RCODE.NXDOMAIN
    index.delete_pod({"metadata": {"name": "p", "namespace": "default"}})
    assert ask(server, f"10-42-0-99.default.pod.{Z}").header.rcode == RCODE.NXDOMAIN


def test_other_cluster_domain() -> None:
    server = make_server(make_zone(domain="kyb.internal"))
    assert rdatas_of(ask(server, "web.default.svc.kyb.internal")) == ["10.43.0.20"]
    assert server.zone.resolve(f"web.default.svc.{Z}", QTYPE.A) is None  # not ours: forwarded


def rdatas_of(reply: DNSRecord) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr)


def test_index_updates_are_visible_and_invalidate_the_wire_cache() -> None:
    index = populated_index()
    server = make_server(make_zone(index))
    name = f"db.default.svc.{Z}"
    assert len(ask(server, name).rr) == 3
    assert len(ask(server, name).rr) == 3  # from the wire cache
    index.apply_slice(endpoint_slice("db-1", "db", [endpoint("10.42.0.5", hostname="db-0")], []))
    assert rdatas_of(ask(server, name)) == ["10.42.0.5"]
    assert ask(server, "6.0.42.10.in-addr.arpa", "PTR").header.rcode == RCODE.NXDOMAIN
    index.delete_slice({"metadata": {"name": "db-1", "namespace": "default"}})
    assert ask(server, name).header.rcode == RCODE.NXDOMAIN
    index.delete_service({"metadata": {"name": "web", "namespace": "default"}})
    assert ask(server, f"web.default.svc.{Z}").header.rcode == RCODE.NXDOMAIN
    assert ask(server, "20.0.43.10.in-addr.arpa", "PTR").header.rcode == RCODE.NXDOMAIN


def test_endpoint_in_two_slices_stays_reverse_resolvable_until_both_go() -> None:
    index = populated_index()
    index.apply_slice(endpoint_slice("db-2", "db", [endpoint("10.42.0.5", hostname="db-0")], []))
    index.delete_slice({"metadata": {"name": "db-1", "namespace": "default"}})
    server = make_server(make_zone(index))
    assert rdatas_of(ask(server, "5.0.42.10.in-addr.arpa", "PTR")) == [f"db-0.db.default.svc.{Z}."]
    index.delete_slice({"metadata": {"name": "db-2", "namespace": "default"}})
    assert ask(server, "5.0.42.10.in-addr.arpa", "PTR").header.rcode == RCODE.NXDOMAIN


def test_deleted_namespace_is_nxdomain() -> None:
    index = populated_index()
    server = make_server(make_zone(index))
    assert ask(server, f"other.svc.{Z}").header.rcode == RCODE.NOERROR
    index.delete_namespace({"metadata": {"name": "other"}})
    assert ask(server, f"other.svc.{Z}").header.rcode == RCODE.NXDOMAIN
