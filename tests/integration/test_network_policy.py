"""NetworkPolicy on a real node: Pods, Namespaces and policies in the API, traffic through nft.

The test builds its own world: a bridge and three pod network namespaces (``BridgeNetwork`` with
a unique bridge, table, namespace prefix and a 10.42.<x>.0/24), TCP echo servers in them, an API
server holding Pods (with the namespaces' addresses as their podIPs) in two Namespaces, and an
``Enforcer`` with its own table. It sends traffic only between its own namespaces and from the
host to them, and removes everything afterwards (tables, links, namespaces, processes by PID).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kybernetes.agent.network import links, netns
from kybernetes.agent.network.bridge import BridgeConfig, BridgeNetwork
from kybernetes.agent.network.interface import PodNetwork
from kybernetes.client.resource import NAMESPACES, PODS
from kybernetes.client.rest import Client
from kybernetes.network.policy.enforcer import NETWORKPOLICIES, Enforcer, PolicyConfig
from kybernetes.testing.apiserver import running_apiserver

IP = shutil.which("ip")
NFT = shutil.which("nft")
NODE = "node-a"

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(IP is None or NFT is None, reason="needs iproute2 and nftables"),
]

SERVER = """
import socket, sys, threading
def serve(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(64)
    while True:
        conn, _ = server.accept()
        conn.sendall(f"{sys.argv[1]}:{port}".encode())
        conn.close()
for port in (8080, 9090):
    threading.Thread(target=serve, args=(port,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""

CLIENT = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.5) as conn:
        print(conn.recv(64).decode())
except OSError as error:
    print("failed", error)
"""

_SUBNETS = itertools.count(random.randint(180, 220))
# pod name -> (namespace, labels)
PODS_OF = {
    "a": ("alpha", {"app": "web"}),
    "b": ("alpha", {"role": "client"}),
    "c": ("beta", {"role": "client"}),
}


@dataclass
class World:
    client: Client
    enforcer: Enforcer
    subnet: int
    pods: dict[str, PodNetwork] = field(default_factory=dict)

    def ip(self, pod: str) -> str:
        return self.pods[pod].ip

    async def policy(self, namespace: str, name: str, spec: dict[str, Any]) -> None:
        body = {"metadata": {"name": name, "namespace": namespace}, "spec": spec}
        await self.client.create(NETWORKPOLICIES, body, namespace)

    async def reaches(self, source: str | None, target: str, port: int) -> bool:
        """Whether a new connection from pod ``source`` (None: the host) gets an answer."""
        assert IP is not None
        command = [sys.executable, "-c", CLIENT, self.ip(target), str(port)]
        if source is not None:
            command = [
                IP,
                "netns",
                "exec",
                os.path.basename(self.pods[source].netns_path),
                *command,
            ]
        process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        stdout, _ = await process.communicate()
        return stdout.decode().strip() == f"{target}:{port}"

    async def expect(self, source: str | None, target: str, port: int, allowed: bool) -> None:
        """Wait (bounded) until the enforcer's table gives this answer."""
        async with asyncio.timeout(10):
            while await self.reaches(source, target, port) != allowed:
                await asyncio.sleep(0.05)


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


@pytest_asyncio.fixture
async def world(tmp_path: Path, servers: list[subprocess.Popen[str]]) -> AsyncIterator[World]:
    assert IP is not None
    subnet = next(_SUBNETS)
    tag = uuid.uuid4().hex[:6]
    prefix = f"kybq{tag}-"
    bridge = f"kybq{tag}"
    network = BridgeNetwork(
        BridgeConfig(
            pod_cidr=f"10.42.{subnet}.0/24",
            state_dir=str(tmp_path / "net"),
            bridge=bridge,
            table=f"kyb-pn-{tag}",
            netns_prefix=prefix,
            egress=False,
        )
    )
    config = PolicyConfig(node_name=NODE, table=f"kyb-pol-{tag}")
    task: asyncio.Task[None] | None = None
    try:
        pods = {}
        for name in PODS_OF:
            pod = await network.setup(uuid.uuid4().hex * 2, name, "default", ())
            pods[name] = pod
            process = subprocess.Popen(
                [
                    IP,
                    "netns",
                    "exec",
                    os.path.basename(pod.netns_path),
                    sys.executable,
                    "-c",
                    SERVER,
                    name,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            servers.append(process)
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        async with running_apiserver() as api, Client(api.url) as client:
            for namespace in ("alpha", "beta"):
                body = {"metadata": {"name": namespace, "labels": {"team": namespace}}}
                await client.create(NAMESPACES, body)
            for name, (namespace, labels) in PODS_OF.items():
                await _pod(client, name, namespace, labels, pods[name].ip)
            enforcer = Enforcer(client, config)
            task = asyncio.create_task(enforcer.run())
            async with asyncio.timeout(10):
                await enforcer.synced.wait()
            yield World(client, enforcer, subnet, pods)
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        subprocess.run([NFT or "nft", "delete", "table", "ip", config.table], capture_output=True)
        for sandbox in list(network.sandboxes()):
            await network.teardown(sandbox)
        await network.remove_node()
        for name in os.listdir(netns.NETNS_DIR):
            if name.startswith(prefix):
                netns.remove(name)
    listed = subprocess.run([NFT or "nft", "list", "tables"], capture_output=True, text=True)
    assert config.table not in listed.stdout
    assert not await asyncio.to_thread(links.link_exists, bridge)


async def _pod(client: Client, name: str, namespace: str, labels: dict[str, str], ip: str) -> None:
    container = {
        "name": "server",
        "image": "busybox",
        "ports": [
            {"name": "http", "containerPort": 8080},
            {"name": "admin", "containerPort": 9090},
        ],
    }
    body = {
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": NODE, "containers": [container]},
    }
    created = await client.create(PODS, body, namespace)
    created["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}
    await client.update_status(PODS, created)


async def test_policies_deny_then_allow_by_pod_namespace_port_and_ip_block(world: World) -> None:
    # No policy: everyone reaches everyone.
    await world.expect("b", "a", 8080, True)
    await world.expect("c", "a", 8080, True)
    # Default deny for app=web: pods are cut off, the node is not, replies still flow.
    await world.policy("alpha", "deny", {"podSelector": {"matchLabels": {"app": "web"}}})
    await world.expect("b", "a", 8080, False)
    assert not await world.reaches("c", "a", 8080)
    assert await world.reaches(None, "a", 8080)  # traffic from the node is always allowed
    assert await world.reaches("a", "b", 8080)  # a is not isolated for egress
    # Allow role=client of the same namespace to the named port "http" only.
    allow_clients = {
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                "ports": [{"port": "http"}],
            }
        ],
    }
    await world.policy("alpha", "clients", allow_clients)
    await world.expect("b", "a", 8080, True)
    assert not await world.reaches("b", "a", 9090)
    assert not await world.reaches("c", "a", 8080)  # another namespace
    # Allow namespace team=beta to a port range 9000-9100.
    from_beta = {
        "podSelector": {"matchLabels": {"app": "web"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [{"namespaceSelector": {"matchLabels": {"team": "beta"}}}],
                "ports": [{"protocol": "TCP", "port": 9000, "endPort": 9100}],
            }
        ],
    }
    await world.policy("alpha", "from-beta", from_beta)
    await world.expect("c", "a", 9090, True)
    assert not await world.reaches("c", "a", 8080)
    # Egress of b: only to the pod CIDR except a's address.
    egress = {
        "podSelector": {"matchLabels": {"role": "client"}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [
                    {
                        "ipBlock": {
                            "cidr": f"10.42.{world.subnet}.0/24",
                            "except": [f"{world.ip('a')}/32"],
                        }
                    }
                ]
            }
        ],
    }
    await world.policy("alpha", "egress", egress)
    await world.expect("b", "a", 8080, False)
    assert await world.reaches("b", "c", 8080)
    assert await world.reaches("c", "a", 9090)  # c is in beta: not selected
    # Removing the policies opens everything again.
    for name in ("deny", "clients", "from-beta", "egress"):
        await world.client.delete(NETWORKPOLICIES, name, "alpha")
    await world.expect("b", "a", 8080, True)
    await world.expect("c", "a", 8080, True)
