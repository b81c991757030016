"""The HTTPS client that calls admission webhooks.

One ``aiohttp`` session per webhook target (its URL or Service, and the CA bundle it trusts),
each with a bounded connection pool, kept across requests and closed when the webhook's
configuration no longer names it. A webhook is reached by its ``url``, or through a Service
reference resolved to a ready endpoint (a pod address; cluster IPs exist only inside the
nodes' network namespaces), with TLS verified against ``<service>.<namespace>.svc`` as
upstream does.

Invariants: a call never takes longer than its timeout, connection included; every failure
becomes a ``CallError`` whose text is what client-go would report after ``failed to call
webhook: `` (``Post "https://...?timeout=10s": context deadline exceeded``); at most
``MAX_TARGETS`` sessions are open at once (the least recently used is closed first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import aiohttp
import orjson

from kybernetes.apiserver.webhooks.config import ServiceReference, Webhook

log = logging.getLogger(__name__)

MAX_CONNECTIONS_PER_TARGET: Final = 32
MAX_TARGETS: Final = 100
MAX_RESPONSE_BYTES: Final = 10 * 1024 * 1024
#: How much of an unexpected (non-JSON) response body an error message quotes.
_QUOTED_BYTES: Final = 1024

#: A Service reference to a ready endpoint's (address, port), or None when it has none.
ServiceResolver = Callable[[ServiceReference], tuple[str, int] | None]

_UNKNOWN_AUTHORITY: Final = frozenset({2, 18, 19, 20, 21})  # OpenSSL's "can't build a chain"


class CallError(Exception):
    """Calling the webhook failed before it could answer (its text follows client-go's)."""


@dataclass(frozen=True, slots=True)
class _Target:
    url: str  # what error messages show
    connect_url: str  # where the request goes
    server_hostname: str | None


def _seconds(timeout: int) -> str:
    return f"{timeout}s"


def _generic_message(code: int, body: bytes, content_type: str) -> str:
    """client-go's ``NewGenericServerResponse`` text for an unexpected HTTP status."""
    with contextlib.suppress(orjson.JSONDecodeError):
        decoded = orjson.loads(body)
        if isinstance(decoded, dict) and decoded.get("kind") == "Status":
            return str(decoded.get("message") or "")
    text = "unknown"
    if content_type.startswith("text/") or content_type == "application/json":
        text = body[:_QUOTED_BYTES].decode(errors="replace").strip()
    known = {
        400: "the server rejected our request for an unknown reason",
        401: "the server has asked for the client to provide credentials",
        403: "the server does not allow this method on the requested resource",
        404: "the server could not find the requested resource",
        405: "the server does not allow this method on the requested resource",
        409: "the server reported a conflict",
        413: "the server has rejected the request because the request body is too large",
        415: "the server could not process the request because the media type is unsupported",
        422: "the server rejected our request due to an error in our request",
        429: "the server has received too many requests and has asked us to try again later",
        503: "the server is currently unable to handle the request",
        504: (
            "the server was unable to return a response in the time allotted, but may still "
            "be processing the request"
        ),
    }
    if code in known:
        return known[code]
    if code >= 500:
        return f'an error on the server ("{text}") has prevented the request from succeeding'
    return f"the server responded with the status code {code} but did not return more information"


class WebhookClient:
    """Posts AdmissionReviews to webhooks; ``close()`` ends every session."""

    def __init__(self, resolve_service: ServiceResolver | None = None) -> None:
        self._resolve_service = resolve_service
        self._sessions: OrderedDict[tuple[str, str, bytes], aiohttp.ClientSession] = OrderedDict()

    def _target(self, webhook: Webhook) -> _Target:
        client = webhook.client
        if client.url:
            return _Target(client.url, client.url, None)
        service = client.service
        if service is None:
            raise CallError("the webhook has neither a url nor a service")
        hostname = f"{service.name}.{service.namespace}.svc"
        shown = f"https://{hostname}:{service.port}{service.path}"
        endpoint = self._resolve_service(service) if self._resolve_service else None
        if endpoint is None:
            raise CallError(
                f'Post "{shown}": service "{service.namespace}/{service.name}" has no ready '
                "endpoints"
            )
        host, port = endpoint
        host = f"[{host}]" if ":" in host else host
        return _Target(shown, f"https://{host}:{port}{service.path}", hostname)

    def _session(self, webhook: Webhook, target: _Target) -> aiohttp.ClientSession:
        key = (webhook.uid, target.connect_url, webhook.client.ca_bundle)
        session = self._sessions.get(key)
        if session is not None and not session.closed:
            self._sessions.move_to_end(key)
            return session
        try:
            context = ssl.create_default_context(
                cadata=webhook.client.ca_bundle.decode() if webhook.client.ca_bundle else None
            )
        except (ssl.SSLError, ValueError, UnicodeDecodeError) as exc:
            raise CallError(f"invalid caBundle: {exc}") from None
        connector = aiohttp.TCPConnector(
            ssl=context, limit=MAX_CONNECTIONS_PER_TARGET, enable_cleanup_closed=True
        )
        session = aiohttp.ClientSession(connector=connector, raise_for_status=False)
        self._sessions[key] = session
        while len(self._sessions) > MAX_TARGETS:
            _, oldest = self._sessions.popitem(last=False)
            self._close_later(oldest)
        return session

    def _close_later(self, session: aiohttp.ClientSession) -> None:
        task = asyncio.get_running_loop().create_task(session.close())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def forget_except(self, webhooks: set[str]) -> None:
        """Close the sessions of webhooks no longer configured (by ``Webhook.uid``)."""
        for key in [k for k in self._sessions if k[0] not in webhooks]:
            self._close_later(self._sessions.pop(key))

    async def close(self) -> None:
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for session in sessions:
            await session.close()

    async def post(self, webhook: Webhook, body: bytes) -> bytes:
        """POST ``body``; the response body of a 2xx answer, else ``CallError``."""
        target = self._target(webhook)
        session = self._session(webhook, target)
        timeout = webhook.timeout_seconds
        query = f"timeout={_seconds(timeout)}"
        separator = "&" if "?" in target.connect_url else "?"
        shown = f'Post "{target.url}{"&" if "?" in target.url else "?"}{query}"'
        try:
            async with asyncio.timeout(timeout):
                async with session.post(
                    f"{target.connect_url}{separator}{query}",
                    data=body,
                    headers={"Content-Type": "application/json", "Accept": "application/json"},
                    server_hostname=target.server_hostname,
                    allow_redirects=False,
                ) as response:
                    payload = bytearray()
                    async for chunk in response.content.iter_chunked(64 * 1024):
                        payload += chunk
                        if len(payload) > MAX_RESPONSE_BYTES:
                            raise CallError(f"{shown}: the response body is too large")
                    if not 200 <= response.status < 300:
                        raise CallError(
                            _generic_message(response.status, bytes(payload), response.content_type)
                        )
                    return bytes(payload)
        except TimeoutError:
            raise CallError(f"{shown}: context deadline exceeded") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            verify = exc.certificate_error
            code = getattr(verify, "verify_code", 0)
            reason = (
                "x509: certificate signed by unknown authority"
                if code in _UNKNOWN_AUTHORITY
                else f"x509: {getattr(verify, 'verify_message', '') or verify}"
            )
            raise CallError(f"{shown}: tls: failed to verify certificate: {reason}") from None
        except aiohttp.ClientConnectorError as exc:
            host_port = f"{exc.host}:{exc.port}"
            if isinstance(exc.os_error, ConnectionRefusedError):
                reason = "connect: connection refused"
            else:
                reason = exc.os_error.strerror or str(exc.os_error)
            raise CallError(f"{shown}: dial tcp {host_port}: {reason}") from None
        except aiohttp.ServerDisconnectedError:
            raise CallError(f"{shown}: EOF") from None
        except aiohttp.ClientError as exc:
            raise CallError(f"{shown}: {exc}") from None
