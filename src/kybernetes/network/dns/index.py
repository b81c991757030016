"""The cluster DNS server's in-memory view of Services, EndpointSlices, Namespaces and Pods.

Informer handlers call ``apply_*`` / ``delete_*`` with the objects they see; queries read
dictionaries keyed the way DNS asks: a service by ``(namespace, name)``, a service's endpoint
slices by ``(namespace, service)``, services by ClusterIP, services by endpoint IP (for PTR),
pod addresses by ``(namespace, ip)`` (``pods verified`` mode). Objects are reduced to the few
fields DNS needs on the way in, so a query never walks an object or the whole cluster: its cost
is bounded by the size of the one service it names.

Invariants: every index agrees with the last version of each object applied (an update first
removes what the old version contributed); ``generation`` increases on every change, so an
answer cached under one generation is never served after the data under it changed; ``serial``
is the Unix time of the last change (the SOA serial, as CoreDNS reports it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"

Obj = Mapping[str, Any]
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Port:
    name: str  # lowercase; "" for an unnamed port
    protocol: str  # lowercase: tcp, udp, sctp
    port: int  # -1: the sentinel of a service or slice that declares no ports


NO_PORTS: Final = (Port("", "", -1),)


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    cluster_ips: tuple[str, ...]  # empty for headless and ExternalName services
    headless: bool
    external_name: str  # lowercase, no trailing dot; "" unless type ExternalName
    ports: tuple[Port, ...]
    publish_not_ready: bool


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    hostname: str  # lowercase; "" when the endpoint has none
    ready: bool


@dataclass(frozen=True, slots=True)
class Slice:
    service: str
    endpoints: tuple[Endpoint, ...]
    ports: tuple[Port, ...]


def _ports(items: Any, number_field: str) -> tuple[Port, ...]:
    ports = tuple(
        Port(
            str(p.get("name") or "").lower(),
            str(p.get("protocol") or "TCP").lower(),
            int(p.get(number_field) or 0),
        )
        for p in items or ()
        if isinstance(p, Mapping)
    )
    return ports or NO_PORTS


def service_of(obj: Obj) -> Service:
    """The DNS-relevant part of a Service object."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    external = ""
    cluster_ips: tuple[str, ...] = ()
    headless = False
    if spec.get("type") == "ExternalName":
        external = str(spec.get("externalName") or "").lower().rstrip(".")
    else:
        ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
        headless = "None" in ips
        cluster_ips = () if headless else tuple(str(ip) for ip in ips if ip)
    return Service(
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta.get("name") or ""),
        cluster_ips=cluster_ips,
        headless=headless,
        external_name=external,
        ports=_ports(spec.get("ports"), "port"),
        publish_not_ready=bool(spec.get("publishNotReadyAddresses")),
    )


def slice_of(obj: Obj) -> Slice | None:
    """The DNS-relevant part of an EndpointSlice; None for FQDN slices and unowned ones."""
    meta = obj.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service or obj.get("addressType") not in ("IPv4", "IPv6"):
        return None
    endpoints: list[Endpoint] = []
    for ep in obj.get("endpoints") or ():
        ready = (ep.get("conditions") or {}).get("ready")
        hostname = str(ep.get("hostname") or "").lower()
        is_ready = ready is None or bool(ready)
        endpoints.extend(Endpoint(str(ip), hostname, is_ready) for ip in ep.get("addresses") or ())
    return Slice(str(service), tuple(endpoints), _ports(obj.get("ports"), "port"))


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _add(index: dict[str, set[Key]], ip: str, key: Key) -> None:
    index.setdefault(ip, set()).add(key)


def _discard(index: dict[str, set[Key]], ip: str, key: Key) -> None:
    keys = index.get(ip)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[ip]


