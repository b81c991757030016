"""The garbage collector on a real API server: background, foreground and orphan deletion."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from kybernetes.api import errors
from kybernetes.client.resource import CONFIGMAPS, SECRETS
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import running_apiserver


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    async with running_apiserver() as api, Client(api.url) as c:
        manager = asyncio.ensure_future(
            ControllerManager(c, controllers=["garbage-collector"]).run()
        )
        try:
            yield c
        finally:
            manager.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await manager


def ref(owner: dict[str, Any], block: bool = False) -> dict[str, Any]:
    out = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    if block:
        out["blockOwnerDeletion"] = True
    return out


async def make(client: Client, name: str, *owners: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if owners:
        meta["ownerReferences"] = list(owners)
    return await client.create(CONFIGMAPS, {"metadata": meta, "data": {}}, "default")


async def gone(client: Client, name: str) -> bool:
    try:
        await client.get(CONFIGMAPS, name, "default")
    except errors.NotFound:
        return True
    return False


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


async def test_background_deletion_removes_dependents(client: Client) -> None:
    parent = await make(client, "parent")
    await make(client, "child", ref(parent))
    secret = {"metadata": {"name": "s", "ownerReferences": [ref(parent)]}, "data": {}}
    await client.create(SECRETS, secret, "default")
    await client.delete(CONFIGMAPS, "parent", "default")

    async def secret_gone() -> bool:
        try:
            await client.get(SECRETS, "s", "default")
        except errors.NotFound:
            return True
        return False

    await eventually(lambda: gone(client, "child"))
    await eventually(secret_gone)


async def test_orphan_deletion_keeps_dependents_without_the_reference(client: Client) -> None:
    parent = await make(client, "parent")
    await make(client, "child", ref(parent))
    await client.delete(CONFIGMAPS, "parent", "default", propagation_policy="Orphan")
    await eventually(lambda: gone(client, "parent"))
    child = await client.get(CONFIGMAPS, "child", "default")
    assert "ownerReferences" not in child["metadata"] or not child["metadata"]["ownerReferences"]


async def test_foreground_deletion_waits_for_blocking_dependents(client: Client) -> None:
    parent = await make(client, "parent")
    child = await make(client, "child", ref(parent, block=True))
    await make(client, "grandchild", ref(child, block=True))
    await client.delete(CONFIGMAPS, "parent", "default", propagation_policy="Foreground")
    still_there = await client.get(CONFIGMAPS, "parent", "default")
    assert still_there["metadata"]["deletionTimestamp"]
    assert "foregroundDeletion" in still_there["metadata"]["finalizers"]
    await eventually(lambda: gone(client, "parent"))
    assert await gone(client, "child")
    assert await gone(client, "grandchild")


async def test_dangling_reference_dropped_while_another_owner_lives(client: Client) -> None:
    a = await make(client, "owner-a")
    b = await make(client, "owner-b")
    await make(client, "shared", ref(a), ref(b))
    await client.delete(CONFIGMAPS, "owner-a", "default")

    async def one_owner_left() -> bool:
        obj = await client.get(CONFIGMAPS, "shared", "default")
        return [r["name"] for r in obj["metadata"].get("ownerReferences", [])] == ["owner-b"]

    await eventually(one_owner_left)


async def test_dependent_of_an_owner_that_never_existed_is_collected(client: Client) -> None:
    ghost = {"metadata": {"name": "ghost", "uid": "00000000-0000-0000-0000-000000000000"}}
    await make(client, "orphaned", ref(ghost))
    await eventually(lambda: gone(client, "orphaned"))
