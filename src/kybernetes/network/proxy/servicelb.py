"""ServiceLB: LoadBalancer Services get the nodes' addresses as their load balancer, as in k3s.

A cluster without a cloud has nobody to give a ``type: LoadBalancer`` Service an address, so it
would stay ``<pending>`` forever. Like k3s's ServiceLB (klipper-lb), this controller writes the
nodes' own addresses into ``status.loadBalancer.ingress`` (``ipMode: VIP``); every node's proxy
then handles traffic to that address and the Service's ports like its ClusterIP
(``externalTrafficPolicy`` applies). Unlike klipper-lb no pods are started: the proxy's rules
do the forwarding.

Addresses are fixed ones given to the controller, or else the ExternalIP (when a node has one)
or InternalIP of every Ready node, sorted. Services with a ``loadBalancerClass`` belong to
another implementation and are left alone; a Service that stops being a LoadBalancer has its
ingress cleared. Run it once per cluster (it writes status, like any controller).

Invariant: the ingress of every classless LoadBalancer Service converges to the current address
list; writes go through the status subresource with the resourceVersion read (a conflict is
retried from the informer's newer copy).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

from kybernetes.api import errors
from kybernetes.client.cache import key_of, split_key
from kybernetes.client.informer import Handler, InformerFactory
from kybernetes.client.resource import NODES, SERVICES
from kybernetes.client.rest import Client
from kybernetes.client.workqueue import ShutDown, WorkQueue

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def node_address(node: Obj) -> str | None:
    """The address a Ready node offers load-balanced traffic on (ExternalIP over InternalIP)."""
    status = node.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )
    if not ready:
        return None
    found: dict[str, str] = {}
    for address in status.get("addresses") or ():
        kind, value = address.get("type"), address.get("address", "")
        if kind in ("ExternalIP", "InternalIP") and kind not in found and _ipv4(value):
            found[kind] = value
    return found.get("ExternalIP") or found.get("InternalIP")


def desired_ingress(service: Obj, addresses: Sequence[str]) -> list[Obj] | None:
    """The ingress this controller wants, or None when the Service is not its business."""
    spec = service.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return [] if _ingress(service) else None
    if spec.get("loadBalancerClass"):
        return None
    return [{"ip": address, "ipMode": "VIP"} for address in addresses]


class ServiceLB:
    """Writes ``status.loadBalancer.ingress`` of LoadBalancer Services until cancelled."""

    def __init__(
        self,
        client: Client,
        *,
        addresses: Sequence[str] = (),
        informers: InformerFactory | None = None,
    ) -> None:
        self.client = client
        self._fixed = tuple(addresses)
        self._own_factory = informers is None
        self._factory = informers or InformerFactory(client)
        self.queue = WorkQueue("servicelb")
        self.services = self._factory.informer(SERVICES)
        self.services.add_handler(
            Handler(self._enqueue, lambda _old, new: self._enqueue(new), None)
        )
        self.nodes = None
        if not self._fixed:
            self.nodes = self._factory.informer(NODES)
            self.nodes.add_handler(
                Handler(self._nodes_changed, self._node_updated, self._nodes_changed)
            )

    def _enqueue(self, service: Obj) -> None:
        self.queue.add(key_of(service))

    def _nodes_changed(self, _node: Obj) -> None:
        for service in self.services.store.list():
            if (service.get("spec") or {}).get("type") == "LoadBalancer":
                self._enqueue(service)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if node_address(old) != node_address(new):
            self._nodes_changed(new)

    def addresses(self) -> list[str]:
        if self._fixed or self.nodes is None:
            return list(self._fixed)
        found = {a for a in (node_address(n) for n in self.nodes.store.list()) if a}
        return sorted(found, key=ipaddress.IPv4Address)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            if self._own_factory:
                group.create_task(self._factory.run(), name="servicelb informers")
            await self.services.wait_synced()
            if self.nodes is not None:
                await self.nodes.wait_synced()
            log.info("servicelb started addresses=%s", ",".join(self.addresses()) or "-")
            try:
                await self._worker()
            finally:
                self.queue.shutdown()

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.sync(key)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # retried with backoff, never fatal
                log.info("servicelb sync failed key=%s error=%r", key, error)
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)

    async def sync(self, key: str) -> None:
        service = self.services.store.get(key)
        if service is None:
            return
        wanted = desired_ingress(service, self.addresses())
        if wanted is None or _ingress(service) == wanted:
            return
        updated = dict(service)
        status = dict(service.get("status") or {})
        status["loadBalancer"] = {"ingress": wanted} if wanted else {}
        updated["status"] = status
        try:
            await self.client.update_status(SERVICES, updated)
        except errors.Conflict:
            self.queue.add_after(key, 0.05)  # the informer brings the newer copy
            return
        except errors.NotFound:
            return
        namespace, name = split_key(key)
        log.info(
            "servicelb ingress set service=%s/%s ingress=%s",
            namespace,
            name,
            ",".join(entry["ip"] for entry in wanted) or "-",
        )


def _ingress(service: Obj) -> list[Obj]:
    return list(((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ())


def _ipv4(value: str) -> bool:
    try:
        return ipaddress.ip_address(value).version == 4
    except ValueError:
        return False
