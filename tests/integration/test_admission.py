"""Pod admission plugins that read cluster state: Priority and DefaultTolerationSeconds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from kybernetes.api import errors
from kybernetes.client.resource import PODS, PRIORITYCLASSES
from kybernetes.client.rest import Client
from kybernetes.testing.apiserver import running_apiserver


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    async with running_apiserver() as api, Client(api.url) as c:
        yield c


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


async def test_system_priority_classes_exist(client: Client) -> None:
    node = await client.get(PRIORITYCLASSES, "system-node-critical")
    cluster = await client.get(PRIORITYCLASSES, "system-cluster-critical")
    assert (node["value"], cluster["value"]) == (2000001000, 2000000000)


async def test_priority_class_resolves_to_priority(client: Client) -> None:
    high = {"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"}
    await client.create(PRIORITYCLASSES, high)
    created = await client.create(PODS, pod("p", priorityClassName="high"), "default")
    assert created["spec"]["priority"] == 1000
    assert created["spec"]["preemptionPolicy"] == "Never"
    plain = await client.create(PODS, pod("plain"), "default")
    assert plain["spec"]["priority"] == 0


async def test_global_default_priority_class_applies_to_pods_without_one(client: Client) -> None:
    default = {"metadata": {"name": "everyone"}, "value": 7, "globalDefault": True}
    await client.create(PRIORITYCLASSES, default)
    created = await client.create(PODS, pod("p"), "default")
    assert created["spec"]["priorityClassName"] == "everyone"
    assert created["spec"]["priority"] == 7


async def test_unknown_priority_class_is_forbidden_and_nothing_stored(client: Client) -> None:
    with pytest.raises(errors.Forbidden) as refused:
        await client.create(PODS, pod("p", priorityClassName="nope"), "default")
    assert str(refused.value) == 'pods "p" is forbidden: no PriorityClass with name nope was found'
    with pytest.raises(errors.NotFound):
        await client.get(PODS, "p", "default")


async def test_default_toleration_seconds(client: Client) -> None:
    created = await client.create(PODS, pod("p"), "default")
    assert created["spec"]["tolerations"] == [
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
    ]
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    mine = await client.create(PODS, pod("q", tolerations=[own]), "default")
    keys = [t["key"] for t in mine["spec"]["tolerations"]]
    assert keys == ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"]
    assert "tolerationSeconds" not in mine["spec"]["tolerations"][0]
