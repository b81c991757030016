"""The Node object an agent registers, and its status as the kubelet reports it.

``NodeConfig`` is what an agent knows about its node (capacity, labels, taints, addresses,
system info). From it, ``build_node`` makes the Node to create, ``node_status`` the status to
post (conditions MemoryPressure, DiskPressure, PIDPressure and Ready with the kubelet's reasons
and messages, capacity and allocatable, addresses, nodeInfo, daemonEndpoints) and ``register``
creates the Node or adopts an existing one of that name, as the kubelet's
``registerWithAPIServer`` does: the default labels are brought up to date, taints are only set at
creation, and a pod CIDR is set only where none is.

Heartbeats follow the kubelet with node leases: ``lastHeartbeatTime`` moves each time status is
posted; ``lastTransitionTime`` moves only when a condition's status changes.

Invariant: posting never changes what is not the agent's (taints, other labels, unschedulable).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from kybernetes import __version__
from kybernetes.agent.podstatus import rfc3339
from kybernetes.api import errors
from kybernetes.client.resource import NODES
from kybernetes.client.rest import Client
from kybernetes.util.clock import Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]

KUBELET_VERSION: Final = f"v1.32.0-kyb{__version__}"
KUBELET_PORT: Final = 10250

# (type, reason, message) of each condition while the node is healthy, in the kubelet's order.
_HEALTHY: Final = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "KubeletReady", "kubelet is posting ready status"),
)


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """What an agent says about its node."""

    name: str
    capacity: Mapping[str, str]
    internal_ip: str
    #: Defaults to ``capacity``.
    allocatable: Mapping[str, str] | None = None
    #: Added to the default labels (hostname, os, arch, zone, region, instance type).
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Set when the node is created (``--register-with-taints``), never changed afterwards.
    taints: Sequence[Mapping[str, str]] = ()
    pod_cidrs: Sequence[str] = ()
    hostname: str = ""
    architecture: str = "amd64"
    operating_system: str = "linux"
    zone: str = ""
    region: str = ""
    instance_type: str = ""
    kernel_version: str = ""
    os_image: str = ""
    container_runtime_version: str = ""
    #: Defaults to values derived from the node name.
    machine_id: str = ""
    boot_id: str = ""
    #: The agent's HTTPS server (logs, exec, port-forward), in daemonEndpoints.
    kubelet_port: int = KUBELET_PORT


def default_labels(config: NodeConfig) -> dict[str, str]:
    """The labels the kubelet sets on its own node (stable and beta names, as 1.32 does)."""
    labels = {
        "beta.kubernetes.io/arch": config.architecture,
        "beta.kubernetes.io/os": config.operating_system,
        "kubernetes.io/arch": config.architecture,
        "kubernetes.io/hostname": config.hostname or config.name,
        "kubernetes.io/os": config.operating_system,
    }
    if config.instance_type:
        labels["beta.kubernetes.io/instance-type"] = config.instance_type
        labels["node.kubernetes.io/instance-type"] = config.instance_type
    if config.zone:
        labels["failure-domain.beta.kubernetes.io/zone"] = config.zone
        labels["topology.kubernetes.io/zone"] = config.zone
    if config.region:
        labels["failure-domain.beta.kubernetes.io/region"] = config.region
        labels["topology.kubernetes.io/region"] = config.region
    return labels


def _node_info(config: NodeConfig) -> Obj:
    digest = hashlib.md5(config.name.encode(), usedforsecurity=False).hexdigest()
    return {
        "machineID": config.machine_id or digest,
        "systemUUID": str(uuid.UUID(digest)),
        "bootID": config.boot_id or str(uuid.UUID(digest[::-1])),
        "kernelVersion": config.kernel_version,
        "osImage": config.os_image,
        "containerRuntimeVersion": config.container_runtime_version,
        "kubeletVersion": KUBELET_VERSION,
        # Empty since 1.31 (DisableNodeKubeProxyVersion), but the field is always written.
        "kubeProxyVersion": "",
        "operatingSystem": config.operating_system,
        "architecture": config.architecture,
    }


def node_status(config: NodeConfig, old: Mapping[str, Any] | None, now: float) -> Obj:
    """The status to post now; transition times are kept from ``old`` where nothing changed."""
    stamp = rfc3339(now)
    previous = {c.get("type"): c for c in (old or {}).get("conditions") or ()}
    conditions = []
    for type_, reason, message in _HEALTHY:
        status = "True" if type_ == "Ready" else "False"
        before = previous.get(type_) or {}
        kept = before.get("status") == status and before.get("lastTransitionTime")
        conditions.append(
            {
                "type": type_,
                "status": status,
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": kept or stamp,
                "reason": reason,
                "message": message,
            }
        )
    capacity = dict(config.capacity)
    return {
        "capacity": capacity,
        "allocatable": dict(config.allocatable if config.allocatable is not None else capacity),
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": config.internal_ip},
            {"type": "Hostname", "address": config.hostname or config.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": config.kubelet_port}},
        "nodeInfo": _node_info(config),
    }


def _without_heartbeats(status: Mapping[str, Any]) -> Obj:
    out = dict(status)
    out["conditions"] = [
        {k: v for k, v in c.items() if k != "lastHeartbeatTime"}
        for c in status.get("conditions") or ()
    ]
    return out


def status_differs(wanted: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether posting ``wanted`` would change more than heartbeat times in ``current``.

    Fields the agent does not write (images, volumes, a condition someone else added) are
    compared only where ``wanted`` has them.
    """
    mine = _without_heartbeats(wanted)
    theirs = _without_heartbeats(current)
    return any(theirs.get(key) != value for key, value in mine.items())


