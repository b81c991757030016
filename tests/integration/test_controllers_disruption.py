"""PodDisruptionBudgets: the disruption controller's status and the eviction subresource."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from kybernetes.api import errors
from kybernetes.client.resource import PODDISRUPTIONBUDGETS, PODS
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import running_apiserver


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    async with running_apiserver() as api, Client(api.url) as c:
        task = asyncio.ensure_future(ControllerManager(c, controllers=["disruption"]).run())
        try:
            yield c
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


async def running_pod(client: Client, name: str, *, ready: bool = True) -> None:
    pod = {
        "metadata": {"name": name, "labels": {"app": "db"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
    }
    await client.create(PODS, pod, "default")
    current = await client.get(PODS, name, "default")
    current["status"] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    await client.update_status(PODS, current)


def eviction(name: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}


async def evict(client: Client, name: str) -> None:
    await client.create(PODS, eviction(name), "default", name=name, subresource="eviction")


async def pdb_status(client: Client) -> dict[str, Any]:
    return dict((await client.get(PODDISRUPTIONBUDGETS, "db", "default")).get("status") or {})


async def test_budget_status_and_evictions_that_respect_it(client: Client) -> None:
    for name in ("db-0", "db-1", "db-2"):
        await running_pod(client, name)
    pdb = {
        "metadata": {"name": "db"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "db"}}},
    }
    await client.create(PODDISRUPTIONBUDGETS, pdb, "default")

    async def one_allowed() -> bool:
        return (await pdb_status(client)).get("disruptionsAllowed") == 1

    await eventually(one_allowed)
    status = await pdb_status(client)
    assert (status["currentHealthy"], status["desiredHealthy"], status["expectedPods"]) == (3, 2, 3)
    assert status["conditions"][0]["reason"] == "SufficientPods"

    await evict(client, "db-0")
    with pytest.raises(errors.TooManyRequests) as refused:
        await evict(client, "db-1")
    assert str(refused.value) == "Cannot evict pod as it would violate the pod's disruption budget."
    causes = refused.value.details.causes if refused.value.details else ()
    assert causes[0].type == "DisruptionBudget"
    assert (await client.get(PODS, "db-1", "default"))["metadata"]["name"] == "db-1"
    assert "db-0" in (await pdb_status(client)).get("disruptedPods", {})


async def test_unready_pod_is_evicted_while_the_budget_is_healthy(client: Client) -> None:
    for name in ("db-0", "db-1"):
        await running_pod(client, name)
    await running_pod(client, "db-sick", ready=False)
    pdb = {
        "metadata": {"name": "db"},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "db"}}},
    }
    await client.create(PODDISRUPTIONBUDGETS, pdb, "default")

    async def processed() -> bool:
        return (await pdb_status(client)).get("observedGeneration") == 1

    await eventually(processed)
    with pytest.raises(errors.TooManyRequests):
        await evict(client, "db-0")
    await evict(client, "db-sick")  # not Ready: spends nothing


async def test_budget_without_controllers_fails_safe(client: Client) -> None:
    await running_pod(client, "db-0")
    selector = {"matchLabels": {"app": "db"}}
    pdb = {"metadata": {"name": "db"}, "spec": {"maxUnavailable": 1, "selector": selector}}
    await client.create(PODDISRUPTIONBUDGETS, pdb, "default")

    async def failed_safe() -> bool:
        conditions = (await pdb_status(client)).get("conditions") or [{}]
        return bool(conditions[0].get("reason") == "SyncFailed")

    await eventually(failed_safe)
    message = (await pdb_status(client))["conditions"][0]["message"]
    assert message == 'found no controllers for pod "db-0"'
    with pytest.raises(errors.TooManyRequests):
        await evict(client, "db-0")


async def test_pods_without_a_budget_are_simply_evicted(client: Client) -> None:
    await running_pod(client, "free")
    await evict(client, "free")
    pod = await client.get(PODS, "free", "default")
    assert pod["metadata"]["deletionTimestamp"]
