"""The REST client every component uses: typed verbs over HTTPS, errors as ``StatusError``.

``Client`` speaks the Kubernetes REST API with one pooled aiohttp session (keep-alive, TLS from a
kubeconfig: cluster CA, client certificate or bearer token). Objects go in and come out as plain
dicts; a non-2xx answer raises the ``StatusError`` subclass its ``Status`` body names
(``NotFound``, ``Conflict``, ``AlreadyExists``, ``Gone``, ``Invalid``...), so callers write
``except NotFound`` exactly as they would against upstream with client-go.

``watch()`` yields ``(type, object)`` pairs from a chunked watch stream; an ``ERROR`` event is
raised as the error it carries (a compacted revision arrives as ``Gone``, which informers answer
by listing again). Lines are split by hand rather than with ``readline`` so an object of any
size fits in one event.

Invariant: one ``Client`` owns one session; ``close()`` (or leaving ``async with``) releases
every pooled connection, and a client is never used after it is closed.
"""

from __future__ import annotations

import builtins
import os
import ssl
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import aiohttp
import orjson

from kybernetes.api import errors
from kybernetes.client.kubeconfig import KubeconfigEntry, load_kubeconfig
from kybernetes.client.resource import Resource

JSON: Final = "application/json"
PATCH_TYPES: Final[Mapping[str, str]] = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


