"""``kyb server`` and ``kyb apiserver``: run the control plane in one process until interrupted.

Start-up, in order: open the storage engine; create (or reuse) the cluster PKI under
``DATA_DIR/pki`` (its ``sa.key`` signs service-account tokens); write ``DATA_DIR/kubeconfig``
with admin credentials; start the API server and the storage compactor; for ``kyb server``,
start the in-process components (controller manager, scheduler, simulated nodes with
``--fake-nodes``); print one ``kybernetes ready`` line; for ``kyb server``, merge a
``kybernetes`` context into ``~/.kube/config`` (unless told not to), as kind does.

In-process components are still only API clients (DESIGN.md §1): each talks HTTPS to the
server's own address with a client certificate of its own identity
(``system:kube-controller-manager``...), exactly as it would from another machine, like k3s.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kybernetes.agent.fake import FakeNodes, FakeNodesConfig
from kybernetes.agent.local import NodeAgentConfig
from kybernetes.agent.node import KUBELET_PORT
from kybernetes.agent.server.app import APISERVER_USER as APISERVER_KUBELET_USER
from kybernetes.agent.server.app import KubeletTLS
from kybernetes.apiserver.app import APIServer, APIServerConfig
from kybernetes.apiserver.auth.authn import (
    Authenticator,
    ClientCertAuthenticator,
    TokenFileAuthenticator,
    UnionAuthenticator,
)
from kybernetes.apiserver.auth.serviceaccount import ServiceAccountTokens
from kybernetes.apiserver.subresources.kubelet import client_context, node_address
from kybernetes.client.kubeconfig import (
    admin_entry,
    default_kubeconfig_path,
    merge_into,
    write_kubeconfig,
)
from kybernetes.client.rest import Client, tls_client_context
from kybernetes.controllers.manager import ControllerManager
from kybernetes.scheduler.app import run_scheduler
from kybernetes.server.node import run_node
from kybernetes.server.nodeservices import NodeServicesConfig
from kybernetes.storage.compactor import DEFAULT_INTERVAL, run_compactor
from kybernetes.storage.factory import open_storage
from kybernetes.util.pki import (
    MASTERS_GROUP,
    NODES_GROUP,
    ClusterPKI,
    ensure_cluster_pki,
    issue_client_cert,
    issue_serving_cert,
    ssl_server_context,
)

log = logging.getLogger(__name__)

CONTEXT_NAME = "kybernetes"
#: The node agent's state (images, runtime, network, pods) inside the server's data dir.
AGENT_SUBDIR = "agent"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What ``kyb server`` / ``kyb apiserver`` was asked to run."""

    data_dir: Path
    storage: str = "sqlite"
    etcd_servers: list[str] = field(default_factory=list)
    bind_address: str = "127.0.0.1"
    port: int = 6443
    token_auth_file: Path | None = None
    merge_kubeconfig: bool = False
    kubeconfig_path: Path | None = None
    compaction_interval: float = DEFAULT_INTERVAL
    controllers: bool = False  # run the controller manager in-process
    scheduler: bool = False  # run the scheduler in-process
    fake_nodes: int = 0  # simulated nodes to run in-process (kwok-style)
    node_agent: bool = False  # this machine as a node with real containers (runc; root)
    node_instance: str = ""  # names the node's host objects apart (tests)
    ingress_http_port: int | None = 80  # the ingress controller's ports (None: no ingress)
    ingress_https_port: int | None = 443
    ingress_proxy: str = "auto"  # the ingress data plane: nginx, builtin, auto (nginx if found)
    node_stats_interval: float = 15.0  # how often nodes push usage (tests: shorter)
    #: The real node's container log rotation (``NodeAgentConfig``; tests: smaller).
    node_log_options: Mapping[str, int] = field(default_factory=dict)
    #: The controller manager's options (``horizontal_pod_autoscaler_sync_period``...).
    controller_options: Mapping[str, Any] = field(default_factory=dict)


def _local_names() -> list[str]:
    """This machine's name and addresses, for the serving certificate's SANs."""
    name = socket.gethostname()
    try:
        _, aliases, addresses = socket.gethostbyname_ex(name)
    except OSError:
        return [name]
    return [name, *aliases, *addresses]


def _server_url(bind_address: str, port: int) -> str:
    host = "127.0.0.1" if bind_address in ("0.0.0.0", "") else bind_address
    if host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{port}"


