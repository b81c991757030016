"""Event recording: the core/v1 Events that ``kubectl describe`` and ``kubectl get events`` show.

``EventRecorder.event(obj, type, reason, message)`` never blocks and never fails the caller: the
event goes onto a bounded queue (dropped, with a log line, when a flood overflows it, as
client-go's broadcaster does) and ``run()`` writes it. Repeats are aggregated like client-go's
``EventCorrelator``: an event with the same involved object, type, reason, message and source as
one already written patches that Event's ``count`` and ``lastTimestamp`` instead of creating a new
one. Event names are ``<object name>.<hex nanoseconds>``, as upstream.

Invariant: at most one write per event; a failed patch (the Event was deleted or expired) falls
back to creating a fresh Event with count 1.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import aiohttp

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339
from kybernetes.client.resource import EVENTS
from kybernetes.client.rest import Client
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)

NORMAL: Final = "Normal"
WARNING: Final = "Warning"
_QUEUE_SIZE: Final = 1000
_CACHE_SIZE: Final = 4096


class _Pending(NamedTuple):
    involved: dict[str, Any]
    namespace: str
    type: str
    reason: str
    message: str
    at: float


class EventRecorder:
    """Writes Events for one component (``source.component``) on one host."""

    def __init__(
        self,
        client: Client,
        component: str,
        *,
        host: str = "",
        clock: Clock | None = None,
        reporting_instance: str = "",
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.reporting_instance = reporting_instance or host
        self.clock: Clock = clock or RealClock()
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(_QUEUE_SIZE)
        # aggregation key -> (event name, namespace, count)
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str, int]] = OrderedDict()

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an event about ``obj`` (asynchronously; never raises)."""
        meta = obj.get("metadata") or {}
        involved: dict[str, Any] = {
            "kind": obj.get("kind", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        involved = {k: v for k, v in involved.items() if v}
        namespace = meta.get("namespace") or "default"
        pending = _Pending(involved, namespace, type_, reason, message, self.clock.now())
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            log.warning("event dropped, queue full reason=%s object=%s", reason, involved)

    async def run(self) -> None:
        """Write queued events until cancelled."""
        while True:
            pending = await self._queue.get()
            try:
                await self._write(pending)
            except (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("event not written reason=%s error=%s", pending.reason, exc)

    async def flush(self) -> None:
        """Write everything queued so far (for tests and orderly shutdown)."""
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            try:
                await self._write(pending)
            except (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("event not written reason=%s error=%s", pending.reason, exc)

    async def _write(self, pending: _Pending) -> None:
        involved = pending.involved
        key = (
            involved.get("kind", ""),
            involved.get("namespace", ""),
            involved.get("name", ""),
            involved.get("uid", ""),
            pending.type,
            pending.reason,
            pending.message,
        )
        stamp = now_rfc3339(datetime.fromtimestamp(pending.at, UTC))
        seen = self._seen.get(key)
        if seen is not None:
            name, namespace, count = seen
            patch = {"count": count + 1, "lastTimestamp": stamp}
            try:
                await self.client.patch(EVENTS, name, patch, namespace)
                self._remember(key, (name, namespace, count + 1))
                return
            except errors.NotFound:
                pass
        name = f"{involved.get('name') or 'event'}.{int(pending.at * 1e9):x}"
        metadata = {"name": name, "namespace": pending.namespace}
        event: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": metadata,
            "involvedObject": involved,
            "reason": pending.reason,
            "message": pending.message,
            "type": pending.type,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": self.reporting_instance,
        }
        try:
            await self.client.create(EVENTS, event, pending.namespace)
        except errors.AlreadyExists:
            metadata["name"] = f"{name}{len(self._seen):x}"
            await self.client.create(EVENTS, event, pending.namespace)
        self._remember(key, (metadata["name"], pending.namespace, 1))

    def _remember(self, key: tuple[str, ...], value: tuple[str, str, int]) -> None:
        self._seen[key] = value
        self._seen.move_to_end(key)
        while len(self._seen) > _CACHE_SIZE:
            self._seen.popitem(last=False)