class Client:
    """An async Kubernetes REST client bound to one server and one identity."""

    def __init__(
        self,
        server: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        token: str | None = None,
        user_agent: str = "kybernetes",
        max_connections: int = 64,
    ) -> None:
        self.server = server.rstrip("/")
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        headers = {"User-Agent": user_agent, "Accept": JSON}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._headers = headers
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_kubeconfig(
        cls, path: Path, context: str | None = None, *, user_agent: str = "kybernetes"
    ) -> Client:
        """A client for the context (current one unless named) of the kubeconfig at ``path``."""
        return cls.from_entry(load_kubeconfig(path, context), user_agent=user_agent)

    @classmethod
    def from_entry(cls, entry: KubeconfigEntry, *, user_agent: str = "kybernetes") -> Client:
        """A client for one resolved kubeconfig context."""
        ctx: ssl.SSLContext | None = None
        if entry.server.startswith("https://"):
            ctx = tls_client_context(
                entry.certificate_authority,
                entry.client_certificate,
                entry.client_key,
                insecure=entry.insecure_skip_tls_verify,
            )
        return cls(entry.server, ssl_context=ctx, token=entry.token, user_agent=user_agent)

    # --- lifecycle -------------------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, ssl=self._ssl, enable_cleanup_closed=True
            )
            session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                json_serialize=lambda value: orjson.dumps(value).decode(),
            )
            self._session = session
        return session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- the verbs -------------------------------------------------------------------------

    async def get(
        self, resource: Resource, name: str, namespace: str | None = None, *, subresource: str = ""
    ) -> dict[str, Any]:
        return await self.request("GET", resource.path(namespace, name, subresource))

    async def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """One page of the collection (a ``*List`` object with ``metadata.continue``)."""
        query = _query(
            labelSelector=label_selector,
            fieldSelector=field_selector,
            limit=limit,
            resourceVersion=resource_version,
        )
        if continue_:
            query["continue"] = continue_
        return await self.request("GET", resource.path(namespace), query=query)

    async def list_all(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """Every item, page by page; returns the items and the list's resourceVersion."""
        items: builtins.list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = await self.list(
                resource,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                limit=page_size,
                continue_=token,
            )
            items.extend(page.get("items") or ())
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                return items, str(meta.get("resourceVersion", ""))

    async def create(
        self,
        resource: Resource,
        obj: Mapping[str, Any],
        namespace: str | None = None,
        *,
        name: str | None = None,
        subresource: str = "",
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """POST ``obj`` to the collection (or to ``name``'s ``subresource``, e.g. binding)."""
        ns = namespace if namespace is not None else _namespace_of(obj)
        path = resource.path(ns, name, subresource) if subresource else resource.path(ns)
        query = _query(fieldManager=field_manager, dryRun="All" if dry_run else None)
        return await self.request("POST", path, query=query, body=obj)

    async def update(
        self,
        resource: Resource,
        obj: Mapping[str, Any],
        *,
        subresource: str = "",
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        """PUT ``obj`` (its ``resourceVersion`` makes the write conditional)."""
        meta = obj.get("metadata") or {}
        path = resource.path(meta.get("namespace"), meta["name"], subresource)
        return await self.request("PUT", path, query=_query(fieldManager=field_manager), body=obj)

    async def update_status(self, resource: Resource, obj: Mapping[str, Any]) -> dict[str, Any]:
        return await self.update(resource, obj, subresource="status")

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = "merge",
        subresource: str = "",
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> dict[str, Any]:
        content_type = PATCH_TYPES[patch_type]
        query = _query(fieldManager=field_manager, force="true" if force else None)
        body = patch if isinstance(patch, bytes) else orjson.dumps(patch)
        return await self.request(
            "PATCH",
            resource.path(namespace, name, subresource),
            query=query,
            raw_body=body,
            content_type=content_type,
        )

    async def delete(
        self,
        resource: Resource,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """DELETE one object; returns the object (being deleted) or a Success Status."""
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if preconditions:
            options["preconditions"] = dict(preconditions)
        return await self.request("DELETE", resource.path(namespace, name), body=options)

    async def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
        send_initial_events: bool = False,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Yield ``(type, object)`` until the server ends the stream; ERROR events raise."""
        query = _query(
            watch="1",
            resourceVersion=resource_version,
            labelSelector=label_selector,
            fieldSelector=field_selector,
            timeoutSeconds=timeout_seconds,
            allowWatchBookmarks="true" if allow_bookmarks else None,
        )
        if send_initial_events:
            query["sendInitialEvents"] = "true"
            query["resourceVersionMatch"] = "NotOlderThan"
        async with self._http().get(self.server + resource.path(namespace), params=query) as resp:
            if resp.status >= 300:
                raise _error(resp.status, await resp.read())
            buffer = b""
            async for chunk in resp.content.iter_any():
                buffer += chunk
                while (end := buffer.find(b"\n")) >= 0:
                    line, buffer = buffer[:end], buffer[end + 1 :]
                    if line.strip():
                        yield _event(line)
            if buffer.strip():
                yield _event(buffer)

    # --- transport -------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        raw_body: bytes | None = None,
        content_type: str = JSON,
    ) -> dict[str, Any]:
        """One request; the decoded JSON answer, or the ``StatusError`` it describes."""
        data = raw_body if raw_body is not None else None
        if body is not None:
            data = orjson.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else None
        async with self._http().request(
            method, self.server + path, params=query or None, data=data, headers=headers
        ) as resp:
            payload = await resp.read()
            if resp.status >= 300:
                raise _error(resp.status, payload)
        if not payload:
            return {}
        decoded = orjson.loads(payload)
        return decoded if isinstance(decoded, dict) else {"value": decoded}


def tls_client_context(
    ca_pem: bytes | None,
    cert_pem: bytes | None = None,
    key_pem: bytes | None = None,
    *,
    insecure: bool = False,
) -> ssl.SSLContext:
    """A TLS client context trusting ``ca_pem`` and presenting the client certificate, if any.

    ``ssl`` loads certificate chains only from files, so the PEMs pass through a private
    temporary directory that is removed before this returns.
    """
    ctx = ssl.create_default_context(cadata=ca_pem.decode() if ca_pem else None)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert_pem and key_pem:
        with tempfile.TemporaryDirectory(prefix="kyb-tls-") as tmp:
            cert_path, key_path = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
            for file_path, data in ((cert_path, cert_pem), (key_path, key_pem)):
                fd = os.open(file_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
            ctx.load_cert_chain(cert_path, key_path)
    return ctx


def _namespace_of(obj: Mapping[str, Any]) -> str | None:
    meta = obj.get("metadata")
    return meta.get("namespace") if isinstance(meta, Mapping) else None


def _query(**params: object) -> dict[str, str]:
    return {key: str(value) for key, value in params.items() if value is not None}


def _event(line: bytes) -> tuple[str, dict[str, Any]]:
    event = orjson.loads(line)
    kind, obj = event.get("type", ""), event.get("object") or {}
    if kind == "ERROR":
        raise _from_status_body(obj, int(obj.get("code") or 500))
    return kind, obj


def _error(code: int, payload: bytes) -> errors.StatusError:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return _from_status_body(body, code)
    text = payload.decode(errors="replace").strip() or f"the server answered {code}"
    return errors.from_status({"code": code, "message": text})


def _from_status_body(body: Mapping[str, Any], code: int) -> errors.StatusError:
    status = dict(body)
    status.setdefault("code", code)
    return errors.from_status(status)


def causes_of(error: errors.StatusError) -> Sequence[errors.StatusCause]:
    """The field causes an ``Invalid`` error carries (empty for other errors)."""
    details = error.details
    return details.causes if details is not None else ()
