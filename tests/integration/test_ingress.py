"""The ingress controller against a real API server, with small aiohttp backends on loopback.

The test plays the EndpointSlice controller: it writes selector-less Services and their
EndpointSlices pointing at backends it runs on 127.0.0.1, then sends requests through the
controller's listeners on free loopback ports. Every scenario runs against both data planes
(the in-project asyncio proxy and nginx, which must be installed).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import io
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kybernetes.api import errors
from kybernetes.client.resource import ENDPOINTSLICES, SECRETS, SERVICES
from kybernetes.client.rest import Client
from kybernetes.network.ingress import IngressConfig, IngressController, ensure_default_class
from kybernetes.network.ingress.controller import INGRESSCLASSES, INGRESSES
from kybernetes.testing.apiserver import running_apiserver

Obj = dict[str, Any]
NODE_IP = "192.0.2.10"  # only written into Ingress status; no traffic goes there


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


@dataclass
class Backend:
    """An aiohttp app on a free loopback port that says who it is and what it received."""

    name: str
    runner: web.AppRunner | None = None
    port: int = 0
    hits: int = 0

    async def start(self) -> Backend:
        app = web.Application()
        app.router.add_get("/ws", self._websocket)
        app.router.add_post("/upload", self._upload)
        app.router.add_get("/stream", self._stream)
        app.router.add_route("*", "/{tail:.*}", self._echo)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def _echo(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.json_response(
            {"backend": self.name, "path": request.path_qs, "headers": dict(request.headers)}
        )

    async def _upload(self, request: web.Request) -> web.Response:
        size = 0
        async for chunk in request.content.iter_any():
            size += len(chunk)
        return web.json_response({"backend": self.name, "size": size})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for i in range(100):
            await response.write(b"%05d" % i * 200)
        await response.write_eof()
        return response

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(f"{self.name}:{message.data}")
        return ws


def service(name: str, ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"ports": ports or [{"name": "http", "port": 80, "targetPort": 8080}]},
    }


def endpoint_slice(service_name: str, backend: Backend, *, terminating: bool = False) -> Obj:
    """One slice per backend: slices carry one port for all their endpoints, and every test
    backend listens on 127.0.0.1 on a port of its own."""
    conditions = {"ready": not terminating, "serving": True, "terminating": terminating}
    return {
        "metadata": {
            "name": f"{service_name}-{backend.name}",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": conditions}],
        "ports": [{"name": "http", "port": backend.port, "protocol": "TCP"}],
    }


def ingress(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": spec}


def path(p: str, svc: str, kind: str = "Prefix", port: int | str = 80) -> dict[str, Any]:
    key = "number" if isinstance(port, int) else "name"
    return {"path": p, "pathType": kind, "backend": {"service": {"name": svc, "port": {key: port}}}}


@dataclass
class Cluster:
    client: Client
    controller: IngressController
    backends: list[Backend] = field(default_factory=list)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.controller.ports['http']}"

    @property
    def https_port(self) -> int:
        return self.controller.ports["https"]

    async def backend(self, name: str) -> Backend:
        backend = await Backend(name).start()
        self.backends.append(backend)
        return backend

    async def serve(self, svc: str, backends: list[Backend]) -> None:
        """A Service whose endpoints are ``backends`` (all on one loopback port each)."""
        await self.client.create(SERVICES, service(svc), "default")
        for backend in backends:
            await self.client.create(ENDPOINTSLICES, endpoint_slice(svc, backend), "default")


@contextlib.asynccontextmanager
async def running(proxy: str, state_dir: Path | None = None) -> AsyncIterator[Cluster]:
    """An ingress controller with data plane ``proxy`` on a real API server, until closed."""
    config = IngressConfig(
        bind_address="127.0.0.1",
        http_port=0,
        https_port=0,
        status_addresses=(NODE_IP,),
        proxy=proxy,
        state_dir=state_dir,
    )
    async with running_apiserver() as api, Client(api.url) as client:
        await ensure_default_class(client)
        controller = IngressController(client, config)
        task = asyncio.create_task(controller.run())
        state = Cluster(client, controller)
        try:
            async with asyncio.timeout(10):
                await controller.ready.wait()
            yield state
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for backend in state.backends:
                await backend.stop()


@pytest_asyncio.fixture(params=["builtin", "nginx"])
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    """Each scenario against both data planes: the asyncio proxy and nginx."""
    async with running(request.param) as state:
        yield state


async def get(
    session: aiohttp.ClientSession, url: str, host: str, **kwargs: Any
) -> tuple[int, Any]:
    async with session.get(url, headers={"Host": host}, **kwargs) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def routed(cluster: Cluster, host: str, url_path: str, backend: str) -> None:
    """Wait until the controller has picked up a change and routes as expected. With nginx,
    also until its reload has completed: just after one, an old worker may still take a new
    connection with the old routes."""

    async def check() -> bool:
        async with aiohttp.ClientSession() as session:
            status, body = await get(session, cluster.http + url_path, host)
        routed = status == 200 and isinstance(body, dict) and body["backend"] == backend
        return routed and getattr(cluster.controller.plane, "settled", True)

    await eventually(check)


async def test_default_class_is_created_once(cluster: Cluster) -> None:
    ingress_class = await cluster.client.get(INGRESSCLASSES, "kybernetes")
    assert ingress_class["spec"]["controller"] == "kybernetes.io/ingress"
    annotations = ingress_class["metadata"]["annotations"]
    assert annotations["ingressclass.kubernetes.io/is-default-class"] == "true"
    await ensure_default_class(cluster.client)  # idempotent


async def test_host_and_path_routing_headers_errors_and_status(cluster: Cluster) -> None:
    web_backend, api_backend = await cluster.backend("web"), await cluster.backend("api")
    await cluster.serve("web", [web_backend])
    await cluster.serve("api", [api_backend])
    await cluster.client.create(SERVICES, service("empty"), "default")
    spec = {
        "rules": [
            {"host": "echo.example.com", "http": {"paths": [path("/", "web")]}},
            {
                "host": "*.apps.test",
                "http": {
                    "paths": [
                        path("/api", "api", port="http"),
                        path("/exact", "web", "Exact"),
                        path("/empty", "empty"),
                    ]
                },
            },
        ]
    }
    await cluster.client.create(INGRESSES, ingress("main", spec), "default")
    # Another controller's Ingress is ignored.
    other = ingress("other", {"ingressClassName": "nginx", **spec})
    other["spec"]["rules"] = [{"host": "other.test", "http": {"paths": [path("/", "web")]}}]
    await cluster.client.create(INGRESSES, other, "default")
    await routed(cluster, "echo.example.com", "/", "web")

    async with aiohttp.ClientSession() as session:
        status, body = await get(session, cluster.http + "/a/b?q=1", "echo.example.com")
        assert (status, body["backend"], body["path"]) == (200, "web", "/a/b?q=1")
        headers = body["headers"]
        assert headers["Host"] == "echo.example.com"
        assert headers["X-Forwarded-For"] == "127.0.0.1"
        assert headers["X-Real-IP"] == "127.0.0.1"
        assert headers["X-Forwarded-Host"] == "echo.example.com"
        assert headers["X-Forwarded-Proto"] == "http"
        assert headers["X-Forwarded-Port"] == str(cluster.controller.ports["http"])

        status, body = await get(session, cluster.http + "/api/users", "x.apps.test")
        assert (status, body["backend"]) == (200, "api")
        status, body = await get(session, cluster.http + "/exact", "y.apps.test")
        assert (status, body["backend"]) == (200, "web")
        status, _ = await get(session, cluster.http + "/exact/more", "y.apps.test")
        assert status == 404
        status, _ = await get(session, cluster.http + "/api", "a.b.apps.test")
        assert status == 404
        status, _ = await get(session, cluster.http + "/", "other.test")
        assert status == 404
        status, _ = await get(session, cluster.http + "/empty", "x.apps.test")
        assert status == 503

        # Big bodies both ways are streamed through.
        payload = b"x" * (3 * 1024 * 1024)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(payload), 100_000):
                yield payload[start : start + 100_000]

        for data in (io.BytesIO(payload), chunks()):  # Content-Length, then chunked
            async with session.post(
                cluster.http + "/upload", data=data, headers={"Host": "echo.example.com"}
            ) as response:
                assert (await response.json())["size"] == len(payload)
        async with session.get(
            cluster.http + "/stream", headers={"Host": "echo.example.com"}
        ) as response:
            assert len(await response.read()) == 100 * 1000

    async def status_written() -> bool:
        current = await cluster.client.get(INGRESSES, "main", "default")
        lb = (current.get("status") or {}).get("loadBalancer") or {}
        return lb.get("ingress") == [{"ip": NODE_IP}]

    await eventually(status_written)
    foreign = await cluster.client.get(INGRESSES, "other", "default")
    assert not (foreign.get("status") or {}).get("loadBalancer")


async def test_default_backend(cluster: Cluster) -> None:
    fallback = await cluster.backend("fallback")
    await cluster.serve("fallback", [fallback])
    spec = {"defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}}}
    await cluster.client.create(INGRESSES, ingress("catch-all", spec), "default")
    await routed(cluster, "anything.test", "/whatever", "fallback")


def make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test ingress CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def tls_secret(
    name: str, host: str, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(ca[1], hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    return {
        "metadata": {"name": name},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(cert_pem).decode(),
            "tls.key": base64.b64encode(key_pem).decode(),
        },
    }


async def test_tls_with_sni_for_two_hosts(cluster: Cluster) -> None:
    ca = make_ca()
    one, two = await cluster.backend("one"), await cluster.backend("two")
    await cluster.serve("one", [one])
    await cluster.serve("two", [two])
    for name, host in (("one-tls", "one.test"), ("two-tls", "two.test")):
        await cluster.client.create(SECRETS, tls_secret(name, host, ca), "default")
    spec = {
        "tls": [
            {"hosts": ["one.test"], "secretName": "one-tls"},
            {"hosts": ["two.test"], "secretName": "two-tls"},
        ],
        "rules": [
            {"host": "one.test", "http": {"paths": [path("/", "one")]}},
            {"host": "two.test", "http": {"paths": [path("/", "two")]}},
        ],
    }
    await cluster.client.create(INGRESSES, ingress("secure", spec), "default")
    trust = ssl.create_default_context(
        cadata=ca[0].public_bytes(serialization.Encoding.PEM).decode()
    )
    url = f"https://127.0.0.1:{cluster.https_port}/hello"

    async def answers(host: str) -> bool:
        try:
            async with aiohttp.ClientSession() as session:
                status, body = await get(session, url, host, ssl=trust, server_hostname=host)
        except aiohttp.ClientConnectorError:
            return False  # certificates not loaded yet: the fake one does not verify
        return status == 200 and body["backend"] == host.split(".")[0]

    await eventually(lambda: answers("one.test"))
    await eventually(lambda: answers("two.test"))
    async with aiohttp.ClientSession() as session:
        _, body = await get(session, url, "two.test", ssl=trust, server_hostname="two.test")
    assert body["headers"]["X-Forwarded-Proto"] == "https"

    # A host without a certificate gets the fake one, which the test CA does not trust.
    with pytest.raises(aiohttp.ClientConnectorError):
        async with aiohttp.ClientSession() as session:
            await get(session, url, "three.test", ssl=trust, server_hostname="three.test")


async def test_websocket_echo(cluster: Cluster) -> None:
    ws_backend = await cluster.backend("ws")
    await cluster.serve("ws", [ws_backend])
    spec = {"rules": [{"host": "ws.test", "http": {"paths": [path("/", "ws")]}}]}
    await cluster.client.create(INGRESSES, ingress("ws", spec), "default")
    await routed(cluster, "ws.test", "/", "ws")
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(cluster.http + "/ws", headers={"Host": "ws.test"}) as ws,
    ):
        for i in range(3):
            await ws.send_str(f"ping {i}")
            assert await ws.receive_str(timeout=5) == f"ws:ping {i}"


async def test_no_failed_requests_while_endpoints_change(cluster: Cluster) -> None:
    a, b = await cluster.backend("a"), await cluster.backend("b")
    await cluster.client.create(SERVICES, service("roll"), "default")

    async def write_slices(backends: list[Backend], terminating: tuple[str, ...] = ()) -> None:
        wanted = {f"roll-{backend.name}" for backend in backends}
        current = await cluster.client.list(ENDPOINTSLICES, "default")
        for item in current.get("items") or ():
            name = item["metadata"]["name"]
            if name.startswith("roll-") and name not in wanted:
                await cluster.client.delete(ENDPOINTSLICES, name, "default")
        for backend in backends:
            body = endpoint_slice("roll", backend, terminating=backend.name in terminating)
            try:
                await cluster.client.create(ENDPOINTSLICES, body, "default")
            except errors.AlreadyExists:
                old = await cluster.client.get(ENDPOINTSLICES, body["metadata"]["name"], "default")
                body["metadata"] = old["metadata"]
                await cluster.client.update(ENDPOINTSLICES, body)

    await write_slices([a, b])
    spec = {"rules": [{"host": "roll.test", "http": {"paths": [path("/", "roll")]}}]}
    await cluster.client.create(INGRESSES, ingress("roll", spec), "default")
    await routed(cluster, "roll.test", "/", "a")

    failures: list[str] = []
    seen: set[str] = set()
    stop = asyncio.Event()

    async def client_loop() -> int:
        sent = 0
        async with aiohttp.ClientSession() as session:
            while not stop.is_set() and sent < 2000:
                sent += 1
                try:
                    status, body = await get(session, cluster.http + "/", "roll.test")
                except aiohttp.ClientError as exc:
                    failures.append(repr(exc))
                    continue
                if status != 200:
                    failures.append(f"status {status}")
                else:
                    seen.add(body["backend"])
        return sent

    loops = [asyncio.create_task(client_loop()) for _ in range(4)]
    await asyncio.sleep(0.3)
    c = await cluster.backend("c")
    await write_slices([a, b, c])  # scale up
    await asyncio.sleep(0.3)
    await write_slices([a, b, c], terminating=("a",))  # a is going away
    await asyncio.sleep(0.3)
    await write_slices([b, c])
    await a.stop()  # the pod is gone; kept connections are closed
    await asyncio.sleep(0.3)
    await b.stop()  # b dies before its endpoint is removed: retried on c
    await asyncio.sleep(0.3)
    await write_slices([c])
    await asyncio.sleep(0.3)
    stop.set()
    sent = sum(await asyncio.gather(*loops))
    assert sent > 50
    assert failures == []
    assert {"a", "b", "c"} <= seen
