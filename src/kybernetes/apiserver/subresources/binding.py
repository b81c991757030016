"""The ``binding`` subresource of pods: how the scheduler assigns a pod to a node.

A Binding sets ``spec.nodeName`` once; binding an already bound pod is a 409 Conflict, as
upstream (``pod web is already assigned to node "n1"``). Like upstream's BindingREST, it skips
pod update validation, which forbids every other client from changing ``spec.nodeName``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from kybernetes.api import errors
from kybernetes.apiserver import encoding

if TYPE_CHECKING:
    from kybernetes.apiserver.handlers import ResourceHandler
    from kybernetes.apiserver.registry import Store
    from kybernetes.apiserver.requestinfo import RequestInfo


async def handle(
    handler: ResourceHandler, request: web.Request, info: RequestInfo, store: Store
) -> web.Response:
    body = await encoding.read_body(request)
    binding = encoding.decode_object(request.headers.get("Content-Type", encoding.JSON), body)
    target = binding.get("target") or {}
    node = target.get("name")
    if not node:
        raise errors.new_invalid("Binding", info.name, [errors.required("target.name", "")])
    name = (binding.get("metadata") or {}).get("name") or info.name
    if name != info.name:
        raise errors.new_bad_request("the name of the binding does not match the pod")

    def mutate(pod: dict[str, Any]) -> dict[str, Any]:
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.new_conflict("pods", info.name, "pod is being deleted")
        current = (pod.get("spec") or {}).get("nodeName")
        if current:
            raise errors.new_conflict(
                "pods", info.name, f'pod {info.name} is already assigned to node "{current}"'
            )
        pod.setdefault("spec", {})["nodeName"] = node
        # As upstream's BindingREST: the pod is scheduled from now on.
        status = pod.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or () if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": handler.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        status["conditions"] = conditions
        pod["metadata"].pop("resourceVersion", None)  # retried on conflict, as upstream
        return pod

    await store.update(info.namespace, info.name, mutate, subresource="binding")
    return encoding.json_response(encoding.success_status({}), status=201)
