"""Simulated nodes against a real API server: registration, heartbeats, pods through their life."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from kybernetes.agent.fake import FakeNodes, FakeNodesConfig, NodeGroup
from kybernetes.api import errors
from kybernetes.client.resource import LEASES, NODES, PODS
from kybernetes.client.rest import Client
from kybernetes.testing.apiserver import RunningAPIServer, running_apiserver
from kybernetes.util.clock import FakeClock

Obj = dict[str, Any]

GPU = NodeGroup(
    2,
    "kyb-gpu-node-",
    cpu="8",
    memory="64Gi",
    extended={"nvidia.com/gpu": "4"},
    labels={"accelerator": "nvidia"},
    taints=({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},),
    zones=("zone-g",),
    instance_type="gpu.large",
)


@pytest_asyncio.fixture
async def api() -> AsyncIterator[RunningAPIServer]:
    async with running_apiserver() as running:
        yield running


@pytest_asyncio.fixture
async def client(api: RunningAPIServer) -> AsyncIterator[Client]:
    async with Client(api.url) as c:
        yield c


@contextlib.asynccontextmanager
async def fake_nodes(
    client: Client, config: FakeNodesConfig, clock: FakeClock | None = None
) -> AsyncIterator[FakeNodes]:
    nodes = FakeNodes(client, config, clock=clock)
    task = asyncio.ensure_future(nodes.run())
    try:
        async with asyncio.timeout(10):
            ready = asyncio.ensure_future(nodes.ready.wait())
            await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()
        yield nodes
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


async def advance(clock: FakeClock, seconds: float, step: float = 1.0) -> None:
    """Move the fake clock in steps, letting real I/O finish between them."""
    moved = 0.0
    while moved < seconds:
        clock.advance(step)
        moved += step
        await asyncio.sleep(0.03)


def pod(name: str, node: str, *, annotations: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "busybox"}], **spec},
    }


async def phase_of(client: Client, name: str) -> str | None:
    try:
        got = await client.get(PODS, name, "default")
    except errors.NotFound:
        return None
    return str((got.get("status") or {}).get("phase"))


async def test_nodes_register_with_their_shape_and_are_ready(client: Client) -> None:
    async with fake_nodes(client, FakeNodesConfig(3, groups=[GPU])):
        items, _ = await client.list_all(NODES)
    nodes = {n["metadata"]["name"]: n for n in items}
    assert sorted(nodes) == [
        "kyb-fake-node-0",
        "kyb-fake-node-1",
        "kyb-fake-node-2",
        "kyb-gpu-node-0",
        "kyb-gpu-node-1",
    ]
    plain, gpu = nodes["kyb-fake-node-1"], nodes["kyb-gpu-node-0"]
    assert plain["status"]["capacity"] == {
        "cpu": "32",
        "memory": "256Gi",
        "ephemeral-storage": "1Ti",
        "pods": "110",
    }
    assert plain["status"]["allocatable"] == plain["status"]["capacity"]
    assert gpu["status"]["capacity"]["nvidia.com/gpu"] == "4"
    labels = plain["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "kyb-fake-node-1"
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"] == "amd64"
    assert labels["topology.kubernetes.io/zone"] == "zone-b"
    assert gpu["metadata"]["labels"]["accelerator"] == "nvidia"
    assert gpu["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "gpu.large"
    assert gpu["metadata"]["labels"]["topology.kubernetes.io/zone"] == "zone-g"
    assert gpu["spec"]["taints"] == [GPU.taints[0]]
    assert "taints" not in plain["spec"]
    cidrs = [n["spec"]["podCIDR"] for n in nodes.values()]
    assert sorted(cidrs) == [f"10.42.{i}.0/24" for i in range(5)]
    assert all(n["spec"]["podCIDRs"] == [n["spec"]["podCIDR"]] for n in nodes.values())
    conditions = {c["type"]: c for c in plain["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Ready"]["reason"] == "KubeletReady"
    assert conditions["Ready"]["message"] == "kubelet is posting ready status"
    assert conditions["MemoryPressure"]["reason"] == "KubeletHasSufficientMemory"
    assert [conditions[t]["status"] for t in ("MemoryPressure", "DiskPressure", "PIDPressure")] == [
        "False"
    ] * 3
    info = plain["status"]["nodeInfo"]
    assert info["kubeletVersion"].startswith("v1.32.")
    assert info["operatingSystem"] == "linux"
    assert info["containerRuntimeVersion"].startswith("kyb-fake://")
    assert {a["type"] for a in plain["status"]["addresses"]} == {"InternalIP", "Hostname"}
    assert plain["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}


async def test_leases_are_renewed_and_status_repaired(client: Client) -> None:
    clock = FakeClock()
    async with fake_nodes(client, FakeNodesConfig(3), clock) as nodes:
        names = [f"kyb-fake-node-{i}" for i in range(3)]

        async def leases() -> dict[str, Obj]:
            return {n: await client.get(LEASES, n, "kube-node-lease") for n in names}

        async def all_leased() -> bool:
            try:
                await leases()
            except errors.NotFound:
                return False
            return True

        await eventually(all_leased)
        first = await leases()
        node = await client.get(NODES, names[0])
        lease = first[names[0]]
        assert lease["spec"]["holderIdentity"] == names[0]
        assert lease["spec"]["leaseDurationSeconds"] == 40
        assert lease["metadata"]["ownerReferences"] == [
            {"apiVersion": "v1", "kind": "Node", "name": names[0], "uid": node["metadata"]["uid"]}
        ]
        await advance(clock, 11)
        second = await leases()
        assert all(second[n]["spec"]["renewTime"] != first[n]["spec"]["renewTime"] for n in names)

        # Someone marks the node NotReady: the next heartbeat posts Ready again.
        node["status"]["conditions"][-1]["status"] = "Unknown"
        await client.update_status(NODES, node)
        await eventually(lambda: _ready_is(nodes, names[0], "Unknown"))
        await advance(clock, 11)
        await eventually(lambda: _ready_is(nodes, names[0], "True"))

        # Nothing changes: status is still reported every five minutes, with a new heartbeat.
        before = (await client.get(NODES, names[1]))["status"]["conditions"][-1]
        await advance(clock, 300, step=5.0)
        after = (await client.get(NODES, names[1]))["status"]["conditions"][-1]
        assert after["lastHeartbeatTime"] != before["lastHeartbeatTime"]
        assert after["lastTransitionTime"] == before["lastTransitionTime"]


async def _ready_is(nodes: FakeNodes, name: str, status: str) -> bool:
    node = nodes.node_informer.store.get(name) or {}
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    return bool(ready[0]["status"] == status)


async def test_bound_pod_runs_with_an_address_from_its_node(client: Client) -> None:
    async with fake_nodes(client, FakeNodesConfig(2)):
        node = await client.get(NODES, "kyb-fake-node-1")
        await client.create(PODS, pod("web", "kyb-fake-node-1"), "default")
        await client.create(PODS, pod("floating", ""), "default")  # not bound: left alone
        await eventually(lambda: _is(client, "web", "Running"))
        running = await client.get(PODS, "web", "default")
        status = running["status"]
        assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network(
            node["spec"]["podCIDR"]
        )
        assert status["podIPs"] == [{"ip": status["podIP"]}]
        internal = [a for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
        assert status["hostIP"] == internal[0]["address"]
        assert {c["type"]: c["status"] for c in status["conditions"]} == {
            "PodReadyToStartContainers": "True",
            "Initialized": "True",
            "Ready": "True",
            "ContainersReady": "True",
            "PodScheduled": "True",
        }
        (container,) = status["containerStatuses"]
        assert container["ready"] is True
        assert container["started"] is True
        assert "running" in container["state"]
        assert container["image"] == "docker.io/library/busybox:latest"
        assert container["containerID"].startswith("kyb-fake://")
        assert status["qosClass"] == "BestEffort"
        # Settled: no further writes (the agent does not fight its own echo).
        await asyncio.sleep(0.3)
        again = await client.get(PODS, "web", "default")
        assert again["metadata"]["resourceVersion"] == running["metadata"]["resourceVersion"]
        assert await phase_of(client, "floating") == "Pending"


async def _is(client: Client, name: str, phase: str | None) -> bool:
    return await phase_of(client, name) == phase


async def _all_are(client: Client, names: list[str], phase: str) -> bool:
    return [await phase_of(client, name) for name in names] == [phase] * len(names)


async def test_finite_pods_end_as_their_exit_code_says(client: Client) -> None:
    clock = FakeClock()
    async with fake_nodes(client, FakeNodesConfig(1, start_delay=2.0), clock):
        node = "kyb-fake-node-0"
        run = {"kybernetes.io/fake-run-seconds": "30"}
        fail = {**run, "kybernetes.io/fake-exit-code": "2"}
        for name, annotations, policy in (
            ("ok", run, "Never"),
            ("bad", fail, "Never"),
            ("retry", fail, "OnFailure"),
        ):
            created = pod(name, node, annotations=annotations, restartPolicy=policy)
            await client.create(PODS, created, "default")
        await eventually(lambda: _waiting(client, "ok", "ContainerCreating"))
        await advance(clock, 3)
        await eventually(lambda: _all_are(client, ["ok", "bad", "retry"], "Running"))
        await advance(clock, 31)
        await eventually(lambda: _is(client, "ok", "Succeeded"))
        await eventually(lambda: _is(client, "bad", "Failed"))
        bad = await client.get(PODS, "bad", "default")
        terminated = bad["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (terminated["exitCode"], terminated["reason"]) == (2, "Error")
        retry = await client.get(PODS, "retry", "default")
        assert retry["status"]["phase"] == "Running"
        assert retry["status"]["containerStatuses"][0]["restartCount"] == 1


async def _waiting(client: Client, name: str, reason: str) -> bool:
    with contextlib.suppress(errors.NotFound, KeyError, IndexError):
        status = (await client.get(PODS, name, "default"))["status"]
        state = status["containerStatuses"][0]["state"]
        return bool(state.get("waiting", {}).get("reason") == reason)
    return False


async def test_graceful_deletion_completes(client: Client) -> None:
    async with fake_nodes(client, FakeNodesConfig(1)):
        await client.create(PODS, pod("doomed", "kyb-fake-node-0"), "default")
        await eventually(lambda: _is(client, "doomed", "Running"))
        deleting = await client.delete(PODS, "doomed", "default")  # the default 30 s grace
        assert deleting["metadata"]["deletionTimestamp"]
        await eventually(lambda: _is(client, "doomed", None))


async def test_restart_adopts_nodes_and_pods(client: Client) -> None:
    node = "kyb-fake-node-0"
    async with fake_nodes(client, FakeNodesConfig(2)):
        for i in range(5):
            await client.create(PODS, pod(f"first-{i}", node), "default")
        first = [f"first-{i}" for i in range(5)]
        await eventually(lambda: _all_are(client, first, "Running"))
        uid = (await client.get(NODES, node))["metadata"]["uid"]
    async with fake_nodes(client, FakeNodesConfig(2)):
        for i in range(5):
            await client.create(PODS, pod(f"second-{i}", node), "default")
        second = [f"second-{i}" for i in range(5)]
        await eventually(lambda: _all_are(client, second, "Running"))
        items, _ = await client.list_all(NODES)
        assert len(items) == 2
        assert (await client.get(NODES, node))["metadata"]["uid"] == uid
        pods, _ = await client.list_all(PODS, "default")
    addresses = [p["status"]["podIP"] for p in pods]
    assert len(addresses) == 10
    assert len(set(addresses)) == 10
