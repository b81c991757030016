"""The pods/binding subresource, as the scheduler uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from kybernetes.api import errors
from kybernetes.client.resource import PODS
from kybernetes.client.rest import Client
from kybernetes.testing.apiserver import running_apiserver


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    async with running_apiserver() as api, Client(api.url) as c:
        yield c


def binding(pod: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": pod},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }


async def test_binding_assigns_the_node_once_and_marks_the_pod_scheduled(client: Client) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    await client.create(PODS, pod, "default")
    await client.create(PODS, binding("p", "n1"), "default", name="p", subresource="binding")
    bound = await client.get(PODS, "p", "default")
    assert bound["spec"]["nodeName"] == "n1"
    (scheduled,) = [c for c in bound["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled["status"] == "True"
    with pytest.raises(errors.Conflict) as conflict:
        await client.create(PODS, binding("p", "n2"), "default", name="p", subresource="binding")
    assert str(conflict.value).endswith('pod p is already assigned to node "n1"')


async def test_other_updates_still_cannot_set_the_node(client: Client) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    created = await client.create(PODS, pod, "default")
    created["spec"]["nodeName"] = "n1"
    with pytest.raises(errors.Invalid):
        await client.update(PODS, created)
