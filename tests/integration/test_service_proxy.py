"""The service proxy on a real node: Services and EndpointSlices in the API, traffic through nft.

Each test builds its own world: a bridge and three pod network namespaces (``BridgeNetwork``
with a unique bridge, nft table, namespace prefix and a 10.42.<x>.0/24), a TCP+UDP echo server
in each namespace, an API server, and a ``Proxier`` with its own table and a service CIDR
10.43.<x>.0/24. The test writes Services and EndpointSlices itself (no controllers), sends
traffic only to 127.0.0.1 and to addresses of its own bridge, namespaces and service CIDR, and
removes everything afterwards (tables, route, links, namespaces, processes by PID).

The numbers the proxy is judged by (time from an EndpointSlice write to the rules being live,
requests/s through a ClusterIP next to the pod IP) are printed, never asserted tightly.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
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
from kybernetes.client.resource import ENDPOINTSLICES, NODES, SERVICES
from kybernetes.client.rest import Client
from kybernetes.network.proxy import Proxier, ProxyConfig, ServiceLB
from kybernetes.network.proxy.host import RTPROT_KYBERNETES_PROXY
from kybernetes.testing.apiserver import running_apiserver

IP = shutil.which("ip")
NFT = shutil.which("nft")
NODE = "node-a"

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(IP is None or NFT is None, reason="needs iproute2 and nftables"),
]

ECHO_SERVER = """
import socket, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", port))
def serve_udp():
    while True:
        data, peer = udp.recvfrom(1024)
        udp.sendto(f"{name} {peer[0]}".encode(), peer)
threading.Thread(target=serve_udp, daemon=True).start()
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", port))
server.listen(128)
print("ready", flush=True)
while True:
    conn, peer = server.accept()
    try:
        conn.recv(1024)
        conn.sendall(f"{name} {peer[0]}".encode())
    except OSError:
        pass
    conn.close()
"""

ECHO_CLIENT = """
import socket, sys
for _ in range(int(sys.argv[3])):
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3) as conn:
        conn.sendall(b"hello")
        print(conn.recv(1024).decode(), flush=True)
