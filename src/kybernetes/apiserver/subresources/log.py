"""``GET pods/{name}/log``: the container's log, streamed from its node's kubelet.

The container is chosen as upstream does (``podtarget.py``); the query goes to the kubelet's
``/containerLogs/{ns}/{pod}/{container}`` unchanged but for ``container``; the kubelet's
answer is streamed back as ``text/plain`` (chunked, so ``follow`` shows lines as they come and
ends when the container stops). A kubelet's refusal (``container "x" in pod "y" is waiting to
start: ContainerCreating``) becomes a Status with the kubelet's code and text.

Invariant: nothing is buffered beyond one chunk; a client that goes away closes the
connection to the kubelet.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from kybernetes.api import errors
from kybernetes.apiserver.subresources import podtarget

if TYPE_CHECKING:
    from kybernetes.apiserver.handlers import ResourceHandler
    from kybernetes.apiserver.requestinfo import RequestInfo

PASSED = (
    "follow",
    "previous",
    "tailLines",
    "sinceSeconds",
    "sinceTime",
    "timestamps",
    "limitBytes",
)


def kubelet_error(status: int, body: bytes) -> errors.StatusError:
    """A kubelet's error answer as the Status the client sees."""
    message = body.decode(errors="replace").strip() or f"the kubelet answered {status}"
    if status == 404:
        return errors.NotFound(message)
    if status in (400, 403, 401):
        return errors.StatusError(message, code=400, reason="BadRequest")
    return errors.StatusError(
        message, code=status if status >= 400 else 500, reason="InternalError"
    )


async def handle(
    handler: ResourceHandler, request: web.Request, info: RequestInfo
) -> web.StreamResponse:
    if info.verb != "get":
        raise errors.new_method_not_supported("pods/log", info.verb)
    kubelets = handler.kubelets
    if kubelets is None:
        raise errors.new_service_unavailable("the API server has no kubelet client configured")
    pod, node = await podtarget.pod_and_node(handler, info.namespace, info.name)
    container = podtarget.container_name(pod, request.query.get("container", ""))
    query = [(k, v) for k, v in request.query.items() if k in PASSED]
    url = kubelets.url(node, f"/containerLogs/{info.namespace}/{info.name}/{container}")
    try:
        upstream = await kubelets.session.get(url, params=query)
    except (aiohttp.ClientError, OSError) as exc:
        raise errors.new_internal_error(f"error trying to reach the kubelet: {exc}") from None
    async with upstream:
        if upstream.status != 200:
            raise kubelet_error(upstream.status, await upstream.read())
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError, aiohttp.ClientPayloadError):
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response
