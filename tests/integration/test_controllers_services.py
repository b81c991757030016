"""Endpoints, EndpointSlices and default ServiceAccounts, kept by their controllers on a real
API server (the test plays the kubelet by writing pod status)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from kybernetes.api import errors
from kybernetes.client.resource import (
    ENDPOINTS,
    ENDPOINTSLICES,
    NAMESPACES,
    PODS,
    SERVICEACCOUNTS,
    SERVICES,
)
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import running_apiserver

CONTROLLERS = ["endpoints", "endpointslice", "serviceaccount", "garbage-collector"]


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


async def run_pod(
    client: Client, name: str, ip: str, *, ready: bool, labels: dict[str, str]
) -> None:
    pod = {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "nodeName": "node-1",
            "containers": [
                {"name": "web", "image": "echo", "ports": [{"name": "http", "containerPort": 8080}]}
            ],
        },
    }
    created = await client.create(PODS, pod, "default")
    await set_ready(client, created, ip, ready)


async def set_ready(client: Client, pod: dict[str, Any], ip: str, ready: bool) -> None:
    current = await client.get(PODS, pod["metadata"]["name"], "default")
    current["status"] = {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    await client.update_status(PODS, current)


SERVICE = {
    "metadata": {"name": "web", "labels": {"tier": "front"}},
    "spec": {
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
    },
}


async def test_endpoints_follow_pod_readiness(client: Client) -> None:
    await client.create(SERVICES, SERVICE, "default")
    await run_pod(client, "web-1", "10.42.0.5", ready=True, labels={"app": "web"})
    await run_pod(client, "web-2", "10.42.0.4", ready=False, labels={"app": "web"})
    await run_pod(client, "other", "10.42.0.9", ready=True, labels={"app": "db"})

    async def subsets() -> list[dict[str, Any]]:
        try:
            return list((await client.get(ENDPOINTS, "web", "default")).get("subsets") or [])
        except errors.NotFound:
            return []

    async def shaped() -> bool:
        found = await subsets()
        return len(found) == 1 and "notReadyAddresses" in found[0] and "addresses" in found[0]

    await eventually(shaped)
    (subset,) = await subsets()
    assert [a["ip"] for a in subset["addresses"]] == ["10.42.0.5"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.42.0.4"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert subset["addresses"][0]["targetRef"]["name"] == "web-1"
    assert subset["addresses"][0]["nodeName"] == "node-1"
    endpoints = await client.get(ENDPOINTS, "web", "default")
    assert endpoints["metadata"]["labels"] == {"tier": "front"}

    await set_ready(client, {"metadata": {"name": "web-2"}}, "10.42.0.4", True)

    async def both_ready() -> bool:
        found = await subsets()
        return bool(found) and len(found[0].get("addresses", [])) == 2

    await eventually(both_ready)
    assert [a["ip"] for a in (await subsets())[0]["addresses"]] == ["10.42.0.4", "10.42.0.5"]

    await client.delete(SERVICES, "web", "default")

    async def endpoints_gone() -> bool:
        try:
            await client.get(ENDPOINTS, "web", "default")
        except errors.NotFound:
            return True
        return False

    await eventually(endpoints_gone)


async def test_endpointslices_mark_conditions_and_follow_the_service(client: Client) -> None:
    await client.create(SERVICES, SERVICE, "default")
    await run_pod(client, "web-1", "10.42.0.5", ready=True, labels={"app": "web"})

    async def slices() -> list[dict[str, Any]]:
        listed = await client.list(
            ENDPOINTSLICES, "default", label_selector="kubernetes.io/service-name=web"
        )
        return list(listed["items"])

    async def one_endpoint() -> bool:
        found = await slices()
        return len(found) == 1 and len(found[0]["endpoints"]) == 1

    await eventually(one_endpoint)
    (slice_,) = await slices()
    assert slice_["metadata"]["name"].startswith("web-")
    assert slice_["addressType"] == "IPv4"
    assert slice_["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    (endpoint,) = slice_["endpoints"]
    assert endpoint["addresses"] == ["10.42.0.5"]
    assert endpoint["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert slice_["metadata"]["ownerReferences"][0]["kind"] == "Service"
    labels = slice_["metadata"]["labels"]
    assert labels["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"

    await client.delete(SERVICES, "web", "default")

    async def no_slices() -> bool:
        return not await slices()

    await eventually(no_slices)


async def test_every_namespace_gets_a_default_service_account(client: Client) -> None:
    await client.create(NAMESPACES, {"metadata": {"name": "team-a"}})

    async def has_default() -> bool:
        try:
            await client.get(SERVICEACCOUNTS, "default", "team-a")
        except errors.NotFound:
            return False
        return True

    await eventually(has_default)
    await client.delete(SERVICEACCOUNTS, "default", "team-a")
    await eventually(has_default)
