"""Two real nodes on one machine: pods on different nodes reach each other by pod IP.

Each node is a ``kyb agent --runtime runc`` running inside a network namespace of its own
(entered with ``nsenter --net``, so only the network differs: cgroups, mounts and runc are the
host's), with one veth on a bridge the test makes — like two machines on one switch. The
control plane is ``kyb server --runtime none`` listening on that bridge's address. Each agent
brings its own pod bridge inside its namespace (one names its pod CIDR, the other is given one
by the control plane's node IPAM controller) and routes the other node's pod
CIDR via that node's address (``agent/network/podroutes.py``). Checked as a user would: both
nodes Ready with the addresses given, ``kubectl exec`` into a pod on each node (the API server
reaching both agents' HTTPS servers), HTTP between the pods both ways with the client's own pod
IP seen by the server (no masquerading inside the cluster), a Service on one node reached by
name from a pod on the other (each node runs its own proxy and DNS server, and both DNS servers
are endpoints of kube-dns), and a deleted Node's route and DNS endpoint gone.
Everything made — namespaces, links, cgroups, sandboxes, mounts — is removed and checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kybernetes.agent.local import NodeAgentConfig, cleanup_node, remove_all_pods
from kybernetes.agent.network import netns
from tests.e2e.conftest import (
    Cluster,
    echo_example,
    import_image,
    one_real_node_at_a_time,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.slow, pytest.mark.root]


@dataclass
class Node:
    name: str
    netns: str
    address: str
    pod_cidr: str
    data: Path
    instance: str
    config: NodeAgentConfig
    proc: subprocess.Popen[str] | None = None
    #: what the agent wrote to stderr, once it has stopped
    stderr: str = ""


def ip(*args: str, check: bool = True) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)}: {done.stderr}")


def in_netns(name: str, *args: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", name, *args], capture_output=True, text=True, check=True
    ).stdout


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of 198.18.0.0/15 (RFC 2544, for tests) on no interface of this machine."""
    used = subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True).stdout
    for _ in range(50):
        candidate = ipaddress.IPv4Network(f"198.18.{random.randrange(256)}.0/24")
        if f"198.18.{candidate.network_address.packed[2]}." not in used:
            return candidate
    raise AssertionError("no free test subnet in 198.18.0.0/16")


