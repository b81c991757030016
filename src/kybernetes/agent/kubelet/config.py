"""``KubeletConfig``: what one node agent is told (the kubelet's flags and config file, trimmed).

Invariant: plain data; defaults are upstream's where upstream has one (110 pods, 10 s lease
renewals, cluster domain ``cluster.local``, a 1 s PLEG relist).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class KubeletConfig:
    node_name: str
    #: The agent's directory: ``pods/<uid>`` (volumes, termination messages), ``logs``.
    data_dir: str
    #: Used when the Node has no ``spec.podCIDR`` yet (no node IPAM controller assigned one).
    pod_cidr: str = ""
    #: The node's InternalIP; empty: the address the host name resolves to.
    internal_ip: str = ""
    #: ``containerID`` prefix and nodeInfo.containerRuntimeVersion (``runc://1.1.5``).
    runtime_name: str = "runc"
    runtime_version: str = ""
    cluster_dns: Sequence[str] = ()
    cluster_domain: str = "cluster.local"
    #: The node's resolv.conf for dnsPolicy Default (None: the node has none).
    resolv_conf: str | None = "/etc/resolv.conf"
    #: Pods go under ``/<cgroup_root>/kubepods/...`` in every cgroup hierarchy.
    cgroup_root: str = "kybernetes"
    max_pods: int = 110
    pod_pids_limit: int = 0
    #: Secrets and memory-backed emptyDirs on tmpfs (needs root); None: when running as root.
    use_tmpfs: bool | None = None
    #: Overrides of the detected capacity (e.g. {"cpu": "4"}).
    capacity: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Mapping[str, str]] = ()
    lease_renew_interval: float = 10.0
    status_report_interval: float = 300.0
    pleg_period: float = 1.0
    #: Every pod is synced at least this often (configMap/secret contents follow).
    resync_period: float = 60.0
    #: The port of the agent's HTTPS server, reported as daemonEndpoints.kubeletEndpoint.
    kubelet_port: int = 10250
