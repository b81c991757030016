"""Keeps this node's routes to every other node's pods: ``10.42.1.0/24 via <node 1's IP>``.

``PodRoutes(client, node_name)`` watches the Nodes and, whenever one's ``spec.podCIDR`` or
``InternalIP`` changes, recomputes the wanted table — each other node's pod CIDR via that
node's InternalIP — and hands it to ``routes.sync_pod_routes`` (level-triggered: the routes it
installed are made exactly the wanted ones). This is flannel's host-gw backend: no overlay, no
encapsulation; it needs the nodes on one link, which is the case for one machine's nodes in
network namespaces on one bridge and for a rack on one switch. Pod-to-pod traffic keeps its
source address (the node's masquerade rule skips the cluster CIDR), as Kubernetes requires.
Once a route is in, the interface holding this node's address (``node_ip``) may forward, so
other nodes' packets reach the pods here.

A node this one cannot reach directly (another subnet, or a simulated node whose address is
not on any link) gets no route; that is logged in one line per sync, not retried in a loop:
routes are re-synced on every relevant Node change anyway.

Invariant: syncs never overlap (one task drains a "dirty" flag), and the sync runs in a thread
since netlink calls block.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from kybernetes.agent.network import routes
from kybernetes.client.informer import Handler, InformerFactory
from kybernetes.client.resource import NODES
from kybernetes.client.rest import Client

log = logging.getLogger(__name__)


def wanted_routes(nodes: Iterable[Mapping[str, Any]], self_name: str) -> dict[str, str]:
    """``{pod CIDR: InternalIP}`` for every other node with both (IPv4 only)."""
    wanted: dict[str, str] = {}
    for node in nodes:
        if node.get("metadata", {}).get("name") == self_name:
            continue
        spec = node.get("spec") or {}
        cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
        address = _internal_ipv4(node)
        if address is None:
            continue
        for cidr in cidrs:
            try:
                network = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                continue
            if network.version == 4:
                wanted[str(network)] = address
    return wanted


def _internal_ipv4(node: Mapping[str, Any]) -> str | None:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") != "InternalIP":
            continue
        try:
            ip = ipaddress.ip_address(address.get("address", ""))
        except ValueError:
            continue
        if ip.version == 4:
            return str(ip)
    return None


class PodRoutes:
    """Routes to the other nodes' pod CIDRs, kept in step with the Node objects."""

    def __init__(self, client: Client, node_name: str, node_ip: str) -> None:
        self.node_name = node_name
        self.node_ip = node_ip
        self._informers = InformerFactory(client)
        self._nodes = self._informers.informer(NODES)
        self._dirty = asyncio.Event()
        self._nodes.add_handler(
            Handler(
                on_add=lambda _: self._dirty.set(),
                on_update=self._on_update,
                on_delete=lambda _: self._dirty.set(),
            )
        )
        self._last: dict[str, str] | None = None

    def _on_update(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        # Heartbeats update every node's status often; only addresses and CIDRs matter here.
        if old.get("spec") != new.get("spec") or _internal_ipv4(old) != _internal_ipv4(new):
            self._dirty.set()

    async def run(self) -> None:
        """Sync routes on every relevant Node change until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._informers.run(), name="pod routes informer")
            await self._nodes.wait_synced()
            while True:
                await self._dirty.wait()
                self._dirty.clear()
                wanted = wanted_routes(self._nodes.store.list(), self.node_name)
                if wanted == self._last:
                    continue
                changes = await asyncio.to_thread(routes.sync_pod_routes, wanted)
                if changes.failed:
                    cidr, reason = changes.failed[0]
                    log.warning(
                        "no route to %d pod CIDR(s), e.g. %s via %s: %s",
                        len(changes.failed),
                        cidr,
                        wanted[cidr],
                        reason,
                    )
                if len(changes.failed) < len(wanted):
                    await asyncio.to_thread(routes.forward_from_uplink, self.node_ip)
                self._last = wanted
