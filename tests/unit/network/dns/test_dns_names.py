"""Query-name parsing for the cluster zone, reverse names and pod labels."""

from __future__ import annotations

import ipaddress

import pytest

from kybernetes.network.dns import names
from kybernetes.network.dns.names import INVALID, Request

ZONE = names.labels_of("cluster.local")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cluster.local", Request()),
        ("svc.cluster.local", Request()),
        ("pod.cluster.local.", Request()),
        ("default.svc.cluster.local", Request(kind="svc", namespace="default")),
        ("web.default.svc.cluster.local", Request("svc", "default", "web")),
        ("WEB.Default.Svc.Cluster.Local.", Request("svc", "default", "web")),
        ("db-0.db.ns.svc.cluster.local", Request("svc", "ns", "db", endpoint="db-0")),
        (
            "_http._tcp.web.ns.svc.cluster.local",
            Request("svc", "ns", "web", port="http", protocol="tcp"),
        ),
        ("1-2-3-4.ns.pod.cluster.local", Request("pod", "ns", "1-2-3-4")),
        ("foo.cluster.local", INVALID),
        ("a.b.c.d.e.svc.cluster.local", INVALID),
        ("web.default.svc.cluster.local.default.svc.cluster.local", INVALID),
    ],
)
def test_parse_request(name: str, expected: Request) -> None:
    rel = names.relative(names.labels_of(name), ZONE)
    assert rel is not None
    assert names.parse_request(rel) == expected


@pytest.mark.parametrize("name", ["example.com", "local", "cluster.local.example.com", ""])
def test_names_outside_the_zone(name: str) -> None:
    assert names.relative(names.labels_of(name), ZONE) is None


@pytest.mark.parametrize(
    ("label", "address"),
    [
        ("10-42-0-7", "10.42.0.7"),
        ("fd00--1", "fd00::1"),
        ("2001-db8-0-0-0-0-0-1", "2001:db8::1"),
        ("10-42-0", None),
        ("10-42-0-700", None),
        ("web", None),
    ],
)
def test_pod_address(label: str, address: str | None) -> None:
    assert names.pod_address(label) == address


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("4.3.2.1.in-addr.arpa", "1.2.3.4"),
        ("4.3.2.1.in-addr.arpa.", "1.2.3.4"),
        ("3.2.1.in-addr.arpa", None),
        ("x.3.2.1.in-addr.arpa", None),
        ("300.3.2.1.in-addr.arpa", None),
        (".".join(reversed("fd000000000000000000000000000001")) + ".ip6.arpa", "fd00::1"),
        ("1.0.ip6.arpa", None),
    ],
)
def test_reverse_address(name: str, address: str | None) -> None:
    found = names.reverse_address(names.labels_of(name))
    assert (str(found) if found is not None else None) == address


@pytest.mark.parametrize(
    ("cidr", "zone"),
    [
        ("10.43.0.0/16", "43.10.in-addr.arpa."),
        ("10.42.0.0/24", "0.42.10.in-addr.arpa."),
        ("10.0.0.0/12", "10.in-addr.arpa."),
        ("fd00:10:43::/48", "3.4.0.0.0.1.0.0.0.0.d.f.ip6.arpa."),
    ],
)
def test_reverse_zone(cidr: str, zone: str) -> None:
    assert names.to_name(names.reverse_zone(ipaddress.ip_network(cidr))) == zone


@pytest.mark.parametrize(
    ("ip", "hostname", "label"),
    [("10.1.2.3", "", "10-1-2-3"), ("10.1.2.3", "Web-0", "web-0"), ("fd00::1", "", "fd00--1")],
)
def test_endpoint_hostname(ip: str, hostname: str, label: str) -> None:
    assert names.endpoint_hostname(ip, hostname) == label
