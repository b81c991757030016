"""The ``Proxier``: kube-proxy's nftables mode — Services and EndpointSlices in, one table out.

Two informers (Services, EndpointSlices) mirror the API; their handlers only mark the proxier
dirty (DESIGN.md §1 rule 2). One loop turns dirt into a sync: it reads both caches, reduces them
to ``ServicePort`` values (``model``), renders the whole table (``table``) and, when the text
differs from what is in force, applies it with one ``nft -f -`` transaction. Bursts coalesce:
syncs are at least ``min_sync_interval`` apart, so a rolling update of a hundred pods costs a
handful of transactions, while a single change is live a few tens of milliseconds after its
watch event (``network_programming`` in the logs: from the first unsynced event to the rules in
force).

Restart safety, as kube-proxy: the first sync after start replaces the table wholesale (whatever
an earlier process left); later syncs rewrite every rule and map in one transaction but keep the
session-affinity sets and their entries. Every ``sync_period`` the table is rewritten even when
nothing changed, repairing outside tampering. A failed apply is retried with backoff and the
next success replaces the table wholesale. On shutdown the rules stay (connections keep
working while the proxy restarts); ``cleanup()`` removes the table and the service route.

Invariant: after a successful sync the table implements exactly the Services and EndpointSlices
in the caches at the moment it was rendered; the table never holds a half-applied change.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import Counter, Histogram
from pyroute2.netlink.exceptions import NetlinkError

from kybernetes.client.cache import key_of
from kybernetes.client.informer import Handler, InformerFactory
from kybernetes.client.resource import ENDPOINTSLICES, SERVICES
from kybernetes.client.rest import Client
from kybernetes.network.proxy import conntrack, host, nft
from kybernetes.network.proxy.model import ServicePort, in_cidr, service_ports
from kybernetes.network.proxy.table import (
    Table,
    TableConfig,
    delete_script,
    render,
    replace_script,
    update_script,
)
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)

_MAX_BACKOFF: Final = 30.0
SYNC_DURATION: Final = Histogram(
    "kyb_proxy_sync_duration_seconds",
    "Time to render and apply the service proxy's nftables table.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PROGRAMMING_LATENCY: Final = Histogram(
    "kyb_proxy_network_programming_duration_seconds",
    "From a Service or EndpointSlice event to the rules for it being in force.",
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
SYNC_ERRORS: Final = Counter("kyb_proxy_sync_errors_total", "Failed applies of the table.")


@dataclass(frozen=True)
class ProxyConfig:
    node_name: str  # endpoints with this nodeName are local
    node_ip: str = ""  # the node's address (informational; NodePorts answer on every local one)
    bridge: str = "kyb0"  # the pod bridge: service route, route_localnet, localnet guard
    cluster_cidr: str = "10.42.0.0/16"  # all pods: their ClusterIP traffic is not masqueraded
    service_cidr: str = "10.43.0.0/16"
    table: str = "kyb-services"  # the nftables table (family ip) owned by the proxy
    localhost_nodeports: bool = True  # NodePorts also answer on 127.0.0.1
    service_route: bool = True  # route service_cidr onto the bridge
    min_sync_interval: float = 0.02  # seconds between two syncs at least
    sync_period: float = 30.0  # rewrite the table this often even when nothing changed

    def table_config(self) -> TableConfig:
        return TableConfig(
            table=self.table,
            cluster_cidr=str(ipaddress.ip_network(self.cluster_cidr)),
            service_cidr=str(ipaddress.ip_network(self.service_cidr)),
            bridge=self.bridge,
            localhost_nodeports=self.localhost_nodeports,
        )


class Proxier:
    """One node's service proxy; ``run()`` until cancelled."""

    def __init__(
        self,
        client: Client,
        config: ProxyConfig,
        *,
        informers: InformerFactory | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or RealClock()
        self._table_config = config.table_config()
        self._own_factory = informers is None
        self._factory = informers or InformerFactory(client, clock=self.clock)
        self.services = self._factory.informer(SERVICES)
        self.slices = self._factory.informer(ENDPOINTSLICES)
        handler = Handler(self._changed, lambda _old, _new: self._changed(_new), self._changed)
        self.services.add_handler(handler)
        self.slices.add_handler(handler)
        self._dirty = asyncio.Event()
        self._force = False
        self._changed_at: float | None = None
        self._applied: Table | None = None
        self._applied_ports: dict[str, ServicePort] = {}
        self._host_ready = False
        self._conflicts: tuple[str, ...] = ()
        self._outside: tuple[str, ...] = ()
        self._last_sync = float("-inf")
        self.synced = asyncio.Event()  # set after the first successful sync
        self.syncs = 0  # transactions applied
        self.last_latency: float | None = None  # seconds, event to rules in force

    def _changed(self, _obj: dict[str, Any]) -> None:
        if self._changed_at is None:
            self._changed_at = self.clock.monotonic()
        self._dirty.set()

    # --- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        """Mirror the API and keep the table in step until cancelled (the rules stay)."""
        async with asyncio.TaskGroup() as group:
            if self._own_factory:
                group.create_task(self._factory.run(), name="proxy informers")
            await self.services.wait_synced()
            await self.slices.wait_synced()
            log.info(
                "proxy starting node=%s table=%s services=%d slices=%d",
                self.config.node_name,
                self.config.table,
                len(self.services.store),
                len(self.slices.store),
            )
            self._dirty.set()
            group.create_task(self._periodic(), name="proxy resync")
            await self._loop()

    async def _loop(self) -> None:
        backoff = 0.5
        while True:
            await self._dirty.wait()
            wait = self._last_sync + self.config.min_sync_interval - self.clock.monotonic()
            if wait > 0:
                await self.clock.sleep(wait)
            self._dirty.clear()
            try:
                await self.sync()
                backoff = 0.5
            except (nft.NftError, OSError) as error:
                SYNC_ERRORS.inc()
                self._applied = None  # the next success replaces the table wholesale
                log.error("proxy sync failed error=%s retry_in=%.1fs", error, backoff)
                await self.clock.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                self._dirty.set()

    async def _periodic(self) -> None:
        while True:
            await self.clock.sleep(self.config.sync_period)
            self._force = True
            self._dirty.set()

    # --- one sync ---------------------------------------------------------------------------

    async def sync(self) -> None:
        """Render the table from the caches and apply it if it differs (or is due anyway)."""
        started = self.clock.monotonic()
        self._last_sync = started
        changed_at, self._changed_at = self._changed_at, None
        force, self._force = self._force, False
        services = self.services.store.list()
        self._report_outside(services)
        ports = service_ports(
            services,
            self.slices.store.list(),
            self._node,
            self._table_config.service_cidr,
        )
        table = render(self._table_config, ports)
        if table.conflicts != self._conflicts:
            for conflict in table.conflicts:
                log.warning("service port conflict %s", conflict)
            self._conflicts = table.conflicts
        if not self._host_ready:
            self._host_ready = await self._ensure_host()
        previous = self._applied
        if previous is not None and previous.body == table.body and not force:
            return
        script = replace_script(table) if previous is None else update_script(table, previous)
        try:
            await nft.apply(script)
        except nft.NftError:
            self._changed_at = changed_at
            raise
        self._applied = table
        old_ports, self._applied_ports = self._applied_ports, {p.key: p for p in ports}
        self.syncs += 1
        done = self.clock.monotonic()
        SYNC_DURATION.observe(done - started)
        if changed_at is not None:
            self.last_latency = done - changed_at
            PROGRAMMING_LATENCY.observe(self.last_latency)
        self.synced.set()
        log.info(
            "proxy synced table=%s mode=%s service_ports=%d chains=%d ms=%.1f "
            "network_programming_ms=%s",
            table.name,
            "replace" if previous is None else "update",
            len(ports),
            len(table.chains),
            (done - started) * 1000,
            "-" if changed_at is None else f"{(done - changed_at) * 1000:.1f}",
        )
        await self._flush_stale_udp(old_ports)

    def _report_outside(self, services: list[dict[str, Any]]) -> None:
        network = ipaddress.IPv4Network(self._table_config.service_cidr)
        outside = tuple(sorted(key_of(s) for s in services if not in_cidr(s, network)))
        if outside != self._outside:
            if outside:
                log.warning(
                    "services outside the service CIDR ignored cidr=%s services=%s",
                    network,
                    ",".join(outside),
                )
            self._outside = outside

    @property
    def _node(self) -> str:
        return self.config.node_name

    async def _ensure_host(self) -> bool:
        config = self.config
        if not config.bridge:
            return True
        try:
            ready = await asyncio.to_thread(
                host.ensure,
                self._table_config.service_cidr,
                config.bridge,
                route=config.service_route,
                localnet=config.localhost_nodeports,
            )
        except (OSError, NetlinkError) as error:
            log.warning("proxy node settings failed bridge=%s error=%s", config.bridge, error)
            return False
        if not ready:
            log.info("proxy waiting for the bridge bridge=%s", config.bridge)
        return ready

    async def _flush_stale_udp(self, old_ports: dict[str, ServicePort]) -> None:
        """UDP has no connection end: forget conntrack entries pinned to removed endpoints."""
        stale: set[str] = set()
        for key, old in old_ports.items():
            if old.protocol != "UDP":
                continue
            new = self._applied_ports.get(key)
            kept = {e.ip for e in new.cluster_endpoints} if new is not None else set()
            stale.update(e.ip for e in old.cluster_endpoints if e.ip not in kept)
        if stale:
            try:
                removed = await asyncio.to_thread(conntrack.delete_udp_to, sorted(stale))
            except (OSError, NetlinkError) as error:
                log.warning("conntrack flush failed endpoints=%s error=%s", sorted(stale), error)
                return
            log.info("udp conntrack flushed endpoints=%s entries=%d", ",".join(stale), removed)

    async def cleanup(self) -> None:
        """Remove the table and the service route (the rules otherwise outlive the proxy)."""
        await cleanup(self.config)
        self._applied = None


async def cleanup(config: ProxyConfig) -> None:
    """Remove what a proxier with ``config`` installs; safe when nothing is there."""
    await nft.apply(delete_script(config.table))
    if config.service_route:
        cidr = str(ipaddress.ip_network(config.service_cidr))
        await asyncio.to_thread(host.remove_route, cidr)
    log.info("proxy rules removed table=%s", config.table)


async def run_proxy(client: Client, config: ProxyConfig) -> None:
    """Run the service proxy of one node until cancelled (what ``kyb agent``/``server`` start)."""
    await Proxier(client, config).run()
