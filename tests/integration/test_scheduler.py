"""The scheduler on an in-process cluster with simulated nodes (issue 5's scenarios)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from kybernetes.agent.fake import FakeNodesConfig, NodeGroup
from kybernetes.client.resource import EVENTS, NODES, PODS, PRIORITYCLASSES
from kybernetes.client.rest import Client
from kybernetes.testing.cluster import running_cluster


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


def pod(name: str, *, cpu: str = "100m", labels: dict[str, str] | None = None, **spec: Any) -> Any:
    container: dict[str, Any] = {
        "name": "c",
        "image": "busybox",
        "resources": {"requests": {"cpu": cpu}},
    }
    limits = spec.pop("limits", None)
    if limits:
        container["resources"]["limits"] = limits
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [container], **spec},
    }


async def placements(client: Client, names: list[str]) -> dict[str, str | None]:
    out = {}
    for name in names:
        found = await client.get(PODS, name, "default")
        out[name] = found["spec"].get("nodeName")
    return out


async def all_bound(client: Client, names: list[str]) -> bool:
    return all((await placements(client, names)).values())


async def node_zones(client: Client) -> dict[str, str]:
    nodes = (await client.list(NODES))["items"]
    return {
        n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes
    }


async def test_gpu_pods_land_only_on_gpu_nodes() -> None:
    gpus = NodeGroup(2, "gpu-", extended={"nvidia.com/gpu": "2"}, labels={"accelerator": "a100"})
    async with running_cluster(FakeNodesConfig(3, groups=[gpus]), controllers=[]) as cluster:
        names = [f"train-{i}" for i in range(4)]
        for name in names:
            await cluster.client.create(PODS, pod(name, limits={"nvidia.com/gpu": "1"}), "default")
        await eventually(lambda: all_bound(cluster.client, names))
        placed = await placements(cluster.client, names)
        assert all(str(node).startswith("gpu-") for node in placed.values())
        await cluster.client.create(
            PODS, pod("one-too-many", limits={"nvidia.com/gpu": "1"}), "default"
        )

        async def refused() -> bool:
            found = await cluster.client.get(PODS, "one-too-many", "default")
            conditions = found["status"].get("conditions") or []
            return any(c.get("reason") == "Unschedulable" for c in conditions)

        await eventually(refused)
        found = await cluster.client.get(PODS, "one-too-many", "default")
        (condition,) = [c for c in found["status"]["conditions"] if c["type"] == "PodScheduled"]
        assert condition["message"] == (
            "0/5 nodes are available: 5 Insufficient nvidia.com/gpu. preemption: 0/5 nodes are "
            "available: 2 No preemption victims found for incoming pod, 3 Preemption is not "
            "helpful for scheduling."
        )
        events = (await cluster.client.list(EVENTS, "default"))["items"]
        assert any(e["reason"] == "FailedScheduling" for e in events)


async def test_taints_repel_pods_without_tolerations() -> None:
    tainted = NodeGroup(
        2, "db-", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    )
    async with running_cluster(FakeNodesConfig(1, groups=[tainted]), controllers=[]) as cluster:
        names = [f"web-{i}" for i in range(5)]
        for name in names:
            await cluster.client.create(PODS, pod(name), "default")
        toleration = {
            "key": "dedicated",
            "operator": "Equal",
            "value": "db",
            "effect": "NoSchedule",
        }
        node_selector = {"kubernetes.io/hostname": "db-0"}
        await cluster.client.create(
            PODS, pod("db", tolerations=[toleration], nodeSelector=node_selector), "default"
        )
        await eventually(lambda: all_bound(cluster.client, [*names, "db"]))
        placed = await placements(cluster.client, names)
        assert set(placed.values()) == {"kyb-fake-node-0"}
        assert (await placements(cluster.client, ["db"]))["db"] == "db-0"


async def test_required_anti_affinity_spreads_replicas_across_zones() -> None:
    async with running_cluster(FakeNodesConfig(6), controllers=[]) as cluster:
        term = {
            "labelSelector": {"matchLabels": {"app": "cache"}},
            "topologyKey": "topology.kubernetes.io/zone",
        }
        affinity = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
        names = [f"cache-{i}" for i in range(3)]
        for name in names:
            await cluster.client.create(
                PODS, pod(name, labels={"app": "cache"}, affinity=affinity), "default"
            )
        await eventually(lambda: all_bound(cluster.client, names))
        zones = await node_zones(cluster.client)
        placed = await placements(cluster.client, names)
        assert sorted(zones[str(n)] for n in placed.values()) == ["zone-a", "zone-b", "zone-c"]
        await cluster.client.create(
            PODS, pod("cache-3", labels={"app": "cache"}, affinity=affinity), "default"
        )

        async def refused() -> bool:
            found = await cluster.client.get(PODS, "cache-3", "default")
            return any(
                c.get("reason") == "Unschedulable" for c in found["status"].get("conditions") or []
            )

        await eventually(refused)
        found = await cluster.client.get(PODS, "cache-3", "default")
        message = found["status"]["conditions"][0]["message"]
        assert "didn't match pod anti-affinity rules" in message


async def test_topology_spread_keeps_its_skew() -> None:
    async with running_cluster(FakeNodesConfig(3), controllers=[]) as cluster:
        constraint = {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "spread"}},
        }
        names = [f"s-{i}" for i in range(7)]
        for name in names:
            await cluster.client.create(
                PODS,
                pod(name, labels={"app": "spread"}, topologySpreadConstraints=[constraint]),
                "default",
            )
        await eventually(lambda: all_bound(cluster.client, names))
        zones = await node_zones(cluster.client)
        counts: dict[str, int] = {}
        for node in (await placements(cluster.client, names)).values():
            counts[zones[str(node)]] = counts.get(zones[str(node)], 0) + 1
        assert max(counts.values()) - min(counts.values()) <= 1
        assert sum(counts.values()) == 7


async def test_high_priority_pod_preempts_a_lower_one() -> None:
    async with running_cluster(FakeNodesConfig(2, cpu="1"), controllers=[]) as cluster:
        client = cluster.client
        await client.create(PRIORITYCLASSES, {"metadata": {"name": "low"}, "value": 10})
        await client.create(PRIORITYCLASSES, {"metadata": {"name": "high"}, "value": 1000})
        low = [f"low-{i}" for i in range(2)]
        for name in low:
            await client.create(PODS, pod(name, cpu="800m", priorityClassName="low"), "default")
        await eventually(lambda: all_bound(client, low))
        await client.create(PODS, pod("urgent", cpu="800m", priorityClassName="high"), "default")
        await eventually(lambda: all_bound(client, ["urgent"]), timeout=30)
        remaining = {p["metadata"]["name"] for p in (await client.list(PODS, "default"))["items"]}
        assert "urgent" in remaining
        assert len(remaining & set(low)) == 1  # exactly one victim was evicted
        events = (await client.list(EVENTS, "default"))["items"]
        assert any(e["reason"] == "Preempted" for e in events)


async def test_unschedulable_pod_is_placed_when_a_node_appears() -> None:
    async with running_cluster(FakeNodesConfig(1, cpu="1"), controllers=[]) as cluster:
        client = cluster.client
        await client.create(PODS, pod("big", cpu="4"), "default")

        async def unschedulable() -> bool:
            found = await client.get(PODS, "big", "default")
            return bool(found["status"].get("conditions"))

        await eventually(unschedulable)
        await client.create(
            NODES, {"metadata": {"name": "large", "labels": {"kubernetes.io/hostname": "large"}}}
        )
        node = await client.get(NODES, "large")
        capacity = {"cpu": "8", "memory": "16Gi", "pods": "110"}
        node["status"] = {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [{"type": "Ready", "status": "True"}],
        }
        await client.update_status(NODES, node)
        await eventually(lambda: all_bound(client, ["big"]))
        assert (await placements(client, ["big"]))["big"] == "large"
