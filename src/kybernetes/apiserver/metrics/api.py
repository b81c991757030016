"""HTTP handling of ``/apis/metrics.k8s.io/v1beta1``: NodeMetrics, PodMetrics, summary pushes.

Reads (``get``, ``list``; ``kubectl top`` and the HPA controller) are answered from the
``SummaryStore``, joined with the node and pod watch caches: a node's or pod's metrics are
served only while the object exists (a pod also by uid, so a re-created pod does not inherit
its predecessor's usage) and carry its labels, so ``labelSelector`` filters as metrics-server
does. Writes are only the agents' summary pushes to ``nodes/<name>/summary``.

Quantities are formatted as metrics-server formats them: CPU in nanocores canonicalized
(``250m``, ``1234567n``), memory in bytes in binary-SI canonical form (``102400Ki``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from kybernetes.api import errors, selectors
from kybernetes.api.meta import now_rfc3339
from kybernetes.api.quantity import Format, Quantity, parse_quantity
from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver import encoding
from kybernetes.apiserver.metrics.summaries import NodeSummary, PodUsage, SummaryStore, Usage
from kybernetes.apiserver.registry import Store
from kybernetes.apiserver.requestinfo import RequestInfo

log = logging.getLogger(__name__)

METRICS_GROUP: Final = "metrics.k8s.io"
METRICS_VERSION: Final = "v1beta1"
API_VERSION: Final = f"{METRICS_GROUP}/{METRICS_VERSION}"
SUMMARY: Final = "summary"


def _info(kind: str, plural: str, namespaced: bool) -> ResourceInfo:
    return ResourceInfo(
        group=METRICS_GROUP,
        version=METRICS_VERSION,
        kind=kind,
        plural=plural,
        singular="",
        namespaced=namespaced,
        verbs=("get", "list"),
        short_names=(),
        categories=(),
        subresources=(),
        definition=f"io.k8s.metrics.pkg.apis.metrics.v1beta1.{kind}",
    )


#: What discovery advertises for the group (as metrics-server's APIService does).
METRICS_RESOURCES: Final = (
    _info("NodeMetrics", "nodes", False),
    _info("PodMetrics", "pods", True),
)


def cpu_quantity(nanocores: int) -> str:
    return parse_quantity(f"{nanocores}n").canonical()


def memory_quantity(size: int) -> str:
    return Quantity(size, Format.BINARY_SI).canonical()


def _usage(usage: Usage) -> dict[str, str]:
    return {"cpu": cpu_quantity(usage.cpu_nanocores), "memory": memory_quantity(usage.memory_bytes)}


def _window(seconds: float) -> str:
    return f"{seconds:g}s"


class ResourceMetricsAPI:
    """Serves the metrics group from pushed summaries and the node and pod caches."""

    def __init__(
        self,
        nodes: Store,
        pods: Store,
        summaries: SummaryStore | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.nodes = nodes
        self.pods = pods
        self.summaries = summaries if summaries is not None else SummaryStore()
        self.now = now

    async def handle(self, request: web.Request, info: RequestInfo) -> web.Response:
        if info.version != METRICS_VERSION or info.resource not in ("nodes", "pods"):
            raise errors.NotFound("the server could not find the requested resource")
        if info.resource == "nodes" and info.subresource == SUMMARY and info.verb == "update":
            return await self._push(request, info.name)
        if info.subresource or info.verb not in ("get", "list"):
            raise errors.new_method_not_supported(info.resource, info.verb, group=METRICS_GROUP)
        selector = selectors.parse(request.query.get("labelSelector", ""))
        if info.resource == "nodes":
            if info.verb == "get":
                return encoding.json_response(self._node_metrics(info.name))
            items = list(self._node_items(selector))
            return encoding.json_response(self._list("NodeMetricsList", items))
        if info.verb == "get":
            return encoding.json_response(self._pod_metrics(info.namespace, info.name))
        items = list(self._pod_items(info.namespace, selector))
        return encoding.json_response(self._list("PodMetricsList", items))

    # --- pushes -------------------------------------------------------------------------------

    async def _push(self, request: web.Request, node: str) -> web.Response:
        body = await encoding.read_body(request)
        doc = encoding.decode_object(request.headers.get("Content-Type", encoding.JSON), body)
        summary = self.summaries.put(node, doc)
        log.debug("summary received node=%s pods=%d", node, len(summary.pods))
        return encoding.json_response({"kind": "Status", "apiVersion": "v1", "status": "Success"})

    # --- reads --------------------------------------------------------------------------------

    def _list(self, kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"kind": kind, "apiVersion": API_VERSION, "metadata": {}, "items": items}

    def _meta(self, obj: dict[str, Any]) -> dict[str, Any]:
        source = obj.get("metadata") or {}
        meta: dict[str, Any] = {"name": source.get("name", "")}
        if source.get("namespace"):
            meta["namespace"] = source["namespace"]
        meta["creationTimestamp"] = now_rfc3339(self.now())
        if source.get("labels"):
            meta["labels"] = dict(source["labels"])
        return meta

    def _node_object(self, summary: NodeSummary) -> dict[str, Any] | None:
        if summary.usage is None:
            return None
        cached = self.nodes.cache.get(self.nodes.key("", summary.node))
        if cached is None:
            return None
        return {
            "kind": "NodeMetrics",
            "apiVersion": API_VERSION,
            "metadata": self._meta(cached.obj),
            "timestamp": summary.usage.timestamp,
            "window": _window(summary.usage.window),
            "usage": _usage(summary.usage),
        }

    def _node_items(self, selector: selectors.Selector) -> Iterable[dict[str, Any]]:
        for summary in self.summaries.summaries():
            item = self._node_object(summary)
            if item is not None and selector.matches(item["metadata"].get("labels") or {}):
                yield item

    def _node_metrics(self, name: str) -> dict[str, Any]:
        summary = self.summaries.get(name)
        item = self._node_object(summary) if summary is not None else None
        if item is None:
            raise errors.new_not_found("nodemetrics", name, group=METRICS_GROUP)
        return item

    def _pod_object(self, pod: PodUsage) -> dict[str, Any] | None:
        if not pod.containers:
            return None
        cached = self.pods.cache.get(self.pods.key(pod.namespace, pod.name))
        if cached is None:
            return None
        if pod.uid and (cached.obj.get("metadata") or {}).get("uid") != pod.uid:
            return None
        first = pod.containers[0][1]
        return {
            "kind": "PodMetrics",
            "apiVersion": API_VERSION,
            "metadata": self._meta(cached.obj),
            "timestamp": first.timestamp,
            "window": _window(first.window),
            "containers": [{"name": name, "usage": _usage(u)} for name, u in pod.containers],
        }

    def _pod_items(self, namespace: str, selector: selectors.Selector) -> Iterable[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for summary in self.summaries.summaries():
            for pod in summary.pods:
                if namespace and pod.namespace != namespace:
                    continue
                item = self._pod_object(pod)
                if item is not None and selector.matches(item["metadata"].get("labels") or {}):
                    found.append(item)
        found.sort(key=lambda i: (i["metadata"].get("namespace", ""), i["metadata"]["name"]))
        return found

    def _pod_metrics(self, namespace: str, name: str) -> dict[str, Any]:
        for summary in self.summaries.summaries():
            for pod in summary.pods:
                if pod.namespace == namespace and pod.name == name:
                    item = self._pod_object(pod)
                    if item is not None:
                        return item
        raise errors.new_not_found("podmetrics", f"{namespace}/{name}", group=METRICS_GROUP)
