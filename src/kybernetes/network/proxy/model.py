"""What the proxy must implement: Services and EndpointSlices reduced to ``ServicePort`` values.

``service_ports(services, slices, node_name)`` is a pure function from API objects to one
``ServicePort`` per (Service, port) that the proxy handles, each carrying the endpoints that
traffic may reach, already chosen the way kube-proxy chooses them:

- Services that the proxy leaves alone yield nothing: ExternalName (DNS answers them), headless
  (``clusterIP: None``), those without a ClusterIP, those labelled
  ``service.kubernetes.io/service-proxy-name`` (meant for another proxy) and, when a service
  CIDR is given, those whose ClusterIP lies outside it.
- Endpoints come from the IPv4 EndpointSlices labelled ``kubernetes.io/service-name``; the port
  of an endpoint is the slice port whose name and protocol match the Service port (targetPorts,
  named or numeric, are already resolved per endpoint by the EndpointSlice controller). An
  address listed twice counts once, its most usable copy kept.
- Usable endpoints are the ready ones; when none is ready, those serving and terminating (so
  a Service keeps answering during a rolling restart). ``cluster`` endpoints are chosen among
  all, ``local`` ones among those on this node; ``internalTrafficPolicy: Local`` sends ClusterIP
  traffic to ``local`` ones only, ``externalTrafficPolicy: Local`` does that for NodePort,
  LoadBalancer and external IP traffic.

Invariant: the output is sorted (by namespace, name, port name, protocol; endpoints by address)
and depends only on the inputs, so the rendered table is stable and diffs are meaningful.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

Obj = Mapping[str, Any]

SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"
PROXY_NAME_LABEL: Final = "service.kubernetes.io/service-proxy-name"
PROTOCOLS: Final = ("TCP", "UDP", "SCTP")
DEFAULT_AFFINITY_TIMEOUT: Final = 10800


@dataclass(frozen=True, order=True)
class Endpoint:
    """One address and port that traffic for a service port may be DNAT'ed to."""

    ip: str
    port: int
    local: bool = False
    ready: bool = True
    serving: bool = True
    terminating: bool = False


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, with everything the table needs to route to it."""

    namespace: str
    name: str
    port_name: str
    protocol: str  # TCP, UDP or SCTP
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()  # spec.externalIPs and LoadBalancer ingress IPs
    affinity_timeout: int = 0  # sessionAffinity ClientIP timeout in seconds; 0: none
    internal_local: bool = False  # internalTrafficPolicy: Local
    external_local: bool = False  # externalTrafficPolicy: Local
    endpoints: tuple[Endpoint, ...] = ()  # every known endpoint, usable or not

    @property
    def key(self) -> str:
        """``namespace/name/proto/port``: the port name, or the number when it has none."""
        return f"{self.namespace}/{self.name}/{self.protocol.lower()}/{self.port_name or self.port}"

    @property
    def cluster_endpoints(self) -> tuple[Endpoint, ...]:
        return usable(self.endpoints)

    @property
    def local_endpoints(self) -> tuple[Endpoint, ...]:
        return usable(e for e in self.endpoints if e.local)

    @property
    def internal_endpoints(self) -> tuple[Endpoint, ...]:
        """Where ClusterIP traffic goes."""
        return self.local_endpoints if self.internal_local else self.cluster_endpoints

    @property
    def external_endpoints(self) -> tuple[Endpoint, ...]:
        """Where NodePort, LoadBalancer and external IP traffic goes."""
        return self.local_endpoints if self.external_local else self.cluster_endpoints

    @property
    def has_endpoints(self) -> bool:
        """Any usable endpoint at all (none: reject; some but none for a policy: drop)."""
        return bool(self.cluster_endpoints)

    @property
    def has_external(self) -> bool:
        """Whether the port takes traffic from outside the ClusterIP."""
        return bool(self.node_port or self.external_ips)


def usable(endpoints: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    """The ready endpoints, or when none is ready, those serving while terminating."""
    candidates = tuple(endpoints)
    ready = tuple(e for e in candidates if e.ready)
    if ready:
        return ready
    return tuple(e for e in candidates if e.serving and e.terminating)


def service_ports(
    services: Iterable[Obj], slices: Iterable[Obj], node_name: str, service_cidr: str = ""
) -> list[ServicePort]:
    """Every service port the proxy implements, sorted, with its endpoints.

    With ``service_cidr``, Services whose ClusterIP lies outside it are left out (they belong
    to another proxy, or the proxy is misconfigured).
    """
    network = ipaddress.IPv4Network(service_cidr) if service_cidr else None
    by_service: dict[tuple[str, str], list[Obj]] = {}
    for endpoint_slice in slices:
        meta = endpoint_slice.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if owner and endpoint_slice.get("addressType", "IPv4") == "IPv4":
            by_service.setdefault((meta.get("namespace", ""), owner), []).append(endpoint_slice)
    out: list[ServicePort] = []
    for service in services:
        if network is not None and not in_cidr(service, network):
            continue
        meta = service.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        out.extend(_ports_of(service, by_service.get(key, []), node_name))
    out.sort(key=lambda p: (p.namespace, p.name, p.port_name, p.protocol, p.port))
    return out


def proxied(service: Obj) -> bool:
    """Whether the proxy implements this Service at all."""
    spec = service.get("spec") or {}
    labels = (service.get("metadata") or {}).get("labels") or {}
    if PROXY_NAME_LABEL in labels or spec.get("type") == "ExternalName":
        return False
    return _ipv4(spec.get("clusterIP"))


def in_cidr(service: Obj, network: ipaddress.IPv4Network) -> bool:
    """Whether the Service's ClusterIP (if it has one) lies in ``network``."""
    cluster_ip = (service.get("spec") or {}).get("clusterIP")
    return not _ipv4(cluster_ip) or ipaddress.IPv4Address(cluster_ip) in network