"""

_SUBNETS = itertools.count(random.randint(130, 170))


@dataclass
class World:
    client: Client
    proxier: Proxier
    network: BridgeNetwork
    subnet: int
    pods: dict[str, PodNetwork] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return f"10.42.{self.subnet}.1"

    def vip(self, host: int) -> str:
        return f"10.43.{self.subnet}.{host}"

    def node_port(self, offset: int) -> int:
        return 32000 + (self.subnet - 130) * 10 + offset

    async def service(self, name: str, **spec: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            "selector": {"app": name},
        }
        body.update(spec)
        obj = {"metadata": {"name": name, "namespace": "default"}, "spec": body}
        return await self.client.create(SERVICES, obj, "default")

    async def slice(
        self,
        service: str,
        endpoints: dict[str, dict[str, Any]],
        ports: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        obj = {
            "metadata": {
                "name": f"{service}-1",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": service},
            },
            "addressType": "IPv4",
            "endpoints": [self.endpoint(pod, **opts) for pod, opts in endpoints.items()],
            "ports": ports or [{"name": "http", "port": 8080, "protocol": "TCP"}],
        }
        return await self.client.create(ENDPOINTSLICES, obj, "default")

    def endpoint(self, pod: str, ready: bool = True, node: str = NODE) -> dict[str, Any]:
        return {
            "addresses": [self.pods[pod].ip],
            "conditions": {"ready": ready, "serving": ready, "terminating": False},
            "nodeName": node,
        }

    async def until_rules(self, *needles: str, absent: bool = False, timeout: float = 5) -> float:
        """Poll the table until every needle is in it (or, with ``absent``, none is)."""
        started = time.perf_counter()
        async with asyncio.timeout(timeout):
            while True:
                table = await nft_table_async(self.proxier.config.table)
                found = [needle in table for needle in needles]
                if (not any(found)) if absent else all(found):
                    return time.perf_counter() - started
                await asyncio.sleep(0.002)


def nft_table(table: str) -> str | None:
    assert NFT is not None
    done = subprocess.run([NFT, "list", "table", "ip", table], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


async def nft_table_async(table: str) -> str:
    """The table's listing without blocking the loop the proxier runs on ("" when absent)."""
    assert NFT is not None
    process = await asyncio.create_subprocess_exec(
        NFT,
        "list",
        "table",
        "ip",
        table,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    stdout, _ = await process.communicate()
    return stdout.decode() if process.returncode == 0 else ""


def our_route(cidr: str) -> bool:
    assert IP is not None
    shown = subprocess.run(
        [IP, "route", "show", cidr, "proto", str(RTPROT_KYBERNETES_PROXY)],
        capture_output=True,
        text=True,
    )
    return bool(shown.stdout.strip())


async def ask(address: str, port: int, timeout: float = 3) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    try:
        writer.write(b"hello")
        await writer.drain()
        return (await asyncio.wait_for(reader.read(1024), timeout)).decode()
    finally:
        writer.close()


async def ask_udp(address: str, port: int, timeout: float = 2) -> str:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()

    class Protocol(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            if not answer.done():
                answer.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Protocol, remote_addr=(address, port))
    try:
        transport.sendto(b"hello")
        return (await asyncio.wait_for(answer, timeout)).decode()
    finally:
        transport.close()


def ask_from(pod: PodNetwork, address: str, port: int, count: int = 1) -> list[str]:
    assert IP is not None
    done = subprocess.run(
        [
            IP,
            "netns",
            "exec",
            os.path.basename(pod.netns_path),
            sys.executable,
            "-c",
            ECHO_CLIENT,
            address,
            str(port),
            str(count),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")[:-1]


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
    prefix = f"kybp{tag}-"
    network = BridgeNetwork(
        BridgeConfig(
            pod_cidr=f"10.42.{subnet}.0/24",
            state_dir=str(tmp_path / "net"),
            bridge=f"kybp{tag}",
            table=f"kyb-pn-{tag}",
            netns_prefix=prefix,
            egress=False,
        )
    )
    config = ProxyConfig(
        node_name=NODE,
        bridge=f"kybp{tag}",
        cluster_cidr=f"10.42.{subnet}.0/24",
        service_cidr=f"10.43.{subnet}.0/24",
        table=f"kyb-svc-{tag}",
    )
    task: asyncio.Task[None] | None = None
    proxier: Proxier | None = None
    try:
        pods = {}
        for name in ("a", "b", "c"):
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
                    ECHO_SERVER,
                    name,
                    "8080",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            servers.append(process)
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        async with running_apiserver() as api, Client(api.url) as client:
            proxier = Proxier(client, config)
            task = asyncio.create_task(proxier.run())
            async with asyncio.timeout(10):
                await proxier.synced.wait()
            yield World(client, proxier, network, subnet, pods)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            task = None
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if proxier is not None:
            await proxier.cleanup()
        for sandbox in list(network.sandboxes()):
            await network.teardown(sandbox)
        await network.remove_node()
        for name in os.listdir(netns.NETNS_DIR):
            if name.startswith(prefix):
                netns.remove(name)
    problems = []
    if nft_table(config.table) is not None:
        problems.append(f"table {config.table}")
    if our_route(config.service_cidr):
        problems.append(f"route {config.service_cidr}")
    if await asyncio.to_thread(links.link_exists, config.bridge):
        problems.append(f"bridge {config.bridge}")
    assert not problems, problems


def backend(answer: str) -> str:
    return answer.split()[0]


async def test_cluster_ip_balances_from_host_and_pods_and_hairpins(world: World) -> None:
    vip = world.vip(10)
    await world.service("web", clusterIP=vip)
    await world.slice("web", {"a": {}, "b": {}})
    await world.until_rules(world.pods["a"].ip, world.pods["b"].ip)

    seen = {backend(await ask(vip, 80)) for _ in range(40)}
    assert seen == {"a", "b"}
    # from pod c: both endpoints, the client's own address kept
    answers = ask_from(world.pods["c"], vip, 80, count=30)
    assert {backend(a) for a in answers} == {"a", "b"}
    assert {a.split()[1] for a in answers} == {world.pods["c"].ip}
    # hairpin: pod a reaches itself through its own Service (masqueraded to the gateway)
    answers = ask_from(world.pods["a"], vip, 80, count=30)
    assert {backend(a) for a in answers} == {"a", "b"}
    assert {a.split()[1] for a in answers if backend(a) == "a"} == {world.gateway}
    # a port the Service lacks is refused at once; an address nobody has is dropped (as
    # kube-proxy does), never routed anywhere
    started = time.perf_counter()
    with pytest.raises(ConnectionRefusedError):
        await ask(vip, 81)
    assert time.perf_counter() - started < 0.5
    with pytest.raises(TimeoutError):
        await ask(world.vip(99), 80, timeout=0.3)


async def test_not_ready_endpoint_stops_receiving_traffic_fast(world: World) -> None:
    vip = world.vip(11)
    await world.service("web", clusterIP=vip)
    created = await world.slice("web", {"a": {}, "b": {}})
    await world.until_rules(world.pods["b"].ip)

    latencies = []
    internal = []
    current = created
    for round_ in range(20):
        ready = round_ % 2 == 1
        current["endpoints"] = [world.endpoint("a"), world.endpoint("b", ready=ready)]
        started = time.perf_counter()
        current = await world.client.update(ENDPOINTSLICES, current)
        await world.until_rules(f"dnat to {world.pods['b'].ip}", absent=not ready)
        latencies.append(time.perf_counter() - started)
        internal.append(world.proxier.last_latency or 0.0)
    latencies.sort()
    internal.sort()
    print(
        f"\nendpoint change -> rules live: median {latencies[len(latencies) // 2] * 1000:.1f} ms,"
        f" max {latencies[-1] * 1000:.1f} ms; proxier's own (watch event -> applied): median "
        f"{internal[len(internal) // 2] * 1000:.1f} ms, max {internal[-1] * 1000:.1f} ms"
    )
    assert latencies[len(latencies) // 2] < 0.1
    # the last round left b ready; make it not ready once more and check the traffic
    current["endpoints"] = [world.endpoint("a"), world.endpoint("b", ready=False)]
    await world.client.update(ENDPOINTSLICES, current)
    await world.until_rules(f"dnat to {world.pods['b'].ip}", absent=True)
    assert {backend(await ask(vip, 80)) for _ in range(20)} == {"a"}


async def test_session_affinity_sticks_to_one_endpoint(world: World) -> None:
    vip = world.vip(12)
    await world.service(
        "web",
        clusterIP=vip,
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 300}},
    )
    created = await world.slice("web", {"a": {}, "b": {}})
    await world.until_rules(world.pods["a"].ip, world.pods["b"].ip)
    first = backend(await ask(vip, 80))
    assert {backend(await ask(vip, 80)) for _ in range(20)} == {first}
    # an unrelated change rewrites the table; the affinity survives it
    created["endpoints"] = [world.endpoint("a"), world.endpoint("b"), world.endpoint("c", False)]
    await world.client.update(ENDPOINTSLICES, created)
    await world.until_rules(world.pods["c"].ip, absent=True)
    await asyncio.sleep(0.1)
    assert {backend(await ask(vip, 80)) for _ in range(10)} == {first}


async def test_node_port_on_localhost_and_bridge_address(world: World) -> None:
    port = world.node_port(1)
    await world.service(
        "web",
        type="NodePort",
        clusterIP=world.vip(13),
        ports=[{"name": "http", "port": 80, "targetPort": "http", "nodePort": port}],
    )
    await world.slice("web", {"a": {}, "b": {}})
    await world.until_rules(f"tcp . {port} : goto ext-")
    assert {backend(await ask("127.0.0.1", port)) for _ in range(30)} == {"a", "b"}
    assert {backend(await ask(world.gateway, port)) for _ in range(30)} == {"a", "b"}
    # from a pod through the node's address; and hairpin through the NodePort
    assert {backend(a) for a in ask_from(world.pods["c"], world.gateway, port, 10)} <= {"a", "b"}
    assert ask_from(world.pods["a"], world.gateway, port, 10)


async def test_external_traffic_policy_local(world: World) -> None:
    port = world.node_port(2)
    await world.service(
        "web",
        type="NodePort",
        clusterIP=world.vip(14),
        externalTrafficPolicy="Local",
        ports=[{"name": "http", "port": 80, "targetPort": "http", "nodePort": port}],
    )
    created = await world.slice("web", {"a": {}, "b": {"node": "node-b"}})
    await world.until_rules(f"tcp . {port} : goto ext-")
    # traffic from outside the cluster (here: external sources are simulated by the node's
    # own address, which is short-circuited to all endpoints) and from pods reaches all;
    # what is left to the local chain holds only a
    table = nft_table(world.proxier.config.table) or ""
    local_chain = table[table.index("chain local-") :]
    local_chain = local_chain[: local_chain.index("}\n")]
    assert world.pods["a"].ip in local_chain
    assert world.pods["b"].ip not in local_chain
    assert {backend(await ask(world.vip(14), 80)) for _ in range(30)} == {"a", "b"}
    # no local endpoint: NodePort traffic is dropped, the ClusterIP keeps working
    created["endpoints"] = [world.endpoint("b", node="node-b")]
    await world.client.update(ENDPOINTSLICES, created)
    await world.until_rules(f"tcp . {port} : drop")
    with pytest.raises((TimeoutError, OSError)):
        await ask(world.gateway, port, timeout=0.5)
    assert backend(await ask(world.vip(14), 80)) == "b"


async def test_service_without_endpoints_rejects_fast(world: World) -> None:
    vip = world.vip(15)
    port = world.node_port(3)
    await world.service(
        "web",
        type="NodePort",
        clusterIP=vip,
        ports=[{"name": "http", "port": 80, "targetPort": "http", "nodePort": port}],
    )
    await world.slice("web", {})
    await world.until_rules(f"{vip} . tcp . 80 : goto reject-chain")
    for address, number in ((vip, 80), ("127.0.0.1", port), (world.gateway, port)):
        started = time.perf_counter()
        with pytest.raises(ConnectionRefusedError):
            await ask(address, number)
        assert time.perf_counter() - started < 0.5
    answers = subprocess.run(
        [
            IP or "ip",
            "netns",
            "exec",
            os.path.basename(world.pods["c"].netns_path),
            sys.executable,
            "-c",
            ECHO_CLIENT,
            vip,
            "80",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert "ConnectionRefusedError" in answers.stderr


async def test_udp_service(world: World) -> None:
    vip = world.vip(16)
    await world.service(
        "dns",
        clusterIP=vip,
        ports=[{"name": "dns", "port": 53, "targetPort": 8080, "protocol": "UDP"}],
    )
    created = await world.slice(
        "dns", {"a": {}, "b": {}}, ports=[{"name": "dns", "port": 8080, "protocol": "UDP"}]
    )
    await world.until_rules(f"{vip} . udp . 53 : goto svc-")
    seen = {backend(await ask_udp(vip, 53)) for _ in range(30)}
    assert seen == {"a", "b"}
    # a client that keeps its source port is pinned by conntrack to one endpoint; when that
    # endpoint goes, the proxy forgets the entry and the next datagram meets the new rules
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.connect((vip, 53))

        def exchange() -> str:
            sock.send(b"hello")
            return backend(sock.recv(1024).decode())

        pinned = {await asyncio.to_thread(exchange) for _ in range(5)}
        assert len(pinned) == 1
        gone = pinned.pop()
        keep = "b" if gone == "a" else "a"
        created["endpoints"] = [world.endpoint(keep)]
        await world.client.update(ENDPOINTSLICES, created)
        await world.until_rules(f"dnat to {world.pods[gone].ip}", absent=True)
        # the entry is forgotten right after the rules are applied (without that, the
        # client would stay with the old endpoint for as long as it keeps sending)
        async with asyncio.timeout(2):
            while await asyncio.to_thread(exchange) != keep:
                await asyncio.sleep(0.02)
        assert {await asyncio.to_thread(exchange) for _ in range(5)} == {keep}
    assert {backend(await ask_udp(vip, 53)) for _ in range(10)} == {keep}


async def test_load_balancer_ingress_from_servicelb(world: World) -> None:
    port = world.node_port(4)
    lb = ServiceLB(world.client, addresses=[world.gateway])
    lb_task = asyncio.create_task(lb.run())
    try:
        await world.service(
            "web",
            type="LoadBalancer",
            clusterIP=world.vip(17),
            ports=[{"name": "http", "port": 8081, "targetPort": "http", "nodePort": port}],
        )
        await world.slice("web", {"a": {}, "b": {}})
        await world.until_rules(f"{world.gateway} . tcp . 8081 : goto ext-")
        stored = await world.client.get(SERVICES, "web", "default")
        assert stored["status"]["loadBalancer"]["ingress"] == [
            {"ip": world.gateway, "ipMode": "VIP"}
        ]
        assert {backend(await ask(world.gateway, 8081)) for _ in range(30)} == {"a", "b"}
    finally:
        lb_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lb_task


async def test_restart_replaces_the_table_and_rules_outlive_the_proxy(world: World) -> None:
    vip = world.vip(18)
    await world.service("web", clusterIP=vip)
    await world.slice("web", {"a": {}})
    await world.until_rules(world.pods["a"].ip)
    config = world.proxier.config
    assert NFT is not None
    # leftovers of an earlier process are dropped by the first sync of the next one
    subprocess.run([NFT, "add", "chain", "ip", config.table, "stale-leftover"], check=True)
    second = Proxier(world.client, config)
    task = asyncio.create_task(second.run())
    try:
        async with asyncio.timeout(10):
            await second.synced.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    table = nft_table(config.table) or ""
    assert "stale-leftover" not in table
    assert backend(await ask(vip, 80)) == "a"  # the stopped proxy left its rules in force


async def test_cluster_ip_throughput_next_to_direct(world: World) -> None:
    vip = world.vip(19)
    await world.service("web", clusterIP=vip)
    await world.slice("web", {"a": {}})
    await world.until_rules(world.pods["a"].ip)

    async def loop(address: str, port: int, seconds: float) -> int:
        count = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            await ask(address, port)
            count += 1
        return count

    # interleaved slices, so both see the same machine load
    direct = through = 0
    for _ in range(6):
        direct += await loop(world.pods["a"].ip, 8080, 0.5)
        through += await loop(vip, 80, 0.5)
    print(
        f"\nnew connection per request, one client, 3 s each: direct {direct / 3:.0f}/s,"
        f" ClusterIP {through / 3:.0f}/s ({through / direct * 100:.0f}%)"
    )
    assert through > 0


async def test_servicelb_uses_ready_node_addresses() -> None:
    async with running_apiserver() as api, Client(api.url) as client:
        lb = ServiceLB(client)
        task = asyncio.create_task(lb.run())
        try:
            node = {
                "metadata": {"name": "n1"},
                "status": {
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "addresses": [{"type": "InternalIP", "address": "192.0.2.10"}],
                },
            }
            created = await client.create(NODES, node)
            created["status"] = node["status"]
            await client.update_status(NODES, created)
            service = {
                "metadata": {"name": "lb", "namespace": "default"},
                "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
            }
            await client.create(SERVICES, service, "default")
            async with asyncio.timeout(10):
                while True:
                    stored = await client.get(SERVICES, "lb", "default")
                    ingress = (stored.get("status") or {}).get("loadBalancer", {}).get("ingress")
                    if ingress:
                        break
                    await asyncio.sleep(0.02)
            assert ingress == [{"ip": "192.0.2.10", "ipMode": "VIP"}]
            # no longer a LoadBalancer: the ingress goes
            stored["spec"]["type"] = "ClusterIP"
            stored["spec"].pop("allocateLoadBalancerNodePorts", None)
            for port in stored["spec"]["ports"]:
                port.pop("nodePort", None)
            await client.update(SERVICES, stored)
            async with asyncio.timeout(10):
                while (
                    (await client.get(SERVICES, "lb", "default"))
                    .get("status", {})
                    .get("loadBalancer", {})
                    .get("ingress")
                ):
                    await asyncio.sleep(0.02)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
