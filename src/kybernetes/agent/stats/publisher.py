"""Pushes each node's usage summary to the API server every interval.

``StatsPublisher(client, collect, clock=..., interval=15)`` calls ``collect()`` (one summary
document per node this agent runs: one for a real node, many for simulated ones; a coroutine
function for a real node, which collects in a worker thread), then
``PUT /apis/metrics.k8s.io/v1beta1/nodes/<node>/summary`` for each, at most ``concurrency`` at
a time, then sleeps ``interval`` on the injected clock (so tests drive it in zero wall time).
``interval`` is metrics-server's default resolution.

Invariant: a failed push is logged and retried next round, never raised: usage reporting must
not take a node agent down.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final
from urllib.parse import quote

import aiohttp

from kybernetes.api import errors
from kybernetes.client.rest import Client
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)

DEFAULT_INTERVAL: Final = 15.0
SUMMARY_PATH: Final = "/apis/metrics.k8s.io/v1beta1/nodes/{node}/summary"
_FAILURES = (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError)

Summaries = Sequence[dict[str, Any]]
Collect = Callable[[], Summaries | Awaitable[Summaries]]


class StatsPublisher:
    """Publishes the summaries ``collect`` returns, forever."""

    def __init__(
        self,
        client: Client,
        collect: Collect,
        *,
        clock: Clock | None = None,
        interval: float = DEFAULT_INTERVAL,
        concurrency: int = 16,
    ) -> None:
        self.client = client
        self.collect = collect
        self.clock: Clock = clock or RealClock()
        self.interval = interval
        self._limit = asyncio.Semaphore(concurrency)

    async def run(self) -> None:
        while True:
            await self.publish_once()
            await self.clock.sleep(self.interval)

    async def publish_once(self) -> None:
        try:
            made = self.collect()
            summaries = await made if inspect.isawaitable(made) else made
        except Exception:  # a collector bug must not stop the agent; log it loudly
            log.exception("stats collection failed")
            return
        await asyncio.gather(*(self._push(doc) for doc in summaries))

    async def _push(self, doc: dict[str, Any]) -> None:
        node = str((doc.get("node") or {}).get("nodeName", ""))
        async with self._limit:
            try:
                await self.client.request(
                    "PUT", SUMMARY_PATH.format(node=quote(node, safe="")), body=doc
                )
            except _FAILURES as exc:
                log.warning("stats push failed node=%s error=%s", node, exc)
