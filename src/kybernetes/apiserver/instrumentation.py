"""The API server's Prometheus metrics, with upstream's names and labels.

- ``apiserver_request_total{verb, dry_run, group, version, resource, subresource, scope,
  component, code}`` and ``apiserver_request_duration_seconds{...}`` (everything but the code;
  watches and other long-running requests are counted, not timed) for every resource request;
  ``verb`` is upstream's: the HTTP method, ``LIST`` for a collection GET, ``WATCH``, ``APPLY``
  for a server-side apply PATCH; ``scope`` is ``resource``, ``namespace`` or ``cluster``;
- ``apiserver_longrunning_requests{verb, group, version, resource, subresource, scope,
  component}``: watches and connections (logs, exec, attach, port-forward) open now;
- ``etcd_request_duration_seconds{operation, type}`` and ``etcd_request_errors_total``: every
  storage call (whatever the backend: SQLite or etcd), ``type`` the stored resource
  (``pods``, ``deployments.apps``), by ``InstrumentedStorage``;
- ``apiserver_storage_objects{resource}``: objects stored per resource (from the watch caches,
  counted when scraped).

Invariant: each server has its own registry (tests run several in one process); a request's
label tuple is built once and its metric children are cached, so the hot path does two dict
lookups and two lock-free updates.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from kybernetes.apiserver.requestinfo import RequestInfo
from kybernetes.storage.errors import (
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
)
from kybernetes.storage.interface import KeyValue, ListResult, Storage, WatchStream

COMPONENT: Final = "apiserver"
APPLY_PATCH: Final = "application/apply-patch+yaml"
#: Subresources upstream counts as long-running (with every watch).
LONG_RUNNING_SUBRESOURCES: Final = frozenset({"attach", "exec", "log", "portforward", "proxy"})
_METHOD_VERBS: Final = {
    "get": "GET",
    "list": "LIST",
    "watch": "WATCH",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETE",
}
_LABELS: Final = (
    "verb",
    "dry_run",
    "group",
    "version",
    "resource",
    "subresource",
    "scope",
    "component",
)
_LONG_LABELS: Final = tuple(name for name in _LABELS if name != "dry_run")
_REQUEST_BUCKETS: Final = (
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30,
    45, 60,
)  # fmt: skip
_ETCD_BUCKETS: Final = (
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30,
    45, 60,
)  # fmt: skip

#: What a storage call answers when the request cannot be done as asked: not a failure.
_ANSWERS: Final = (
    KeyNotFoundError,
    KeyExistsError,
    ConflictError,
    CompactedError,
    FutureRevisionError,
)

T = TypeVar("T")


def is_long_running(info: RequestInfo) -> bool:
    return info.verb == "watch" or info.subresource in LONG_RUNNING_SUBRESOURCES


def request_labels(info: RequestInfo, content_type: str, dry_run: bool) -> tuple[str, ...]:
    """The labels of a resource request, upstream's way (``_LABELS`` order)."""
    verb = _METHOD_VERBS.get(info.verb, info.verb.upper())
    if verb == "PATCH" and content_type.startswith(APPLY_PATCH):
        verb = "APPLY"
    if info.name:
        scope = "resource"
    elif info.namespace:
        scope = "namespace"
    else:
        scope = "cluster"
    return (
        verb,
        "All" if dry_run else "",
        info.group,
        info.version,
        info.resource,
        info.subresource,
        scope,
        COMPONENT,
    )


