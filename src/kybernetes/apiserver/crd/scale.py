"""The ``scale`` subresource of custom resources: an ``autoscaling/v1 Scale`` built from the
CRD's ``specReplicasPath``, ``statusReplicasPath`` and ``labelSelectorPath``.

GET reads the three paths; PUT and PATCH (``kubectl scale`` merge-patches) write only the
spec replicas path of the object, through the store, so the write is conditional and retried
like any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from kybernetes.api import errors
from kybernetes.apiserver import encoding
from kybernetes.apiserver.crd.versions import ScalePaths
from kybernetes.apiserver.subresources.scale import requested_replicas

if TYPE_CHECKING:
    from kybernetes.apiserver.crd.store import CustomResourceStore
    from kybernetes.apiserver.requestinfo import RequestInfo


def _steps(path: str) -> list[str]:
    return [p for p in path.strip().lstrip(".").split(".") if p]


def read_path(obj: Any, path: str) -> Any:
    for step in _steps(path):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(step)
    return obj


def write_path(obj: dict[str, Any], path: str, value: Any) -> None:
    steps = _steps(path)
    for step in steps[:-1]:
        nxt = obj.get(step)
        if not isinstance(nxt, dict):
            nxt = obj[step] = {}
        obj = nxt
    obj[steps[-1]] = value


def to_scale(obj: dict[str, Any], paths: ScalePaths) -> dict[str, Any]:
    meta = obj.get("metadata", {})
    replicas = read_path(obj, paths.spec_replicas)
    status_replicas = read_path(obj, paths.status_replicas)
    status: dict[str, Any] = {
        "replicas": status_replicas if isinstance(status_replicas, int) else 0
    }
    if paths.label_selector:
        selector = read_path(obj, paths.label_selector)
        if isinstance(selector, str) and selector:
            status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in meta
        },
        "spec": {"replicas": replicas if isinstance(replicas, int) else 0},
        "status": status,
    }


async def handle(
    request: web.Request, info: RequestInfo, store: CustomResourceStore
) -> web.Response:
    paths = store.version.scale
    if paths is None:
        raise errors.NotFound("the server could not find the requested resource")
    if info.verb == "get":
        cached = await store.get(info.namespace, info.name)
        return encoding.json_response(to_scale(cached.obj, paths))
    if info.verb not in ("update", "patch"):
        raise errors.new_method_not_supported(f"{store.info.plural}/scale", info.verb)
    body = await encoding.read_body(request)
    content_type = request.headers.get("Content-Type", encoding.JSON)

    def mutate(old: dict[str, Any]) -> dict[str, Any]:
        replicas = requested_replicas(info, content_type, body, to_scale(old, paths), old)
        write_path(old, paths.spec_replicas, replicas)
        return old

    result, _ = await store.update(info.namespace, info.name, mutate)
    return encoding.json_response(to_scale(result, paths))
