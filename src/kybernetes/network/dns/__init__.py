"""Cluster DNS: the Kubernetes DNS schema for ``cluster.local``, served from informers.

What CoreDNS's ``kubernetes`` plugin (with ``pods insecure``), ``forward . /etc/resolv.conf``
and ``cache 30`` do in a k3s cluster, in one asyncio component:

- ``names``: query names split into the schema's parts; ``index``: Services, EndpointSlices,
  Namespaces (and Pods) reduced to dictionaries keyed as DNS asks; ``zone``: the answers;
- ``forward``: other names to the host's resolvers; ``cache``: bounded TTL and wire caches;
- ``server``: UDP and TCP on one configurable address; ``cluster``: the component wiring
  informers, index and server; ``kubedns``: the ``kube-dns`` Service and its endpoints.

Where it can listen (``Listen`` in ``server``), for whoever wires it into a node:

1. a node address pods can reach (the pod bridge's gateway address, or a link-local one such
   as 169.254.20.10 on a dummy interface, as NodeLocal DNSCache does), port 53, with the
   ``kube-dns`` Service selector-less and ``ensure_kube_dns_endpoints`` naming that address:
   the service proxy DNATs 10.43.0.10:53 to it like any endpoint;
2. the ClusterIP itself, ``Listen("10.43.0.10", 53, freebind=True)``, with 10.43.0.10/32 on a
   node interface (a dummy ``kube-ipvs0``-style link) and the proxy leaving that Service alone;
3. inside a network namespace of its own (then ``skip_loopback_upstreams``: the host's
   127.0.0.53 is not reachable from there);
4. ``127.0.0.1:<port>`` for tests and for ``dnsPolicy: Default`` tooling on the node.

Invariant of the package: it reads the cluster only through informers and writes only the
kube-dns Service and its EndpointSlice.
"""

from kybernetes.network.dns.cluster import ClusterDNS, ClusterDNSConfig
from kybernetes.network.dns.kubedns import ensure_kube_dns_endpoints, ensure_kube_dns_service
from kybernetes.network.dns.server import DNSServer, Listen

__all__ = [
    "ClusterDNS",
    "ClusterDNSConfig",
    "DNSServer",
    "Listen",
    "ensure_kube_dns_endpoints",
    "ensure_kube_dns_service",
]