def _ports_of(service: Obj, slices: list[Obj], node_name: str) -> list[ServicePort]:
    if not proxied(service):
        return []
    meta = service["metadata"]
    spec = service["spec"]
    service_type = spec.get("type") or "ClusterIP"
    external = sorted(
        {ip for ip in spec.get("externalIPs") or () if _ipv4(ip)}
        | (_ingress_ips(service) if service_type == "LoadBalancer" else set()),
        key=ipaddress.IPv4Address,
    )
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        affinity = int(config.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)
    out = []
    for port in spec.get("ports") or ():
        protocol = str(port.get("protocol") or "TCP").upper()
        if protocol not in PROTOCOLS or not port.get("port"):
            continue
        name = str(port.get("name") or "")
        node_port = int(port.get("nodePort") or 0)
        if service_type not in ("NodePort", "LoadBalancer"):
            node_port = 0
        out.append(
            ServicePort(
                namespace=meta.get("namespace", ""),
                name=meta.get("name", ""),
                port_name=name,
                protocol=protocol,
                cluster_ip=spec["clusterIP"],
                port=int(port["port"]),
                node_port=node_port,
                external_ips=tuple(external),
                affinity_timeout=affinity,
                internal_local=spec.get("internalTrafficPolicy") == "Local",
                external_local=bool(
                    (node_port or external) and spec.get("externalTrafficPolicy") == "Local"
                ),
                endpoints=_endpoints(slices, name, protocol, node_name),
            )
        )
    return out


def _endpoints(
    slices: list[Obj], port_name: str, protocol: str, node_name: str
) -> tuple[Endpoint, ...]:
    found: dict[str, Endpoint] = {}
    for endpoint_slice in slices:
        number = None
        for port in endpoint_slice.get("ports") or ():
            same_protocol = str(port.get("protocol") or "TCP").upper() == protocol
            if same_protocol and str(port.get("name") or "") == port_name and port.get("port"):
                number = int(port["port"])
                break
        if number is None:
            continue
        for endpoint in endpoint_slice.get("endpoints") or ():
            addresses = endpoint.get("addresses") or ()
            if not addresses or not _ipv4(addresses[0]):
                continue
            conditions = endpoint.get("conditions") or {}
            ready = conditions.get("ready") is not False  # unknown means ready
            serving = conditions.get("serving")
            candidate = Endpoint(
                ip=addresses[0],
                port=number,
                local=bool(node_name) and endpoint.get("nodeName") == node_name,
                ready=ready,
                serving=ready if serving is None else bool(serving),
                terminating=bool(conditions.get("terminating")),
            )
            known = found.get(candidate.ip)
            if known is None or _rank(candidate) > _rank(known):
                found[candidate.ip] = candidate
    return tuple(sorted(found.values(), key=lambda e: (ipaddress.IPv4Address(e.ip), e.port)))


def _rank(endpoint: Endpoint) -> tuple[bool, bool, bool]:
    return (endpoint.ready, endpoint.serving, not endpoint.terminating)


def _ingress_ips(service: Obj) -> set[str]:
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    return {
        entry["ip"]
        for entry in ingress
        if _ipv4(entry.get("ip")) and entry.get("ipMode", "VIP") == "VIP"
    }


def _ipv4(value: object) -> bool:
    if not isinstance(value, str) or not value or value == "None":
        return False
    try:
        return ipaddress.ip_address(value).version == 4
    except ValueError:
        return False