def wait_until(check: Callable[[], bool], timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def run_in_netns(path: str, work: Callable[[], Any]) -> None:
    """Run ``work`` on a thread moved into the namespace (its subprocesses inherit it)."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            with netns.entered(path):
                work()
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=120)
    if failure:
        raise failure[0]


@dataclass
class TwoNodes:
    cluster: Cluster
    nodes: list[Node]


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoNodes]:
    base = tmp_path_factory.mktemp("multinode")
    archive = echo_example().echo_image("1").write_oci(base / "echo.tar", "kybernetes.local/echo:1")
    with one_real_node_at_a_time(), _topology(base) as (bridge_ip, nodes):
        home = base / "home"
        home.mkdir()
        cluster = start_server(base / "server", home, "--bind-address", bridge_ip)
        try:
            for node in nodes:
                import_image(node.data, archive)
                node.proc = _start_agent(cluster, node)
            for node in nodes:
                # kubectl wait fails at once on a Node that does not exist yet.
                wait_until(
                    lambda n=node: (
                        cluster.kubectl("get", "node", n.name, check=False).returncode == 0
                    ),
                    60,
                    f"node {node.name} to register",
                )
                ready = cluster.kubectl(
                    "wait",
                    "--for=condition=Ready",
                    f"node/{node.name}",
                    "--timeout=90s",
                    check=False,
                    timeout=100,
                )
                if ready.returncode != 0:
                    raise AssertionError(
                        f"{node.name} not Ready: {ready.stderr}\n{_stop_agent(node)}"
                    )
                if not node.pod_cidr:
                    node.pod_cidr = get_json(cluster, "node", node.name)["spec"]["podCIDR"]
                    node.config = dataclasses.replace(node.config, pod_cidr=node.pod_cidr)
            yield TwoNodes(cluster, nodes)
        finally:
            cluster.kubectl("delete", "pods", "--all", "--wait=true", "--timeout=90s", check=False)
            errors = [_stop_agent(node) for node in nodes]
            err = stop_server(cluster)
            assert "Traceback" not in err, err
            for agent_err in errors:
                assert "Traceback" not in agent_err, agent_err


@contextlib.contextmanager
def _topology(base: Path) -> Iterator[tuple[str, list[Node]]]:
    """A bridge on the host and two node namespaces, each with a veth on it."""
    tag = uuid.uuid4().hex[:5]
    subnet = free_subnet()
    hosts = list(subnet.hosts())
    bridge, bridge_ip = f"kmn{tag}", str(hosts[0])
    nodes = []
    for index, suffix in enumerate("ab"):
        data = base / suffix
        # Node a names its pod CIDR; node b gets one from the control plane (node IPAM).
        pod_cidr = "10.42.210.0/24" if suffix == "a" else ""
        instance = f"{tag}{suffix}"
        config = NodeAgentConfig.for_instance(data / "agent", instance, pod_cidr=pod_cidr)
        address = str(hosts[10 + index])
        nodes.append(
            Node(f"kmn{tag}-{suffix}", f"kmn{instance}", address, pod_cidr, data, instance, config)
        )
    netns_before = set(os.listdir(netns.NETNS_DIR)) if os.path.isdir(netns.NETNS_DIR) else set()
    try:
        ip("link", "add", bridge, "type", "bridge")
        ip("addr", "add", f"{bridge_ip}/24", "dev", bridge)
        ip("link", "set", bridge, "up")
        for node in nodes:
            netns.create(node.netns)
            ip(
                "link",
                "add",
                node.netns,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                node.netns,
            )
            ip("link", "set", node.netns, "master", bridge, "up")
            ip("-n", node.netns, "addr", "add", f"{node.address}/24", "dev", "eth0")
            ip("-n", node.netns, "link", "set", "eth0", "up")
            ip("-n", node.netns, "link", "set", "lo", "up")
            ip("-n", node.netns, "route", "add", "default", "via", bridge_ip)
        yield bridge_ip, nodes
    finally:
        left = 0
        for node in nodes:
            if netns.exists(node.netns):
                path = netns.path_of(node.netns)

                def clean(node: Node = node) -> None:
                    nonlocal left
                    left += asyncio.run(remove_all_pods(node.config))
                    cleanup_node(node.config)

                run_in_netns(path, clean)
                # Deleting our end now: a namespace's links go only when the kernel gets to it.
                ip("link", "del", node.netns, check=False)
                netns.remove(node.netns)
        ip("link", "del", bridge, check=False)
        assert left == 0, f"{left} sandboxes left behind"
        netns_after = set(os.listdir(netns.NETNS_DIR)) if os.path.isdir(netns.NETNS_DIR) else set()
        assert netns_after <= netns_before, f"namespaces left: {netns_after - netns_before}"
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert f"kmn{tag}" not in links, links
        assert str(base) not in Path("/proc/self/mountinfo").read_text(), "mounts left"
        for node in nodes:
            cgroups = list(Path("/sys/fs/cgroup").glob(f"*/{node.config.cgroup_root}"))
            assert not cgroups, cgroups


def _start_agent(cluster: Cluster, node: Node) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            "nsenter",
            f"--net={netns.path_of(node.netns)}",
            sys.executable,
            "-m",
            "kybernetes",
            "agent",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--node-name",
            node.name,
            "--node-ip",
            node.address,
            *(["--pod-cidr", node.pod_cidr] if node.pod_cidr else []),
            "--data-dir",
            str(node.data),
            "--node-instance",
            node.instance,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop_agent(node: Node) -> str:
    """Stop the node's agent (once; later calls return what it wrote then)."""
    proc, node.proc = node.proc, None
    if proc is None:
        return node.stderr
    # Deleted pods leave the API at once; the agent then removes their sandboxes.
    sandboxes = node.config.data_dir / "runtime" / "sandboxes"
    deadline = time.monotonic() + 60
    while proc.poll() is None and list(sandboxes.glob("*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=10)
    node.stderr = err
    return err


def get_json(cluster: Cluster, *args: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl("get", *args, "-o", "json").stdout))


def run_echo_pod(cluster: Cluster, name: str, node: Node) -> str:
    """An echo server pinned to ``node``; its pod IP once it is Running."""
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node.name},
            "containers": [
                {
                    "name": "echo",
                    "image": "kybernetes.local/echo:1",
                    "imagePullPolicy": "Never",
                    "ports": [{"containerPort": 8080}],
                }
            ],
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    cluster.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=90s", timeout=100)
    pod = get_json(cluster, "pod", name)
    assert pod["spec"]["nodeName"] == node.name
    address = str(pod["status"]["podIP"])
    assert ipaddress.ip_address(address) in ipaddress.ip_network(node.pod_cidr)
    return address


def test_nodes_register_with_their_addresses_and_pod_cidrs(two_nodes: TwoNodes) -> None:
    a, b = two_nodes.nodes
    for node in two_nodes.nodes:
        got = get_json(two_nodes.cluster, "node", node.name)
        addresses = {a["type"]: a["address"] for a in got["status"]["addresses"]}
        assert addresses["InternalIP"] == node.address
        assert got["spec"]["podCIDRs"] == [node.pod_cidr]
    assert a.pod_cidr == "10.42.210.0/24"
    # The node IPAM controller's first free /24 of the cluster CIDR.
    assert b.pod_cidr == "10.42.0.0/24"


def test_each_node_routes_the_other_nodes_pods(two_nodes: TwoNodes) -> None:
    a, b = two_nodes.nodes

    def routed(node: Node, other: Node) -> bool:
        table = in_netns(node.netns, "ip", "route", "show", "proto", "75")
        return f"{other.pod_cidr} via {other.address}" in table

    wait_until(lambda: routed(a, b) and routed(b, a), 30, "pod routes on both nodes")


def test_pods_on_different_nodes_talk_by_pod_ip(two_nodes: TwoNodes) -> None:
    cluster = two_nodes.cluster
    a, b = two_nodes.nodes
    ip_a = run_echo_pod(cluster, "echo-a", a)
    ip_b = run_echo_pod(cluster, "echo-b", b)
    for client, client_ip, server_ip in (("echo-b", ip_b, ip_a), ("echo-a", ip_a, ip_b)):
        answer = cluster.kubectl(
            "exec", client, "--", "wget", "-q", "-O", "-", f"http://{server_ip}:8080/"
        ).stdout
        # The server sees the client pod's own address: no NAT between pods.
        assert f"from=[::ffff:{client_ip}]" in answer, answer


def test_a_service_by_name_from_the_other_node(two_nodes: TwoNodes) -> None:
    """Pod on b -> cluster DNS (either node's server) -> ClusterIP (b's proxy) -> pod on a."""
    cluster = two_nodes.cluster
    a, b = two_nodes.nodes
    # Each node's DNS server is an endpoint of kube-dns.
    slices = get_json(
        cluster, "endpointslices", "-n", "kube-system", "-l", "kubernetes.io/service-name=kube-dns"
    )
    owners = {s["metadata"]["ownerReferences"][0]["name"] for s in slices["items"]}
    assert owners == {a.name, b.name}
    run_echo_pod(cluster, "echo-a", a)
    run_echo_pod(cluster, "echo-b", b)
    cluster.kubectl("expose", "pod", "echo-a", "--name=echo", "--port=80", "--target-port=8080")
    url = "http://echo.default.svc.cluster.local/"
    answer = ""

    def answered() -> bool:
        nonlocal answer
        done = cluster.kubectl("exec", "echo-b", "--", "wget", "-q", "-O", "-", url, check=False)
        answer = done.stdout
        return done.returncode == 0

    wait_until(answered, 30, f"{url} from echo-b")
    assert "pod=echo-a" in answer, answer


def test_a_deleted_node_loses_its_route_and_dns_endpoint(two_nodes: TwoNodes) -> None:
    cluster = two_nodes.cluster
    a, b = two_nodes.nodes
    cluster.kubectl("delete", "pod", "echo-b", "--ignore-not-found", "--wait=true")
    _stop_agent(b)
    cluster.kubectl("delete", "node", b.name)
    wait_until(
        lambda: b.pod_cidr not in in_netns(a.netns, "ip", "route", "show", "proto", "75"),
        30,
        "the deleted node's route to go",
    )

    def dns_slices() -> set[str]:
        found = get_json(cluster, "endpointslices", "-n", "kube-system")
        return {s["metadata"]["name"] for s in found["items"]}

    wait_until(lambda: f"kube-dns-{b.name}" not in dns_slices(), 30, "b's DNS endpoint to go")
    assert f"kube-dns-{a.name}" in dns_slices()
