"""The host as a Node: real capacity, allocatable, addresses and system info for registration.

Capacity is what the kubelet reads from cAdvisor: cpu (online CPUs), memory (``MemTotal``),
ephemeral-storage (the size of the file system holding the agent's data directory) and pods
(``maxPods``). Allocatable is capacity minus upstream's default hard eviction thresholds
(``memory.available<100Mi``, ``nodefs.available<10%``); no kube or system reservations.

Invariant: reads only; anything unreadable falls back to a safe value and is logged.
"""

from __future__ import annotations

import logging
import os
import platform
import socket
from typing import Final

from kybernetes import __version__
from kybernetes.agent.kubelet.config import KubeletConfig
from kybernetes.agent.node import NodeConfig

log = logging.getLogger(__name__)

EVICTION_MEMORY: Final = 100 * 1024 * 1024


def _meminfo_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError) as exc:
        log.warning("meminfo unreadable error=%s", exc)
    return 0


def _disk_bytes(path: str) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_blocks * st.f_frsize


def _os_image() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            continue
    return ""


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def host_ip() -> str:
    """The address the host name resolves to (not loopback when there is another)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    addresses = [str(i[4][0]) for i in infos]
    for address in addresses:
        if not address.startswith("127."):
            return address
    return addresses[0] if addresses else "127.0.0.1"


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def node_config(config: KubeletConfig) -> NodeConfig:
    os.makedirs(config.data_dir, exist_ok=True)
    memory = _meminfo_bytes()
    disk = _disk_bytes(config.data_dir)
    capacity = {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{memory // 1024}Ki",
        "ephemeral-storage": f"{disk // 1024}Ki",
        "pods": str(config.max_pods),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        **config.capacity,
    }
    allocatable = dict(capacity)
    if "memory" not in config.capacity:
        allocatable["memory"] = f"{max(0, memory - EVICTION_MEMORY) // 1024}Ki"
    if "ephemeral-storage" not in config.capacity:
        allocatable["ephemeral-storage"] = str(disk * 9 // 10)
    runtime = f"{config.runtime_name}://{config.runtime_version or __version__}"
    return NodeConfig(
        name=config.node_name,
        capacity=capacity,
        allocatable=allocatable,
        internal_ip=config.internal_ip or host_ip(),
        labels=dict(config.labels),
        taints=tuple(config.taints),
        pod_cidrs=(config.pod_cidr,) if config.pod_cidr else (),
        hostname=socket.gethostname().lower() if config.node_name == "" else config.node_name,
        architecture=_arch(),
        kernel_version=platform.release(),
        os_image=_os_image(),
        container_runtime_version=runtime,
        machine_id=_machine_id(),
        boot_id=_boot_id(),
        kubelet_port=config.kubelet_port,
    )
