"""The service proxy: kube-proxy's nftables mode, and ServiceLB for LoadBalancer Services.

``run_proxy(client, ProxyConfig(node_name=...))`` runs one node's proxy (``proxier``): it
watches Services and EndpointSlices and keeps one nftables table (``table``) implementing
ClusterIPs, NodePorts, external and LoadBalancer IPs, replaced in one transaction per change.
``ServiceLB(client).run()`` (``servicelb``, once per cluster) gives LoadBalancer Services the
nodes' addresses. ``cleanup(config)`` removes what a proxy installed.
"""

from kybernetes.network.proxy.proxier import Proxier, ProxyConfig, cleanup, run_proxy
from kybernetes.network.proxy.servicelb import ServiceLB

__all__ = ["Proxier", "ProxyConfig", "ServiceLB", "cleanup", "run_proxy"]
