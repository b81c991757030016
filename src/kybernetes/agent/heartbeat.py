"""Node heartbeats for one node or thousands, from one task: Leases renewed, status re-posted.

Every ``renew_interval`` (upstream: 10 s, a quarter of the 40 s lease duration) each node's Lease
``kube-node-lease/<node>`` gets a fresh ``renewTime`` (holder: the node's name; owner: the Node,
so it goes when the Node goes), and the node's status in the informer cache is compared with
what the agent would post: it is posted when it differs in more than heartbeat times (say, the
node was marked NotReady) or when ``status_report_interval`` (upstream's
``nodeStatusReportFrequency``, 5 minutes) has passed since the last post.

Load: N nodes cost N / renew_interval Lease writes a second plus N / 300 status writes. 5,000
nodes at the upstream 10 s make 500 Lease writes/s (and 17 status writes/s): each one is a
durable, fsync'd write, grouped by the SQLite writer, and it is most of what an idle simulated
cluster writes. Raise ``renew_interval`` for big simulations; the lease duration stays at least
four intervals.

Scheduling: one heap of due times. A node's first renewal happens when it is added (creating its
Lease), its second after a random fraction of the interval, so renewals spread evenly over the
interval whatever order nodes registered in; later ones follow every interval, stretched by up
to 4% (client-go's ``JitterUntil`` factor). The loop handles everything due within the next
50 ms at once, with at most ``concurrency`` writes in flight.

Invariant: a Lease is written only with the resourceVersion last read or written (a Conflict or
NotFound makes the next renewal read it again); a failed heartbeat is logged and retried at the
next interval, never fatal.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp

from kybernetes.agent.node import NodeConfig, node_status, post_status, status_differs
from kybernetes.api import errors
from kybernetes.api.meta import micro_time
from kybernetes.client.cache import Indexer
from kybernetes.client.resource import LEASES, NODES
from kybernetes.client.rest import Client
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NODE_LEASE_NAMESPACE: Final = "kube-node-lease"
_BATCH: Final = 0.05
_JITTER: Final = 0.04
_FAILURES = (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError)


def build_lease(node_name: str, node_uid: str, duration: int, renew_time: str) -> Obj:
    """The Lease a node agent holds, as the kubelet's lease controller creates it."""
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node_name,
            "namespace": NODE_LEASE_NAMESPACE,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}
            ],
        },
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": duration,
            "renewTime": renew_time,
        },
    }


@dataclass(slots=True)
class _Beat:
    config: NodeConfig
    uid: str
    last_report: float
    lease: Obj | None = None
    spread: bool = True  # the next due time is still to be spread over the interval


class Heartbeats:
    """Keeps the Leases of many nodes renewed and their status reported."""

    def __init__(
        self,
        client: Client,
        nodes: Indexer,
        *,
        clock: Clock | None = None,
        renew_interval: float = 10.0,
        status_report_interval: float = 300.0,
        concurrency: int = 32,
    ) -> None:
        if renew_interval <= 0:
            raise ValueError("renew_interval must be positive")
        self.client = client
        self.nodes = nodes
        self.clock: Clock = clock or RealClock()
        self.renew_interval = renew_interval
        self.lease_duration = max(40, math.ceil(4 * renew_interval))
        self.status_report_interval = status_report_interval
        self.concurrency = concurrency
        self._beats: dict[str, _Beat] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._kick = asyncio.Event()

    def __len__(self) -> int:
        return len(self._beats)

    def add(self, config: NodeConfig, node: Obj) -> None:
        """Start heartbeats of a node just registered (``node``: as stored, status posted)."""
        now = self.clock.monotonic()
        uid = str(node["metadata"].get("uid", ""))
        self._beats[config.name] = _Beat(config, uid, last_report=now)
        heapq.heappush(self._heap, (now, next(self._seq), config.name))
        self._kick.set()

    async def run(self) -> None:
        """Renew and report until cancelled."""
        while True:
            if not self._heap:
                self._kick.clear()
                await self._kick.wait()
                continue
            delay = self._heap[0][0] - self.clock.monotonic()
            if delay > 0:
                await self._sleep(delay)
                continue
            horizon = self.clock.monotonic() + _BATCH
            due: list[tuple[float, str]] = []
            while self._heap and self._heap[0][0] <= horizon:
                when, _, name = heapq.heappop(self._heap)
                due.append((when, name))
            await self._beat_all(due)

    async def _sleep(self, delay: float) -> None:
        """Sleep ``delay`` on the clock, or until ``add`` puts an earlier entry in the heap."""
        self._kick.clear()
        sleeper = asyncio.ensure_future(self.clock.sleep(delay))
        kicked = asyncio.ensure_future(self._kick.wait())
        try:
            await asyncio.wait((sleeper, kicked), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            kicked.cancel()

    async def _beat_all(self, due: list[tuple[float, str]]) -> None:
        limit = asyncio.Semaphore(self.concurrency)

        async def one(when: float, name: str) -> None:
            async with limit:
                await self._beat(when, name)

        await asyncio.gather(*(one(when, name) for when, name in due))

    async def _beat(self, when: float, name: str) -> None:
        beat = self._beats.get(name)
        if beat is None:
            return
        try:
            await self._renew(name, beat)
            await self._report(name, beat)
        except _FAILURES as exc:
            log.warning("node heartbeat failed node=%s error=%s", name, exc)
        now = self.clock.monotonic()
        if beat.spread:
            beat.spread = False
            following = now + self.renew_interval * random.random()
        else:
            following = when + self.renew_interval * (1 + random.uniform(0, _JITTER))
        heapq.heappush(self._heap, (max(following, now), next(self._seq), name))

    async def _renew(self, name: str, beat: _Beat) -> None:
        renew_time = micro_time(datetime.fromtimestamp(self.clock.now(), UTC))
        lease = beat.lease
        if lease is not None:
            renewed = {**lease, "spec": {**lease["spec"], "renewTime": renew_time}}
            try:
                beat.lease = await self.client.update(LEASES, renewed)
                return
            except (errors.Conflict, errors.NotFound):
                beat.lease = None
        wanted = build_lease(name, beat.uid, self.lease_duration, renew_time)
        try:
            beat.lease = await self.client.create(LEASES, wanted)
            return
        except errors.AlreadyExists:
            current = await self.client.get(LEASES, name, NODE_LEASE_NAMESPACE)
        current["spec"] = {**(current.get("spec") or {}), **wanted["spec"]}
        current["metadata"]["ownerReferences"] = wanted["metadata"]["ownerReferences"]
        beat.lease = await self.client.update(LEASES, current)

    async def _report(self, name: str, beat: _Beat) -> None:
        node = self.nodes.get(name)
        if node is None:
            return
        now = self.clock.monotonic()
        current = node.get("status") or {}
        stale = now - beat.last_report >= self.status_report_interval
        if not stale and not status_differs(
            node_status(beat.config, current, self.clock.now()), current
        ):
            return
        try:
            await post_status(self.client, beat.config, node, self.clock)
        except errors.Conflict:
            fresh = await self.client.get(NODES, name)
            await post_status(self.client, beat.config, fresh, self.clock)
        beat.last_report = now
