"""The pod network of a real node: bridge, veth pairs, namespaces, IPAM, hostPort rules.

Every test builds its own bridge, namespaces and nftables table, uses only addresses inside a
10.42.<x>.0/24 of its own, sends traffic only to those addresses and 127.0.0.1, turns egress off
(nothing is forwarded between its bridge and the node's other interfaces) and removes everything,
killing the processes it started by PID.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from kybernetes.agent.network import links, netns, routes
from kybernetes.agent.network.bridge import BridgeConfig, BridgeNetwork
from kybernetes.agent.network.interface import NetworkError
from kybernetes.agent.runtime.interface import PortMapping

IP = shutil.which("ip")
NFT = shutil.which("nft")
BUSYBOX = shutil.which("busybox")

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(IP is None or NFT is None, reason="needs iproute2 and nftables"),
]

ECHO_SERVER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen(16)
print("ready", flush=True)
while True:
    conn, peer = server.accept()
    data = conn.recv(1024)
    conn.sendall(data + b" from " + peer[0].encode())
    conn.close()
"""

ECHO_CLIENT = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3) as conn:
    conn.sendall(b"hello")
    print(conn.recv(1024).decode())
"""


class Node:
    """One test's node: its BridgeNetwork and the names it must clean up."""

    def __init__(self, tmp: Path, subnet: int, mask: int = 24, **options: object) -> None:
        tag = uuid.uuid4().hex[:6]
        self.tag = tag
        self.cidr = f"10.42.{subnet}.0/{mask}"
        self.state_dir = str(tmp / f"net-{tag}")
        self.bridge = f"kybt{tag}"
        self.table = f"kyb-test-{tag}"
        self.prefix = f"kybt{tag}-"
        self.options = options
        self.network = self.new_network()

    def new_network(self) -> BridgeNetwork:
        config = BridgeConfig(
            pod_cidr=self.cidr,
            state_dir=self.state_dir,
            bridge=self.bridge,
            table=self.table,
            netns_prefix=self.prefix,
            egress=False,
            **self.options,  # type: ignore[arg-type]
        )
        return BridgeNetwork(config)

    @property
    def gateway(self) -> str:
        return str(ipaddress.ip_network(self.cidr).network_address + 1)

    def leftovers(self) -> list[str]:
        found = [f"netns {n}" for n in os.listdir(netns.NETNS_DIR) if n.startswith(self.prefix)]
        if os.path.isdir(self.state_dir):
            found += [f"record {n}" for n in os.listdir(self.state_dir)]
        return found


def sandbox_id() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


