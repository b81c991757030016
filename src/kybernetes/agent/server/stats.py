"""The agent's monitoring endpoints: ``/stats/summary``, ``/metrics``, ``/metrics/resource``.

- ``GET /stats/summary``: the node's latest usage summary (``agent/stats``), the document the
  publisher pushes to ``metrics.k8s.io`` — the kubelet's Summary API;
- ``GET /metrics``: this process's Prometheus metrics (``kubelet_*``, and in ``kyb server``
  those of every component it runs, which share the process's default registry);
- ``GET /metrics/resource``: the same summary as the kubelet's resource metrics, the endpoint
  metrics-server scrapes (``node_cpu_usage_seconds_total``, ``container_memory_working_set_bytes``
  ... with the sample's timestamp).

For mounting on the agent's HTTPS server (port 10250): ``add_routes(app, lambda: stats)``.

Invariant: the handlers only read; a summary is never collected twice for one request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import orjson
from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from kybernetes.api.meta import parse_time


class StatsSource(Protocol):
    async def summary(self) -> dict[str, Any]: ...


def add_routes(app: web.Application, source: Callable[[], StatsSource | None]) -> None:
    """Serve the endpoints; ``source()`` is the node's stats, None until there are some."""

    async def stats(_request: web.Request) -> web.Response:
        found = source()
        if found is None:
            return web.Response(status=503, text="stats are not collected on this node yet")
        doc = await found.summary()
        return web.Response(body=orjson.dumps(doc), content_type="application/json")

    async def metrics(_request: web.Request) -> web.Response:
        return _prometheus(generate_latest(REGISTRY))

    async def resource(_request: web.Request) -> web.Response:
        found = source()
        if found is None:
            return web.Response(status=503, text="stats are not collected on this node yet")
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ResourceMetrics(await found.summary()))
        return _prometheus(generate_latest(registry))

    app.router.add_get("/stats/summary", stats)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/metrics/resource", resource)


def _prometheus(body: bytes) -> web.Response:
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _seconds(stamp: object) -> float | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return parse_time(stamp).timestamp()
    except ValueError:
        return None


class ResourceMetrics:
    """A summary document as the kubelet's ``/metrics/resource`` families."""

    def __init__(self, summary: Mapping[str, Any]) -> None:
        self.summary = summary

    def collect(self) -> Iterator[Metric]:
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
        for scope, labels in (("node", []), ("pod", ["namespace", "pod"])):
            families[f"{scope}_cpu"] = CounterMetricFamily(
                f"{scope}_cpu_usage_seconds",
                f"Cumulative cpu time consumed by the {scope} in core-seconds",
                labels=labels,
            )
            families[f"{scope}_memory"] = GaugeMetricFamily(
                f"{scope}_memory_working_set_bytes",
                f"Current working set of the {scope} in bytes",
                labels=labels,
            )
        container = ["container", "namespace", "pod"]
        families["container_cpu"] = CounterMetricFamily(
            "container_cpu_usage_seconds",
            "Cumulative cpu time consumed by the container in core-seconds",
            labels=container,
        )
        families["container_memory"] = GaugeMetricFamily(
            "container_memory_working_set_bytes",
            "Current working set of the container in bytes",
            labels=container,
        )
        families["container_start"] = GaugeMetricFamily(
            "container_start_time_seconds",
            "Start time of the container since unix epoch in seconds",
            labels=container,
        )
        _add(families, "node", [], self.summary.get("node") or {})
        for pod in self.summary.get("pods") or ():
            ref = pod.get("podRef") or {}
            where = [str(ref.get("namespace", "")), str(ref.get("name", ""))]
            _add(families, "pod", where, pod)
            for c in pod.get("containers") or ():
                labels = [str(c.get("name", "")), *where]
                _add(families, "container", labels, c)
                started = _seconds(c.get("startTime"))
                if started is not None:
                    families["container_start"].add_metric(labels, started)
        yield from families.values()
        error = GaugeMetricFamily(
            "resource_scrape_error",
            "1 if there was an error while getting container metrics, 0 otherwise",
        )
        error.add_metric([], 0)
        yield error


def _add(
    families: Mapping[str, CounterMetricFamily | GaugeMetricFamily],
    scope: str,
    labels: list[str],
    stats: Mapping[str, Any],
) -> None:
    cpu = stats.get("cpu") or {}
    if "usageCoreNanoSeconds" in cpu:
        families[f"{scope}_cpu"].add_metric(
            labels, cpu["usageCoreNanoSeconds"] / 1e9, timestamp=_seconds(cpu.get("time"))
        )
    memory = stats.get("memory") or {}
    if "workingSetBytes" in memory:
        families[f"{scope}_memory"].add_metric(
            labels, memory["workingSetBytes"], timestamp=_seconds(memory.get("time"))
        )
