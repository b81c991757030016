"""An in-process cluster for tests: API server, controllers, scheduler and simulated nodes.

``async with running_cluster(FakeNodesConfig(3)) as cluster: ...`` starts a real API server
(memory storage unless one is given) and, as separate API clients of it exactly as in
``kyb server``, the controller manager, the scheduler and the simulated nodes; it yields once
every simulated node is registered. ``cluster.client`` is a client for the test itself. Users
can test their own operators against it in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kybernetes.agent.fake import FakeNodes, FakeNodesConfig
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import ControllerManager
from kybernetes.scheduler.app import run_scheduler
from kybernetes.scheduler.config import SchedulerConfiguration
from kybernetes.storage.interface import Storage
from kybernetes.testing.apiserver import RunningAPIServer, running_apiserver
from kybernetes.util.clock import Clock


@dataclass
class RunningCluster:
    api: RunningAPIServer
    client: Client
    nodes: FakeNodes | None

    @property
    def url(self) -> str:
        return self.api.url


@contextlib.asynccontextmanager
async def running_cluster(
    fake_nodes: FakeNodesConfig | None = None,
    *,
    controllers: Sequence[str] | None = None,
    scheduler: bool = True,
    scheduler_config: SchedulerConfiguration | None = None,
    storage: Storage | None = None,
    clock: Clock | None = None,
    controller_options: Mapping[str, Any] | None = None,
) -> AsyncIterator[RunningCluster]:
    """Run a whole cluster in this event loop for the duration of the block.

    ``controllers`` None runs every controller; an empty list runs none.
    """
    async with running_apiserver(storage) as api:
        clients: list[Client] = []

        def client(agent: str) -> Client:
            made = Client(api.url, user_agent=f"kyb/{agent}")
            clients.append(made)
            return made

        components: list[Coroutine[Any, Any, None]] = []
        if controllers is None or controllers:
            manager = ControllerManager(
                client("controller-manager"),
                controllers=controllers,
                clock=clock,
                options=controller_options,
            )
            components.append(manager.run())
        if scheduler:
            components.append(run_scheduler(client("scheduler"), scheduler_config, clock=clock))
        nodes = None
        if fake_nodes is not None:
            nodes = FakeNodes(client("fake-nodes"), fake_nodes, clock=clock)
            components.append(nodes.run())
        tasks = [asyncio.ensure_future(c) for c in components]
        try:
            if nodes is not None:
                ready = asyncio.ensure_future(nodes.ready.wait())
                done, _ = await asyncio.wait(
                    {ready, *tasks}, timeout=120, return_when=asyncio.FIRST_COMPLETED
                )
                if ready not in done:
                    ready.cancel()
                    for task in done:
                        task.result()  # a component failed: raise its error
                    raise TimeoutError("the simulated nodes did not register in time")
            async with Client(api.url, user_agent="kyb/test") as test_client:
                yield RunningCluster(api, test_client, nodes)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for made in clients:
                await made.close()