def nft_table(table: str) -> str | None:
    assert NFT is not None
    done = subprocess.run([NFT, "list", "table", "ip", table], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def in_netns(path: str, *command: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    assert IP is not None
    return subprocess.run(
        [IP, "netns", "exec", os.path.basename(path), *command],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ping(path: str, address: str) -> bool:
    if BUSYBOX is not None:
        return in_netns(path, BUSYBOX, "ping", "-c1", "-W1", address).returncode == 0
    return echo_from(path, address, 9) is not None  # pragma: no cover


def echo_from(path: str, address: str, port: int) -> str | None:
    done = in_netns(path, sys.executable, "-c", ECHO_CLIENT, address, str(port))
    return done.stdout.strip() if done.returncode == 0 else None


async def echo_from_host(address: str, port: int) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), 3)
    try:
        writer.write(b"hello")
        await writer.drain()
        return (await asyncio.wait_for(reader.read(1024), 3)).decode()
    finally:
        writer.close()


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


def start_echo(servers: list[subprocess.Popen[str]], path: str, port: int) -> None:
    assert IP is not None
    process = subprocess.Popen(
        [IP, "netns", "exec", os.path.basename(path), sys.executable, "-c", ECHO_SERVER, str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    servers.append(process)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"


@pytest_asyncio.fixture
async def node_factory(tmp_path: Path) -> AsyncIterator[list[Node]]:
    nodes: list[Node] = []
    yield nodes
    problems = []
    for node in nodes:
        for sid in list(node.network.sandboxes()):
            await node.network.teardown(sid)
        await node.network.remove_node()
        problems += node.leftovers()
        if await asyncio.to_thread(links.link_exists, node.bridge):
            problems.append(f"bridge {node.bridge}")
        if nft_table(node.table) is not None:
            problems.append(f"table {node.table}")
        for name in os.listdir(netns.NETNS_DIR):  # never leave one behind, even on failure
            if name.startswith(node.prefix):
                netns.remove(name)
    assert not problems, problems


def make_node(nodes: list[Node], tmp: Path, subnet: int, mask: int = 24, **options: object) -> Node:
    node = Node(tmp, subnet, mask, **options)
    nodes.append(node)
    return node


async def test_two_pods_get_distinct_addresses_and_reach_each_other(
    node_factory: list[Node], tmp_path: Path
) -> None:
    node = make_node(node_factory, tmp_path, 201)
    a = await node.network.setup(sandbox_id(), "a", "default", ())
    b = await node.network.setup(sandbox_id(), "b", "default", ())
    subnet = ipaddress.ip_network(node.cidr)
    assert a.ip != b.ip
    assert {ipaddress.ip_address(a.ip), ipaddress.ip_address(b.ip)} <= set(subnet.hosts())
    assert node.gateway not in (a.ip, b.ip)
    assert (a.gateway, a.prefix_length) == (node.gateway, 24)
    assert a.netns_path == os.path.join(netns.NETNS_DIR, os.path.basename(a.netns_path))
    assert ping(a.netns_path, b.ip)
    assert ping(b.netns_path, a.ip)
    assert ping(a.netns_path, node.gateway)
    shown = in_netns(a.netns_path, "ip", "-o", "addr", "show", "dev", "eth0").stdout
    assert f"{a.ip}/24" in shown
    route = in_netns(a.netns_path, "ip", "route", "show", "default").stdout
    assert f"via {node.gateway}" in route
    assert "UP" in in_netns(a.netns_path, "ip", "link", "show", "lo").stdout


async def test_setup_is_idempotent_and_pool_exhaustion_is_an_error(
    node_factory: list[Node], tmp_path: Path
) -> None:
    node = make_node(node_factory, tmp_path, 202, mask=29)  # .2 to .6 for pods
    sid = sandbox_id()
    first = await node.network.setup(sid, "a", "default", ())
    assert await node.network.setup(sid, "a", "default", ()) == first
    with pytest.raises(NetworkError):
        await node.network.setup("../escape", "b", "default", ())
    others = [await node.network.setup(sandbox_id(), f"p{i}", "default", ()) for i in range(4)]
    assert sorted(p.ip for p in [first, *others]) == [f"10.42.202.{i}" for i in range(2, 7)]
    with pytest.raises(NetworkError, match="no free address"):
        await node.network.setup(sandbox_id(), "full", "default", ())
    assert len(os.listdir(node.state_dir)) == 5


async def test_concurrent_setups_get_unique_addresses(
    node_factory: list[Node], tmp_path: Path
) -> None:
    node = make_node(node_factory, tmp_path, 203)
    ids = [sandbox_id() for _ in range(8)]
    pods = await asyncio.gather(
        *(node.network.setup(i, f"p{n}", "ns", ()) for n, i in enumerate(ids))
    )
    assert len({p.ip for p in pods}) == 8
    await asyncio.gather(*(node.network.teardown(i) for i in ids))
    assert node.leftovers() == []


async def test_restore_after_restart_keeps_allocations_and_drops_the_rest(
    node_factory: list[Node], tmp_path: Path
) -> None:
    node = make_node(node_factory, tmp_path, 204)
    keep, drop = sandbox_id(), sandbox_id()
    kept = await node.network.setup(keep, "keep", "default", (PortMapping(80, 31801),))
    dropped = await node.network.setup(drop, "drop", "default", (PortMapping(80, 31802),))

    node.network = node.new_network()  # the agent restarted: nothing in memory
    await node.network.restore([keep])
    assert set(node.network.sandboxes()) == {keep}
    assert os.path.exists(kept.netns_path)
    assert not os.path.exists(dropped.netns_path)
    assert sorted(os.listdir(node.state_dir)) == [f"{keep}.json"]
    table = nft_table(node.table) or ""
    assert "31801" in table
    assert "31802" not in table

    fresh = [await node.network.setup(sandbox_id(), f"n{i}", "default", ()) for i in range(3)]
    assert kept.ip not in {pod.ip for pod in fresh}
    assert ping(fresh[0].netns_path, kept.ip)


async def test_teardown_leaves_nothing_behind(node_factory: list[Node], tmp_path: Path) -> None:
    node = make_node(node_factory, tmp_path, 205)
    sid = sandbox_id()
    pod = await node.network.setup(sid, "web", "default", (PortMapping(80, 31805),))
    veth = node.network.sandboxes()[sid].host_ifname
    assert await asyncio.to_thread(links.link_exists, veth)
    assert sid in (nft_table(node.table) or "")

    await node.network.teardown(sid)
    await node.network.teardown(sid)  # idempotent
    await node.network.teardown(sandbox_id())  # unknown: not an error
    assert not await asyncio.to_thread(links.link_exists, veth)
    assert not os.path.exists(pod.netns_path)
    assert node.leftovers() == []
    table = nft_table(node.table) or ""
    assert sid not in table, table
    assert "dnat to" not in table, table

    # the address is free again and the name reusable at once (no lingering veth)
    again = await node.network.setup(sid, "web", "default", ())
    assert ping(again.netns_path, node.gateway)


async def test_host_port_maps_a_node_port_to_the_pod(
    node_factory: list[Node], tmp_path: Path, servers: list[subprocess.Popen[str]]
) -> None:
    node = make_node(node_factory, tmp_path, 206)
    web = await node.network.setup(sandbox_id(), "web", "default", (PortMapping(8080, 31806),))
    client = await node.network.setup(sandbox_id(), "client", "default", ())
    start_echo(servers, web.netns_path, 8080)

    # from the node itself, to its bridge address and to 127.0.0.1
    assert (await echo_from_host(node.gateway, 31806)).startswith("hello from ")
    assert (await echo_from_host("127.0.0.1", 31806)) == f"hello from {node.gateway}"
    # from another pod, through the node address: the source is kept
    assert echo_from(client.netns_path, node.gateway, 31806) == f"hello from {client.ip}"
    # hairpin: the pod reaches its own hostPort (masqueraded to the gateway)
    assert echo_from(web.netns_path, node.gateway, 31806) == f"hello from {node.gateway}"
    # the container port stays reachable directly
    assert echo_from(client.netns_path, web.ip, 8080) == f"hello from {client.ip}"


async def test_host_port_conflicts_are_refused(node_factory: list[Node], tmp_path: Path) -> None:
    node = make_node(node_factory, tmp_path, 207)
    await node.network.setup(sandbox_id(), "a", "default", (PortMapping(80, 31807),))
    with pytest.raises(NetworkError, match="31807"):
        await node.network.setup(sandbox_id(), "b", "default", (PortMapping(81, 31807),))
    # another protocol is another port
    await node.network.setup(sandbox_id(), "c", "default", (PortMapping(53, 31807, "UDP"),))
    assert len(node.network.sandboxes()) == 2
    assert len(os.listdir(node.state_dir)) == 2


async def test_host_network_pods_live_in_the_agents_namespace(
    node_factory: list[Node], tmp_path: Path
) -> None:
    node = make_node(node_factory, tmp_path, 208)
    await node.network.prepare()
    node.network = BridgeNetwork(
        BridgeConfig(
            pod_cidr=node.cidr,
            state_dir=node.state_dir,
            bridge=node.bridge,
            table=node.table,
            netns_prefix=node.prefix,
            egress=False,
            node_ip=node.gateway,
        )
    )
    pod = await node.network.host_network()
    assert pod.ip == node.gateway
    assert pod.prefix_length == 24
    assert os.stat(pod.netns_path).st_ino == os.stat("/proc/self/ns/net").st_ino


async def test_bridge_is_adopted_with_its_address(node_factory: list[Node], tmp_path: Path) -> None:
    node = make_node(node_factory, tmp_path, 209)
    await node.network.prepare()
    node.network = node.new_network()
    pod = await node.network.setup(sandbox_id(), "a", "default", ())
    assert ping(pod.netns_path, node.gateway)
    assert IP is not None
    shown = subprocess.run([IP, "-o", "addr", "show", "dev", node.bridge], capture_output=True)
    assert shown.stdout.decode().count(f"{node.gateway}/24") == 1


async def test_pod_cidr_routes_to_other_nodes(node_factory: list[Node], tmp_path: Path) -> None:
    node = make_node(node_factory, tmp_path, 210)
    pod = await node.network.setup(sandbox_id(), "router", "default", ())
    # the pod's namespace plays a node whose neighbours sit on its eth0 link
    wanted = {"10.42.211.0/24": node.gateway, "10.42.212.0/24": node.gateway}

    def sync(routes_wanted: dict[str, str]) -> routes.RouteChanges:
        return routes.sync_pod_routes(routes_wanted, netns_path=pod.netns_path)

    changes = await netns.run_in_thread(lambda: sync(wanted))
    assert changes.added == ("10.42.211.0/24", "10.42.212.0/24")
    shown = in_netns(pod.netns_path, "ip", "route", "show", "proto", "75").stdout
    assert f"10.42.211.0/24 via {node.gateway}" in shown
    again = await netns.run_in_thread(lambda: sync(wanted))
    assert again == routes.RouteChanges()
    gone = await netns.run_in_thread(lambda: sync({"10.42.212.0/24": node.gateway}))
    assert gone.removed == ("10.42.211.0/24",)
    await netns.run_in_thread(lambda: sync({}))
    assert in_netns(pod.netns_path, "ip", "route", "show", "proto", "75").stdout == ""
    assert "default" in in_netns(pod.netns_path, "ip", "route").stdout
