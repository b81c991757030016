"""The services a real node runs beside its agent: the service proxy, cluster DNS, ServiceLB.

On a node with a pod bridge, ``run_node_services`` starts:

- the nftables service proxy for the node (ClusterIPs, NodePorts, LoadBalancer addresses);
- the cluster DNS server, listening on the pod bridge's gateway address (the first address of
  the node's pod CIDR), which every pod can reach; the ``kube-dns`` Service (10.43.0.10) has no
  selector and an EndpointSlice per node naming that node's address (owned by the Node), so the
  proxy DNATs the DNS Service IP to them — the layout of option (a) in ``network/dns``'s
  docstring;
- ServiceLB, which gives LoadBalancer Services the node's address (k3s does the same), on the
  server's node only (``servicelb``);
- the NetworkPolicy enforcer for the node's pods (its own nftables table, ``kyb-policy``);
- the ingress controller (IngressClass ``kybernetes``, the default) on the node's ports 80 and
  443 unless told otherwise, so ``http://127.0.0.1/`` reaches it on a single-node cluster.

``instance`` names the proxy's and the policy enforcer's nftables tables apart, as the node's
own objects are for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp

from kybernetes.api import errors
from kybernetes.client.resource import ENDPOINTSLICES, NODES
from kybernetes.client.rest import Client
from kybernetes.network.dns import ClusterDNS, ClusterDNSConfig, Listen
from kybernetes.network.dns.kubedns import NAMESPACE as KUBE_DNS_NAMESPACE
from kybernetes.network.dns.kubedns import (
    SLICE_NAME,
    ensure_kube_dns_endpoints,
    ensure_kube_dns_service,
)
from kybernetes.network.ingress.controller import IngressConfig, ensure_default_class, run_ingress
from kybernetes.network.policy.enforcer import PolicyConfig, run_policy
from kybernetes.network.proxy.proxier import ProxyConfig, run_proxy
from kybernetes.network.proxy.servicelb import ServiceLB

log = logging.getLogger(__name__)

_DNS_ENDPOINT_RECHECK: Final = 30.0


@dataclass(frozen=True)
class NodeServicesConfig:
    node_name: str
    pod_cidr: str
    bridge: str = "kyb0"
    cluster_cidr: str = "10.42.0.0/16"
    service_cidr: str = "10.43.0.0/16"
    instance: str = ""
    ingress_http_port: int | None = 80  # None: no ingress controller
    ingress_https_port: int | None = 443
    ingress_proxy: str = "auto"  # the ingress data plane: nginx, builtin, auto (nginx if found)
    ingress_dir: Path | None = None  # the nginx data plane's own directory (None: a temporary one)
    #: ServiceLB assigns cluster-wide addresses: one node runs it (the server's), not each.
    servicelb: bool = True


async def run_node_services(client: Client, config: NodeServicesConfig) -> None:
    """Run the proxy, DNS and ServiceLB for one node until cancelled."""
    gateway = str(next(ipaddress.ip_network(config.pod_cidr).hosts()))
    table = f"kyb-services-{config.instance}" if config.instance else "kyb-services"
    proxy = ProxyConfig(
        node_name=config.node_name,
        bridge=config.bridge,
        cluster_cidr=config.cluster_cidr,
        service_cidr=config.service_cidr,
        table=table,
    )
    dns = ClusterDNS(client, ClusterDNSConfig(listen=Listen(gateway, 53, wait_for_address=True)))
    await ensure_kube_dns_service(client)
    async with asyncio.TaskGroup() as group:
        group.create_task(run_proxy(client, proxy), name="service proxy")
        group.create_task(dns.run(), name="cluster dns")
        group.create_task(_publish_dns_endpoint(client, gateway, config.node_name))
        if config.servicelb:
            group.create_task(ServiceLB(client).run(), name="servicelb")
        policy_table = f"kyb-policy-{config.instance}" if config.instance else "kyb-policy"
        policy = PolicyConfig(node_name=config.node_name, table=policy_table)
        group.create_task(run_policy(client, policy), name="network policy")
        if config.ingress_http_port is not None:
            await ensure_default_class(client)
            ingress = IngressConfig(
                http_port=config.ingress_http_port,
                https_port=config.ingress_https_port,
                proxy=config.ingress_proxy,
                state_dir=config.ingress_dir,
            )
            group.create_task(run_ingress(client, ingress), name="ingress")


async def _publish_dns_endpoint(client: Client, gateway: str, node_name: str) -> None:
    """Keep this node's DNS server an endpoint of ``kube-dns`` (its own EndpointSlice, owned
    by the Node, so it goes with it), re-checked every ``_DNS_ENDPOINT_RECHECK`` seconds in
    case the Node was re-created and the slice collected with the old one."""
    legacy_removed = False
    while True:
        delay = _DNS_ENDPOINT_RECHECK
        try:
            node = await client.get(NODES, node_name)
            await ensure_kube_dns_endpoints(client, [gateway], node_name=node_name, owner=node)
            if not legacy_removed:
                # Single-node clusters before per-node slices had one shared slice.
                with contextlib.suppress(errors.NotFound):
                    await client.delete(ENDPOINTSLICES, SLICE_NAME, KUBE_DNS_NAMESPACE)
                legacy_removed = True
        except (errors.StatusError, aiohttp.ClientError, OSError) as exc:
            # Also while the agent has not registered the Node yet: try again soon.
            log.warning("publishing the DNS endpoint failed node=%s error=%s", node_name, exc)
            delay = 1.0
        await asyncio.sleep(delay)
