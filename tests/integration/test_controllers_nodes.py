"""Node lifecycle and pod garbage collection on a real API server, on a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339
from kybernetes.client.resource import NODES, PODS
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import running_apiserver
from kybernetes.util.clock import FakeClock


@pytest_asyncio.fixture
async def cluster() -> AsyncIterator[tuple[Client, FakeClock]]:
    clock = FakeClock(start=datetime.now(UTC).timestamp())
    async with running_apiserver() as api, Client(api.url) as c:
        manager = ControllerManager(
            c, controllers=["node-lifecycle", "pod-garbage-collector"], clock=clock
        )
        task = asyncio.ensure_future(manager.run())
        try:
            yield c, clock
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def advance(clock: FakeClock, seconds: float, step: float = 5.0) -> None:
    moved = 0.0
    while moved < seconds:
        clock.advance(step)
        moved += step
        await asyncio.sleep(0.05)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


async def make_node(client: Client, name: str, clock: FakeClock) -> None:
    stamp = now_rfc3339(datetime.fromtimestamp(clock.now(), UTC))
    await client.create(NODES, {"metadata": {"name": name}})
    node = await client.get(NODES, name)
    node["status"] = {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": stamp,
            }
        ]
    }
    await client.update_status(NODES, node)


async def bound_pod(client: Client, name: str, node: str, **spec: Any) -> None:
    pod = {
        "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}], **spec},
    }
    await client.create(PODS, pod, "default")


async def test_silent_node_goes_unknown_gets_tainted_and_its_pods_are_evicted(
    cluster: tuple[Client, FakeClock],
) -> None:
    client, clock = cluster
    await make_node(client, "n1", clock)
    await bound_pod(client, "evicted", "n1")
    forever = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    await bound_pod(client, "stays", "n1", tolerations=[forever])
    await asyncio.sleep(0.3)  # the controller sees the node once
    await advance(clock, 45)

    async def unknown() -> bool:
        node = await client.get(NODES, "n1")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        return bool(ready["status"] == "Unknown")

    await eventually(unknown)
    node = await client.get(NODES, "n1")
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "NodeStatusUnknown"
    assert ready["message"] == "Kubelet stopped posting node status."

    async def tainted() -> bool:
        node = await client.get(NODES, "n1")
        return {(t["key"], t["effect"]) for t in node["spec"].get("taints", [])} == {
            ("node.kubernetes.io/unreachable", "NoSchedule"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
        }

    await eventually(tainted)

    async def deleting(name: str) -> bool:
        try:
            pod = await client.get(PODS, name, "default")
        except errors.NotFound:
            return True
        return bool(pod["metadata"].get("deletionTimestamp"))

    await advance(clock, 200)
    assert not await deleting("evicted")  # tolerated for 300 s (DefaultTolerationSeconds)
    await advance(clock, 110)
    await eventually(lambda: deleting("evicted"))
    assert not await deleting("stays")
    pod = await client.get(PODS, "stays", "default")
    ready_cond = [c for c in pod["status"].get("conditions", []) if c["type"] == "Ready"]
    assert all(c["status"] == "False" for c in ready_cond)


async def test_recovered_node_loses_its_taints(cluster: tuple[Client, FakeClock]) -> None:
    client, clock = cluster
    await make_node(client, "n2", clock)
    await asyncio.sleep(0.3)
    await advance(clock, 45)

    async def taint_count() -> int:
        return len((await client.get(NODES, "n2"))["spec"].get("taints", []))

    async def has_taints() -> bool:
        return await taint_count() == 2

    await eventually(has_taints)
    node = await client.get(NODES, "n2")
    stamp = now_rfc3339(datetime.fromtimestamp(clock.now(), UTC))
    node["status"]["conditions"] = [
        {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": stamp}
    ]
    await client.update_status(NODES, node)

    async def clean() -> bool:
        return await taint_count() == 0

    await advance(clock, 5)
    await eventually(clean)


async def test_pods_of_a_deleted_node_are_collected(cluster: tuple[Client, FakeClock]) -> None:
    client, clock = cluster
    await bound_pod(client, "ghost", "no-such-node")
    await asyncio.sleep(0.3)
    await advance(clock, 20)
    assert (await client.get(PODS, "ghost", "default"))["metadata"]["name"] == "ghost"
    await advance(clock, 40)

    async def gone() -> bool:
        try:
            await client.get(PODS, "ghost", "default")
        except errors.NotFound:
            return True
        return False

    await eventually(gone)
