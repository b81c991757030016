"""Objects and a query helper shared by the cluster DNS unit tests (no sockets)."""

from __future__ import annotations

from typing import Any

from dnslib import QTYPE, DNSRecord

from kybernetes.network.dns.index import ClusterIndex
from kybernetes.network.dns.server import DNSServer
from kybernetes.network.dns.zone import ClusterZone

Obj = dict[str, Any]


def namespace(name: str) -> Obj:
    return {"metadata": {"name": name}}


def service(name: str, ns: str = "default", **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def port(name: str, number: int, protocol: str = "TCP") -> Obj:
    return {"name": name, "port": number, "protocol": protocol}


def endpoint(ip: str, *, hostname: str | None = None, ready: bool | None = True) -> Obj:
    ep: Obj = {"addresses": [ip]}
    if ready is not None:
        ep["conditions"] = {"ready": ready}
    if hostname:
        ep["hostname"] = hostname
    return ep


def endpoint_slice(
    name: str, svc: str, endpoints: list[Obj], ports: list[Obj], ns: str = "default"
) -> Obj:
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": svc},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }


def populated_index() -> ClusterIndex:
    index = ClusterIndex(now=lambda: 1_700_000_000.0)
    for ns in ("default", "kube-system", "other"):
        index.apply_namespace(namespace(ns))
    index.apply_service(
        service("kube-dns", "kube-system", clusterIP="10.43.0.10", ports=[port("dns", 53, "UDP")])
    )
    index.apply_service(
        service(
            "web",
            clusterIP="10.43.0.20",
            clusterIPs=["10.43.0.20"],
            ports=[port("http", 80), port("https", 443), port("dns", 53, "UDP")],
        )
    )
    index.apply_slice(
        endpoint_slice("web-abc", "web", [endpoint("10.42.0.30")], [port("http", 8080)])
    )
    index.apply_service(service("db", clusterIP="None", ports=[port("postgres", 5432)]))
    index.apply_slice(
        endpoint_slice(
            "db-1",
            "db",
            [
                endpoint("10.42.0.5", hostname="db-0"),
                endpoint("10.42.0.6", hostname="db-1"),
                endpoint("10.42.0.7"),
                endpoint("10.42.0.8", ready=False),
            ],
            [port("postgres", 5432)],
        )
    )
    index.apply_service(service("empty", clusterIP="None"))
    index.apply_service(
        service("nr", clusterIP="None", publishNotReadyAddresses=True, ports=[port("p", 1)])
    )
    index.apply_slice(
        endpoint_slice("nr-1", "nr", [endpoint("10.42.0.9", ready=False)], [port("p", 1)])
    )
    index.apply_service(service("ext", type="ExternalName", externalName="Example.COM."))
    index.apply_service(
        service("inzone", type="ExternalName", externalName="web.default.svc.cluster.local")
    )
    index.apply_service(service("portless", clusterIP="None"))
    index.apply_slice(endpoint_slice("portless-1", "portless", [endpoint("10.42.0.11")], []))
    return index


def make_zone(index: ClusterIndex | None = None, **options: Any) -> ClusterZone:
    return ClusterZone(index if index is not None else populated_index(), **options)


def make_server(zone: ClusterZone | None = None) -> DNSServer:
    return DNSServer(zone or make_zone(), None)


def query(name: str, qtype: str = "A", *, edns: bool = False, qid: int = 4242) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    q.header.id = qid
    if edns:
        from dnslib import EDNS0

        q.add_ar(EDNS0(udp_len=4096))
    return q


def ask(
    server: DNSServer, name: str, qtype: str = "A", *, tcp: bool = False, edns: bool = False
) -> DNSRecord:
    """The parsed answer of a query answered without I/O (fails if it needs upstreams)."""
    wire = server.answer_local(bytes(query(name, qtype, edns=edns).pack()), tcp)
    if not isinstance(wire, bytes):
        raise AssertionError(f"{name} {qtype} was not answered locally: {wire!r}")
    return DNSRecord.parse(wire)


def rdatas(record: DNSRecord, qtype: str | None = None) -> list[str]:
    return sorted(
        str(rr.rdata) for rr in record.rr if qtype is None or rr.rtype == getattr(QTYPE, qtype)
    )
