"""A real HTTPS admission webhook server for tests, with its own throwaway CA.

``async with webhook_server(directory, {"/deny": deny("no")}) as server: ...`` serves each path
with its handler on a free loopback port over TLS, with a serving certificate for
``127.0.0.1`` signed by a CA made for it alone (``server.ca_bundle`` is that CA, base64-encoded
for a ``clientConfig.caBundle``). Handlers receive the AdmissionRequest and return the fields
of the AdmissionResponse; ``uid`` is filled in. ``server.requests[path]`` records every request
received. ``threaded_webhook_server`` runs the same server on a thread of its own, for
synchronous tests (a real ``kyb server`` subprocess and ``kubectl``).

Invariant: the server answers exactly what its handlers say, nothing is cached, and the key
and certificates live only under ``directory``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from kybernetes.util.pki import ensure_cluster_pki

#: An AdmissionRequest in; the AdmissionResponse's fields out (without ``uid``).
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def allow(warnings: Sequence[str] = ()) -> Handler:
    async def handle(_request: dict[str, Any]) -> dict[str, Any]:
        return {"allowed": True, **({"warnings": list(warnings)} if warnings else {})}

    return handle


def deny(message: str = "", code: int | None = None, reason: str = "") -> Handler:
    """A refusal; with no message, code or reason the response carries no status at all."""

    async def handle(_request: dict[str, Any]) -> dict[str, Any]:
        status: dict[str, Any] = {}
        if message:
            status["message"] = message
        if code is not None:
            status["code"] = code
        if reason:
            status["reason"] = reason
        return {"allowed": False, **({"status": status} if status else {})}

    return handle


def json_patch(operations: list[dict[str, Any]]) -> Handler:
    patch = base64.b64encode(orjson.dumps(operations)).decode()

    async def handle(_request: dict[str, Any]) -> dict[str, Any]:
        return {"allowed": True, "patchType": "JSONPatch", "patch": patch}

    return handle


def slow(seconds: float) -> Handler:
    async def handle(_request: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(seconds)
        return {"allowed": True}

    return handle


class WebhookServer:
    """Serves webhook handlers over HTTPS on 127.0.0.1."""

    def __init__(
        self, directory: Path, handlers: Mapping[str, Handler], hosts: Sequence[str] = ()
    ) -> None:
        self.handlers = dict(handlers)
        self.requests: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        pki = ensure_cluster_pki(directory, hosts=["127.0.0.1", *hosts])
        self.ca_bundle = base64.b64encode(pki.ca.cert_pem).decode()
        self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ssl.load_cert_chain(pki.serving_cert_path, pki.serving_key_path)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    async def _serve(self, request: web.Request) -> web.Response:
        handler = self.handlers.get(request.path)
        if handler is None:
            return web.Response(status=404, text="no such webhook")
        review = await request.json()
        admission_request = review.get("request") or {}
        self.requests[request.path].append(admission_request)
        answer = await handler(admission_request)
        return web.json_response(
            {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": admission_request.get("uid", ""), **answer},
            }
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl)
        await site.start()
        server = getattr(site, "_server", None)
        self.port = int(server.sockets[0].getsockname()[1]) if server is not None else 0

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@contextlib.asynccontextmanager
async def webhook_server(
    directory: Path, handlers: Mapping[str, Handler], hosts: Sequence[str] = ()
) -> AsyncIterator[WebhookServer]:
    """Serve ``handlers``; ``hosts`` are more names for the certificate (``svc.ns.svc``)."""
    server = WebhookServer(directory, handlers, hosts)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.contextmanager
def threaded_webhook_server(
    directory: Path, handlers: Mapping[str, Handler]
) -> Iterator[WebhookServer]:
    """The same server, on an event loop in a thread of its own (for synchronous tests)."""
    server = WebhookServer(directory, handlers)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    async def main() -> None:
        try:
            await server.start()
        except BaseException as exc:  # reported to the caller's thread
            failure.append(exc)
            started.set()
            return
        started.set()
        try:
            await stop.wait()
        finally:
            await server.stop()
            # Let the transports of the connections just closed finish closing.
            await asyncio.sleep(0.1)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(30)
    if failure:
        raise failure[0]
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
