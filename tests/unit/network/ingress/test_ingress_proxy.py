"""The proxy's data path against hand-written backends: framing, keep-alive, retries, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from kybernetes.network.ingress.endpoints import Address, Upstream
from kybernetes.network.ingress.proxy import Proxy, Snapshot, Timeouts
from kybernetes.network.ingress.routes import BackendRef, build_routes

REF = BackendRef("default", "web", 80)
INGRESS = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "rules": [
            {
                "host": "h.test",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "web", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ]
    },
}
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def backend(handler: Handler) -> AsyncIterator[int]:
    """A server running ``handler`` per connection; every connection is closed at the end."""
    tasks: set[asyncio.Task[object]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            tasks.add(task)
        try:
            await handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@contextlib.asynccontextmanager
async def proxy(*ports: int, timeouts: Timeouts | None = None) -> AsyncIterator[int]:
    p = Proxy(timeouts=timeouts)
    addresses = tuple(Address("127.0.0.1", port) for port in ports)
    p.snapshot = Snapshot(build_routes([INGRESS]), {REF: Upstream(REF, addresses)})
    server = await p.listen("127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await p.shutdown()


async def exchange(port: int, *requests: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for request in requests:
        writer.write(request)
    try:
        async with asyncio.timeout(5):
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def answer_once(response: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(response)
        await writer.drain()

    return handler


async def test_until_close_body_is_rechunked_for_http11_and_raw_for_http10() -> None:
    handler = await answer_once(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello")
    async with backend(handler) as port, proxy(port) as front:
        data = await exchange(front, b"GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n")
        assert b"Transfer-Encoding: chunked" in data
        assert data.endswith(b"5\r\nhello\r\n0\r\n\r\n")
        data = await exchange(front, b"GET / HTTP/1.0\r\nHost: h.test\r\n\r\n")
        assert b"chunked" not in data
        assert data.endswith(b"\r\n\r\nhello")


async def test_keep_alive_serves_pipelined_requests_in_order() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ")[1]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(path), path))

    async with backend(handler) as port, proxy(port) as front:
        data = await exchange(
            front,
            b"GET /one HTTP/1.1\r\nHost: h.test\r\n\r\n",
            b"GET /two HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
        )
    assert data.index(b"/one") < data.index(b"/two")
    assert data.count(b"HTTP/1.1 200 OK") == 2


async def test_connect_failure_moves_to_the_next_endpoint() -> None:
    handler = await answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    async with backend(handler) as live, backend(handler) as dead_port:
        pass  # closed again: nothing listens on dead_port any more
    async with backend(handler) as live, proxy(dead_port, live) as front:
        for _ in range(3):
            data = await exchange(
                front, b"GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n"
            )
            assert data.startswith(b"HTTP/1.1 200 OK")


async def test_silent_backend_is_a_504_and_unknown_host_a_404() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    timeouts = Timeouts(read=0.3)
    async with backend(silent) as port, proxy(port, timeouts=timeouts) as front:
        data = await exchange(front, b"GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 504")
        data = await exchange(
            front, b"GET / HTTP/1.1\r\nHost: nope.test\r\nConnection: close\r\n\r\n"
        )
        assert data.startswith(b"HTTP/1.1 404")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/3.0\r\nHost: h.test\r\n\r\n",
    ],
)
async def test_refused_requests(request_bytes: bytes) -> None:
    handler = await answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    async with backend(handler) as port, proxy(port) as front:
        data = await exchange(front, request_bytes)
    assert data.split(b" ")[1] in (b"400", b"505")
