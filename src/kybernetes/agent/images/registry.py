"""A client for the OCI distribution API (the registry side of ``docker pull``), over aiohttp.

It fetches manifests (by tag or digest, every media type the store understands) and blobs, and
answers authentication challenges (see ``auth.py``). Loopback registries and those configured as
insecure are spoken to over plain HTTP, every other one over HTTPS (with an extra CA when one
is configured). Transient failures (connection errors, timeouts, 429, 5xx) are retried a bounded
number of times with exponential back-off.

Invariant: nothing leaves this module unverified. A manifest fetched by digest must hash to it
and one fetched by tag must match the ``Docker-Content-Digest`` the registry announced; a blob
is streamed to a file while hashed and renamed into place only when size and sha256 match.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import os
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from kybernetes.agent.images.auth import (
    TokenCache,
    basic_header,
    has_credentials,
    parse_challenges,
    token_from_response,
)
from kybernetes.agent.images.digest import sha256_digest
from kybernetes.agent.images.interface import AuthConfig, ImageError, ImageNotFound
from kybernetes.agent.images.manifest import ACCEPT, MAX_DOCUMENT_BYTES, Descriptor
from kybernetes.agent.images.reference import Reference

log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RegistryConfig:
    #: registry hosts (``host:port``) spoken to over plain HTTP besides loopback ones
    insecure_registries: Sequence[str] = ()
    #: loopback registries that serve HTTPS (loopback ones are plain HTTP otherwise)
    secure_registries: Sequence[str] = ()
    #: a PEM file of extra CAs trusted for HTTPS registries
    ca_file: str | None = None
    attempts: int = 4
    backoff_s: float = 0.2
    connect_timeout_s: float = 10.0
    #: no bytes for this long ends a transfer (then it is retried)
    read_timeout_s: float = 60.0


class Unauthorized(ImageError):
    """The registry refused the credentials (or wants some and none were given)."""


class _Transient(Exception):
    """A failure worth another attempt."""


def is_loopback_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class RegistryClient:
    def __init__(self, config: RegistryConfig | None = None) -> None:
        self.config = config or RegistryConfig()
        self._session: aiohttp.ClientSession | None = None
        self._tokens = TokenCache()
        self._ssl: ssl.SSLContext | None = None
        if self.config.ca_file:
            self._ssl = ssl.create_default_context(cafile=self.config.ca_file)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def base_url(self, ref: Reference) -> str:
        host = ref.api_host
        insecure = host in self.config.insecure_registries or (
            is_loopback_host(host) and host not in self.config.secure_registries
        )
        return f"{'http' if insecure else 'https'}://{host}/v2/{ref.repository}"

    async def get_manifest(
        self, ref: Reference, obj: str, auth: AuthConfig | None = None
    ) -> tuple[bytes, str, str]:
        """(body, content type, digest) of the manifest ``obj`` (a tag or digest) of ``ref``."""
        url = f"{self.base_url(ref)}/manifests/{obj}"
        async with self._request(ref, url, {"Accept": ACCEPT}, auth) as resp:
            if resp.status == 404:
                raise ImageNotFound(f"{ref.name}:{obj}: manifest unknown")
            await _check(resp, f"manifest {ref.name}:{obj}")
            length = resp.content_length
            if length is not None and length > MAX_DOCUMENT_BYTES:
                raise ImageError(f"manifest {ref.name}:{obj} is too large ({length} bytes)")
            body = await resp.content.read(MAX_DOCUMENT_BYTES + 1)
            if len(body) > MAX_DOCUMENT_BYTES:
                raise ImageError(f"manifest {ref.name}:{obj} is too large")
            announced = resp.headers.get("Docker-Content-Digest", "")
            content_type = resp.headers.get("Content-Type", "")
        actual = sha256_digest(body)
        expected = obj if obj.startswith("sha256:") else announced
        if expected.startswith("sha256:") and expected != actual:
            raise ImageError(
                f"digest mismatch for manifest {ref.name}: expected {expected}, got {actual}"
            )
        return body, content_type, actual

    async def get_blob_bytes(
        self, ref: Reference, desc: Descriptor, auth: AuthConfig | None = None
    ) -> bytes:
        """A small blob (a config) in memory, verified."""
        if desc.size > MAX_DOCUMENT_BYTES:
            raise ImageError(f"blob {desc.digest} is too large to read into memory")
        url = f"{self.base_url(ref)}/blobs/{desc.digest}"
        async with self._request(ref, url, {}, auth) as resp:
            await _check(resp, f"blob {desc.digest}")
            body = await resp.content.read(desc.size + 1)
        if len(body) != desc.size or sha256_digest(body) != desc.digest:
            actual = sha256_digest(body)
            raise ImageError(
                f"digest mismatch for blob {desc.digest}: got {actual} ({len(body)} bytes)"
            )
        return body

    async def download_blob(
        self, ref: Reference, desc: Descriptor, dest: Path, auth: AuthConfig | None = None
    ) -> None:
        """Stream a blob into ``dest``; it exists afterwards only when it was verified.

        A transfer cut in the middle starts again from the beginning (bounded attempts).
        """
        delay = self.config.backoff_s
        for attempt in range(1, self.config.attempts + 1):
            try:
                await self._download_once(ref, desc, dest, auth)
                return
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as e:
                if attempt == self.config.attempts:
                    raise ImageError(f"blob {desc.digest}: {e or type(e).__name__}") from e
                log.info(
                    "blob download retried digest=%s attempt=%d error=%s", desc.digest, attempt, e
                )
                await asyncio.sleep(delay)
                delay *= 2

    async def _download_once(
        self, ref: Reference, desc: Descriptor, dest: Path, auth: AuthConfig | None
    ) -> None:
        url = f"{self.base_url(ref)}/blobs/{desc.digest}"
        partial = dest.with_name(dest.name + ".partial")
        try:
            async with self._request(ref, url, {}, auth) as resp:
                await _check(resp, f"blob {desc.digest}")
                digest = hashlib.sha256()
                size = 0
                # page-cache writes of 1 MiB chunks: cheaper inline than a thread hop per chunk
                with open(partial, "wb") as out:  # noqa: ASYNC230
                    async for chunk in resp.content.iter_chunked(_CHUNK):
                        size += len(chunk)
                        if size > desc.size:
                            raise ImageError(
                                f"blob {desc.digest} is larger than its {desc.size} bytes"
                            )
                        digest.update(chunk)
                        out.write(chunk)
            actual = "sha256:" + digest.hexdigest()
            if actual != desc.digest or size != desc.size:
                raise ImageError(
                    f"digest mismatch for blob: expected {desc.digest} ({desc.size} bytes), "
                    f"got {actual} ({size} bytes)"
                )
            os.rename(partial, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)

    # -- requests, retries, auth --------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.config.connect_timeout_s,
                sock_read=self.config.read_timeout_s,
            )
            self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=False)
        return self._session

    @contextlib.asynccontextmanager
    async def _request(
        self, ref: Reference, url: str, headers: dict[str, str], auth: AuthConfig | None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET ``url`` with auth and retries; yields a response that is not 401 or transient."""
        scope = f"repository:{ref.repository}:pull"
        delay = self.config.backoff_s
        for attempt in range(1, self.config.attempts + 1):
            try:
                resp = await self._authorized_get(ref, url, headers, auth, scope)
            except (aiohttp.ClientError, TimeoutError, _Transient) as e:
                if attempt == self.config.attempts:
                    raise ImageError(
                        f"GET {url}: {e or type(e).__name__} (after {attempt} attempts)"
                    ) from e
                log.info("registry request retried url=%s attempt=%d error=%s", url, attempt, e)
                await asyncio.sleep(delay)
                delay *= 2
                continue
            try:
                yield resp
            finally:
                resp.release()
            return

    async def _authorized_get(
        self, ref: Reference, url: str, headers: dict[str, str], auth: AuthConfig | None, scope: str
    ) -> aiohttp.ClientResponse:
        session = self._client()
        sent = dict(headers)
        cached = self._cached_auth(ref, scope, auth)
        if cached:
            sent["Authorization"] = cached
        resp = await session.get(url, headers=sent, ssl=self._ssl if self._ssl else True)
        if resp.status == 401:
            challenge = resp.headers.get("WWW-Authenticate", "")
            resp.release()
            sent["Authorization"] = await self._answer(ref, challenge, scope, auth)
            resp = await session.get(url, headers=sent, ssl=self._ssl if self._ssl else True)
            if resp.status == 401:
                resp.release()
                raise Unauthorized(f"{ref.registry}: unauthorized to pull {ref.repository}")
        if resp.status in _RETRY_STATUS:
            resp.release()
            raise _Transient(f"HTTP {resp.status}")
        return resp

    def _cached_auth(self, ref: Reference, scope: str, auth: AuthConfig | None) -> str | None:
        if auth is not None and auth.registry_token:
            return "Bearer " + auth.registry_token
        return self._tokens.get((ref.api_host, "", scope, _who(auth)))

    async def _answer(
        self, ref: Reference, header: str, scope: str, auth: AuthConfig | None
    ) -> str:
        challenges = {c.scheme: c for c in parse_challenges(header)}
        if "bearer" in challenges and challenges["bearer"].realm:
            ch = challenges["bearer"]
            params = {"scope": ch.params.get("scope") or scope}
            if ch.params.get("service"):
                params["service"] = ch.params["service"]
            req_headers = {}
            if auth is not None and has_credentials(auth):
                req_headers["Authorization"] = basic_header(auth.username, auth.password)
            async with self._client().get(
                ch.realm, params=params, headers=req_headers, ssl=self._ssl if self._ssl else True
            ) as resp:
                if resp.status in (401, 403):
                    raise Unauthorized(
                        f"{ref.registry}: token endpoint refused: HTTP {resp.status}"
                    )
                if resp.status in _RETRY_STATUS:
                    raise _Transient(f"token endpoint HTTP {resp.status}")
                await _check(resp, "token")
                doc: Any = await resp.json(content_type=None)
            try:
                token, ttl = token_from_response(doc)
            except ValueError as e:
                raise ImageError(f"{ref.registry}: {e}") from e
            self._tokens.put((ref.api_host, "", scope, _who(auth)), "Bearer " + token, ttl)
            return "Bearer " + token
        if "basic" in challenges:
            if auth is None or not has_credentials(auth):
                raise Unauthorized(f"{ref.registry}: credentials required")
            value = basic_header(auth.username, auth.password)
            self._tokens.put((ref.api_host, "", scope, _who(auth)), value, 3600.0)
            return value
        raise Unauthorized(f"{ref.registry}: unsupported authentication challenge {header!r}")


def _who(auth: AuthConfig | None) -> str:
    """Who a cached token belongs to: a hash of the credentials, never the password itself."""
    if auth is None or not has_credentials(auth):
        return ""
    return hashlib.sha256(f"{auth.username}\0{auth.password}".encode()).hexdigest()


async def _check(resp: aiohttp.ClientResponse, what: str) -> None:
    if resp.status == 404:
        raise ImageNotFound(f"{what}: not found")
    if resp.status >= 400:
        text = (await resp.content.read(512)).decode("utf-8", "replace").strip()
        raise ImageError(f"{what}: HTTP {resp.status}: {text}")
