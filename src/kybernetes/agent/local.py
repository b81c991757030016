"""A real node: the kubelet over runc, the node's image store and its pod network.

``run_runc_node`` is what ``kyb agent --runtime runc`` and (as root) ``kyb server`` run. It lays
the agent's directory out as the other tools expect it — ``images/`` (shared with
``kyb image import``), ``runtime/`` (runc state and container bundles), ``network/`` (address
records), ``pods/`` (volumes, logs) — builds the image service, and hands the kubelet a factory
that builds the runc runtime and the bridge network once the node's pod CIDR is known. Unused
images are garbage-collected by disk usage, never one a container of this node uses. The node's
usage (``agent/stats``) is pushed to ``metrics.k8s.io`` every ``stats_interval`` and served on
the agent's ``/stats/summary``.

Needs root: namespaces, mounts, cgroups and nftables.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kybernetes.agent.images.commands import image_dir
from kybernetes.agent.images.registry import RegistryConfig
from kybernetes.agent.images.service import UPPER, LocalImageService
from kybernetes.agent.kubelet.config import (
    DEFAULT_CONTAINER_LOG_MAX_FILES,
    DEFAULT_CONTAINER_LOG_MAX_SIZE,
    KubeletConfig,
)
from kybernetes.agent.kubelet.kubelet import Kubelet, run_kubelet
from kybernetes.agent.kubelet.nodeinfo import host_ip
from kybernetes.agent.kubelet.volumes.manager import remove_pod_dir
from kybernetes.agent.network import routes
from kybernetes.agent.network.bridge import BridgeConfig, BridgeNetwork
from kybernetes.agent.network.podroutes import PodRoutes
from kybernetes.agent.node import KUBELET_PORT
from kybernetes.agent.runtime.interface import RuntimeService
from kybernetes.agent.runtime.runc.runtime import RuncRuntime
from kybernetes.agent.server.app import KubeletServer, KubeletServerConfig, KubeletTLS
from kybernetes.agent.server.host import KubeletHost, KubeletPods
from kybernetes.agent.stats.collector import NodeCollector, NodeLayout
from kybernetes.agent.stats.publisher import DEFAULT_INTERVAL, StatsPublisher
from kybernetes.client.rest import Client
from kybernetes.util.pki import self_signed_serving_cert

log = logging.getLogger(__name__)

DEFAULT_POD_CIDR: Final = "10.42.0.0/24"
CLUSTER_CIDR: Final = "10.42.0.0/16"
CLUSTER_DNS: Final = "10.43.0.10"
_IN_USE_REFRESH: Final = 60.0


class NotRootError(RuntimeError):
    """Real containers need root."""


@dataclass(frozen=True)
class NodeAgentConfig:
    data_dir: Path
    node_name: str = ""
    pod_cidr: str = DEFAULT_POD_CIDR
    cluster_cidr: str = CLUSTER_CIDR
    #: Names of what the node sets up on the host; tests give each run its own (``instance``).
    bridge: str = "kyb0"
    nft_table: str = "kyb-podnet"
    cgroup_root: str = "kybernetes"
    #: The node's InternalIP; empty: the address the host name resolves to.
    node_ip: str = ""
    insecure_registries: tuple[str, ...] = ()
    #: The agent's HTTPS server (logs, exec, port-forward); without TLS material none runs.
    kubelet_bind: str = "0.0.0.0"
    kubelet_port: int = KUBELET_PORT
    kubelet_tls: KubeletTLS | None = None
    #: How often the node's usage is collected and pushed (metrics-server's resolution).
    stats_interval: float = DEFAULT_INTERVAL
    #: The kubelet's containerLogMaxSize (bytes) and containerLogMaxFiles.
    container_log_max_size: int = DEFAULT_CONTAINER_LOG_MAX_SIZE
    container_log_max_files: int = DEFAULT_CONTAINER_LOG_MAX_FILES

    @classmethod
    def for_instance(cls, data_dir: Path, instance: str, **kwargs: object) -> NodeAgentConfig:
        """A node whose host objects are all named after ``instance`` (so tests can run one
        beside a real node and remove exactly what it made), with a pod subnet of its own
        derived from the name (10.42.100.0/24 to 10.42.249.0/24), so its bridge and DNS
        address never collide with another node's on the same machine."""
        subnet = 100 + int(hashlib.sha256(instance.encode()).hexdigest(), 16) % 150
        kwargs.setdefault("pod_cidr", f"10.42.{subnet}.0/24")
        return cls(
            data_dir,
            bridge=f"kyb{instance}"[:15],
            nft_table=f"kyb-podnet-{instance}",
            cgroup_root=f"kybernetes-{instance}",
            **kwargs,  # type: ignore[arg-type]
        )


