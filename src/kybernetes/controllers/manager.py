"""The controller manager: every controller, one shared set of informers, one leader at a time.

``ControllerManager.run()`` builds the enabled controllers on one ``ControllerContext`` (so all
of them share one informer per resource, as kube-controller-manager does), then runs the
informers, the event recorders and each controller's workers in one task group. With
``leader_elect`` it first wins the ``kube-system/kube-controller-manager`` Lease, so two copies
can run for availability and only one acts.

``registry.CONTROLLERS`` names every controller ``--controllers`` can enable.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from kybernetes.client.informer import InformerFactory
from kybernetes.client.leaderelection import LeaderElector
from kybernetes.client.rest import Client
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.registry import CONTROLLERS
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)

LEASE_NAME: Final = "kube-controller-manager"


class ControllerManager:
    """Runs the named controllers (all registered ones by default) against one API server."""

    def __init__(
        self,
        client: Client,
        *,
        controllers: Sequence[str] | None = None,
        leader_elect: bool = False,
        identity: str | None = None,
        clock: Clock | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        names = list(CONTROLLERS) if controllers is None else list(controllers)
        unknown = [n for n in names if n not in CONTROLLERS]
        if unknown:
            raise ValueError(
                f"unknown controllers: {', '.join(unknown)} (known: {', '.join(CONTROLLERS)})"
            )
        self.client = client
        self.names = names
        self.leader_elect = leader_elect
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.clock: Clock = clock or RealClock()
        self.options = dict(options or {})

    async def run(self) -> None:
        if not self.leader_elect:
            await self._run_controllers()
            return
        elector = LeaderElector(self.client, LEASE_NAME, self.identity, clock=self.clock)
        await elector.run(self._run_controllers)

    async def _run_controllers(self) -> None:
        informers = InformerFactory(self.client, clock=self.clock)
        context = ControllerContext(self.client, informers, self.clock, self.options)
        built = [(CONTROLLERS[name][0](context), CONTROLLERS[name][1]) for name in self.names]
        log.info("controller manager running controllers=%s", ",".join(self.names))
        async with asyncio.TaskGroup() as group:
            group.create_task(informers.run(), name="informers")
            group.create_task(context.run_recorders(), name="event recorders")
            for controller, workers in built:
                group.create_task(controller.run(workers), name=controller.name)
