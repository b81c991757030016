"""The nginx data plane against a real API server and a real nginx the controller starts.

The scenarios every data plane must pass are in ``test_ingress`` (run there against nginx too);
here: path rules of each type against both data planes (the rendered nginx locations must pick
what ``RouteTable`` picks), and what only nginx has — keep-alive on both sides, reloads while
clients keep sending, ``nginx -t`` keeping a bad configuration out, and nothing left behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from kybernetes.network.ingress import nginx as nginx_plane
from kybernetes.network.ingress.controller import INGRESSES
from kybernetes.network.ingress.nginx import NginxDataPlane
from tests.integration.test_ingress import (
    Backend,
    Cluster,
    eventually,
    get,
    ingress,
    path,
    routed,
    running,
)


@pytest_asyncio.fixture(params=["builtin", "nginx"])
async def either(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    async with running(request.param) as cluster:
        yield cluster


@pytest_asyncio.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """nginx in a state directory of the test's; afterwards its master and the directory are
    gone."""
    state = tmp_path / "ingress-nginx"
    async with running("nginx", state) as running_cluster:
        plane = running_cluster.controller.plane
        assert isinstance(plane, NginxDataPlane)
        assert plane.process is not None
        pid = plane.process.pid
        assert pid is not None
        assert (state / "nginx.conf").exists()
        assert (state / "tls").stat().st_mode & 0o777 == 0o700
        yield running_cluster
    assert not os.path.exists(f"/proc/{pid}"), "nginx master left running"
    assert not state.exists(), list(state.rglob("*"))


def plane_of(cluster: Cluster) -> NginxDataPlane:
    plane = cluster.controller.plane
    assert isinstance(plane, NginxDataPlane)
    return plane


async def test_path_types(either: Cluster) -> None:
    names = ("exact", "prefix", "deep", "impl", "root")
    backends = {name: await either.backend(name) for name in names}
    for name, backend in backends.items():
        await either.serve(name, [backend])
    rules = [
        path("/foo", "exact", "Exact"),
        path("/foo", "prefix"),
        path("/foo/bar/", "deep"),
        path("/impl", "impl", "ImplementationSpecific"),
        path("/", "root"),
    ]
    spec = {"rules": [{"host": "paths.test", "http": {"paths": rules}}]}
    await either.client.create(INGRESSES, ingress("paths", spec), "default")
    expected = {
        "/foo": "exact",  # Exact beats Prefix at equal length
        "/foo/": "prefix",
        "/foo/x": "prefix",
        "/foobar": "root",  # element-wise: /foo does not cover /foobar
        "/foo/bar": "deep",  # a trailing slash on a Prefix path is ignored
        "/foo/bar/baz": "deep",  # the longest prefix wins
        "/foo/barbaz": "prefix",
        "/impl/x?q=1": "impl",
        "/other": "root",
    }
    # The Ingress may reach the controller before some of its Services' endpoints do.
    for url_path, backend in expected.items():
        await routed(either, "paths.test", url_path, backend)
    async with aiohttp.ClientSession() as session:
        for url_path, backend in expected.items():
            status, body = await get(session, either.http + url_path, "paths.test")
            answered = body["backend"] if isinstance(body, dict) else body
            assert (url_path, status, answered) == (url_path, 200, backend)


async def test_keep_alive_to_clients_and_to_endpoints(cluster: Cluster) -> None:
    peers: set[tuple[str, int]] = set()

    async def hello(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername") if request.transport else ("", 0))
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        keep = Backend("keep", port=runner.addresses[0][1])
        await cluster.serve("keep", [keep])
        spec = {"rules": [{"host": "keep.test", "http": {"paths": [path("/", "keep")]}}]}
        await cluster.client.create(INGRESSES, ingress("keep", spec), "default")

        async def answers() -> bool:
            async with aiohttp.ClientSession() as session:
                status, _ = await get(session, cluster.http + "/", "keep.test")
            return status == 200

        await eventually(answers)
        peers.clear()
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", cluster.controller.ports["http"]
        )
        request = b"GET / HTTP/1.1\r\nHost: keep.test\r\n\r\n"
        for _ in range(20):  # one client connection, one request after the other
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            assert b"connection: close" not in head.lower()
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            assert await reader.readexactly(length) == b"hello"
        writer.close()
        await writer.wait_closed()
        # nginx reuses its connections to the endpoint (one per worker at most here).
        assert 1 <= len(peers) <= len(os.sched_getaffinity(0)), peers
    finally:
        await runner.cleanup()


async def test_reloads_while_clients_send_lose_no_request(cluster: Cluster) -> None:
    plane = plane_of(cluster)
    assert plane.process is not None
    pid = plane.process.pid
    a, b = await cluster.backend("a"), await cluster.backend("b")
    await cluster.serve("a", [a])
    await cluster.serve("b", [b])
    spec: dict[str, Any] = {"rules": [{"host": "reload.test", "http": {"paths": [path("/", "a")]}}]}
    await cluster.client.create(INGRESSES, ingress("reload", spec), "default")
    await routed(cluster, "reload.test", "/", "a")

    failures: list[str] = []
    stop = asyncio.Event()

    async def client_loop() -> int:
        sent = 0
        async with aiohttp.ClientSession() as session:  # keep-alive connections
            while not stop.is_set():
                sent += 1
                try:
                    status, _ = await get(session, cluster.http + "/", "reload.test")
                except aiohttp.ClientError as exc:
                    failures.append(repr(exc))
                    continue
                if status != 200:
                    failures.append(f"status {status}")
        return sent

    loops = [asyncio.create_task(client_loop()) for _ in range(4)]
    for i in range(10):  # ten configurations, each one reload
        await asyncio.sleep(0.15)
        current = await cluster.client.get(INGRESSES, "reload", "default")
        paths = current["spec"]["rules"][0]["http"]["paths"]
        paths.append(path(f"/v{i}", "b"))
        await cluster.client.update(INGRESSES, current)
    await routed(cluster, "reload.test", "/v9", "b")
    await asyncio.sleep(0.3)
    stop.set()
    sent = sum(await asyncio.gather(*loops))
    assert sent > 100
    assert failures == []
    assert plane.process.pid == pid  # reloaded, never restarted


async def test_a_configuration_nginx_rejects_never_replaces_the_running_one(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    plane = plane_of(cluster)
    old = await cluster.backend("old")
    await cluster.serve("old", [old])
    spec = {"rules": [{"host": "old.test", "http": {"paths": [path("/", "old")]}}]}
    await cluster.client.create(INGRESSES, ingress("old", spec), "default")
    await routed(cluster, "old.test", "/", "old")
    conf = plane.directory / "nginx.conf" if plane.directory else Path()
    running_text = conf.read_text()

    monkeypatch.setattr(nginx_plane, "render", lambda *_: "http { this is not nginx }\n")
    caplog.set_level(logging.ERROR, logger=nginx_plane.__name__)
    new = await cluster.backend("new")
    await cluster.serve("new", [new])
    spec = {"rules": [{"host": "new.test", "http": {"paths": [path("/", "new")]}}]}
    await cluster.client.create(INGRESSES, ingress("new", spec), "default")

    async def rejected() -> bool:
        return "nginx rejected a configuration" in caplog.text

    await eventually(rejected)
    assert conf.read_text() == running_text
    assert plane.process is not None
    assert plane.process.running
    async with aiohttp.ClientSession() as session:
        status, body = await get(session, cluster.http + "/", "old.test")
        assert (status, body["backend"]) == (200, "old")
        status, _ = await get(session, cluster.http + "/", "new.test")
        assert status == 404  # the new rule never went live

    monkeypatch.undo()  # the next change renders properly again and goes live
    await cluster.client.delete(INGRESSES, "old", "default")
    await routed(cluster, "new.test", "/", "new")
