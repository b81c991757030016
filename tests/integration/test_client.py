"""The component machinery against a real API server: REST client, informers, leases, events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
import pytest_asyncio

from kybernetes.api import errors
from kybernetes.client.cache import NODE_NAME_INDEX, index_by_node_name
from kybernetes.client.events import WARNING, EventRecorder
from kybernetes.client.informer import Handler, Informer, InformerFactory
from kybernetes.client.leaderelection import LeaderElector
from kybernetes.client.resource import CONFIGMAPS, EVENTS, LEASES, PODS
from kybernetes.client.rest import Client
from kybernetes.storage.memory import MemoryStorage
from kybernetes.testing.apiserver import RunningAPIServer, running_apiserver
from kybernetes.util.clock import FakeClock


@pytest_asyncio.fixture
async def api() -> AsyncIterator[RunningAPIServer]:
    async with running_apiserver() as running:
        yield running


@pytest_asyncio.fixture
async def client(api: RunningAPIServer) -> AsyncIterator[Client]:
    async with Client(api.url) as c:
        yield c


def configmap(name: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {}}


def pod(name: str, node: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(coro: Awaitable[None]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.ensure_future(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_crud_and_errors_map_to_status_classes(client: Client) -> None:
    created = await client.create(CONFIGMAPS, configmap("a", {"k": "v"}), "default")
    assert created["metadata"]["resourceVersion"]
    with pytest.raises(errors.AlreadyExists):
        await client.create(CONFIGMAPS, configmap("a"), "default")
    got = await client.get(CONFIGMAPS, "a", "default")
    assert got["data"] == {"k": "v"}
    stale = dict(got, data={"k": "stale"})
    got["data"] = {"k": "w"}
    await client.update(CONFIGMAPS, got)
    with pytest.raises(errors.Conflict):
        await client.update(CONFIGMAPS, stale)
    patched = await client.patch(CONFIGMAPS, "a", {"data": {"x": "y"}}, "default")
    assert patched["data"] == {"k": "w", "x": "y"}
    with pytest.raises(errors.Invalid) as invalid:
        await client.create(CONFIGMAPS, configmap("Not_Valid"), "default")
    assert invalid.value.code == 422
    await client.delete(CONFIGMAPS, "a", "default")
    with pytest.raises(errors.NotFound):
        await client.get(CONFIGMAPS, "a", "default")


async def test_list_all_pages_through_everything(client: Client) -> None:
    for i in range(7):
        await client.create(CONFIGMAPS, configmap(f"cm-{i}"), "default")
    items, rv = await client.list_all(CONFIGMAPS, "default", page_size=3)
    assert sorted(i["metadata"]["name"] for i in items) == [f"cm-{i}" for i in range(7)]
    assert int(rv) > 0


async def test_watch_yields_events_and_raises_gone_for_expired_revisions() -> None:
    storage = MemoryStorage()
    for i in range(5):  # history the API server's watch cache never sees: it starts after it
        await storage.create(f"/registry/configmaps/default/old-{i}", orjson.dumps(configmap("x")))
    async with running_apiserver(storage) as api, Client(api.url) as client:
        await _watch_then_gone(client)
    await storage.close()


async def _watch_then_gone(client: Client) -> None:
    await client.create(CONFIGMAPS, configmap("w"), "default")
    seen: list[tuple[str, str]] = []
    async for kind, obj in client.watch(
        CONFIGMAPS, "default", field_selector="metadata.name=w", timeout_seconds=1
    ):
        seen.append((kind, obj["metadata"]["name"]))
        break
    assert seen == [("ADDED", "w")]
    # Revision 1 is older than anything the server's watch cache holds.
    with pytest.raises(errors.Gone):
        async for _ in client.watch(CONFIGMAPS, "default", resource_version="1", timeout_seconds=2):
            pass


async def test_informer_mirrors_and_notifies_in_order(client: Client) -> None:
    await client.create(PODS, pod("p1", "n1"), "default")
    informer = Informer(client, PODS, indexers={NODE_NAME_INDEX: index_by_node_name})
    events: list[tuple[str, str]] = []
    informer.add_handler(
        Handler(
            on_add=lambda o: events.append(("add", o["metadata"]["name"])),
            on_update=lambda old, new: events.append(("update", new["metadata"]["name"])),
            on_delete=lambda o: events.append(("delete", o["metadata"]["name"])),
        )
    )
    async with running(informer.run()):
        await asyncio.wait_for(informer.wait_synced(), 5)
        assert events == [("add", "p1")]
        await client.create(PODS, pod("p2", "n2"), "default")
        await client.patch(PODS, "p1", {"metadata": {"labels": {"a": "b"}}}, "default")
        await client.delete(PODS, "p2", "default", grace_period_seconds=0)
        await eventually(lambda: ("delete", "p2") in events)
        assert events == [("add", "p1"), ("add", "p2"), ("update", "p1"), ("delete", "p2")]
        on_n1 = informer.store.by_index(NODE_NAME_INDEX, "n1")
        assert [p["metadata"]["labels"] for p in on_n1] == [{"a": "b"}]
        assert informer.store.by_index(NODE_NAME_INDEX, "n2") == []


async def test_informer_relists_after_gone_and_reports_what_it_missed() -> None:
    storage = MemoryStorage()
    for i in range(5):
        await storage.create(f"/registry/pods/default/old-{i}", orjson.dumps(pod(f"old-{i}")))
    async with running_apiserver(storage) as api, Client(api.url) as client:
        await _relist(client)
    await storage.close()


async def _relist(client: Client) -> None:
    await client.create(CONFIGMAPS, configmap("keep"), "default")
    await client.create(CONFIGMAPS, configmap("drop"), "default")
    informer = Informer(client, CONFIGMAPS, namespace="default")
    deleted: list[str] = []
    informer.add_handler(Handler(on_delete=lambda o: deleted.append(o["metadata"]["name"])))
    await informer._list()  # the first list, without a watch running
    await client.delete(CONFIGMAPS, "drop", "default")
    await client.create(CONFIGMAPS, configmap("new"), "default")
    informer.resource_version = "1"  # as if the events since the list had been compacted away
    async with running(informer.run()):  # its watch gets 410 Gone, so it lists again
        await eventually(lambda: "default/new" in informer.store)
    assert deleted == ["drop"]
    assert sorted(informer.store.keys()) == ["default/keep", "default/new"]


async def test_factory_shares_informers_and_starts_late_ones(client: Client) -> None:
    factory = InformerFactory(client)
    pods = factory.informer(PODS)
    assert factory.informer(PODS) is pods
    async with running(factory.run()):
        await asyncio.wait_for(factory.wait_synced(), 5)
        late = factory.informer(CONFIGMAPS, "default")
        await asyncio.wait_for(late.wait_synced(), 5)
        await client.create(CONFIGMAPS, configmap("seen"), "default")
        await eventually(lambda: late.store.get_by_name("seen", "default") is not None)


async def _advance(clock: FakeClock, seconds: float, step: float = 0.5) -> None:
    """Move a fake clock forward in steps, letting real I/O finish between them."""
    moved = 0.0
    while moved < seconds:
        clock.advance(step)
        moved += step
        await asyncio.sleep(0.02)


async def test_leader_election_one_leader_and_takeover_after_silence(client: Client) -> None:
    clock = FakeClock()
    started: list[str] = []

    def work(name: str) -> Callable[[], Awaitable[None]]:
        async def lead() -> None:
            started.append(name)
            await asyncio.Event().wait()

        return lead

    a = LeaderElector(client, "sched", "a", clock=clock)
    b = LeaderElector(client, "sched", "b", clock=clock)
    task_a = asyncio.ensure_future(a.run(work("a")))
    await eventually(lambda: started == ["a"])
    async with running(b.run(work("b"))):
        await _advance(clock, 10)
        assert started == ["a"]
        assert a.is_leader
        assert not b.is_leader
        task_a.cancel()  # the leader dies without releasing its lease
        with contextlib.suppress(asyncio.CancelledError):
            await task_a
        await _advance(clock, 14)
        assert started == ["a"]  # the lease has not been silent for its whole duration yet
        await _advance(clock, 4)
        await eventually(lambda: started == ["a", "b"])
        lease = await client.get(LEASES, "sched", "kube-system")
        assert lease["spec"]["holderIdentity"] == "b"
        assert lease["spec"]["leaseTransitions"] == 1


async def test_event_recorder_aggregates_repeats(client: Client) -> None:
    target = await client.create(PODS, pod("ev"), "default")
    target.setdefault("kind", "Pod")
    target.setdefault("apiVersion", "v1")
    recorder = EventRecorder(client, "test-controller")
    for _ in range(3):
        recorder.event(target, WARNING, "BackOff", "Back-off restarting failed container")
    recorder.event(target, "Normal", "Pulled", "Container image pulled")
    await recorder.flush()
    listed = await client.list(EVENTS, "default")
    by_reason = {e["reason"]: e for e in listed["items"]}
    assert by_reason["BackOff"]["count"] == 3
    assert by_reason["BackOff"]["involvedObject"]["name"] == "ev"
    assert by_reason["BackOff"]["source"] == {"component": "test-controller"}
    assert by_reason["Pulled"]["count"] == 1
