"""The ``kube-dns`` Service in ``kube-system``, and the endpoints that point it at this server.

``ensure_kube_dns_service`` makes the Service every cluster has (ClusterIP 10.43.0.10 here,
ports 53/UDP ``dns``, 53/TCP ``dns-tcp``, 9153/TCP ``metrics``, label ``k8s-app: kube-dns``),
creating ``kube-system`` first if needed. Without a selector (the default: the server is not a
pod), no controller writes its endpoints; ``ensure_kube_dns_endpoints`` then writes an
EndpointSlice naming the addresses the server listens on — one per node, each node's DNS
server being an endpoint — so a service proxy DNATs 10.43.0.10:53 to them. With a selector,
the EndpointSlice controller takes over as usual.

Invariants: both functions are idempotent and converge an existing object towards the wanted
labels, ports and endpoints without touching other fields; an existing Service's ClusterIP is
immutable, so a different one is reported (logged and returned), never replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.client.resource import ENDPOINTSLICES, NAMESPACES, SERVICES
from kybernetes.client.rest import Client

log = logging.getLogger(__name__)

NAMESPACE: Final = "kube-system"
NAME: Final = "kube-dns"
LABELS: Final[Mapping[str, str]] = {
    "k8s-app": "kube-dns",
    "kubernetes.io/cluster-service": "true",
    "kubernetes.io/name": "CoreDNS",
}
SLICE_NAME: Final = "kube-dns-kybernetes"
MANAGED_BY: Final = "dns.kybernetes.io"

Obj = dict[str, Any]


def service_ports(port: int = 53, metrics_port: int = 9153) -> list[Obj]:
    return [
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": port},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": port},
        {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": metrics_port},
    ]


def kube_dns_service(
    cluster_ip: str = "10.43.0.10",
    *,
    selector: Mapping[str, str] | None = None,
    port: int = 53,
    metrics_port: int = 9153,
) -> Obj:
    """The Service object as it should be."""
    spec: Obj = {
        "type": "ClusterIP",
        "clusterIP": cluster_ip,
        "clusterIPs": [cluster_ip],
        "ports": service_ports(port, metrics_port),
    }
    if selector:
        spec["selector"] = dict(selector)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": dict(LABELS),
            "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
        },
        "spec": spec,
    }


async def _ensure_namespace(client: Client) -> None:
    try:
        await client.get(NAMESPACES, NAMESPACE)
    except errors.NotFound:
        with contextlib.suppress(errors.AlreadyExists):
            await client.create(NAMESPACES, {"metadata": {"name": NAMESPACE}})


async def ensure_kube_dns_service(
    client: Client,
    cluster_ip: str = "10.43.0.10",
    *,
    selector: Mapping[str, str] | None = None,
    port: int = 53,
    metrics_port: int = 9153,
) -> Obj:
    """Create or converge the kube-dns Service; returns it as stored."""
    await _ensure_namespace(client)
    wanted = kube_dns_service(cluster_ip, selector=selector, port=port, metrics_port=metrics_port)
    try:
        current = await client.get(SERVICES, NAME, NAMESPACE)
    except errors.NotFound:
        try:
            created = await client.create(SERVICES, wanted, NAMESPACE)
            log.info("kube-dns service created ip=%s", cluster_ip)
            return created
        except errors.AlreadyExists:
            current = await client.get(SERVICES, NAME, NAMESPACE)
    spec = current.get("spec") or {}
    if spec.get("clusterIP") != cluster_ip:
        log.warning(
            "kube-dns service has another ClusterIP have=%s want=%s",
            spec.get("clusterIP"),
            cluster_ip,
        )
    labels = (current.get("metadata") or {}).get("labels") or {}
    patch: Obj = {}
    if any(labels.get(k) != v for k, v in LABELS.items()):
        patch["metadata"] = {"labels": dict(LABELS)}
    if _port_view(spec.get("ports")) != _port_view(wanted["spec"]["ports"]):
        patch["spec"] = {"ports": wanted["spec"]["ports"]}
    if not patch:
        return current
    log.info("kube-dns service converged fields=%s", ",".join(sorted(patch)))
    return await client.patch(SERVICES, NAME, patch, NAMESPACE, patch_type="merge")


def node_slice_name(node_name: str) -> str:
    """``kube-dns-<node>``, or a digest of the node's name where that would exceed 63."""
    name = f"{NAME}-{node_name}"
    if len(name) <= 63:
        return name
    return f"{NAME}-{hashlib.sha256(node_name.encode()).hexdigest()[:20]}"


def _port_view(ports: Any) -> list[tuple[str, int, str, Any]]:
    return sorted(
        (
            str(p.get("name")),
            int(p.get("port", 0)),
            str(p.get("protocol", "TCP")),
            p.get("targetPort"),
        )
        for p in ports or ()
    )


async def ensure_kube_dns_endpoints(
    client: Client,
    addresses: Sequence[str],
    *,
    port: int = 53,
    metrics_port: int = 9153,
    node_name: str | None = None,
    owner: Obj | None = None,
) -> Obj:
    """Create or converge the EndpointSlice sending kube-dns traffic to ``addresses``.

    With ``node_name`` the slice is that node's own (``kube-dns-<node>``): every node's DNS
    server is an endpoint of the Service, as with a DNS DaemonSet. With ``owner`` (the Node)
    the slice is garbage-collected when the Node goes.
    """
    name = node_slice_name(node_name) if node_name else SLICE_NAME
    endpoints = []
    for address in addresses:
        endpoint: Obj = {"addresses": [address], "conditions": {"ready": True}}
        if node_name:
            endpoint["nodeName"] = node_name
        endpoints.append(endpoint)
    family = "IPv6" if any(":" in a for a in addresses) else "IPv4"
    wanted: Obj = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {
                "kubernetes.io/service-name": NAME,
                "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
            },
        },
        "addressType": family,
        "endpoints": endpoints,
        "ports": [
            {"name": "dns", "port": port, "protocol": "UDP"},
            {"name": "dns-tcp", "port": port, "protocol": "TCP"},
            {"name": "metrics", "port": metrics_port, "protocol": "TCP"},
        ],
    }
    if owner is not None:
        wanted["metadata"]["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
            }
        ]
    try:
        current = await client.get(ENDPOINTSLICES, name, NAMESPACE)
    except errors.NotFound:
        try:
            return await client.create(ENDPOINTSLICES, wanted, NAMESPACE)
        except errors.AlreadyExists:
            current = await client.get(ENDPOINTSLICES, name, NAMESPACE)
    same_owner = current["metadata"].get("ownerReferences") == wanted["metadata"].get(
        "ownerReferences"
    )
    if same_owner and all(
        current.get(k) == wanted[k] for k in ("addressType", "endpoints", "ports")
    ):
        return current
    wanted["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
    return await client.update(ENDPOINTSLICES, wanted)
