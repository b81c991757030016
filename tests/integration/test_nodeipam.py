"""The node IPAM controller on a real API server: Nodes without a pod CIDR are given one."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from kybernetes.client.resource import NODES
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import ControllerManager
from kybernetes.controllers.nodeipam import first_free
from kybernetes.testing.apiserver import running_apiserver


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    async with running_apiserver() as api, Client(api.url) as c:
        manager = asyncio.ensure_future(ControllerManager(c, controllers=["nodeipam"]).run())
        try:
            yield c
        finally:
            manager.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await manager


def node(name: str, cidr: str = "") -> dict[str, Any]:
    spec = {"podCIDR": cidr, "podCIDRs": [cidr]} if cidr else {}
    return {"metadata": {"name": name}, "spec": spec}


async def pod_cidr(client: Client, name: str) -> str:
    async with asyncio.timeout(10):
        while True:
            got = (await client.get(NODES, name)).get("spec", {}).get("podCIDR")
            if got:
                return str(got)
            await asyncio.sleep(0.02)


async def test_nodes_get_distinct_free_blocks_and_keep_their_own(client: Client) -> None:
    await client.create(NODES, node("own", "10.42.0.0/24"))
    await client.create(NODES, node("outside", "100.64.0.0/24"))
    await asyncio.gather(*(client.create(NODES, node(f"n{i}")) for i in range(3)))
    given = [await pod_cidr(client, f"n{i}") for i in range(3)]
    assert sorted(given) == ["10.42.1.0/24", "10.42.2.0/24", "10.42.3.0/24"]
    assert (await client.get(NODES, "n0"))["spec"]["podCIDRs"] == [given[0]]
    assert await pod_cidr(client, "own") == "10.42.0.0/24"
    # A deleted node's block is free again.
    await client.delete(NODES, "n0")
    await client.create(NODES, node("later"))
    assert await pod_cidr(client, "later") == given[0]


def test_first_free_skips_overlaps_and_reports_exhaustion() -> None:
    cluster = ipaddress.IPv4Network("10.42.0.0/30")
    assert first_free(cluster, 31, ["10.42.0.0/31"]) == ipaddress.IPv4Network("10.42.0.2/31")
    assert first_free(cluster, 31, ["10.42.0.0/16"]) is None
    unrelated = ["not a cidr", "fd00::/64", "100.64.0.0/24"]
    assert first_free(cluster, 31, unrelated) == ipaddress.IPv4Network("10.42.0.0/31")