async def run_server(config: ServerConfig, ready: asyncio.Event | None = None) -> None:
    """Run until cancelled; set ``ready`` (and print one line) once serving."""
    store = await open_storage(config.storage, config.data_dir, config.etcd_servers)
    try:
        hosts = [config.bind_address, *_local_names()]
        pki = await asyncio.to_thread(ensure_cluster_pki, config.data_dir, hosts=hosts)
        authenticators: list[Authenticator] = [ClientCertAuthenticator(pki.ca.cert)]
        if config.token_auth_file is not None:
            authenticators.append(TokenFileAuthenticator.from_file(config.token_auth_file))
        node_name = socket.gethostname().lower()
        # The API server's identity towards kubelets; its own node's kubelet is on loopback.
        kubelet_client = issue_client_cert(pki, APISERVER_KUBELET_USER, (MASTERS_GROUP,))

        def kubelet_address(node: Mapping[str, Any]) -> str:
            if config.node_agent and node.get("metadata", {}).get("name") == node_name:
                return "127.0.0.1"
            return node_address(node)

        api = APIServer(
            store,
            APIServerConfig(
                bind_address=config.bind_address,
                port=config.port,
                ssl_context=ssl_server_context(pki),
                authenticator=UnionAuthenticator(authenticators),
                kubelet_client_ssl=client_context(kubelet_client.cert_pem, kubelet_client.key_pem),
                kubelet_address=kubelet_address,
                # Signed with the data dir's key, so tokens survive restarts.
                service_accounts=ServiceAccountTokens(pki.service_account_key),
            ),
        )

        clients: list[Client] = []

        async def on_ready(server: APIServer) -> None:
            url = _server_url(config.bind_address, server.port)
            if config.controllers:
                client = _component_client(url, pki, "system:kube-controller-manager")
                clients.append(client)
                # The root CA publisher hands pods the cluster CA (--root-ca-file).
                options = {"root_ca": pki.ca.cert_pem, **config.controller_options}
                manager = ControllerManager(client, options=options)
                group.create_task(manager.run(), name="controller-manager")
            if config.scheduler:
                client = _component_client(url, pki, "system:kube-scheduler")
                clients.append(client)
                group.create_task(run_scheduler(client), name="scheduler")
            if config.node_agent:
                client = _component_client(url, pki, f"system:node:{node_name}", (NODES_GROUP,))
                clients.append(client)
                agent_dir = config.data_dir / AGENT_SUBDIR
                serving = issue_serving_cert(pki, node_name, [node_name, "127.0.0.1", "::1"])
                server_options = {
                    **config.node_log_options,
                    "stats_interval": config.node_stats_interval,
                    "node_name": node_name,
                    "kubelet_bind": "127.0.0.1",
                    # tests run beside a real node: a free port
                    "kubelet_port": 0 if config.node_instance else KUBELET_PORT,
                    "kubelet_tls": KubeletTLS(serving.cert_pem, serving.key_pem, pki.ca.cert_pem),
                }
                agent = (
                    NodeAgentConfig.for_instance(agent_dir, config.node_instance, **server_options)
                    if config.node_instance
                    else NodeAgentConfig(agent_dir, **server_options)  # type: ignore[arg-type]
                )
                services = NodeServicesConfig(
                    node_name=node_name,
                    pod_cidr=agent.pod_cidr,
                    instance=config.node_instance,
                    ingress_http_port=config.ingress_http_port,
                    ingress_https_port=config.ingress_https_port,
                    ingress_proxy=config.ingress_proxy,
                    ingress_dir=agent.data_dir / "ingress-nginx",
                )
                group.create_task(run_node(client, agent, services), name="node")
            if config.fake_nodes:
                client = _component_client(url, pki, "system:node:kyb-fake-nodes", (NODES_GROUP,))
                clients.append(client)
                # The real node, if any, has the first pod subnet.
                offset = 1 if config.node_agent else 0
                fake = FakeNodesConfig(
                    config.fake_nodes, cidr_offset=offset, stats_interval=config.node_stats_interval
                )
                nodes = FakeNodes(client, fake)
                group.create_task(nodes.run(), name="fake-nodes")
                await nodes.ready.wait()
            entry = admin_entry(url, pki, CONTEXT_NAME)
            kubeconfig = config.data_dir / "kubeconfig"
            await asyncio.to_thread(write_kubeconfig, kubeconfig, entry)
            if config.merge_kubeconfig:
                target = config.kubeconfig_path or default_kubeconfig_path()
                await asyncio.to_thread(
                    merge_into,
                    target,
                    CONTEXT_NAME,
                    entry.cluster_dict(),
                    entry.user_dict(),
                    entry.context_dict(),
                )
            print(
                f"kybernetes ready: {url} storage={config.storage} kubeconfig={kubeconfig}",
                flush=True,
            )
            # Everything allocated so far (modules, schema, certificates) lives as long as the
            # process: keep it out of every later garbage collection.
            gc.collect()
            gc.freeze()
            if ready is not None:
                ready.set()

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(api.run(on_ready))
                group.create_task(run_compactor(store, config.compaction_interval))
        finally:
            for client in clients:
                await client.close()
    finally:
        await store.close()


def _component_client(url: str, pki: ClusterPKI, user: str, groups: tuple[str, ...] = ()) -> Client:
    """A client for an in-process component, authenticated as ``user`` by a fresh certificate."""
    pair = issue_client_cert(pki, user, groups)
    context = tls_client_context(pki.ca.cert_pem, pair.cert_pem, pair.key_pem)
    return Client(url, ssl_context=context, user_agent=f"kyb/{user}")
