"""The node IPAM controller: every Node gets a pod CIDR of its own from the cluster CIDR.

Like kube-controller-manager with ``--allocate-node-cidrs --cluster-cidr=10.42.0.0/16
--node-cidr-mask-size=24``: a Node without ``spec.podCIDR`` is given the lowest /24 of the
cluster CIDR that no Node holds (``spec.podCIDR`` and ``spec.podCIDRs``), and the node's agent
builds its pod network from it. Nodes that registered with a CIDR of their own keep it; one
inside the cluster CIDR counts as taken. When the range is exhausted the Node is left without
one and a ``CIDRNotAvailable`` event says so, as upstream.

Invariants: one worker, so two Nodes never race for the same block; a block handed out is
remembered until the informer shows it on its Node, so a lagging cache cannot hand it out again.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.client.informer import Handler
from kybernetes.client.resource import NODES
from kybernetes.controllers.base import ControllerContext, QueueController

Obj = dict[str, Any]
CLUSTER_CIDR: Final = "10.42.0.0/16"
NODE_MASK_SIZE: Final = 24


def node_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    return list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))


def first_free(
    cluster: ipaddress.IPv4Network, mask: int, taken: Iterable[str]
) -> ipaddress.IPv4Network | None:
    """The lowest ``/mask`` block of ``cluster`` overlapping none of ``taken``."""
    used = []
    for cidr in taken:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            continue
        if isinstance(network, ipaddress.IPv4Network) and network.overlaps(cluster):
            used.append(network)
    for block in cluster.subnets(new_prefix=mask):
        if not any(block.overlaps(u) for u in used):
            return block
    return None


class NodeIpamController(QueueController):
    name = "nodeipam"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        options = context.options
        cluster = ipaddress.ip_network(str(options.get("cluster_cidr", CLUSTER_CIDR)))
        if not isinstance(cluster, ipaddress.IPv4Network):
            raise ValueError(f"cluster CIDR {cluster}: only IPv4 is supported")
        self.cluster = cluster
        self.mask = int(options.get("node_cidr_mask_size", NODE_MASK_SIZE))
        self.recorder = context.recorder("cidrAllocator")
        self.nodes = self.informer(context.informers.informer(NODES))
        self.nodes.add_handler(Handler(self._changed, lambda _old, new: self._changed(new)))
        #: node name -> block given but not yet seen in the cache
        self._pending: dict[str, str] = {}

    def _changed(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        if node_cidrs(node):
            self._pending.pop(name, None)
        else:
            self.queue.add(name)

    async def sync(self, key: str) -> None:
        node = self.nodes.store.get(key)
        if node is None:
            self._pending.pop(key, None)
            return
        if node_cidrs(node):
            return
        cidr = self._pending.get(key)  # a retry patches the block given the first time
        if cidr is None:
            taken = [c for n in self.nodes.store.list() for c in node_cidrs(n)]
            block = first_free(self.cluster, self.mask, [*taken, *self._pending.values()])
            if block is None:
                self.recorder.event(
                    _reference(node),
                    "Normal",
                    "CIDRNotAvailable",
                    f"Node {key} status is now: CIDRNotAvailable",
                )
                return
            cidr = self._pending[key] = str(block)
        try:
            await self.client.patch(NODES, key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except errors.NotFound:
            self._pending.pop(key, None)


def _reference(node: Obj) -> Obj:
    meta = node["metadata"]
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {"name": meta["name"], "uid": meta.get("uid", "")},
    }
