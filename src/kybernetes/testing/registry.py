"""A real OCI registry on loopback for tests: Debian's ``docker-registry`` (distribution 2.8).

:class:`LocalRegistry` writes a config into a fresh temporary directory, starts the registry on
a free port of 127.0.0.1, and waits until ``/v2/`` answers. With ``auth="token"`` it also runs a
tiny token server (a thread in this process) that signs RS256 JWTs with a throwaway key whose
self-signed certificate the registry trusts (``rootcertbundle``): the full bearer-token flow
of Docker Hub, with basic credentials checked at the token endpoint (``users``) and anonymous
pulls allowed or not (``anonymous_pull``). With ``tls=True`` the registry serves HTTPS with a
certificate from a throwaway CA (``ca_file``).

Invariants: the registry process is remembered by PID and ended by that PID (SIGKILL) in
:meth:`LocalRegistry.stop`, which also stops the token server and removes the directory; should
the test process die first, the kernel kills the registry too (``setpriv --pdeathsig``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.client
import ipaddress
import json
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

SERVICE = "kybernetes-test-registry"
ISSUER = "kybernetes-test-token-issuer"


class RegistryError(RuntimeError):
    """The registry could not be started."""


def registry_binary() -> str | None:
    return shutil.which("docker-registry") or shutil.which("registry")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _self_signed(
    common_name: str, key: rsa.RSAPrivateKey, *, ca: bool, sans: list[x509.GeneralName] | None
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256())


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


class TokenServer:
    """The token endpoint of the bearer flow: ``GET /token?service=..&scope=..``."""

    def __init__(self, users: Mapping[str, str], anonymous_pull: bool) -> None:
        self.users = dict(users)
        self.anonymous_pull = anonymous_pull
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.cert = _self_signed("kybernetes test token signer", self.key, ca=True, sans=None)
        self.requests: list[dict[str, Any]] = []  # what was asked, for tests to check
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def issue(self, subject: str, scopes: list[str], allowed: set[str]) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            granted = [a for a in actions.split(",") if a in allowed]
            if kind == "repository" and name and granted:
                access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                user = server._authenticate(self.headers.get("Authorization", ""))
                server.requests.append({"user": user, "scope": query.get("scope", [])})
                if url.path != "/token" or user is None:
                    self.send_response(401 if user is None else 404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                allowed = {"pull", "push"} if user else {"pull"}
                token = server.issue(user or "anonymous", query.get("scope", []), allowed)
                body = json.dumps({"token": token, "access_token": token, "expires_in": 300})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def _authenticate(self, header: str) -> str | None:
        """The user name ("" for anonymous), or None when refused."""
        if not header:
            return "" if self.anonymous_pull or not self.users else None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user if self.users.get(user) == password else None


class LocalRegistry:
    """``docker-registry`` on 127.0.0.1, for the length of a ``with`` block."""

    def __init__(
        self,
        *,
        auth: Literal["none", "token"] = "none",
        users: Mapping[str, str] | None = None,
        anonymous_pull: bool = False,
        tls: bool = False,
        startup_timeout_s: float = 15.0,
    ) -> None:
        self.auth = auth
        self.users = dict(users or {})
        self.anonymous_pull = anonymous_pull
        self.tls = tls
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self.dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.token_server: TokenServer | None = None
        self.ca_file: Path | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``: the registry part of image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def blob_path(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes (for tests that corrupt one)."""
        assert self.dir is not None
        hexd = digest.partition(":")[2]
        return self.dir / "storage/docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"

    def start(self) -> Self:
        binary = registry_binary()
        if binary is None:
            raise RegistryError("docker-registry is not installed (Debian package docker-registry)")
        self.dir = Path(tempfile.mkdtemp(prefix="kyb-registry-"))
        self.port = _free_port()
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.dir / "storage")},
                "delete": {"enabled": True},
            },
            "http": {"addr": self.host, "secret": secrets.token_hex(16)},
        }
        if self.tls:
            config["http"]["tls"] = self._tls_files()
        if self.auth == "token":
            self.token_server = TokenServer(self.users, self.anonymous_pull)
            self.token_server.start()
            bundle = self.dir / "token-signer.pem"
            bundle.write_bytes(self.token_server.cert_pem())
            config["auth"] = {
                "token": {
                    "realm": self.token_server.realm,
                    "service": SERVICE,
                    "issuer": ISSUER,
                    "rootcertbundle": str(bundle),
                }
            }
        config_path = self.dir / "config.yml"
        config_path.write_text(json.dumps(config))  # JSON is YAML
        argv = [binary, "serve", str(config_path)]
        setpriv = shutil.which("setpriv")
        if setpriv:
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
        with open(self.dir / "registry.log", "wb") as log:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None
        if self.token_server is not None:
            self.token_server.stop()
            self.token_server = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def log_text(self) -> str:
        if self.dir is None or not (self.dir / "registry.log").exists():
            return ""
        return (self.dir / "registry.log").read_text(errors="replace")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _tls_files(self) -> dict[str, str]:
        assert self.dir is not None
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca = _self_signed("kybernetes test registry CA", ca_key, ca=True, sans=None)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.UTC)
        sans: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_file = self.dir / "ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (self.dir / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (self.dir / "tls.key").write_bytes(_pem_key(key))
        return {"certificate": str(self.dir / "tls.crt"), "key": str(self.dir / "tls.key")}

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RegistryError(f"docker-registry exited: {self.log_text()[-2000:]}")
            if self._status("/v2/") in (200, 401):
                return
            time.sleep(0.02)
        raise RegistryError(f"docker-registry did not answer in time: {self.log_text()[-2000:]}")

    def _status(self, path: str) -> int | None:
        conn: http.client.HTTPConnection
        if self.tls:
            assert self.ca_file is not None
            ctx = ssl.create_default_context(cafile=str(self.ca_file))
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=0.5, context=ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=0.5)
        try:
            conn.request("GET", path)
            return conn.getresponse().status
        except OSError:
            return None
        finally:
            conn.close()
