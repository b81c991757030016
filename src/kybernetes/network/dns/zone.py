"""The cluster zone: answers for ``<zone>`` and the cluster's reverse zones, as CoreDNS does.

``ClusterZone.resolve(name, qtype)`` turns one question into an ``Answer`` (rcode and the three
record sections) from a ``ClusterIndex``, following CoreDNS's ``kubernetes`` plugin with
``pods insecure`` (or ``verified``/``disabled``) and the Kubernetes DNS specification:

- ``<svc>.<ns>.svc.<zone>``: A/AAAA of the ClusterIPs; of a headless service, the ready
  endpoints (all of them with ``publishNotReadyAddresses``); ExternalName is a CNAME (chased in
  the zone, or handed back as ``chase`` for the server to resolve upstream);
- ``<endpoint>.<svc>.<ns>.svc.<zone>``: the endpoint whose hostname (or dashed IP) it names;
- ``_<port>._<proto>.<svc>.<ns>.svc.<zone>`` SRV: priority 0, weight ``100 / n``, target the
  service name (ClusterIP) or ``<endpoint>.<svc>...`` (headless), addresses in additional;
- ``<a-b-c-d>.<ns>.pod.<zone>``; ``dns-version.<zone>`` TXT; ``ns.dns.<zone>``; SOA/NS at apex;
- PTR for ClusterIPs (first) and endpoint IPs; unknown addresses inside the service and pod
  CIDRs are NXDOMAIN, other reverse names are not ours (``None``: forward them).

A name that exists with no record of the asked type is NODATA (NOERROR, empty answer); one
that does not exist is NXDOMAIN; both carry the zone's SOA (TTL 5) in authority. Until the
informers have synced, NXDOMAIN becomes SERVFAIL so clients retry rather than cache a lie.

Invariant: ``resolve`` is pure over the index (no I/O, no scan beyond the named service) and
answers every name under the cluster zone itself; ``None`` only for names outside its zones.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from dnslib import AAAA, CNAME, NS, PTR, QTYPE, RCODE, RR, SOA, SRV, TXT, A

from kybernetes.network.dns import names
from kybernetes.network.dns.index import ClusterIndex, Port
from kybernetes.network.dns.names import Labels, Request

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_TTL: Final = 5
VERSION_TTL: Final = 28800
MAX_CHAIN: Final = 8
POD_MODES: Final = ("insecure", "verified", "disabled")


@dataclass(slots=True)
class Answer:
    """One response's content; ``chase`` names an out-of-zone CNAME target still to resolve."""

    rcode: int = RCODE.NOERROR
    answer: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    chase: str | None = None


@dataclass(frozen=True, slots=True)
class _Item:
    """CoreDNS's ``msg.Service``: one address (or CNAME target) and port under an owner name."""

    owner: Labels
    host: str
    port: int
    cname: bool = False


def _port_matches(req: Request, port: Port) -> bool:
    if not req.port:
        return True
    return req.port == port.name and req.protocol == port.protocol


def _ip_type(host: str) -> int:
    return int(QTYPE.AAAA) if ":" in host else int(QTYPE.A)


