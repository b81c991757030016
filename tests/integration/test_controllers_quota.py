"""ResourceQuota status.used kept by the resourcequota controller on a real API server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest_asyncio

from kybernetes.client.resource import CONFIGMAPS, PODS, RESOURCEQUOTAS
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


async def test_used_follows_creations_and_deletions(client: Client) -> None:
    hard = {"pods": "10", "requests.cpu": "2", "configmaps": "5", "count/deployments.apps": "3"}
    await client.create(
        RESOURCEQUOTAS, {"metadata": {"name": "q"}, "spec": {"hard": hard}}, "default"
    )
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
