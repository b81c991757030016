"""Watch streams stay complete and ordered when events go straight to the socket.

The API server writes an event directly to each idle watcher's connection and queues it only
when the connection's send buffer is full; these tests drive both paths on a real server: many
watchers at once, and one client that stops reading while large events pile up, then catches
up and must see every event exactly once, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest_asyncio

from kybernetes.client.resource import CONFIGMAPS
from kybernetes.client.rest import Client
from kybernetes.testing.apiserver import RunningAPIServer, running_apiserver

PATH = "/api/v1/namespaces/default/configmaps"


@pytest_asyncio.fixture
async def api() -> AsyncIterator[RunningAPIServer]:
    async with running_apiserver() as running:
        yield running


async def watch_names(
    session: aiohttp.ClientSession, url: str, rv: str, count: int, pause: asyncio.Event | None
) -> list[tuple[str, str, int]]:
    """Read ``count`` events; (type, name, resourceVersion) in arrival order."""
    seen: list[tuple[str, str, int]] = []
    params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "60"}
    async with session.get(url + PATH, params=params) as resp:
        assert resp.status == 200
        if pause is not None:
            await pause.wait()
        async for line in resp.content:
            event = orjson.loads(line)
            meta = event["object"]["metadata"]
            seen.append((event["type"], meta["name"], int(meta["resourceVersion"])))
            if len(seen) == count:
                break
    return seen


async def test_many_watchers_see_every_event_in_order(api: RunningAPIServer) -> None:
    async with Client(api.url) as client, aiohttp.ClientSession() as session:
        rv = (await client.list(CONFIGMAPS, "default"))["metadata"]["resourceVersion"]
        watchers = [
            asyncio.create_task(watch_names(session, api.url, rv, 60, None)) for _ in range(50)
        ]
        await asyncio.sleep(0.3)
        for i in range(30):
            await client.create(CONFIGMAPS, {"metadata": {"name": f"cm-{i}"}}, "default")
            await client.patch(CONFIGMAPS, f"cm-{i}", {"data": {"k": "v"}}, "default")
        results = await asyncio.wait_for(asyncio.gather(*watchers), 30)
    expected = [(t, f"cm-{i}") for i in range(30) for t in ("ADDED", "MODIFIED")]
    for seen in results:
        assert [(t, n) for t, n, _ in seen] == expected
        revisions = [r for _, _, r in seen]
        assert revisions == sorted(set(revisions))


async def test_a_client_that_stops_reading_catches_up_in_order(api: RunningAPIServer) -> None:
    big = "x" * 100_000  # 200 events of 100 kB: far more than a socket buffer holds
    async with Client(api.url) as client, aiohttp.ClientSession() as session:
        rv = (await client.list(CONFIGMAPS, "default"))["metadata"]["resourceVersion"]
        pause = asyncio.Event()
        slow = asyncio.create_task(watch_names(session, api.url, rv, 200, pause))
        fast = asyncio.create_task(watch_names(session, api.url, rv, 200, None))
        await asyncio.sleep(0.3)
        for i in range(200):
            body = {"metadata": {"name": f"big-{i}"}, "data": {"k": big}}
            await client.create(CONFIGMAPS, body, "default")
        pause.set()
        seen_slow, seen_fast = await asyncio.wait_for(asyncio.gather(slow, fast), 60)
    names = [f"big-{i}" for i in range(200)]
    assert [n for _, n, _ in seen_slow] == names
    assert [n for _, n, _ in seen_fast] == names
