"""Running the scheduler against an API server: informers in, ``ClusterAPI`` out.

``run_scheduler`` is what ``kyb scheduler`` and ``kyb server`` call. Nodes are mirrored before
pods are, so every assigned pod lands in the cache on a node it knows; then the scheduling loop
starts. With ``leader_elect`` it first takes the ``kube-system/kube-scheduler`` Lease, so two
schedulers can run for availability with one active.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Final, cast

from kybernetes.api.types import Node, Pod
from kybernetes.client.events import EventRecorder
from kybernetes.client.informer import Handler, InformerFactory
from kybernetes.client.leaderelection import LeaderElector
from kybernetes.client.resource import NODES, PODS
from kybernetes.client.rest import Client
from kybernetes.scheduler.clusterapi import InformerClusterAPI
from kybernetes.scheduler.config import SchedulerConfiguration
from kybernetes.scheduler.scheduler import Scheduler
from kybernetes.util.clock import Clock, RealClock

LEASE_NAME: Final = "kube-scheduler"


async def run_scheduler(
    client: Client,
    config: SchedulerConfiguration | None = None,
    *,
    leader_elect: bool = False,
    identity: str | None = None,
    clock: Clock | None = None,
) -> None:
    """Schedule pods until cancelled."""
    the_clock: Clock = clock or RealClock()
    if not leader_elect:
        await _schedule(client, config, the_clock)
        return
    me = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
    elector = LeaderElector(client, LEASE_NAME, me, clock=the_clock)
    await elector.run(lambda: _schedule(client, config, the_clock))


async def _schedule(client: Client, config: SchedulerConfiguration | None, clock: Clock) -> None:
    informers = InformerFactory(client, clock=clock)
    recorder = EventRecorder(client, "default-scheduler", clock=clock)
    api = InformerClusterAPI(client, informers, recorder, clock)
    scheduler = Scheduler(api, config, clock=clock)
    nodes = informers.informer(NODES)
    pods = informers.informer(PODS)
    nodes.add_handler(
        Handler(
            lambda n: scheduler.on_node_add(cast(Node, n)),
            lambda o, n: scheduler.on_node_update(cast(Node, o), cast(Node, n)),
            lambda n: scheduler.on_node_delete(cast(Node, n)),
        )
    )
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(informers.run(), name="scheduler informers")
            group.create_task(recorder.run(), name="scheduler events")
            await asyncio.gather(nodes.wait_synced(), *(i.wait_synced() for i in api.informers))
            pods.add_handler(
                Handler(
                    lambda p: scheduler.on_pod_add(cast(Pod, p)),
                    lambda o, p: scheduler.on_pod_update(cast(Pod, o), cast(Pod, p)),
                    lambda p: scheduler.on_pod_delete(cast(Pod, p)),
                )
            )
            await pods.wait_synced()
            group.create_task(scheduler.run(), name="scheduling loop")
    finally:
        scheduler.close()
