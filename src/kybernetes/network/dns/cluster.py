"""``ClusterDNS``: the cluster DNS component, informers feeding an index that a server answers.

Wiring only: Services, EndpointSlices and Namespaces (and Pods, in ``pods verified`` mode) are
watched through an ``InformerFactory`` (the caller's, to share watches with other components
in one process, or its own); their handlers apply each object to the ``ClusterIndex`` at once.
That is the one place this component departs from "handlers only enqueue" (DESIGN.md §1): the
index *is* the cache being kept, an update costs the size of one object, and it makes an API
change visible to DNS within the watch latency (milliseconds) rather than a worker's turn.

Invariant: the zone reports "not synced" (SERVFAIL instead of NXDOMAIN) until every informer it
reads has completed its first list.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kybernetes.client.informer import Handler, Informer, InformerFactory
from kybernetes.client.resource import ENDPOINTSLICES, NAMESPACES, PODS, SERVICES
from kybernetes.client.rest import Client
from kybernetes.network.dns.forward import (
    Forwarder,
    ResolvConfUpstreams,
    Upstream,
    parse_upstream,
)
from kybernetes.network.dns.index import ClusterIndex
from kybernetes.network.dns.server import DNSServer, Listen
from kybernetes.network.dns.zone import DEFAULT_TTL, ClusterZone

Obj = dict[str, Any]


@dataclass(frozen=True)
class ClusterDNSConfig:
    """Settings; the defaults are the project's (DESIGN.md §5) and CoreDNS's in k3s."""

    domain: str = "cluster.local"
    listen: Listen = field(default_factory=Listen)
    ttl: int = DEFAULT_TTL
    pods: str = "insecure"  # insecure | verified | disabled
    service_cidrs: tuple[str, ...] = ("10.43.0.0/16",)
    pod_cidrs: tuple[str, ...] = ("10.42.0.0/16",)
    dns_ip: str = "10.43.0.10"
    # Forwarding: ``upstreams`` ("ip", "ip:port", "[ipv6]:port") if given, else the
    # nameservers of ``resolv_conf``; with neither, names outside the cluster are REFUSED.
    resolv_conf: Path | None = Path("/etc/resolv.conf")
    upstreams: tuple[str, ...] = ()
    skip_loopback_upstreams: bool = False
    upstream_timeout: float = 2.0
    forward_deadline: float = 5.0
    cache_size: int = 10000
    cache_max_ttl: float = 30.0


def _handler(apply: Callable[[Obj], None], delete: Callable[[Obj], None]) -> Handler:
    return Handler(on_add=apply, on_update=lambda _old, new: apply(new), on_delete=delete)


class ClusterDNS:
    """The cluster DNS server as a component: ``await ClusterDNS(client).run()``."""

    def __init__(
        self,
        client: Client,
        config: ClusterDNSConfig | None = None,
        *,
        factory: InformerFactory | None = None,
    ) -> None:
        self.config = config or ClusterDNSConfig()
        cfg = self.config
        self._own_factory = factory is None
        self.factory = factory or InformerFactory(client)
        self.index = ClusterIndex()
        index = self.index
        self.informers: list[Informer] = []
        feeds: list[tuple[Any, Callable[[Obj], None], Callable[[Obj], None]]] = [
            (SERVICES, index.apply_service, index.delete_service),
            (ENDPOINTSLICES, index.apply_slice, index.delete_slice),
            (NAMESPACES, index.apply_namespace, index.delete_namespace),
        ]
        if cfg.pods == "verified":
            feeds.append((PODS, index.apply_pod, index.delete_pod))
        for resource, apply, delete in feeds:
            informer = self.factory.informer(resource)
            informer.add_handler(_handler(apply, delete))
            self.informers.append(informer)
        self.zone = ClusterZone(
            index,
            domain=cfg.domain,
            ttl=cfg.ttl,
            pods=cfg.pods,
            reverse_cidrs=(*cfg.service_cidrs, *cfg.pod_cidrs),
            dns_ip=cfg.dns_ip,
            synced=self.synced,
        )
        self.forwarder: Forwarder | None = None
        source: Callable[[], list[Upstream]] | None = None
        if cfg.upstreams:
            fixed = [parse_upstream(text) for text in cfg.upstreams]
            source = fixed.copy
        elif cfg.resolv_conf is not None:
            source = ResolvConfUpstreams(
                cfg.resolv_conf,
                [(cfg.listen.host, cfg.listen.port)],
                skip_loopback=cfg.skip_loopback_upstreams,
            ).current
        if source is not None:
            self.forwarder = Forwarder(
                source,
                attempt_timeout=cfg.upstream_timeout,
                deadline=cfg.forward_deadline,
                cache_size=cfg.cache_size,
                max_ttl=cfg.cache_max_ttl,
            )
        self.server = DNSServer(self.zone, self.forwarder, cfg.listen)

    def synced(self) -> bool:
        return all(informer.has_synced for informer in self.informers)

    @property
    def port(self) -> int:
        """The port served on (the chosen one when the configuration says 0)."""
        return self.server.port

    async def wait_ready(self) -> None:
        """Return once the server listens and every informer has listed."""
        await self.server.ready.wait()
        await asyncio.gather(*(i.wait_synced() for i in self.informers))

    async def run(self) -> None:
        """Serve until cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                if self._own_factory:
                    group.create_task(self.factory.run(), name="dns informers")
                group.create_task(self.server.run(), name="dns server")
        finally:
            if self.forwarder is not None:
                with contextlib.suppress(Exception):
                    await self.forwarder.close()