class ClusterIndex:
    """Indexes over the objects DNS answers from; see the module docstring."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self.services: dict[Key, Service] = {}
        self.namespaces: set[str] = set()
        self._slices: dict[Key, Slice] = {}  # (namespace, slice name)
        self._slices_by_service: dict[Key, set[str]] = {}  # (namespace, service) -> slice names
        self._by_cluster_ip: dict[str, set[Key]] = {}
        self._by_endpoint_ip: dict[str, set[Key]] = {}  # ip -> (namespace, service)
        self._pods: dict[Key, Key] = {}  # (namespace, pod) -> (namespace, ip)
        self._pod_ips: dict[Key, int] = {}  # (namespace, ip) -> how many pods hold it
        self.generation = 0
        self.serial = int(now())

    def _changed(self) -> None:
        self.generation += 1
        self.serial = int(self._now())

    # --- services ------------------------------------------------------------------------

    def apply_service(self, obj: Obj) -> None:
        service = service_of(obj)
        key = (service.namespace, service.name)
        if self.services.get(key) == service:
            return
        self._drop_service(key)
        self.services[key] = service
        for ip in service.cluster_ips:
            _add(self._by_cluster_ip, ip, key)
        self._changed()

    def delete_service(self, obj: Obj) -> None:
        self._drop_service(_key(obj))
        self._changed()

    def _drop_service(self, key: Key) -> None:
        old = self.services.pop(key, None)
        if old is not None:
            for ip in old.cluster_ips:
                _discard(self._by_cluster_ip, ip, key)

    # --- endpoint slices -----------------------------------------------------------------

    def apply_slice(self, obj: Obj) -> None:
        key = _key(obj)
        new = slice_of(obj)
        if self._slices.get(key) == new:
            return
        self._drop_slice(key)
        if new is not None:
            namespace = key[0]
            self._slices[key] = new
            self._slices_by_service.setdefault((namespace, new.service), set()).add(key[1])
            for ep in new.endpoints:
                _add(self._by_endpoint_ip, ep.ip, (namespace, new.service))
        self._changed()

    def delete_slice(self, obj: Obj) -> None:
        self._drop_slice(_key(obj))
        self._changed()

    def _drop_slice(self, key: Key) -> None:
        old = self._slices.pop(key, None)
        if old is None:
            return
        namespace = key[0]
        owner = (namespace, old.service)
        names = self._slices_by_service.get(owner)
        if names is not None:
            names.discard(key[1])
            if not names:
                del self._slices_by_service[owner]
        # An IP may still be listed by another slice of the same service.
        still = {ep.ip for other in self.slices(namespace, old.service) for ep in other.endpoints}
        for ep in old.endpoints:
            if ep.ip not in still:
                _discard(self._by_endpoint_ip, ep.ip, owner)

    def slices(self, namespace: str, service: str) -> Iterator[Slice]:
        for name in self._slices_by_service.get((namespace, service), ()):
            found = self._slices.get((namespace, name))
            if found is not None:
                yield found

    # --- namespaces and pods -------------------------------------------------------------

    def apply_namespace(self, obj: Obj) -> None:
        name = _key(obj)[1]
        if name not in self.namespaces:
            self.namespaces.add(name)
            self._changed()

    def delete_namespace(self, obj: Obj) -> None:
        self.namespaces.discard(_key(obj)[1])
        self._changed()

    def apply_pod(self, obj: Obj) -> None:
        key = _key(obj)
        ip = str((obj.get("status") or {}).get("podIP") or "")
        held = (key[0], ip) if ip else None
        if self._pods.get(key) == held:
            return
        self._drop_pod(key)
        if held is not None:
            self._pods[key] = held
            self._pod_ips[held] = self._pod_ips.get(held, 0) + 1
        self._changed()

    def delete_pod(self, obj: Obj) -> None:
        self._drop_pod(_key(obj))
        self._changed()

    def _drop_pod(self, key: Key) -> None:
        held = self._pods.pop(key, None)
        if held is not None:
            left = self._pod_ips.get(held, 1) - 1
            if left > 0:
                self._pod_ips[held] = left
            else:
                self._pod_ips.pop(held, None)

    def pod_exists(self, namespace: str, ip: str) -> bool:
        return (namespace, ip) in self._pod_ips

    # --- reverse lookups -----------------------------------------------------------------

    def services_by_cluster_ip(self, ip: str) -> list[Service]:
        keys = sorted(self._by_cluster_ip.get(ip, ()))
        return [self.services[k] for k in keys if k in self.services]

    def services_by_endpoint_ip(self, ip: str) -> list[Key]:
        return sorted(self._by_endpoint_ip.get(ip, ()))
