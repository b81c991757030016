"""Patch semantics under concurrency, and immutable metadata.uid."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from kybernetes.api import errors
from kybernetes.client.resource import CONFIGMAPS, DEPLOYMENTS
from kybernetes.client.rest import Client
from kybernetes.testing.apiserver import running_apiserver


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    async with running_apiserver() as api, Client(api.url) as c:
        yield c


async def test_concurrent_patches_without_resource_version_all_apply(client: Client) -> None:
    await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}, "data": {}}, "default")
    await asyncio.gather(
        *(client.patch(CONFIGMAPS, "cm", {"data": {f"k{i}": str(i)}}, "default") for i in range(30))
    )
    data = (await client.get(CONFIGMAPS, "cm", "default"))["data"]
    assert data == {f"k{i}": str(i) for i in range(30)}


async def test_patch_naming_a_stale_resource_version_conflicts(client: Client) -> None:
    created = await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}}, "default")
    await client.patch(CONFIGMAPS, "cm", {"data": {"a": "1"}}, "default")
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}}
    with pytest.raises(errors.Conflict):
        await client.patch(CONFIGMAPS, "cm", {**stale, "data": {"b": "2"}}, "default")


async def test_uid_is_immutable(client: Client) -> None:
    await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}}, "default")
    other = "00000000-0000-0000-0000-000000000001"
    with pytest.raises(errors.Invalid) as invalid:
        await client.patch(CONFIGMAPS, "cm", {"metadata": {"uid": other}}, "default")
    assert (
        'metadata.uid: Invalid value: "00000000-0000-0000-0000-000000000001": field is immutable'
        in str(invalid.value)
    )


async def test_delete_without_preconditions_survives_concurrent_writes(client: Client) -> None:
    await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}, "data": {}}, "default")
    writers = [
        client.patch(CONFIGMAPS, "cm", {"data": {f"k{i}": "v"}}, "default") for i in range(30)
    ]
    results = await asyncio.gather(
        *writers, client.delete(CONFIGMAPS, "cm", "default"), return_exceptions=True
    )
    deleted = results[-1]
    assert not isinstance(deleted, BaseException), deleted
    assert all(r is None or not isinstance(r, errors.Conflict) for r in results)


async def test_scale_patches_retry_on_concurrent_writes(client: Client) -> None:
    labels = {"app": "s"}
    deployment = {
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    await client.create(DEPLOYMENTS, deployment, "default")
    writers = [
        client.patch(DEPLOYMENTS, "d", {"metadata": {"labels": {f"k{i}": "v"}}}, "default")
        for i in range(20)
    ]
    scales = [
        client.patch(DEPLOYMENTS, "d", {"spec": {"replicas": i}}, "default", subresource="scale")
        for i in range(2, 12)
    ]
    results = await asyncio.gather(*writers, *scales, return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)]
