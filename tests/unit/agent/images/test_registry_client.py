"""The registry client against a scripted fake registry: retries, verification, auth."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from kybernetes.agent.images.interface import AuthConfig, ImageError, ImageNotFound
from kybernetes.agent.images.manifest import OCI_MANIFEST, Descriptor
from kybernetes.agent.images.reference import parse
from kybernetes.agent.images.registry import (
    RegistryClient,
    RegistryConfig,
    Unauthorized,
    is_loopback_host,
)

MANIFEST = b'{"schemaVersion":2}'
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
BLOB = b"layer bytes" * 1000
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


class Fake:
    def __init__(self) -> None:
        self.fail_next = 0
        self.corrupt = False
        self.announce = MANIFEST_DIGEST
        self.auth: str | None = None  # "basic" or "bearer": demand it
        self.hits: list[str] = []
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v2/{repo:.+}/manifests/{ref}", self.manifest)
        app.router.add_get("/v2/{repo:.+}/blobs/{digest}", self.blob)
        app.router.add_get("/token", self.token)
        return app

    def _gate(self, request: web.Request) -> web.Response | None:
        self.hits.append(request.path)
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=503)
        header = request.headers.get("Authorization", "")
        if self.auth == "basic" and header != "Basic " + base64.b64encode(b"u:p").decode():
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        if self.auth == "bearer" and header != "Bearer good":
            challenge = f'Bearer realm="http://127.0.0.1:{self.port}/token",service="s"'
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        return None

    async def manifest(self, request: web.Request) -> web.StreamResponse:
        refused = self._gate(request)
        if refused is not None:
            return refused
        if request.match_info["ref"] == "missing":
            return web.Response(status=404)
        headers = {"Docker-Content-Digest": self.announce, "Content-Type": OCI_MANIFEST}
        return web.Response(body=MANIFEST, headers=headers)

    async def blob(self, request: web.Request) -> web.StreamResponse:
        refused = self._gate(request)
        if refused is not None:
            return refused
        body = BLOB[:-1] + b"X" if self.corrupt else BLOB
        return web.Response(body=body)

    async def token(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(f"token {request.query.get('scope')} {request.query.get('service')}")
        return web.json_response({"token": "good", "expires_in": 300})


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    server = Fake()
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server
    await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[RegistryClient]:
    c = RegistryClient(RegistryConfig(attempts=3, backoff_s=0.001))
    yield c
    await c.close()


def _ref(fake: Fake) -> str:
    return f"127.0.0.1:{fake.port}/team/app:1"


async def test_manifest_verified_against_announced_digest(
    fake: Fake, client: RegistryClient
) -> None:
    body, content_type, digest = await client.get_manifest(parse(_ref(fake)), "1")
    assert (body, content_type, digest) == (MANIFEST, OCI_MANIFEST, MANIFEST_DIGEST)
    fake.announce = "sha256:" + "0" * 64
    with pytest.raises(ImageError, match="digest mismatch"):
        await client.get_manifest(parse(_ref(fake)), "1")
    with pytest.raises(ImageError, match="digest mismatch"):  # asked by digest: must hash to it
        await client.get_manifest(parse(_ref(fake)), "sha256:" + "1" * 64)


async def test_missing_manifest(fake: Fake, client: RegistryClient) -> None:
    with pytest.raises(ImageNotFound):
        await client.get_manifest(parse(_ref(fake)), "missing")


async def test_transient_errors_retried_a_bounded_number_of_times(
    fake: Fake, client: RegistryClient
) -> None:
    fake.fail_next = 2
    await client.get_manifest(parse(_ref(fake)), "1")
    assert len(fake.hits) == 3
    fake.fail_next = 10
    with pytest.raises(ImageError, match="after 3 attempts"):
        await client.get_manifest(parse(_ref(fake)), "1")


async def test_blob_verified(fake: Fake, client: RegistryClient, tmp_path: Path) -> None:
    desc = Descriptor("x", BLOB_DIGEST, len(BLOB))
    await client.download_blob(parse(_ref(fake)), desc, tmp_path / "ok")
    assert (tmp_path / "ok").read_bytes() == BLOB
    fake.corrupt = True
    with pytest.raises(ImageError, match="digest mismatch"):
        await client.download_blob(parse(_ref(fake)), desc, tmp_path / "bad")
    assert list(tmp_path.iterdir()) == [tmp_path / "ok"]  # nothing partial left
    short = Descriptor("x", BLOB_DIGEST, 10)
    with pytest.raises(ImageError, match="larger"):
        await client.download_blob(parse(_ref(fake)), short, tmp_path / "short")


async def test_basic_auth(fake: Fake, client: RegistryClient) -> None:
    fake.auth = "basic"
    with pytest.raises(Unauthorized, match="credentials required"):
        await client.get_manifest(parse(_ref(fake)), "1")
    await client.get_manifest(parse(_ref(fake)), "1", AuthConfig("u", "p"))
    with pytest.raises(Unauthorized):
        await client.get_manifest(parse(_ref(fake)), "1", AuthConfig("u", "wrong"))


async def test_bearer_token_fetched_once_and_cached(fake: Fake, client: RegistryClient) -> None:
    fake.auth = "bearer"
    await client.get_manifest(parse(_ref(fake)), "1")
    await client.get_manifest(parse(_ref(fake)), "1")
    tokens = [h for h in fake.hits if h.startswith("token")]
    assert tokens == ["token repository:team/app:pull s"]


async def test_registry_token_used_as_is(fake: Fake, client: RegistryClient) -> None:
    fake.auth = "bearer"
    await client.get_manifest(parse(_ref(fake)), "1", AuthConfig(registry_token="good"))
    assert not [h for h in fake.hits if h.startswith("token")]


def test_loopback_hosts() -> None:
    assert is_loopback_host("127.0.0.1:5000")
    assert is_loopback_host("localhost")
    assert is_loopback_host("[::1]:5000")
    assert not is_loopback_host("registry.example.com:5000")
    assert RegistryClient().base_url(parse("localhost:5000/a")) == "http://localhost:5000/v2/a"
    assert RegistryClient().base_url(parse("quay.io/a/b")) == "https://quay.io/v2/a/b"
    assert RegistryClient().base_url(parse("busybox")).startswith("https://registry-1.docker.io/")
