"""ResourceQuota status.used kept by the resourcequota controller on a real API server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from kybernetes.api import errors
from kybernetes.client.resource import CONFIGMAPS, PODS, REPLICASETS, RESOURCEQUOTAS
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import running_apiserver


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    async with running_apiserver() as api, Client(api.url) as c:
        task = asyncio.ensure_future(ControllerManager(c, controllers=["resourcequota"]).run())
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


async def create_quota(client: Client, name: str, hard: dict[str, str]) -> None:
    """A quota, once the resourcequota controller has counted it (until then creates of
    what it limits are refused, as upstream)."""
    await client.create(
        RESOURCEQUOTAS, {"metadata": {"name": name}, "spec": {"hard": hard}}, "default"
    )

    async def counted() -> bool:
        status = (await client.get(RESOURCEQUOTAS, name, "default")).get("status") or {}
        return set(hard) <= set(status.get("used") or {})

    await eventually(counted)


async def test_creates_wait_until_the_quota_is_counted() -> None:
    async with running_apiserver() as api, Client(api.url) as c:
        await c.create(
            RESOURCEQUOTAS, {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "3"}}}, "default"
        )
        with pytest.raises(errors.Forbidden) as refused:
            await c.create(PODS, small_pod("early"), "default")
    assert str(refused.value) == (
        'pods "early" is forbidden: status unknown for quota: q, resources: pods'
    )


async def test_used_follows_creations_and_deletions(client: Client) -> None:
    hard = {"pods": "10", "requests.cpu": "2", "configmaps": "5", "count/deployments.apps": "3"}
    await create_quota(client, "q", hard)
    for i in range(2):
        pod = {
            "metadata": {"name": f"p{i}"},
            "spec": {
                "containers": [
                    {"name": "c", "image": "i", "resources": {"requests": {"cpu": "250m"}}}
                ]
            },
        }
        await client.create(PODS, pod, "default")
    await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}}, "default")

    async def used_is(expected: dict[str, str]) -> bool:
        status = (await client.get(RESOURCEQUOTAS, "q", "default")).get("status") or {}
        return status.get("used") == expected

    await eventually(
        lambda: used_is(
            {"pods": "2", "requests.cpu": "500m", "configmaps": "1", "count/deployments.apps": "0"}
        )
    )
    status = (await client.get(RESOURCEQUOTAS, "q", "default"))["status"]
    assert status["hard"] == hard
    await client.delete(PODS, "p0", "default", grace_period_seconds=0)
    await eventually(
        lambda: used_is(
            {"pods": "1", "requests.cpu": "250m", "configmaps": "1", "count/deployments.apps": "0"}
        )
    )


def small_pod(name: str, cpu: str | None = "500m") -> dict[str, Any]:
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "web", "image": "i", "resources": resources}]},
    }


async def test_creates_over_the_quota_are_refused(client: Client) -> None:
    hard = {"pods": "2", "requests.cpu": "1"}
    await create_quota(client, "compute", hard)
    await client.create(PODS, small_pod("a"), "default")
    await client.create(PODS, small_pod("b", "300m"), "default")
    with pytest.raises(errors.Forbidden) as refused:
        await client.create(PODS, small_pod("c"), "default")
    assert str(refused.value) == (
        'pods "c" is forbidden: exceeded quota: compute, requested: pods=1,requests.cpu=500m, '
        "used: pods=2,requests.cpu=800m, limited: pods=2,requests.cpu=1"
    )
    with pytest.raises(errors.NotFound):
        await client.get(PODS, "c", "default")


async def test_quota_on_compute_requires_requests(client: Client) -> None:
    hard = {"requests.cpu": "4"}
    await create_quota(client, "q", hard)
    with pytest.raises(errors.Forbidden) as refused:
        await client.create(PODS, small_pod("bare", None), "default")
    assert str(refused.value) == (
        'pods "bare" is forbidden: failed quota: q: must specify requests.cpu for: web'
    )


async def test_dry_run_is_checked_not_charged(client: Client) -> None:
    hard = {"pods": "1"}
    await create_quota(client, "q", hard)
    await client.create(PODS, small_pod("dry"), "default", dry_run=True)
    await client.create(PODS, small_pod("real"), "default")


async def test_replicaset_reports_replica_failure_when_quota_refuses() -> None:
    async with running_apiserver() as api, Client(api.url) as c:
        manager = ControllerManager(c, controllers=["replicaset", "resourcequota"])
        task = asyncio.ensure_future(manager.run())
        try:
            hard = {"pods": "2"}
            await create_quota(c, "q", hard)
            labels = {"app": "rs"}
            rs = {
                "metadata": {"name": "rs"},
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "c", "image": "i"}]},
                    },
                },
            }
            await c.create(REPLICASETS, rs, "default")

            async def failing() -> bool:
                status = (await c.get(REPLICASETS, "rs", "default")).get("status") or {}
                return any(
                    cond.get("type") == "ReplicaFailure" and cond.get("status") == "True"
                    for cond in status.get("conditions") or []
                )

            await eventually(failing)
            status = (await c.get(REPLICASETS, "rs", "default"))["status"]
            (condition,) = status["conditions"]
            assert condition["reason"] == "FailedCreate"
            assert "exceeded quota: q" in condition["message"]
            assert len((await c.list(PODS, "default"))["items"]) == 2
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
