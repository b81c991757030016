"""The HorizontalPodAutoscaler on an in-process cluster with simulated nodes and a FakeClock.

Pod usage is set with the ``kybernetes.io/fake-cpu-millicores`` annotation; the simulated nodes
push it to metrics.k8s.io every (fake) second and the HPA syncs every (fake) second, so the
five-minute downscale stabilization window passes in zero wall time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest_asyncio

from kybernetes.agent.fake import FakeNodesConfig
from kybernetes.agent.stats.synthetic import CPU_ANNOTATION
from kybernetes.api.meta import get_condition
from kybernetes.client.resource import DEPLOYMENTS, EVENTS, PODS
from kybernetes.client.rest import Client
from kybernetes.controllers.hpa.controller import HPAS
from kybernetes.testing.cluster import running_cluster
from kybernetes.util.clock import FakeClock

Obj = dict[str, Any]
NS = "default"


@dataclass
class Cluster:
    client: Client
    clock: FakeClock

    async def eventually(
        self, check: Callable[[], Awaitable[bool]], timeout: float = 20.0, step: float = 0.1
    ) -> None:
        async with asyncio.timeout(timeout):
            while not await check():
                self.clock.advance(step)
                await asyncio.sleep(0.01)


@pytest_asyncio.fixture
async def cluster() -> AsyncIterator[Cluster]:
    clock = FakeClock(start=time.time())
    async with running_cluster(
        FakeNodesConfig(2, stats_interval=1.0),
        controllers=["deployment", "replicaset", "horizontal-pod-autoscaler"],
        clock=clock,
        controller_options={"horizontal_pod_autoscaler_sync_period": 1.0},
    ) as running:
        yield Cluster(running.client, clock)


def deployment(name: str, replicas: int) -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "busybox",
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                        }
                    ]
                },
            },
        },
    }


def hpa(name: str, behavior: Obj | None = None, **target: Any) -> Obj:
    spec: Obj = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": 1,
        "maxReplicas": 5,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": target or {"type": "Utilization", "averageUtilization": 50},
                },
            }
        ],
    }
    if behavior is not None:
        spec["behavior"] = behavior
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": spec,
    }


async def set_usage(client: Client, app: str, millicores: int) -> None:
    listed = await client.list(PODS, NS, label_selector=f"app={app}")
    for pod in listed["items"]:
        pod["metadata"].setdefault("annotations", {})[CPU_ANNOTATION] = str(millicores)
        await client.update(PODS, pod)


async def replicas(client: Client, name: str) -> int:
    got = await client.get(DEPLOYMENTS, name, NS)
    return int(got["spec"]["replicas"])


async def running_pods(client: Client, app: str) -> int:
    listed = await client.list(PODS, NS, label_selector=f"app={app}")
    return sum(1 for p in listed["items"] if (p.get("status") or {}).get("phase") == "Running")


async def test_scales_up_on_load_and_down_after_the_stabilization_window(
    cluster: Cluster,
) -> None:
    client = cluster.client
    await client.create(DEPLOYMENTS, deployment("web", 1), NS)

    async def one_running() -> bool:
        return await running_pods(client, "web") == 1

    await cluster.eventually(one_running)
    await client.create(HPAS, hpa("web"), NS)

    async def measuring() -> bool:
        status = (await client.get(HPAS, "web", NS)).get("status") or {}
        active = get_condition(status.get("conditions"), "ScalingActive")
        return active is not None and active["reason"] == "ValidMetricFound"

    await cluster.eventually(measuring)  # no load: 0 % wants 0 replicas; stays at 1
    assert await replicas(client, "web") == 1

    # Load: the pod uses 200 % of its request, four times the 50 % target -> 4 replicas.
    await set_usage(client, "web", 200)

    async def four() -> bool:
        return await replicas(client, "web") == 4

    await cluster.eventually(four)
    got = await client.get(HPAS, "web", NS)
    status = got["status"]
    assert status["desiredReplicas"] == 4
    assert status["lastScaleTime"]
    able = get_condition(status["conditions"], "AbleToScale")
    assert able is not None
    assert able["status"] == "True"
    active = get_condition(status["conditions"], "ScalingActive")
    assert active is not None
    assert active["reason"] == "ValidMetricFound"
    assert active["message"] == (
        "the HPA was able to successfully calculate a replica count from "
        "cpu resource utilization (percentage of request)"
    )

    async def rescale_event() -> bool:
        events = await client.list(EVENTS, NS)
        return any(
            e.get("reason") == "SuccessfulRescale"
            and e.get("message")
            == "New size: 4; reason: cpu resource utilization (percentage of request) above target"
            for e in events["items"]
        )

    await cluster.eventually(rescale_event)

    # The three new pods use nothing: 200m over 4 x 100m is 50 %, on target; it stays at 4.
    async def four_running() -> bool:
        return await running_pods(client, "web") == 4

    await cluster.eventually(four_running)
    for _ in range(20):
        cluster.clock.advance(1.0)
        await asyncio.sleep(0.02)
    assert await replicas(client, "web") == 4

    # Load gone: the recommendation drops to 1, but only after the 300 s window.
    await set_usage(client, "web", 0)
    for _ in range(60):
        cluster.clock.advance(1.0)
        await asyncio.sleep(0.02)
    assert await replicas(client, "web") == 4
    status = (await client.get(HPAS, "web", NS))["status"]
    able = get_condition(status["conditions"], "AbleToScale")
    assert able is not None
    assert able["reason"] == "ScaleDownStabilized"

    async def one() -> bool:
        return await replicas(client, "web") == 1

    await cluster.eventually(one, step=5.0)
    status = (await client.get(HPAS, "web", NS))["status"]
    assert status["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 0


async def test_scale_up_policy_limits_the_rate(cluster: Cluster) -> None:
    client = cluster.client
    await client.create(DEPLOYMENTS, deployment("api", 1), NS)

    async def running() -> bool:
        return await running_pods(client, "api") == 1

    await cluster.eventually(running)
    await set_usage(client, "api", 500)  # 500 % of the request: wants 10, capped at 5
    behavior = {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    await client.create(HPAS, hpa("api", behavior), NS)

    async def two() -> bool:
        return await replicas(client, "api") == 2

    await cluster.eventually(two)
    status = (await client.get(HPAS, "api", NS))["status"]
    limited = get_condition(status["conditions"], "ScalingLimited")
    assert limited is not None
    assert limited["status"] == "True"
    assert limited["reason"] == "ScaleUpLimit"
    # Within the same minute it stays at 2; the next period allows one more.
    for _ in range(30):
        cluster.clock.advance(1.0)
        await asyncio.sleep(0.02)
    assert await replicas(client, "api") == 2

    async def three() -> bool:
        return await replicas(client, "api") == 3

    await cluster.eventually(three, step=1.0)


async def test_missing_metrics_make_scaling_inactive(cluster: Cluster) -> None:
    client = cluster.client
    body = hpa("ghost")
    await client.create(HPAS, body, NS)

    async def failed_get_scale() -> bool:
        status = (await client.get(HPAS, "ghost", NS)).get("status") or {}
        able = get_condition(status.get("conditions"), "AbleToScale")
        return able is not None and able["reason"] == "FailedGetScale"

    await cluster.eventually(failed_get_scale)
    status = (await client.get(HPAS, "ghost", NS))["status"]
    able = get_condition(status["conditions"], "AbleToScale")
    assert able is not None
    assert able["message"] == (
        "the HPA controller was unable to get the target's current scale: "
        'deployments.apps "ghost" not found'
    )

    spec = deployment("ghost", 1)
    del spec["spec"]["template"]["spec"]["containers"][0]["resources"]
    await client.create(DEPLOYMENTS, spec, NS)

    async def missing_request() -> bool:
        status = (await client.get(HPAS, "ghost", NS)).get("status") or {}
        active = get_condition(status.get("conditions"), "ScalingActive")
        return active is not None and "missing request for cpu" in active.get("message", "")

    await cluster.eventually(missing_request)
    status = (await client.get(HPAS, "ghost", NS))["status"]
    active = get_condition(status["conditions"], "ScalingActive")
    assert active is not None
    assert active["status"] == "False"
    assert active["reason"] == "FailedGetResourceMetric"
    assert active["message"].startswith(
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        "missing request for cpu in container app of Pod ghost-"
    )