class ClusterZone:
    """Answers for the cluster zone and its reverse zones; see the module docstring."""

    def __init__(
        self,
        index: ClusterIndex,
        *,
        domain: str = "cluster.local",
        ttl: int = DEFAULT_TTL,
        pods: str = "insecure",
        reverse_cidrs: Iterable[str] = ("10.43.0.0/16", "10.42.0.0/16"),
        dns_service: tuple[str, str] = ("kube-system", "kube-dns"),
        dns_ip: str = "10.43.0.10",
        synced: Callable[[], bool] = lambda: True,
    ) -> None:
        if pods not in POD_MODES:
            raise ValueError(f"pods mode must be one of {POD_MODES}, not {pods!r}")
        self.index = index
        self.zone: Labels = names.labels_of(domain)
        self.ttl = ttl
        self.pods = pods
        self.networks: list[IPNetwork] = [
            ipaddress.ip_network(c, strict=False) for c in reverse_cidrs
        ]
        self.reverse_zones: list[Labels] = [names.reverse_zone(n) for n in self.networks]
        self.dns_service = dns_service
        self.dns_ip = dns_ip
        self.synced = synced

    # --- entry point ---------------------------------------------------------------------

    def resolve(self, qname: str, qtype: int, depth: int = 0) -> Answer | None:
        """The answer for one question, or None when the name is outside the zones served."""
        labels = names.labels_of(qname)
        rel = names.relative(labels, self.zone)
        if rel is not None:
            return self._forward_zone(qname, rel, qtype, depth)
        if names.is_reverse(labels):
            return self._reverse(qname, labels, qtype)
        return None

    # --- helpers building records ---------------------------------------------------------

    def _soa(self, zone: Labels) -> RR:
        apex = names.to_name(zone)
        rdata = SOA(
            mname="ns.dns." + names.to_name(self.zone),
            rname="hostmaster." + names.to_name(self.zone),
            times=(self.index.serial, 7200, 1800, 86400, self.ttl),
        )
        return RR(apex, QTYPE.SOA, rdata=rdata, ttl=min(self.ttl, 300))

    def _negative(self, zone: Labels, exists: bool) -> Answer:
        if exists:
            return Answer(authority=[self._soa(zone)])
        if not self.synced():
            return Answer(rcode=RCODE.SERVFAIL)
        return Answer(rcode=RCODE.NXDOMAIN, authority=[self._soa(zone)])

    def _address_rr(self, owner: str, host: str) -> RR:
        if ":" in host:
            return RR(owner, QTYPE.AAAA, rdata=AAAA(host), ttl=self.ttl)
        return RR(owner, QTYPE.A, rdata=A(host), ttl=self.ttl)

    def _dns_ips(self) -> tuple[str, ...]:
        service = self.index.services.get(self.dns_service)
        if service is not None and service.cluster_ips:
            return service.cluster_ips
        return (self.dns_ip,)

    # --- the forward zone -----------------------------------------------------------------

    def _forward_zone(self, qname: str, rel: Labels, qtype: int, depth: int) -> Answer:
        if not rel:
            return self._apex(qname, qtype)
        if rel == ("dns-version",):
            if qtype != QTYPE.TXT:
                return self._negative(self.zone, exists=True)
            rr = RR(qname, QTYPE.TXT, rdata=TXT(names.DNS_SCHEMA_VERSION), ttl=VERSION_TTL)
            return Answer(answer=[rr])
        if rel == ("ns", "dns"):
            ips = [ip for ip in self._dns_ips() if _ip_type(ip) == qtype]
            if not ips:
                return self._negative(self.zone, exists=True)
            return Answer(answer=[self._address_rr(qname, ip) for ip in ips])
        items = self._records(names.parse_request(rel))
        if items is None:
            return self._negative(self.zone, exists=False)
        if qtype in (QTYPE.A, QTYPE.AAAA):
            answer = self._addresses(qname, qtype, items, depth)
        elif qtype == QTYPE.SRV:
            answer = self._srv(qname, items)
        elif qtype == QTYPE.CNAME:
            answer = Answer(
                answer=[
                    RR(qname, QTYPE.CNAME, rdata=CNAME(it.host), ttl=self.ttl)
                    for it in items
                    if it.cname
                ]
            )
        else:
            answer = Answer()
        if not answer.answer and answer.chase is None:
            return self._negative(self.zone, exists=True)
        return answer

    def _apex(self, qname: str, qtype: int) -> Answer:
        if qtype == QTYPE.SOA:
            return Answer(answer=[self._soa(self.zone)])
        if qtype == QTYPE.NS:
            target = "ns.dns." + names.to_name(self.zone)
            rr = RR(qname, QTYPE.NS, rdata=NS(target), ttl=self.ttl)
            return Answer(
                answer=[rr], additional=[self._address_rr(target, ip) for ip in self._dns_ips()]
            )
        return self._negative(self.zone, exists=True)

    def _namespace_exists(self, namespace: str) -> bool:
        return namespace in self.index.namespaces

    def _records(self, req: Request) -> list[_Item] | None:
        """What the name holds (possibly nothing: NODATA); None when it does not exist."""
        if req.invalid:
            return None
        if not req.kind:
            return []
        if not self._namespace_exists(req.namespace):
            return None
        if req.kind == names.POD:
            return self._pod_records(req)
        if not req.service:
            return []
        service = self.index.services.get((req.namespace, req.service))
        if service is None:
            return None
        owner = (req.service, req.namespace, names.SVC, *self.zone)
        if service.external_name:
            if req.endpoint:
                return None
            return [_Item(owner, service.external_name, 0, cname=True)]
        items: list[_Item] = []
        if service.headless or req.endpoint:
            for sl in self.index.slices(req.namespace, req.service):
                for ep in sl.endpoints:
                    if not (ep.ready or service.publish_not_ready):
                        continue
                    label = names.endpoint_hostname(ep.ip, ep.hostname)
                    if req.endpoint and req.endpoint != label:
                        continue
                    items.extend(
                        _Item((label, *owner), ep.ip, p.port)
                        for p in sl.ports
                        if _port_matches(req, p)
                    )
            return items or None
        for p in service.ports:
            if _port_matches(req, p):
                items.extend(_Item(owner, ip, p.port) for ip in service.cluster_ips)
        return items or None

    def _pod_records(self, req: Request) -> list[_Item] | None:
        if self.pods == "disabled" or req.endpoint or req.port:
            return None
        if not req.service:
            return []
        ip = names.pod_address(req.service)
        if ip is None:
            return None
        if self.pods == "verified" and not self.index.pod_exists(req.namespace, ip):
            return None
        return [_Item((req.service, req.namespace, names.POD, *self.zone), ip, 0)]

    def _addresses(self, qname: str, qtype: int, items: list[_Item], depth: int) -> Answer:
        out = Answer()
        seen: set[str] = set()
        wanted = names.labels_of(qname)
        for it in items:
            if it.cname:
                target = names.labels_of(it.host)
                if target == wanted or it.host in seen:
                    continue  # x CNAME x is a loop
                seen.add(it.host)
                out.answer.append(RR(qname, QTYPE.CNAME, rdata=CNAME(it.host), ttl=self.ttl))
                inner = None
                if names.relative(target, self.zone) is not None and depth < MAX_CHAIN:
                    inner = self.resolve(it.host, qtype, depth + 1)
                if inner is None:
                    out.chase = it.host
                elif inner.rcode == RCODE.NOERROR:
                    out.answer.extend(inner.answer)
                    out.chase = inner.chase
            elif _ip_type(it.host) == qtype and it.host not in seen:
                seen.add(it.host)
                out.answer.append(self._address_rr(qname, it.host))
        return out

    def _srv(self, qname: str, items: list[_Item]) -> Answer:
        out = Answer()
        weight = max(1, 100 // len(items)) if items else 0
        seen_srv: set[tuple[str, int]] = set()
        seen_extra: set[tuple[str, str]] = set()
        for it in items:
            if it.port == -1:
                continue
            if it.cname:
                target = it.host
            else:
                target = names.to_name(it.owner)
            if (target, it.port) not in seen_srv:
                seen_srv.add((target, it.port))
                rdata = SRV(priority=0, weight=weight, port=it.port, target=target)
                out.answer.append(RR(qname, QTYPE.SRV, rdata=rdata, ttl=self.ttl))
            if not it.cname and (target, it.host) not in seen_extra:
                seen_extra.add((target, it.host))
                out.additional.append(self._address_rr(target, it.host))
        return out

    # --- reverse zones --------------------------------------------------------------------

    def _reverse(self, qname: str, labels: Labels, qtype: int) -> Answer | None:
        address = names.reverse_address(labels)
        inside = next(
            (z for z in self.reverse_zones if names.relative(labels, z) is not None), None
        )
        if address is None:
            if inside is None:
                return None
            if labels == inside and qtype == QTYPE.SOA:
                return Answer(answer=[self._soa(inside)])
            return self._negative(inside, exists=True)  # an empty non-terminal of our zone
        targets = self._ptr_targets(str(address))
        if targets:
            if qtype != QTYPE.PTR:
                return self._negative(inside or labels[-2:], exists=True)
            return Answer(
                answer=[RR(qname, QTYPE.PTR, rdata=PTR(t), ttl=self.ttl) for t in targets]
            )
        if inside is not None and any(address in n for n in self.networks):
            return self._negative(inside, exists=False)
        return None

    def _ptr_targets(self, ip: str) -> list[str]:
        zone = names.to_name(self.zone)
        for owner in self.index.services_by_cluster_ip(ip):
            return [f"{owner.name}.{owner.namespace}.svc.{zone}"]
        targets: list[str] = []
        for namespace, name in self.index.services_by_endpoint_ip(ip):
            service = self.index.services.get((namespace, name))
            publish = service is not None and service.publish_not_ready
            for sl in self.index.slices(namespace, name):
                for ep in sl.endpoints:
                    if ep.ip == ip and (ep.ready or publish):
                        label = names.endpoint_hostname(ep.ip, ep.hostname)
                        target = f"{label}.{name}.{namespace}.svc.{zone}"
                        if target not in targets:
                            targets.append(target)
        return targets