def build_node(config: NodeConfig, now: float) -> Obj:
    """The Node to create for ``config``."""
    spec: Obj = {}
    if config.pod_cidrs:
        spec["podCIDR"] = config.pod_cidrs[0]
        spec["podCIDRs"] = list(config.pod_cidrs)
    if config.taints:
        spec["taints"] = [dict(t) for t in config.taints]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": config.name, "labels": {**config.labels, **default_labels(config)}},
        "spec": spec,
        "status": node_status(config, None, now),
    }


def _adopted(config: NodeConfig, current: Mapping[str, Any]) -> Obj | None:
    """``current`` with our default labels and pod CIDR filled in, or None if nothing changes."""
    node = copy.deepcopy(dict(current))
    meta = node.setdefault("metadata", {})
    labels = meta.setdefault("labels", {})
    changed = False
    for key, value in {**config.labels, **default_labels(config)}.items():
        if labels.get(key) != value:
            labels[key] = value
            changed = True
    spec = node.setdefault("spec", {})
    if config.pod_cidrs and not spec.get("podCIDRs"):
        spec["podCIDR"] = config.pod_cidrs[0]
        spec["podCIDRs"] = list(config.pod_cidrs)
        changed = True
    return node if changed else None


async def register(
    client: Client, config: NodeConfig, clock: Clock, existing: Mapping[str, Any] | None = None
) -> Obj:
    """Create the Node, or adopt the existing one (``existing`` if the caller has it cached).

    Returns the Node as stored, with the status just posted.
    """
    if existing is None:
        try:
            created = await client.create(NODES, build_node(config, clock.now()))
            log.info("node registered node=%s", config.name)
            return created
        except errors.AlreadyExists:
            existing = await client.get(NODES, config.name)
    node = dict(existing)
    while True:
        try:
            changed = _adopted(config, node)
            if changed is not None:
                node = await client.update(NODES, changed)
            return await post_status(client, config, node, clock)
        except errors.Conflict:
            node = await client.get(NODES, config.name)


async def post_status(
    client: Client, config: NodeConfig, node: Mapping[str, Any], clock: Clock
) -> Obj:
    """Write the node's status (conditional on ``node``'s resourceVersion; Conflict propagates)."""
    updated = dict(node)
    status = dict(node.get("status") or {})
    status.update(node_status(config, status, clock.now()))
    updated["status"] = status
    return await client.update_status(NODES, updated)
