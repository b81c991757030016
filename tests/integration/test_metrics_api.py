"""metrics.k8s.io through a real API server: what ``kubectl top`` reads, from simulated nodes.

Usage comes from the ``kybernetes.io/fake-*`` annotations; the simulated nodes push a summary
every ``stats_interval`` seconds (short here, on the real clock).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kybernetes.agent.fake import FakeNodesConfig
from kybernetes.agent.stats.synthetic import CPU_ANNOTATION, MEMORY_ANNOTATION
from kybernetes.api import errors
from kybernetes.client.resource import PODS
from kybernetes.client.rest import Client
from kybernetes.testing.cluster import running_cluster

Obj = dict[str, Any]
METRICS = "/apis/metrics.k8s.io/v1beta1"


def _pod(name: str, annotations: dict[str, str], labels: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {
            "containers": [
                {"name": "app", "image": "busybox"},
                {"name": "side", "image": "busybox"},
            ]
        },
    }


async def _eventually(client: Client, path: str, check: Any, timeout: float = 10.0) -> Obj:
    async with asyncio.timeout(timeout):
        while True:
            try:
                doc = await client.request("GET", path)
                if check(doc):
                    return doc
            except errors.NotFound:
                pass
            await asyncio.sleep(0.05)


async def test_discovery_advertises_the_metrics_group() -> None:
    async with running_cluster(None, controllers=[], scheduler=False) as cluster:
        groups = await cluster.client.request("GET", "/apis")
        names = [g["name"] for g in groups["groups"]]
        assert "metrics.k8s.io" in names
        listed = await cluster.client.request("GET", METRICS)
        kinds = {r["name"]: r["kind"] for r in listed["resources"]}
        assert kinds == {"nodes": "NodeMetrics", "pods": "PodMetrics"}
        assert {r["name"]: r["namespaced"] for r in listed["resources"]} == {
            "nodes": False,
            "pods": True,
        }


async def test_top_nodes_and_pods_from_annotations() -> None:
    config = FakeNodesConfig(2, stats_interval=0.05)
    async with running_cluster(config, controllers=[]) as cluster:
        client = cluster.client
        await client.create(
            PODS,
            _pod(
                "busy", {CPU_ANNOTATION: "app=250,side=50", MEMORY_ANNOTATION: "64Mi"}, {"a": "1"}
            ),
            "default",
        )
        await client.create(PODS, _pod("idle", {}, {"a": "2"}), "default")
        listed = await _eventually(
            client,
            f"{METRICS}/namespaces/default/pods",
            lambda d: len(d["items"]) == 2,
        )
        assert listed["kind"] == "PodMetricsList"
        busy = next(i for i in listed["items"] if i["metadata"]["name"] == "busy")
        assert busy["metadata"]["labels"] == {"a": "1"}
        assert busy["containers"] == [
            {"name": "app", "usage": {"cpu": "250m", "memory": "64Mi"}},
            {"name": "side", "usage": {"cpu": "50m", "memory": "64Mi"}},
        ]
        assert busy["window"] == "0.05s"
        selected = await client.request(
            "GET", f"{METRICS}/namespaces/default/pods", query={"labelSelector": "a=2"}
        )
        assert [i["metadata"]["name"] for i in selected["items"]] == ["idle"]
        one = await client.request("GET", f"{METRICS}/namespaces/default/pods/busy")
        assert one["kind"] == "PodMetrics"
        with pytest.raises(errors.NotFound) as missing:
            await client.request("GET", f"{METRICS}/namespaces/default/pods/nope")
        assert 'podmetrics.metrics.k8s.io "default/nope" not found' in str(missing.value)

        nodes = await client.request("GET", f"{METRICS}/nodes")
        assert nodes["kind"] == "NodeMetricsList"
        assert len(nodes["items"]) == 2
        total = {i["metadata"]["name"]: i["usage"] for i in nodes["items"]}
        busy_node = (await client.get(PODS, "busy", "default"))["spec"]["nodeName"]
        assert total[busy_node]["cpu"] == "300m"

        # Usage follows the annotation.
        pod = await client.get(PODS, "busy", "default")
        pod["metadata"]["annotations"][CPU_ANNOTATION] = "1000"
        await client.update(PODS, pod)
        await _eventually(
            client,
            f"{METRICS}/namespaces/default/pods/busy",
            lambda d: d["containers"][0]["usage"]["cpu"] == "1",
        )


async def test_metrics_are_read_only_and_pushes_are_validated() -> None:
    async with running_cluster(None, controllers=[], scheduler=False) as cluster:
        with pytest.raises(errors.MethodNotSupported):
            await cluster.client.request("POST", f"{METRICS}/nodes", body={})
        with pytest.raises(errors.BadRequest):
            await cluster.client.request(
                "PUT", f"{METRICS}/nodes/n1/summary", body={"node": {"nodeName": "other"}}
            )
