"""``pods/exec``, ``pods/attach`` and ``pods/portforward``: WebSockets relayed to the kubelet.

The API server checks what it can answer itself, in upstream's words (the pod, its node, the
container, ``cannot exec into a container in a completed pod``), then opens a WebSocket to
the kubelet's ``/exec``, ``/attach`` or ``/portForward`` offering exactly the client's
subprotocols, accepts the client's WebSocket with the one the kubelet chose, and relays
messages both ways until either side closes. The protocol itself (channels, SPDY in
WebSocket) is between the client and the kubelet; the relay reads no payload, so every
subprotocol the kubelet speaks works through it.

Invariants: the client's socket is accepted only after the kubelet's was; when one side
closes, the other is closed; each socket has one sender.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import WSMsgType, web

from kybernetes.api import errors
from kybernetes.apiserver.subresources import podtarget

if TYPE_CHECKING:
    from kybernetes.apiserver.handlers import ResourceHandler
    from kybernetes.apiserver.requestinfo import RequestInfo

KUBELET_PATHS = {"exec": "exec", "attach": "attach", "portforward": "portForward"}
COMPLETED = ("Succeeded", "Failed")

WebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse


async def handle(
    handler: ResourceHandler, request: web.Request, info: RequestInfo
) -> web.StreamResponse:
    sub = info.subresource
    if info.verb not in ("get", "create"):
        raise errors.new_method_not_supported(f"pods/{sub}", info.verb)
    kubelets = handler.kubelets
    if kubelets is None:
        raise errors.new_service_unavailable("the API server has no kubelet client configured")
    pod, node = await podtarget.pod_and_node(handler, info.namespace, info.name)
    query = [(k, v) for k, v in request.query.items() if k != "container"]
    path = f"/{KUBELET_PATHS[sub]}/{info.namespace}/{info.name}"
    if sub != "portforward":
        container = podtarget.container_name(pod, request.query.get("container", ""))
        phase = (pod.get("status") or {}).get("phase")
        if phase in COMPLETED:
            raise errors.new_bad_request(
                f"cannot {sub} into a container in a completed pod; current phase is {phase}"
            )
        path += f"/{container}"
    elif (pod.get("status") or {}).get("phase") != "Running":
        phase = (pod.get("status") or {}).get("phase")
        raise errors.new_bad_request(f"pod {info.name} is not running; current phase is {phase}")
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise errors.new_bad_request("Upgrade request required")
    offered = [
        p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
    ]
    url = kubelets.url(node, path, websocket=True)
    try:
        upstream = await kubelets.session.ws_connect(
            url, params=query, protocols=offered, max_msg_size=0, autoping=True
        )
    except aiohttp.WSServerHandshakeError as exc:
        raise errors.StatusError(
            f"error dialing backend: {exc.message}", code=exc.status or 500, reason="InternalError"
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise errors.new_internal_error(f"error dialing backend: {exc}") from None
    try:
        chosen = upstream.protocol
        client = web.WebSocketResponse(
            protocols=(chosen,) if chosen else (), max_msg_size=0, autoping=True
        )
        await client.prepare(request)
        await relay(client, upstream)
        return client
    finally:
        await upstream.close()


async def _pump(source: WebSocket, sink: WebSocket) -> None:
    async for message in source:
        if message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.ERROR):
            break


async def relay(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Messages both ways until one side ends; then both are closed."""
    down = asyncio.ensure_future(_pump(upstream, client))
    up = asyncio.ensure_future(_pump(client, upstream))
    try:
        await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        if down.done():
            # The kubelet finished (status sent): what the client still sends is moot.
            up.cancel()
        else:
            down.cancel()
    finally:
        for task in (down, up):
            task.cancel()
        await asyncio.gather(down, up, return_exceptions=True)
        with contextlib.suppress(Exception):
            await client.close()
        with contextlib.suppress(Exception):
            await upstream.close()
