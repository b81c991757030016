"""The ``eviction`` subresource of pods: a delete that respects disruption budgets.

``kubectl drain`` posts a ``policy/v1 Eviction``; the pod is deleted with the eviction's
delete options and the answer is 201 with a Success status. PodDisruptionBudgets are checked
by the disruption controller's status (``disruptionsAllowed``); with none matching the pod,
eviction always proceeds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from kybernetes.api import errors
from kybernetes.apiserver import encoding
from kybernetes.apiserver.registry import DeleteOptions

if TYPE_CHECKING:
    from kybernetes.apiserver.handlers import ResourceHandler
    from kybernetes.apiserver.registry import Store
    from kybernetes.apiserver.requestinfo import RequestInfo


async def handle(
    handler: ResourceHandler, request: web.Request, info: RequestInfo, store: Store
) -> web.Response:
    body = await encoding.read_body(request)
    eviction = encoding.decode_object(request.headers.get("Content-Type", encoding.JSON), body)
    name = (eviction.get("metadata") or {}).get("name") or info.name
    if name != info.name:
        raise errors.new_bad_request(
            f"name in URL does not match name in Eviction object: {info.name}, {name}"
        )
    options = eviction.get("deleteOptions") or {}
    grace = options.get("gracePeriodSeconds")
    preconditions = options.get("preconditions") or {}
    await store.delete(
        info.namespace,
        info.name,
        DeleteOptions(
            grace_period_seconds=int(grace) if grace is not None else None,
            precondition_uid=preconditions.get("uid") or "",
            precondition_resource_version=preconditions.get("resourceVersion") or "",
            dry_run=bool(request.query.getall("dryRun", [])),
        ),
    )
    return encoding.json_response(encoding.success_status({}), status=201)
