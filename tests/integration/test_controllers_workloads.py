"""ReplicaSets, ReplicationControllers and Deployments converging on a real API server.

The ReplicaSet and Deployment controllers run in a ``ControllerManager``; the test plays the
kubelet (``Kubelet`` below): every pod it sees becomes Running and Ready through the status
subresource, after ``delay`` seconds, unless ``ready`` is off. Pods are never bound to a node,
so the API server deletes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest_asyncio

from kybernetes.api import errors
from kybernetes.api.meta import controller_of, now_rfc3339
from kybernetes.client.informer import Handler, Informer
from kybernetes.client.resource import (
    DEPLOYMENTS,
    EVENTS,
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
)
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import running_apiserver
from kybernetes.util.clock import Clock, FakeClock

Obj = dict[str, Any]
NS = "default"
CONTROLLERS = ["replicaset", "replicationcontroller", "deployment"]


@dataclass
class Kubelet:
    """Makes pods Running and Ready (when ``ready``) ``delay`` seconds after it sees them."""

    client: Client
    ready: bool = True
    delay: float = 0.0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def seen(self, pod: Obj) -> None:
        if not self.ready or pod["metadata"].get("deletionTimestamp"):
            return
        if (pod.get("status") or {}).get("phase") == "Running":
            return
        task = asyncio.ensure_future(self._start(pod))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self, pod: Obj) -> None:
        await asyncio.sleep(self.delay)
        now = now_rfc3339()
        status = {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
            ],
        }
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.patch(
                PODS, pod["metadata"]["name"], {"status": status}, NS, subresource="status"
            )


@dataclass
class Cluster:
    client: Client
    kubelet: Kubelet
    clock: Clock | None = None


@contextlib.asynccontextmanager
async def cluster(*, clock: Clock | None = None, ready: bool = True) -> AsyncIterator[Cluster]:
    async with running_apiserver() as api, Client(api.url) as client:
        kubelet = Kubelet(client, ready=ready)
        pods = Informer(client, PODS, namespace=NS)
        pods.add_handler(Handler(on_add=kubelet.seen, on_update=lambda _o, n: kubelet.seen(n)))
        manager = ControllerManager(client, controllers=CONTROLLERS, clock=clock)
        tasks = [asyncio.ensure_future(pods.run()), asyncio.ensure_future(manager.run())]
        try:
            yield Cluster(client, kubelet, clock)
        finally:
            for task in [*tasks, *kubelet._tasks]:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


@pytest_asyncio.fixture
async def c() -> AsyncIterator[Cluster]:
    async with cluster() as running:
        yield running


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


def template(labels: dict[str, str], image: str = "app:v1") -> Obj:
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def replicaset(name: str, replicas: int, labels: dict[str, str]) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": template(labels),
        },
    }


def deployment(name: str, replicas: int, **spec: Any) -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": template(labels, spec.pop("image", "app:v1")),
            **spec,
        },
    }


async def patch(client: Client, resource: Any, name: str, body: Any, **kw: Any) -> Obj:
    """PATCH, retried on Conflict: while controllers write the same object, the API server can
    answer a patch with 409 (it should retry a patch that names no resourceVersion itself)."""
    for _ in range(9):
        with contextlib.suppress(errors.Conflict):
            return await client.patch(resource, name, body, NS, **kw)
        await asyncio.sleep(0.01)
    return await client.patch(resource, name, body, NS, **kw)


async def pods_of(client: Client, selector: str) -> list[Obj]:
    items, _ = await client.list_all(PODS, NS, label_selector=selector)
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


async def owned_pods(client: Client, owner: Obj) -> list[Obj]:
    items, _ = await client.list_all(PODS, NS)
    uid = owner["metadata"]["uid"]
    return [p for p in items if (controller_of(p) or {}).get("uid") == uid]


def ready_count(pods: list[Obj]) -> int:
    return sum(
        1
        for p in pods
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (p.get("status") or {}).get("conditions") or ()
        )
    )


async def rs_status_is(client: Client, name: str, **want: int) -> bool:
    rs = await client.get(REPLICASETS, name, NS)
    status = rs.get("status") or {}
    return all(int(status.get(k) or 0) == v for k, v in want.items())


def condition(obj: Obj, type_: str) -> Obj:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond["type"] == type_:
            return dict(cond)
    return {}


async def rolled_out(client: Client, name: str) -> bool:
    """What ``kubectl rollout status`` checks before "successfully rolled out"."""
    d = await client.get(DEPLOYMENTS, name, NS)
    status, spec = d.get("status") or {}, d["spec"]
    return (
        int(status.get("observedGeneration") or 0) >= d["metadata"]["generation"]
        and int(status.get("updatedReplicas") or 0) == spec["replicas"]
        and int(status.get("replicas") or 0) == spec["replicas"]
        and int(status.get("availableReplicas") or 0) == spec["replicas"]
        and condition(d, "Progressing").get("reason") == "NewReplicaSetAvailable"
    )


async def replicasets_of(client: Client, name: str) -> list[Obj]:
    items, _ = await client.list_all(REPLICASETS, NS, label_selector=f"app={name}")
    return sorted(
        items,
        key=lambda rs: int(
            rs["metadata"]["annotations"].get("deployment.kubernetes.io/revision", "0")
        ),
    )


async def event_messages(client: Client, reason: str) -> list[str]:
    items, _ = await client.list_all(EVENTS, NS)
    return [e["message"] for e in items if e["reason"] == reason]


async def wait_events(client: Client, reason: str, count: int) -> list[str]:
    """The messages of ``count`` events of ``reason`` (events are written asynchronously)."""
    found: list[str] = []

    async def enough() -> bool:
        found[:] = await event_messages(client, reason)
        return len(found) >= count

    await eventually(enough)
    assert len(found) == count
    return found


# --------------------------------------------------------------------------------------------
# ReplicaSet and ReplicationController.


async def test_replicaset_creates_pods_and_replaces_a_deleted_one(c: Cluster) -> None:
    rs = await c.client.create(REPLICASETS, replicaset("web", 3, {"app": "web"}), NS)
    await eventually(
        lambda: rs_status_is(
            c.client,
            "web",
            replicas=3,
            readyReplicas=3,
            availableReplicas=3,
            fullyLabeledReplicas=3,
        )
    )
    pods = await owned_pods(c.client, rs)
    assert len(pods) == 3
    for pod in pods:
        assert pod["metadata"]["generateName"] == "web-"
        assert pod["metadata"]["labels"] == {"app": "web"}
        ref = controller_of(pod) or {}
        assert ref["kind"] == "ReplicaSet"
        assert ref["blockOwnerDeletion"] is True
    current = await c.client.get(REPLICASETS, "web", NS)
    assert current["status"]["observedGeneration"] == current["metadata"]["generation"]

    victim = pods[0]["metadata"]["name"]
    await c.client.delete(PODS, victim, NS)

    async def replaced() -> bool:
        names = {p["metadata"]["name"] for p in await owned_pods(c.client, rs)}
        return len(names) == 3 and victim not in names

    await eventually(replaced)
    await eventually(lambda: rs_status_is(c.client, "web", replicas=3, readyReplicas=3))
    created = await wait_events(c.client, "SuccessfulCreate", 4)
    assert all(m.startswith("Created pod: web-") for m in created)


async def test_replicaset_scales_2_to_10_to_0(c: Cluster) -> None:
    rs = await c.client.create(REPLICASETS, replicaset("scale", 2, {"app": "scale"}), NS)
    for size in (2, 10, 0):
        await patch(c.client, REPLICASETS, "scale", {"spec": {"replicas": size}})
        await eventually(
            partial(rs_status_is, c.client, "scale", replicas=size, readyReplicas=size)
        )
        assert len(await owned_pods(c.client, rs)) == size
    deleted = await wait_events(c.client, "SuccessfulDelete", 10)
    assert all(m.startswith("Deleted pod: scale-") for m in deleted)


async def test_replicaset_adopts_orphans_and_releases_mismatches(c: Cluster) -> None:
    orphan = {
        "metadata": {"name": "orphan", "labels": {"app": "adopt"}},
        "spec": template({})["spec"],
    }
    await c.client.create(PODS, orphan, NS)
    rs = await c.client.create(REPLICASETS, replicaset("adopt", 2, {"app": "adopt"}), NS)

    async def adopted() -> bool:
        pod = await c.client.get(PODS, "orphan", NS)
        return bool((controller_of(pod) or {}).get("uid") == rs["metadata"]["uid"])

    await eventually(adopted)
    await eventually(lambda: rs_status_is(c.client, "adopt", replicas=2, readyReplicas=2))
    assert len(await owned_pods(c.client, rs)) == 2  # one created, one adopted

    await patch(c.client, PODS, "orphan", {"metadata": {"labels": {"app": "gone"}}})

    async def released_and_replaced() -> bool:
        pod = await c.client.get(PODS, "orphan", NS)
        return controller_of(pod) is None and len(await owned_pods(c.client, rs)) == 2

    await eventually(released_and_replaced)
    assert (await c.client.get(PODS, "orphan", NS))["metadata"].get("ownerReferences") in (None, [])


async def test_replication_controller_keeps_its_replicas(c: Cluster) -> None:
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "legacy"},
        "spec": {
            "replicas": 2,
            "selector": {"app": "legacy"},
            "template": template({"app": "legacy"}),
        },
    }
    created = await c.client.create(REPLICATIONCONTROLLERS, rc, NS)

    async def ready() -> bool:
        status = (await c.client.get(REPLICATIONCONTROLLERS, "legacy", NS)).get("status") or {}
        return status.get("readyReplicas") == 2 and status.get("availableReplicas") == 2

    await eventually(ready)
    pods = await owned_pods(c.client, created)
    assert len(pods) == 2
    assert all((controller_of(p) or {}).get("kind") == "ReplicationController" for p in pods)


async def test_min_ready_seconds_delays_availability() -> None:
    async with cluster() as c:
        body = replicaset("slow", 2, {"app": "slow"})
        body["spec"]["minReadySeconds"] = 1
        await c.client.create(REPLICASETS, body, NS)
        await eventually(lambda: rs_status_is(c.client, "slow", readyReplicas=2))
        rs = await c.client.get(REPLICASETS, "slow", NS)
        assert int(rs["status"].get("availableReplicas") or 0) < 2
        # Requeued after the remaining time, not left for a resync.
        await eventually(lambda: rs_status_is(c.client, "slow", availableReplicas=2), timeout=5)


# --------------------------------------------------------------------------------------------
# Deployments.


async def test_deployment_creates_its_replicaset_and_becomes_available(c: Cluster) -> None:
    d = await c.client.create(DEPLOYMENTS, deployment("api", 3), NS)
    await eventually(lambda: rolled_out(c.client, "api"))
    (rs,) = await replicasets_of(c.client, "api")
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"api-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "api", "pod-template-hash": pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
    notes = rs["metadata"]["annotations"]
    assert notes["deployment.kubernetes.io/revision"] == "1"
    assert notes["deployment.kubernetes.io/desired-replicas"] == "3"
    assert notes["deployment.kubernetes.io/max-replicas"] == "4"  # 3 + 25% rounded up
    assert (controller_of(rs) or {}).get("uid") == d["metadata"]["uid"]
    current = await c.client.get(DEPLOYMENTS, "api", NS)
    assert current["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    status = current["status"]
    assert status["readyReplicas"] == 3
    assert "unavailableReplicas" not in status
    available = condition(current, "Available")
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")
    assert condition(current, "Progressing")["message"] == (
        f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.'
    )
    assert await wait_events(c.client, "ScalingReplicaSet", 1) == [
        f"Scaled up replica set {rs['metadata']['name']} to 3"
    ]
    pods = await pods_of(c.client, "app=api")
    assert len(pods) == 3
    assert all(p["metadata"]["labels"]["pod-template-hash"] == pod_hash for p in pods)


async def test_rolling_update_respects_max_surge_and_max_unavailable() -> None:
    """Sampled through watches: ready pods never drop below ``replicas - maxUnavailable`` and
    the ReplicaSets never ask for more than ``replicas + maxSurge`` pods.

    The surge bound is upstream's: it holds for the ReplicaSets' sizes, which is what the
    Deployment controller decides. Pod counts can briefly exceed it by what the ReplicaSet
    controller has not yet deleted (as upstream, where terminating pods also linger).
    """
    async with cluster() as c:
        c.kubelet.delay = 0.05
        spec = {
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1},
            }
        }
        await c.client.create(DEPLOYMENTS, deployment("roll", 4, **spec), NS)
        await eventually(lambda: rolled_out(c.client, "roll"))
        items, rv = await c.client.list_all(PODS, NS, label_selector="app=roll")
        pods = {p["metadata"]["name"]: p for p in items}
        sets, sets_rv = await c.client.list_all(REPLICASETS, NS, label_selector="app=roll")
        sizes = {rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in sets}
        ready_samples: list[int] = []
        size_samples: list[int] = []

        async def sample_pods() -> None:
            async for kind, pod in c.client.watch(
                PODS, NS, resource_version=rv, label_selector="app=roll"
            ):
                if kind == "DELETED":
                    pods.pop(pod["metadata"]["name"], None)
                elif kind in ("ADDED", "MODIFIED"):
                    pods[pod["metadata"]["name"]] = pod
                live = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]
                ready_samples.append(ready_count(live))

        async def sample_sets() -> None:
            async for kind, rs in c.client.watch(
                REPLICASETS, NS, resource_version=sets_rv, label_selector="app=roll"
            ):
                if kind in ("ADDED", "MODIFIED"):
                    sizes[rs["metadata"]["name"]] = rs["spec"]["replicas"]
                size_samples.append(sum(sizes.values()))

        watchers = [asyncio.ensure_future(sample_pods()), asyncio.ensure_future(sample_sets())]
        try:
            image = [
                {
                    "op": "replace",
                    "path": "/spec/template/spec/containers/0/image",
                    "value": "app:v2",
                }
            ]
            await patch(c.client, DEPLOYMENTS, "roll", image, patch_type="json")
            await eventually(lambda: rolled_out(c.client, "roll"), timeout=20)
            await asyncio.sleep(0.1)
        finally:
            for watcher in watchers:
                watcher.cancel()
            for watcher in watchers:
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        assert ready_samples, "the pod watch saw the rollout"
        assert size_samples, "the ReplicaSet watch saw the rollout"
        assert min(ready_samples) >= 4 - 1
        assert max(size_samples) <= 4 + 1
        final = await pods_of(c.client, "app=roll")
        assert len(final) == 4
        assert all(p["spec"]["containers"][0]["image"] == "app:v2" for p in final)
        old, new = await replicasets_of(c.client, "roll")
        assert old["spec"]["replicas"] == 0
        assert new["spec"]["replicas"] == 4
        assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        scaled = await event_messages(c.client, "ScalingReplicaSet")
        down = f"Scaled down replica set {old['metadata']['name']} to "
        assert any(m.startswith(down) and " from " in m for m in scaled)


async def test_recreate_removes_every_old_pod_before_creating_new_ones(c: Cluster) -> None:
    await c.client.create(DEPLOYMENTS, deployment("re", 3, strategy={"type": "Recreate"}), NS)
    await eventually(lambda: rolled_out(c.client, "re"))
    items, rv = await c.client.list_all(PODS, NS, label_selector="app=re")
    pods = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in items}
    mixed = False

    async def watch() -> None:
        nonlocal mixed
        async for kind, pod in c.client.watch(
            PODS, NS, resource_version=rv, label_selector="app=re"
        ):
            if kind == "DELETED":
                pods.pop(pod["metadata"]["name"], None)
            elif kind in ("ADDED", "MODIFIED"):
                pods[pod["metadata"]["name"]] = pod["spec"]["containers"][0]["image"]
            mixed = mixed or len(set(pods.values())) > 1

    watcher = asyncio.ensure_future(watch())
    try:
        image = [
            {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "app:v2"}
        ]
        await patch(c.client, DEPLOYMENTS, "re", image, patch_type="json")
        await eventually(lambda: rolled_out(c.client, "re"))
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    assert not mixed, "old and new pods never coexist"
    assert sorted(pods.values()) == ["app:v2"] * 3


async def rollout_undo(client: Client, name: str, to_revision: int = 0) -> None:
    """What ``kubectl rollout undo deployment/<name> [--to-revision=N]`` sends (kubectl 1.32)."""
    d = await client.get(DEPLOYMENTS, name, NS)
    owned = [
        rs
        for rs in await replicasets_of(client, name)
        if (controller_of(rs) or {}).get("uid") == d["metadata"]["uid"]
    ]
    by_revision = {
        int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]): rs for rs in owned
    }
    target = by_revision[to_revision or sorted(by_revision)[-2]]
    tmpl = target["spec"]["template"]
    tmpl["metadata"]["labels"].pop("pod-template-hash")
    skip = {
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
    notes = {k: v for k, v in d["metadata"].get("annotations", {}).items() if k in skip}
    notes.update(
        {k: v for k, v in target["metadata"].get("annotations", {}).items() if k not in skip}
    )
    body = [
        {"op": "replace", "path": "/spec/template", "value": tmpl},
        {"op": "replace", "path": "/metadata/annotations", "value": notes},
    ]
    await patch(client, DEPLOYMENTS, name, body, patch_type="json")


async def set_image(client: Client, name: str, image: str) -> None:
    image_patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}
    }
    await patch(client, DEPLOYMENTS, name, image_patch, patch_type="strategic")


async def test_rollback_to_an_earlier_revision(c: Cluster) -> None:
    await c.client.create(DEPLOYMENTS, deployment("undo", 2), NS)
    await eventually(lambda: rolled_out(c.client, "undo"))
    await set_image(c.client, "undo", "app:v2")
    await eventually(lambda: rolled_out(c.client, "undo"))
    first, second = await replicasets_of(c.client, "undo")

    await rollout_undo(c.client, "undo")
    await eventually(lambda: rolled_out(c.client, "undo"))
    d = await c.client.get(DEPLOYMENTS, "undo", NS)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "app:v1"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    revived = await c.client.get(REPLICASETS, first["metadata"]["name"], NS)
    notes = revived["metadata"]["annotations"]
    assert notes["deployment.kubernetes.io/revision"] == "3"
    assert notes["deployment.kubernetes.io/revision-history"] == "1"
    assert revived["spec"]["replicas"] == 2
    assert {p["spec"]["containers"][0]["image"] for p in await pods_of(c.client, "app=undo")} == {
        "app:v1"
    }

    await rollout_undo(c.client, "undo", to_revision=2)
    await eventually(lambda: rolled_out(c.client, "undo"))
    back = await c.client.get(REPLICASETS, second["metadata"]["name"], NS)
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    assert len(await replicasets_of(c.client, "undo")) == 2  # no new ReplicaSet was made


async def test_paused_deployment_scales_but_does_not_roll_out(c: Cluster) -> None:
    await c.client.create(DEPLOYMENTS, deployment("pause", 2), NS)
    await eventually(lambda: rolled_out(c.client, "pause"))
    await patch(c.client, DEPLOYMENTS, "pause", {"spec": {"paused": True}})

    async def paused() -> bool:
        d = await c.client.get(DEPLOYMENTS, "pause", NS)
        return condition(d, "Progressing").get("reason") == "DeploymentPaused"

    await eventually(paused)
    await set_image(c.client, "pause", "app:v2")
    await patch(c.client, DEPLOYMENTS, "pause", {"spec": {"replicas": 4}})
    await eventually(lambda: rs_status_is_any(c.client, "pause", 4))
    (rs,) = await replicasets_of(c.client, "pause")
    assert rs["spec"]["template"]["spec"]["containers"][0]["image"] == "app:v1"

    await patch(c.client, DEPLOYMENTS, "pause", {"spec": {"paused": False}})
    await eventually(lambda: rolled_out(c.client, "pause"))
    images = {p["spec"]["containers"][0]["image"] for p in await pods_of(c.client, "app=pause")}
    assert images == {"app:v2"}
    assert len(await replicasets_of(c.client, "pause")) == 2


async def rs_status_is_any(client: Client, name: str, replicas: int) -> bool:
    return any(rs["spec"]["replicas"] == replicas for rs in await replicasets_of(client, name))


async def test_progress_deadline_exceeded_on_a_fake_clock() -> None:
    clock = FakeClock(start=time.time())
    async with cluster(clock=clock, ready=False) as c:
        await c.client.create(DEPLOYMENTS, deployment("stuck", 2, progressDeadlineSeconds=30), NS)

        async def progressing() -> bool:
            d = await c.client.get(DEPLOYMENTS, "stuck", NS)
            return (d.get("status") or {}).get("updatedReplicas") == 2 and condition(
                d, "Progressing"
            ).get("reason") in ("ReplicaSetUpdated", "NewReplicaSetCreated")

        await eventually(progressing)
        d = await c.client.get(DEPLOYMENTS, "stuck", NS)
        assert condition(d, "Available")["reason"] == "MinimumReplicasUnavailable"

        async def timed_out() -> bool:
            clock.advance(5)
            d = await c.client.get(DEPLOYMENTS, "stuck", NS)
            return condition(d, "Progressing").get("reason") == "ProgressDeadlineExceeded"

        await eventually(timed_out, timeout=10)
        d = await c.client.get(DEPLOYMENTS, "stuck", NS)
        cond = condition(d, "Progressing")
        rs_name = (await replicasets_of(c.client, "stuck"))[0]["metadata"]["name"]
        assert cond["status"] == "False"
        assert cond["message"] == f'ReplicaSet "{rs_name}" has timed out progressing.'


async def test_revision_history_is_cleaned_up_oldest_first(c: Cluster) -> None:
    await c.client.create(DEPLOYMENTS, deployment("hist", 1, revisionHistoryLimit=1), NS)
    for image in ("app:v1", "app:v2", "app:v3"):
        if image != "app:v1":
            await set_image(c.client, "hist", image)
        await eventually(lambda: rolled_out(c.client, "hist"))

    async def trimmed() -> bool:
        return len(await replicasets_of(c.client, "hist")) == 2

    await eventually(trimmed)
    revisions = [
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        for rs in await replicasets_of(c.client, "hist")
    ]
    assert revisions == ["2", "3"]