class RequestMetrics:
    """Request counts, latencies and the long-running requests open now."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._total = Counter(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, dry run value, group, "
            "version, resource, scope, component, and HTTP response code.",
            [*_LABELS, "code"],
            registry=registry,
        )
        self._duration = Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, "
            "version, resource, subresource, scope and component.",
            _LABELS,
            registry=registry,
            buckets=_REQUEST_BUCKETS,
        )
        self._long_running = Gauge(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, "
            "version, resource, scope and component. Not all requests are tracked this way.",
            _LONG_LABELS,
            registry=registry,
        )
        self._totals: dict[tuple[str, ...], Any] = {}
        self._durations: dict[tuple[str, ...], Any] = {}
        self._open: dict[tuple[str, ...], Any] = {}

    def observe(self, labels: tuple[str, ...], code: int, seconds: float | None) -> None:
        """One finished request; ``seconds`` None for a long-running one (not timed)."""
        key = (*labels, str(code))
        total = self._totals.get(key)
        if total is None:
            total = self._totals[key] = self._total.labels(*key)
        total.inc()
        if seconds is not None:
            duration = self._durations.get(labels)
            if duration is None:
                duration = self._durations[labels] = self._duration.labels(*labels)
            duration.observe(seconds)

    @contextmanager
    def long_running(self, labels: tuple[str, ...]) -> Iterator[None]:
        """Counts the request as open while the block runs."""
        key = labels[:1] + labels[2:]  # without dry_run
        gauge = self._open.get(key)
        if gauge is None:
            gauge = self._open[key] = self._long_running.labels(*key)
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()


class StorageObjects:
    """``apiserver_storage_objects``: how many objects each resource's watch cache holds."""

    def __init__(self, caches: Callable[[], Mapping[str, Any]]) -> None:
        self.caches = caches

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind.",
            labels=["resource"],
        )
        for resource, cache in sorted(self.caches().items()):
            family.add_metric([resource], len(cache.objects))
        yield family


def storage_type(key: str) -> str:
    """``/registry/apps/deployments/ns/x`` -> ``deployments.apps``; core resources bare."""
    parts = key.split("/", 4)
    if len(parts) < 4 or parts[1] != "registry":
        return ""
    group, resource = parts[2], parts[3]
    return resource if group == "core" else f"{resource}.{group}"


class InstrumentedStorage:
    """A ``Storage`` that times every call into ``etcd_request_duration_seconds``."""

    def __init__(self, inner: Storage, registry: CollectorRegistry) -> None:
        self.inner = inner
        self._duration = Histogram(
            "etcd_request_duration_seconds",
            "Etcd request latency in seconds for each operation and object type.",
            ["operation", "type"],
            registry=registry,
            buckets=_ETCD_BUCKETS,
        )
        self._errors = Counter(
            "etcd_request_errors_total",
            "Etcd failed request counts for each operation and object type.",
            ["operation", "type"],
            registry=registry,
        )
        self._children: dict[tuple[str, str], Any] = {}

    async def _timed(self, operation: str, key: str, call: Awaitable[T]) -> T:
        labels = (operation, storage_type(key))
        started = time.perf_counter()
        try:
            return await call
        except _ANSWERS:
            raise
        except Exception:
            self._errors.labels(*labels).inc()
            raise
        finally:
            child = self._children.get(labels)
            if child is None:
                child = self._children[labels] = self._duration.labels(*labels)
            child.observe(time.perf_counter() - started)

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self._timed("create", key, self.inner.create(key, value))

    async def get(self, key: str, revision: int = 0) -> KeyValue:
        return await self._timed("get", key, self.inner.get(key, revision))

    async def list(
        self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0
    ) -> ListResult:
        call = self.inner.list(prefix, limit=limit, start_after=start_after, revision=revision)
        return await self._timed("list", prefix, call)

    async def count(self, prefix: str) -> int:
        return await self._timed("count", prefix, self.inner.count(prefix))

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        return await self._timed("update", key, self.inner.update(key, value, expected_revision))

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        return await self._timed("delete", key, self.inner.delete(key, expected_revision))

    def watch(self, prefix: str, revision: int) -> WatchStream:
        return self.inner.watch(prefix, revision)

    async def current_revision(self) -> int:
        return await self._timed("currentRevision", "", self.inner.current_revision())

    async def compact(self, revision: int) -> None:
        await self._timed("compact", "", self.inner.compact(revision))

    async def close(self) -> None:
        await self.inner.close()
