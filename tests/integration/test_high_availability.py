"""Availability: two controller managers or schedulers with one acting, and a node that goes
silent while its pods come back on other nodes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from kybernetes.agent.fake import FakeNodes, FakeNodesConfig
from kybernetes.client.resource import DEPLOYMENTS, LEASES, NODES, PODS, REPLICASETS
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import ControllerManager
from kybernetes.scheduler.app import run_scheduler
from kybernetes.testing.apiserver import running_apiserver
from kybernetes.testing.cluster import running_cluster
from kybernetes.util.clock import FakeClock


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(coro: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.ensure_future(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def advance(clock: FakeClock, seconds: float, step: float = 1.0) -> None:
    moved = 0.0
    while moved < seconds:
        clock.advance(step)
        moved += step
        await asyncio.sleep(0.05)


def replica_set(replicas: int) -> dict[str, Any]:
    labels = {"app": "ha"}
    return {
        "metadata": {"name": "ha"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }


async def pod_count(client: Client) -> int:
    return len((await client.list(PODS, "default", label_selector="app=ha"))["items"])


async def holder(client: Client, lease: str) -> str:
    found = await client.get(LEASES, lease, "kube-system")
    return str(found["spec"].get("holderIdentity", ""))


async def test_two_controller_managers_one_acting_then_failover() -> None:
    clock = FakeClock()
    async with running_apiserver() as api, Client(api.url) as client:
        a = ControllerManager(
            client, controllers=["replicaset"], leader_elect=True, identity="cm-a", clock=clock
        )
        b = ControllerManager(
            client, controllers=["replicaset"], leader_elect=True, identity="cm-b", clock=clock
        )
        leader = asyncio.ensure_future(a.run())
        try:
            await eventually(lambda: _holder_is(client, "kube-controller-manager", "cm-a"))
            async with running(b.run()):
                await client.create(REPLICASETS, replica_set(3), "default")
                await eventually(lambda: _count_is(client, 3))
                await advance(clock, 5)
                assert await pod_count(client) == 3  # two managers, still exactly 3 pods
                leader.cancel()  # the leader dies without giving up its lease
                with contextlib.suppress(asyncio.CancelledError):
                    await leader
                await advance(clock, 17)
                await eventually(lambda: _holder_is(client, "kube-controller-manager", "cm-b"))
                await client.patch(REPLICASETS, "ha", {"spec": {"replicas": 5}}, "default")
                await eventually(lambda: _count_is(client, 5))
        finally:
            leader.cancel()


async def _holder_is(client: Client, lease: str, identity: str) -> bool:
    try:
        return await holder(client, lease) == identity
    except Exception:  # not created yet
        return False


async def _count_is(client: Client, count: int) -> bool:
    return await pod_count(client) == count


async def test_two_schedulers_one_binding_then_failover() -> None:
    clock = FakeClock()
    async with running_apiserver() as api, Client(api.url) as client:
        await client.create(
            NODES, {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}}
        )
        node = await client.get(NODES, "n1")
        capacity = {"cpu": "8", "memory": "16Gi", "pods": "110"}
        node["status"] = {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [{"type": "Ready", "status": "True"}],
        }
        await client.update_status(NODES, node)
        first = asyncio.ensure_future(
            run_scheduler(client, leader_elect=True, identity="sched-a", clock=clock)
        )
        try:
            await eventually(lambda: _holder_is(client, "kube-scheduler", "sched-a"))
            async with running(
                run_scheduler(client, leader_elect=True, identity="sched-b", clock=clock)
            ):
                pod = {
                    "metadata": {"name": "p1"},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                }
                await client.create(PODS, pod, "default")
                await eventually(lambda: _bound(client, "p1"))
                first.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await first
                await advance(clock, 17)
                await eventually(lambda: _holder_is(client, "kube-scheduler", "sched-b"))
                pod["metadata"]["name"] = "p2"
                await client.create(PODS, pod, "default")
                await eventually(lambda: _bound(client, "p2"))
        finally:
            first.cancel()


async def _bound(client: Client, name: str) -> bool:
    return bool((await client.get(PODS, name, "default"))["spec"].get("nodeName"))


async def test_pods_of_a_silent_node_reappear_on_other_nodes() -> None:
    options = {"node_monitor_grace_period": 2.0, "node_monitor_period": 0.5}
    async with (
        running_cluster(controller_options=options) as cluster,
        Client(cluster.url) as doomed_client,
        Client(cluster.url) as stay_client,
    ):
        client = cluster.client
        doomed = FakeNodes(
            doomed_client, FakeNodesConfig(1, name_prefix="doomed-", lease_renew_interval=0.5)
        )
        async with running(doomed.run()) as doomed_task:
            await asyncio.wait_for(doomed.ready.wait(), 20)
            quick = [
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1}
                for key in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")
            ]
            labels = {"app": "moving"}
            deployment = {
                "metadata": {"name": "moving"},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [{"name": "c", "image": "i"}],
                            "tolerations": quick,
                        },
                    },
                },
            }
            await client.create(DEPLOYMENTS, deployment, "default")
            await eventually(lambda: _running_on(client, "doomed-", 2))
            stay = FakeNodes(
                stay_client,
                FakeNodesConfig(2, name_prefix="stay-", lease_renew_interval=0.5, cidr_offset=10),
            )
            async with running(stay.run()):
                await asyncio.wait_for(stay.ready.wait(), 20)
                doomed_task.cancel()  # the node's agent dies: no more leases, no more status
                with contextlib.suppress(asyncio.CancelledError):
                    await doomed_task
                await eventually(lambda: _running_on(client, "stay-", 2), timeout=40)
                node = await client.get(NODES, "doomed-0")
                ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
                assert ready["status"] == "Unknown"
                taints = {t["key"] for t in node["spec"].get("taints", [])}
                assert "node.kubernetes.io/unreachable" in taints


async def _running_on(client: Client, prefix: str, count: int) -> bool:
    pods = (await client.list(PODS, "default", label_selector="app=moving"))["items"]
    running_here = [
        p
        for p in pods
        if (p["spec"].get("nodeName") or "").startswith(prefix)
        and p["status"].get("phase") == "Running"
        and not p["metadata"].get("deletionTimestamp")
    ]
    return len(running_here) == count
