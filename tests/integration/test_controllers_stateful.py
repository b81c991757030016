"""StatefulSets and DaemonSets kept by their controllers on a real API server.

The test plays the kubelet: it writes pod status Running with Ready=True through the status
subresource, either pod by pod (to check ordering) or for every pod as it appears.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339
from kybernetes.client.resource import (
    CONTROLLERREVISIONS,
    DAEMONSETS,
    EVENTS,
    NODES,
    PERSISTENTVOLUMECLAIMS,
    PODS,
    STATEFULSETS,
)
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import running_apiserver

CONTROLLERS = ["statefulset", "daemonset", "garbage-collector"]
NS = "default"
Obj = dict[str, Any]


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    async with running_apiserver() as api, Client(api.url) as c:
        manager = asyncio.ensure_future(ControllerManager(c, controllers=CONTROLLERS).run())
        try:
            yield c
        finally:
            manager.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await manager


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


async def pod_or_none(client: Client, name: str) -> Obj | None:
    try:
        return await client.get(PODS, name, NS)
    except errors.NotFound:
        return None


async def make_ready(client: Client, name: str) -> None:
    """Play the kubelet for one pod: Running, every container started, Ready."""
    stamp = now_rfc3339(datetime.now(UTC))
    for _ in range(5):
        pod = await client.get(PODS, name, NS)
        pod["status"] = {
            **(pod.get("status") or {}),
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": stamp}],
        }
        try:
            await client.update_status(PODS, pod)
            return
        except errors.Conflict:
            continue


def is_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


@contextlib.asynccontextmanager
async def kubelet(client: Client) -> AsyncIterator[None]:
    """Mark every pod Running and Ready shortly after it appears."""

    async def loop() -> None:
        while True:
            for pod in (await client.list(PODS, NS))["items"]:
                if not is_ready(pod) and not pod["metadata"].get("deletionTimestamp"):
                    with contextlib.suppress(errors.NotFound):
                        await make_ready(client, pod["metadata"]["name"])
            await asyncio.sleep(0.02)

    task = asyncio.ensure_future(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def stateful_set(replicas: int, **spec: Any) -> Obj:
    return {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]},
            },
            **spec,
        },
    }


async def sts_status(client: Client) -> Obj:
    return dict((await client.get(STATEFULSETS, "web", NS)).get("status") or {})


async def test_ordered_creation_scale_down_and_replacement(client: Client) -> None:
    claim_template = {
        "metadata": {"name": "www"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    await client.create(STATEFULSETS, stateful_set(3, volumeClaimTemplates=[claim_template]), NS)

    for ordinal in range(3):
        name = f"web-{ordinal}"

        async def created(name: str = name) -> bool:
            return await pod_or_none(client, name) is not None

        await eventually(created)
        await asyncio.sleep(0.2)  # the next ordinal must wait for this one to be ready
        assert await pod_or_none(client, f"web-{ordinal + 1}") is None
        await make_ready(client, name)

    pod = await client.get(PODS, "web-1", NS)
    labels = pod["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert labels["apps.kubernetes.io/pod-index"] == "1"
    assert labels["controller-revision-hash"].startswith("web-")
    assert pod["spec"]["hostname"] == "web-1"
    assert pod["spec"]["subdomain"] == "web"
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}} in pod["spec"][
        "volumes"
    ]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    claim = await client.get(PERSISTENTVOLUMECLAIMS, "www-web-1", NS)
    assert claim["metadata"]["labels"] == {"app": "web"}
    assert "ownerReferences" not in claim["metadata"]  # whenDeleted/whenScaled: Retain

    async def all_ready() -> bool:
        status = await sts_status(client)
        return status.get("readyReplicas") == 3 and status.get("availableReplicas") == 3

    await eventually(all_ready)
    status = await sts_status(client)
    assert status["replicas"] == status["currentReplicas"] == status["updatedReplicas"] == 3
    assert (
        status["currentRevision"] == status["updateRevision"] == labels["controller-revision-hash"]
    )
    assert status["observedGeneration"] == 1
    revisions = (await client.list(CONTROLLERREVISIONS, NS))["items"]
    assert [r["metadata"]["name"] for r in revisions] == [status["updateRevision"]]
    assert revisions[0]["revision"] == 1

    async def event_recorded() -> bool:
        messages = {e["message"] for e in (await client.list(EVENTS, NS))["items"]}
        return {
            "create Pod web-0 in StatefulSet web successful",
            "create Claim www-web-0 Pod web-0 in StatefulSet web success",
        } <= messages

    await eventually(event_recorded)

    # Scale down: web-2 goes first, then web-1, one at a time.
    deleted: list[str] = []

    async def watch_deletions() -> None:
        async for kind, obj in client.watch(PODS, NS, resource_version="0"):
            if kind == "DELETED":
                deleted.append(obj["metadata"]["name"])

    watcher = asyncio.ensure_future(watch_deletions())
    await asyncio.sleep(0.1)
    await client.patch(STATEFULSETS, "web", {"spec": {"replicas": 1}}, NS)

    async def scaled_down() -> bool:
        return len(deleted) >= 2

    await eventually(scaled_down)
    watcher.cancel()
    assert deleted == ["web-2", "web-1"]
    assert await pod_or_none(client, "web-0") is not None
    assert (await client.get(PERSISTENTVOLUMECLAIMS, "www-web-2", NS))["metadata"]["name"]

    # A deleted pod comes back under the same name.
    old_uid = (await client.get(PODS, "web-0", NS))["metadata"]["uid"]
    await client.delete(PODS, "web-0", NS)

    async def replaced() -> bool:
        pod = await pod_or_none(client, "web-0")
        return pod is not None and pod["metadata"]["uid"] != old_uid

    await eventually(replaced)


async def test_claims_follow_the_retention_policy(client: Client) -> None:
    claim_template = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    policy = {"whenDeleted": "Retain", "whenScaled": "Delete"}
    the_set = stateful_set(
        2,
        volumeClaimTemplates=[claim_template],
        persistentVolumeClaimRetentionPolicy=policy,
        podManagementPolicy="Parallel",
    )
    async with kubelet(client):
        await client.create(STATEFULSETS, the_set, NS)

        async def ready() -> bool:
            return (await sts_status(client)).get("readyReplicas") == 2

        await eventually(ready)
        await client.patch(STATEFULSETS, "web", {"spec": {"replicas": 1}}, NS)

        async def claim_gone() -> bool:
            try:
                await client.get(PERSISTENTVOLUMECLAIMS, "data-web-1", NS)
            except errors.NotFound:
                return True
            return False

        await eventually(claim_gone)
        kept = await client.get(PERSISTENTVOLUMECLAIMS, "data-web-0", NS)
        assert "ownerReferences" not in kept["metadata"]


async def test_parallel_management_creates_all_at_once(client: Client) -> None:
    await client.create(STATEFULSETS, stateful_set(3, podManagementPolicy="Parallel"), NS)

    async def all_created() -> bool:
        return len((await client.list(PODS, NS))["items"]) == 3

    await eventually(all_created)
    names = sorted(p["metadata"]["name"] for p in (await client.list(PODS, NS))["items"])
    assert names == ["web-0", "web-1", "web-2"]


async def test_rolling_update_with_partition(client: Client) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    async with kubelet(client):
        await client.create(STATEFULSETS, stateful_set(3, updateStrategy=strategy), NS)

        async def ready(count: int) -> bool:
            return (await sts_status(client)).get("readyReplicas") == count

        await eventually(lambda: ready(3))
        first = (await sts_status(client))["currentRevision"]
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}}
        }
        await client.patch(STATEFULSETS, "web", patch, NS, patch_type="strategic")

        async def revision_of(name: str) -> str:
            pod = await pod_or_none(client, name)
            return "" if pod is None else str(pod["metadata"]["labels"]["controller-revision-hash"])

        async def partition_updated() -> bool:
            status = await sts_status(client)
            update = status.get("updateRevision")
            return (
                update != first
                and status.get("updatedReplicas") == 1
                and status.get("readyReplicas") == 3
                and await revision_of("web-2") == update
            )

        await eventually(partition_updated)
        status = await sts_status(client)
        assert status["currentRevision"] == first
        assert status["currentReplicas"] == 2
        assert await revision_of("web-0") == await revision_of("web-1") == first
        web2 = await client.get(PODS, "web-2", NS)
        assert web2["spec"]["containers"][0]["image"] == "nginx:2"

        await client.patch(
            STATEFULSETS,
            "web",
            {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}},
            NS,
        )

        async def rolled_out() -> bool:
            status = await sts_status(client)
            return (
                status.get("currentRevision") == status.get("updateRevision") != first
                and status.get("updatedReplicas") == 3
                and status.get("readyReplicas") == 3
            )

        await eventually(rolled_out)
        second = (await sts_status(client))["updateRevision"]
        numbers = {r["metadata"]["name"]: r["revision"] for r in await revisions(client)}
        assert numbers == {first: 1, second: 2}

        # Going back to the first template reuses its revision under a new number.
        back = {
            "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}}}
        }
        await client.patch(STATEFULSETS, "web", back, NS, patch_type="strategic")

        async def rolled_back() -> bool:
            status = await sts_status(client)
            return status.get("currentRevision") == first and status.get("updatedReplicas") == 3

        await eventually(rolled_back)
        numbers = {r["metadata"]["name"]: r["revision"] for r in await revisions(client)}
        assert numbers == {first: 3, second: 2}


async def revisions(client: Client) -> list[Obj]:
    return list((await client.list(CONTROLLERREVISIONS, NS))["items"])


# --- DaemonSets -------------------------------------------------------------------------------


async def make_node(
    client: Client, name: str, labels: dict[str, str], taints: list[Obj] | None = None
) -> None:
    node: Obj = {"metadata": {"name": name, "labels": labels}}
    if taints:
        node["spec"] = {"taints": taints}
    await client.create(NODES, node)


def daemon_set(**rolling: Any) -> Obj:
    return {
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "nodeSelector": {"disk": "ssd"},
                    "containers": [{"name": "agent", "image": "agent:1"}],
                },
            },
        },
    }


async def placements(client: Client) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = {}
    for pod in (await client.list(PODS, NS))["items"]:
        terms = pod["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"]
        out.setdefault(terms[0]["matchFields"][0]["values"][0], []).append(pod)
    return out


async def test_daemonset_places_pods_on_eligible_nodes_and_follows_them(client: Client) -> None:
    await make_node(client, "n1", {"disk": "ssd"})
    await make_node(
        client, "n2", {"disk": "ssd"}, [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    )
    await make_node(client, "n3", {"disk": "hdd"})
    await make_node(
        client,
        "n4",
        {"disk": "ssd"},
        [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}],
    )
    await client.create(DAEMONSETS, daemon_set(), NS)

    async def placed_on(nodes: set[str]) -> bool:
        found = await placements(client)
        return set(found) == nodes and all(len(p) == 1 for p in found.values())

    await eventually(lambda: placed_on({"n1", "n4"}))
    pod = (await placements(client))["n1"][0]
    assert pod["metadata"]["name"].startswith("agent-")
    assert pod["metadata"]["labels"]["controller-revision-hash"]
    tolerations = pod["spec"]["tolerations"]
    assert {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"} in (
        tolerations
    )
    assert {
        "key": "node.kubernetes.io/unschedulable",
        "operator": "Exists",
        "effect": "NoSchedule",
    } in tolerations
    assert "nodeName" not in pod["spec"]

    async def status_is(**expected: int) -> bool:
        status = (await client.get(DAEMONSETS, "agent", NS)).get("status") or {}
        return all(status.get(k) == v for k, v in expected.items())

    await eventually(
        lambda: status_is(
            desiredNumberScheduled=2,
            currentNumberScheduled=2,
            numberMisscheduled=0,
            numberReady=0,
            numberUnavailable=2,
            updatedNumberScheduled=2,
            observedGeneration=1,
        )
    )

    await make_node(client, "n5", {"disk": "ssd"})
    await eventually(lambda: placed_on({"n1", "n4", "n5"}))
    await client.delete(NODES, "n4")
    await eventually(lambda: placed_on({"n1", "n5"}))
    node = await client.get(NODES, "n3")
    node["metadata"]["labels"]["disk"] = "ssd"
    await client.update(NODES, node)
    await eventually(lambda: placed_on({"n1", "n3", "n5"}))

    async with kubelet(client):
        await eventually(lambda: status_is(numberReady=3, numberAvailable=3, numberUnavailable=0))


async def test_daemonset_rolling_update_keeps_at_most_one_node_unavailable(client: Client) -> None:
    for name in ("n1", "n2", "n3"):
        await make_node(client, name, {"disk": "ssd"})
    async with kubelet(client):
        await client.create(DAEMONSETS, daemon_set(maxUnavailable=1), NS)

        async def status() -> Obj:
            return dict((await client.get(DAEMONSETS, "agent", NS)).get("status") or {})

        async def all_ready() -> bool:
            return (await status()).get("numberAvailable") == 3

        await eventually(all_ready)
        first = {
            p["metadata"]["labels"]["controller-revision-hash"]
            for p in (await client.list(PODS, NS))["items"]
        }
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "agent:2"}]}}}
        }
        await client.patch(DAEMONSETS, "agent", patch, NS, patch_type="strategic")

        worst = 0

        async def rolled() -> bool:
            nonlocal worst
            found = await placements(client)
            ready_nodes = {node for node, pods in found.items() if any(is_ready(p) for p in pods)}
            worst = max(worst, 3 - len(ready_nodes))
            pods = [p for ps in found.values() for p in ps]
            hashes = {p["metadata"]["labels"]["controller-revision-hash"] for p in pods}
            return len(pods) == 3 and len(ready_nodes) == 3 and not hashes & first

        await eventually(rolled, timeout=20)
        assert worst <= 1
        await eventually(all_ready)
        final = await status()
        assert final["updatedNumberScheduled"] == 3
        assert final["observedGeneration"] == 2
        revisions = (await client.list(CONTROLLERREVISIONS, NS))["items"]
        assert sorted(r["revision"] for r in revisions) == [1, 2]
