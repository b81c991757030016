"""The real kubectl trusts our CA and SANs and authenticates with our client certificates.

A minimal aiohttp HTTPS server with :func:`ssl_server_context` serves ``/version`` only to a
request the authenticators recognise; ``kubectl version`` is run against it with kubeconfigs
we wrote.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kybernetes.apiserver.auth import (
    ClientCertAuthenticator,
    RequestFacts,
    TokenFileAuthenticator,
    UnionAuthenticator,
    UserInfo,
)
from kybernetes.client.kubeconfig import KubeconfigEntry, write_admin_kubeconfig, write_kubeconfig
from kybernetes.util.pki import ClusterPKI, ensure_cluster_pki, ssl_server_context

pytestmark = pytest.mark.slow

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-kyb",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}
TOKEN = "kyb-test-token-3f9a"


@dataclass
class Server:
    url: str
    pki: ClusterPKI
    seen: list[UserInfo | None] = field(default_factory=list)


def json_response(body: dict[str, Any], status: int = 200) -> web.Response:
    # Exactly application/json, no charset (api-compat.md section 1.3).
    return web.Response(
        status=status, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    pki = ensure_cluster_pki(tmp_path / "data", hosts=["127.0.0.1"])
    authn = UnionAuthenticator(
        [
            ClientCertAuthenticator(pki.ca.cert),
            TokenFileAuthenticator({TOKEN: UserInfo("token-user", "u1", ("dev",))}),
        ]
    )
    seen: list[UserInfo | None] = []

    async def version(request: web.Request) -> web.Response:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        peer = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        user = authn.authenticate(RequestFacts(peer, request.headers.get("Authorization")))
        seen.append(user)
        if user is None:
            return json_response(UNAUTHORIZED, status=401)
        return json_response(VERSION)

    app = web.Application()
    app.router.add_get("/version", version)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        site = web.SockSite(runner, sock, ssl_context=ssl_server_context(pki))
        await site.start()
        yield Server(f"https://127.0.0.1:{port}", pki, seen)
    finally:
        await runner.cleanup()
        sock.close()


async def kubectl_version(kubeconfig: Path, home: Path) -> tuple[int, str, str]:
    home.mkdir(exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        "kubectl",
        "version",
        "-o",
        "json",
        "--request-timeout=20s",
        "--kubeconfig",
        str(kubeconfig),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # No proxies, no user kubeconfig or cache: only what the test wrote.
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)},
    )
    try:
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_kubectl_version_with_admin_client_cert(server: Server, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    write_admin_kubeconfig(kubeconfig, server.url, server.pki)
    rc, stdout, err = await kubectl_version(kubeconfig, tmp_path / "home")
    assert rc == 0, err
    out = json.loads(stdout)
    assert out["serverVersion"]["gitVersion"] == "v1.32.0-kyb"
    assert out["serverVersion"]["minor"] == "32"
    assert out["clientVersion"]["major"] == "1"
    admin = UserInfo("admin", groups=("system:masters", "system:authenticated"))
    assert server.seen
    assert all(user == admin for user in server.seen)


async def test_kubectl_version_with_bearer_token(server: Server, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    entry = KubeconfigEntry(
        "kyb-token", "kyb", "token-user", server.url, server.pki.ca.cert_pem, token=TOKEN
    )
    write_kubeconfig(kubeconfig, entry)
    rc, stdout, err = await kubectl_version(kubeconfig, tmp_path / "home")
    assert rc == 0, err
    assert json.loads(stdout)["serverVersion"]["gitVersion"] == "v1.32.0-kyb"
    assert server.seen
    assert {u.name if u else None for u in server.seen} == {"token-user"}


async def test_kubectl_with_a_wrong_token_gets_401(server: Server, tmp_path: Path) -> None:
    # (A user with no credentials at all makes kubectl prompt for a username instead.)
    kubeconfig = tmp_path / "kubeconfig"
    entry = KubeconfigEntry(
        "anon", "kyb", "nobody", server.url, server.pki.ca.cert_pem, token="not-" + TOKEN
    )
    write_kubeconfig(kubeconfig, entry)
    rc, stdout, err = await kubectl_version(kubeconfig, tmp_path / "home")
    assert rc != 0
    assert "You must be logged in to the server" in err, err
    assert "v1.32.0-kyb" not in stdout
    assert server.seen
    assert all(u is None for u in server.seen)


async def test_kubectl_refuses_a_server_from_another_ca(server: Server, tmp_path: Path) -> None:
    other = ensure_cluster_pki(tmp_path / "other", hosts=[])
    kubeconfig = tmp_path / "kubeconfig"
    write_admin_kubeconfig(kubeconfig, server.url, other)
    rc, _, err = await kubectl_version(kubeconfig, tmp_path / "home")
    assert rc != 0
    assert "certificate signed by unknown authority" in err, err
    assert server.seen == []