async def run_runc_node(
    client: Client, config: NodeAgentConfig, pod_cidr: asyncio.Future[str] | None = None
) -> None:
    """Run this machine as a node of the cluster behind ``client`` until cancelled.

    ``pod_cidr`` is resolved with the node's pod CIDR once the Node is registered and has one
    (what the node's services, started beside the agent, wait for).
    """
    if os.geteuid() != 0:
        raise NotRootError(
            "real containers need root (namespaces, mounts, cgroups); run as root, or use "
            "simulated nodes (--runtime fake / --fake-nodes N)"
        )
    base = config.data_dir
    for sub in ("runtime", "network", "pods"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    images = LocalImageService(
        image_dir(base), RegistryConfig(insecure_registries=config.insecure_registries)
    )
    runtime: RuncRuntime | None = None
    in_use: set[str] = set()

    def build(cidr: str) -> RuntimeService:
        nonlocal runtime
        if pod_cidr is not None and not pod_cidr.done():
            pod_cidr.set_result(cidr)
        network = BridgeNetwork(
            BridgeConfig(
                pod_cidr=cidr,
                state_dir=str(base / "network"),
                bridge=config.bridge,
                cluster_cidr=config.cluster_cidr,
                table=config.nft_table,
            )
        )
        runtime = RuncRuntime(
            base / "runtime",
            images,
            network,
            cgroup_root=config.cgroup_root,
            log_max_size=kubelet_config.container_log_max_size,
            log_max_files=kubelet_config.container_log_max_files,
        )
        return runtime

    async def refresh_in_use() -> None:
        while True:
            if runtime is not None:
                with contextlib.suppress(Exception):
                    in_use.clear()
                    in_use.update(c.image_ref for c in await runtime.list_containers())
            await asyncio.sleep(_IN_USE_REFRESH)

    server: KubeletServer | None = None
    kubelet_port = config.kubelet_port
    if config.kubelet_tls is not None:
        server = KubeletServer(
            KubeletServerConfig(
                config.kubelet_bind, config.kubelet_port, config.kubelet_tls.context()
            )
        )
        kubelet_port = await server.start()
    else:
        log.warning("no TLS material for the agent's server: logs, exec and port-forward are off")

    def serve(kubelet: Kubelet) -> None:
        stats.pods = kubelet.pod_informer.store.list
        if server is not None:
            server.host = KubeletHost(KubeletPods(kubelet))
            server.stats = stats

    kubelet_config = KubeletConfig(
        kubelet_port=kubelet_port,
        node_name=config.node_name or socket.gethostname().lower(),
        data_dir=str(base / "pods"),
        container_log_max_size=config.container_log_max_size,
        container_log_max_files=config.container_log_max_files,
        seccomp_root=str(base / "seccomp"),
        pod_cidr=config.pod_cidr,
        cluster_dns=(CLUSTER_DNS,),
        runtime_name="runc",
        runtime_version=_runc_version(),
        cgroup_root=config.cgroup_root,
        internal_ip=config.node_ip,
    )
    stats = NodeCollector(
        NodeLayout(
            node_name=kubelet_config.node_name,
            cgroup_root=config.cgroup_root,
            root_dir=str(base),
            logs_root=kubelet_config.logs_root,
            # the runtime's containers/<id>/ holds the rootfs the image service prepared
            writable_layer=lambda cid: str(base / "runtime" / "containers" / cid / UPPER),
        ),
        window=config.stats_interval,
    )
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(
                run_kubelet(client, kubelet_config, images=images, runtime=build, on_created=serve)
            )
            if server is not None:
                group.create_task(server.run())
            group.create_task(refresh_in_use())
            publisher = StatsPublisher(client, stats.publish, interval=config.stats_interval)
            group.create_task(publisher.run())
            group.create_task(
                PodRoutes(client, kubelet_config.node_name, config.node_ip or host_ip()).run()
            )
            group.create_task(images.garbage_collector(lambda: set(in_use)).run())
    finally:
        if server is not None:
            await server.close()
        if runtime is not None:
            await runtime.close()
        await images.close()


def joining_kubelet_tls(ca_pem: bytes | None, node_name: str, node_ip: str) -> KubeletTLS | None:
    """TLS for the agent's server on a node that joins with only a kubeconfig.

    It serves a self-signed certificate (the API server does not verify kubelet serving
    certificates by default) and accepts client certificates from the cluster CA the
    kubeconfig trusts — the one that signs the API server's kubelet-client certificate.
    Without a CA in the kubeconfig there is nothing to check callers against: no server.
    """
    if not ca_pem:
        return None
    hosts = dict.fromkeys([node_name, node_ip or host_ip(), "127.0.0.1"])
    serving = self_signed_serving_cert(node_name, list(hosts))
    return KubeletTLS(serving.cert_pem, serving.key_pem, ca_pem)


def _runc_version() -> str:
    """``1.1.5`` from ``runc --version`` (nodeInfo.containerRuntimeVersion is runc://<it>)."""
    binary = shutil.which("runc")
    if binary is None:
        return ""
    try:
        first = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return ""
    return first.removeprefix("runc version ").split("+")[0].strip()


def cleanup_node(config: NodeAgentConfig) -> None:
    """Remove what a stopped node left on the host: its bridge, nftables table and cgroups.

    Pods must be gone first (their namespaces, mounts and processes are theirs to clean);
    this is what ``kyb agent --cleanup`` and the tests do after a node stops for good.
    """
    subprocess.run(["ip", "link", "del", config.bridge], capture_output=True, check=False)
    routes.sync_pod_routes({})
    subprocess.run(
        ["nft", "delete", "table", "ip", config.nft_table], capture_output=True, check=False
    )
    cgroups = Path("/sys/fs/cgroup")
    if cgroups.is_dir():
        for hierarchy in cgroups.iterdir():
            root = hierarchy / config.cgroup_root
            if root.is_dir():
                for directory in sorted(
                    (d for d in root.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)
                ):
                    with contextlib.suppress(OSError):
                        directory.rmdir()
                with contextlib.suppress(OSError):
                    root.rmdir()


async def remove_all_pods(config: NodeAgentConfig) -> int:
    """Stop and remove every sandbox and container the node's runtime holds; how many sandboxes.

    For taking a node out of service (and for tests that must leave the host clean even when
    they fail): containers get no grace period; each sandbox's network, mounts and cgroups go,
    and so do the pods' volumes.
    """
    base = config.data_dir
    images = LocalImageService(image_dir(base))
    network = BridgeNetwork(
        BridgeConfig(
            pod_cidr=config.pod_cidr,
            state_dir=str(base / "network"),
            bridge=config.bridge,
            cluster_cidr=config.cluster_cidr,
            table=config.nft_table,
        )
    )
    runtime = RuncRuntime(base / "runtime", images, network, cgroup_root=config.cgroup_root)
    try:
        for found in await runtime.list_containers():
            await runtime.stop_container(found.id, 0)
            await runtime.remove_container(found.id)
        sandboxes = await runtime.list_pod_sandboxes()
        for sandbox in sandboxes:
            await runtime.stop_pod_sandbox(sandbox.id)
            await runtime.remove_pod_sandbox(sandbox.id)
        pod_dirs = base / "pods" / "pods"
        for pod_dir in pod_dirs.iterdir() if pod_dirs.is_dir() else ():
            remove_pod_dir(str(pod_dir))
        return len(sandboxes)
    finally:
        await runtime.close()
        await images.close()
