"""The ``scale`` subresource: an ``autoscaling/v1 Scale`` view of a workload's replicas.

GET shows ``spec.replicas``, ``status.replicas`` and the label selector as a string; PUT and
PATCH change only ``spec.replicas`` of the workload (``kubectl scale`` merge-patches it and
retries on 409).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from kybernetes.api import errors, selectors
from kybernetes.api.patch import apply_patch
from kybernetes.api.schema import find_definition
from kybernetes.apiserver import encoding

if TYPE_CHECKING:
    from kybernetes.apiserver.handlers import ResourceHandler
    from kybernetes.apiserver.registry import Store
    from kybernetes.apiserver.requestinfo import RequestInfo


SCALE = "io.k8s.api.autoscaling.v1.Scale"


def to_scale(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata", {})
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector")
    if isinstance(selector, dict):
        text = str(selectors.from_label_selector(selector))
    else:
        text = ",".join(f"{k}={v}" for k, v in sorted((selector or {}).items()))
    scale_status: dict[str, Any] = {"replicas": status.get("replicas", 0)}
    if text:
        scale_status["selector"] = text
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in meta
        },
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": scale_status,
    }


async def handle(
    handler: ResourceHandler, request: web.Request, info: RequestInfo, store: Store
) -> web.Response:
    if info.verb == "get":
        cached = await store.get(info.namespace, info.name)
        return encoding.json_response(to_scale(cached.obj))
    if info.verb not in ("update", "patch"):
        raise errors.new_method_not_supported(f"{store.info.plural}/scale", info.verb)
    body = await encoding.read_body(request)
    content_type = request.headers.get("Content-Type", encoding.JSON)

    def mutate(old: dict[str, Any]) -> dict[str, Any]:
        replicas = requested_replicas(info, content_type, body, to_scale(old), old)
        old.setdefault("spec", {})["replicas"] = replicas
        return old

    result, _ = await store.update(info.namespace, info.name, mutate)
    return encoding.json_response(to_scale(result))


def requested_replicas(
    info: RequestInfo,
    content_type: str,
    body: bytes,
    current: dict[str, Any],
    old: dict[str, Any],
) -> int:
    """The replicas a Scale update or patch asks for, validated (422 as upstream).

    An update's ``resourceVersion`` becomes ``old``'s precondition; without one (and for
    patches) the write applies to whatever is current and is retried on conflict. Shared by
    the built-in and the custom-resource scale subresources.
    """
    if info.verb == "update":
        wanted = encoding.decode_object(content_type, body)
    else:
        # The Scale schema makes strategic merge patches (the official client's default for
        # ``patch_namespaced_deployment_scale``) acceptable here, as upstream.
        wanted = apply_patch(
            encoding.media_type(content_type), current, body, find_definition(SCALE)
        )
    replicas = (wanted.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.new_invalid(
            "Scale",
            info.name,
            [errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")],
            group="autoscaling",
        )
    rv = (wanted.get("metadata") or {}).get("resourceVersion")
    if rv and info.verb == "update":
        old["metadata"]["resourceVersion"] = rv
    else:
        old["metadata"].pop("resourceVersion", None)
    return replicas
