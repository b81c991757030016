"""The shape of every controller: informer events -> work queue of keys -> workers -> ``sync(key)``.

A controller subclasses ``QueueController``, registers informer handlers that only call
``enqueue`` (level-triggered: DESIGN.md §1 rule 2), and implements ``sync(key)``, which reads the
current state from informer caches and converges it through the API. ``run(workers)`` waits for
the informers' first lists, then runs ``workers`` loops over the queue.

A ``sync`` that raises is retried with the queue's per-key exponential backoff (a ``Conflict`` is
just a stale read: the retry re-reads). A sync that succeeds resets the key's backoff. The queue
guarantees no key is synced by two workers at once.

``ControllerContext`` is what every controller is built from: the REST client, the shared
informer factory, an event recorder per component, the clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kybernetes.client.cache import key_of
from kybernetes.client.events import EventRecorder
from kybernetes.client.informer import Informer, InformerFactory
from kybernetes.client.rest import Client
from kybernetes.client.workqueue import ShutDown, WorkQueue
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass
class ControllerContext:
    """Everything a controller needs from the outside world, shared by all controllers."""

    client: Client
    informers: InformerFactory
    clock: Clock = field(default_factory=RealClock)
    options: Mapping[str, Any] = field(default_factory=dict)
    _recorders: dict[str, EventRecorder] = field(default_factory=dict)

    def recorder(self, component: str) -> EventRecorder:
        """The (shared) event recorder of ``component``; ``run_recorders`` writes its events."""
        recorder = self._recorders.get(component)
        if recorder is None:
            recorder = EventRecorder(self.client, component, clock=self.clock)
            self._recorders[component] = recorder
        return recorder

    async def run_recorders(self) -> None:
        async with asyncio.TaskGroup() as group:
            for recorder in self._recorders.values():
                group.create_task(recorder.run())


class QueueController:
    """Base class: a named work queue drained by workers that call ``sync(key)``."""

    name = "controller"

    def __init__(self, context: ControllerContext) -> None:
        self.context = context
        self.client = context.client
        self.clock = context.clock
        self.queue = WorkQueue(self.name, clock=context.clock)
        self._informers: list[Informer] = []

    def informer(self, informer: Informer) -> Informer:
        """Declare an informer this controller reads; ``run`` waits for its first list."""
        self._informers.append(informer)
        return informer

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(key_of(obj))

    def enqueue_after(self, obj: Obj, delay: float) -> None:
        self.queue.add_after(key_of(obj), delay)

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    async def run(self, workers: int = 1) -> None:
        """Wait for the caches, then process keys with ``workers`` concurrent workers."""
        await asyncio.gather(*(i.wait_synced() for i in self._informers))
        log.info("controller started controller=%s workers=%d", self.name, workers)
        try:
            async with asyncio.TaskGroup() as group:
                for n in range(workers):
                    group.create_task(self._worker(), name=f"{self.name} worker {n}")
        finally:
            self.queue.shutdown()

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.sync(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure is retried with backoff, never fatal
                requeues = self.queue.num_requeues(key)
                level = logging.INFO if requeues < 5 else logging.WARNING
                log.log(
                    level,
                    "sync failed controller=%s key=%s retries=%d error=%r",
                    self.name,
                    key,
                    requeues,
                    exc,
                )
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)


ControllerFactory = Callable[[ControllerContext], QueueController]
