"""``KubeletConfig``: what one node agent is told (the kubelet's flags and config file, trimmed).

Invariant: plain data; defaults are upstream's where upstream has one (110 pods, 10 s lease
renewals, cluster domain ``cluster.local``, a 1 s PLEG relist, container logs rotated at 10Mi
keeping 5 files).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_CONTAINER_LOG_MAX_SIZE = 10 * 1024 * 1024  # upstream's 10Mi
DEFAULT_CONTAINER_LOG_MAX_FILES = 5


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
    #: Localhost seccomp profiles (``localhostProfile`` is relative to it); empty:
    #: ``<data_dir>/seccomp``.
    seccomp_root: str = ""
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
    #: containerLogMaxSize (bytes; 0: never rotated) and containerLogMaxFiles (at least 2,
    #: the current file included): a container's log is rotated by size, as it is written.
    container_log_max_size: int = DEFAULT_CONTAINER_LOG_MAX_SIZE
    container_log_max_files: int = DEFAULT_CONTAINER_LOG_MAX_FILES

    @property
    def logs_root(self) -> str:
        """Container logs: ``<logs_root>/<namespace>_<pod>_<uid>/<container>/<restart>.log``."""
        return os.path.join(self.data_dir, "logs")
