"""Simulated nodes (kwok-style): thousands of nodes in one process, pods Running without processes.

``FakeNodes`` registers the configured nodes (``node.py``), keeps their Leases and status fresh
(``heartbeat.py``) and acts as the kubelet of every pod bound to them:

- a bound pod becomes Running after ``start_delay`` seconds (before that, if the delay is not
  zero, Pending with its containers ``ContainerCreating``): a pod IP from its node's pod CIDR,
  containers running, started and ready, every condition True;
- pods annotated ``kybernetes.io/fake-run-seconds`` (and ``kybernetes.io/fake-exit-code``) see
  their containers exit, and end Succeeded or Failed or restart as their restartPolicy says
  (``fakepods.py``);
- a pod given a deletionTimestamp has its containers stopped and that status written, then is
  deleted with ``gracePeriodSeconds=0`` and a uid precondition, as the kubelet completes a
  graceful deletion;
- every ``stats_interval`` seconds each node pushes a usage summary to ``metrics.k8s.io``, its
  pods' usage set by annotations (``agent/stats/synthetic.py``), so ``kubectl top`` and the
  HorizontalPodAutoscaler see load that tests control.

The machinery is shared by all nodes: ONE pod informer (field selector ``spec.nodeName!=``, so
only bound pods; filtered to our nodes here), ONE node informer, one work queue keyed by pod and
a few workers. Every status write is ``update_status`` with the resourceVersion the cache holds;
a Conflict re-queues the pod with back-off and the next sync reads the cache again.

Invariants: a pod's IP is unique among the running pods of its node: before any new address is
handed out, the addresses of pods already running are claimed, so a restarted ``FakeNodes``
adopts its nodes and pods. Pod state lives in the pods' status, not here; all this keeps per
pod is which pool holds its address.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp

from kybernetes import __version__
from kybernetes.agent.fakepods import RUNTIME, containers_at, has_started, plan_of, stopped
from kybernetes.agent.heartbeat import Heartbeats
from kybernetes.agent.ipam import IPPool, subnet_count, subnet_for
from kybernetes.agent.node import NodeConfig, register
from kybernetes.agent.podstatus import TERMINAL_PHASES, pod_status
from kybernetes.agent.stats.publisher import StatsPublisher
from kybernetes.agent.stats.synthetic import synthetic_summaries
from kybernetes.api import errors
from kybernetes.api.meta import parse_time
from kybernetes.client.informer import Handler, Informer, strip_managed_fields
from kybernetes.client.resource import NODES, PODS
from kybernetes.client.rest import Client
from kybernetes.client.workqueue import ExponentialRateLimiter, WorkQueue
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)

Obj = dict[str, Any]

#: DESIGN.md's pod range (a /24 per node holds 256 nodes) and, for more nodes, the shared
#: address space of RFC 6598, which no cluster routes (16,384 nodes of /24).
DEFAULT_POD_CIDR: Final = "10.42.0.0/16"
LARGE_POD_CIDR: Final = "100.64.0.0/10"
_FAILURES = (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError)
_RETRY_FULL_POOL: Final = 5.0


@dataclass(frozen=True, slots=True)
class NodeGroup:
    """``count`` identical nodes named ``<name_prefix><i>``; zones go round-robin."""

    count: int
    name_prefix: str = "kyb-fake-node-"
    cpu: str = "32"
    memory: str = "256Gi"
    ephemeral_storage: str = "1Ti"
    pods: int = 110
    #: Extended resources, e.g. ``{"nvidia.com/gpu": "8"}``.
    extended: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Mapping[str, str]] = ()
    zones: Sequence[str] = ("zone-a", "zone-b", "zone-c")
    region: str = ""
    instance_type: str = ""

    def capacity(self) -> dict[str, str]:
        return {
            "cpu": self.cpu,
            "memory": self.memory,
            "ephemeral-storage": self.ephemeral_storage,
            "pods": str(self.pods),
            **self.extended,
        }


@dataclass(frozen=True, slots=True)
class FakeNodesConfig(NodeGroup):
    """The simulated nodes: a first group described inline, plus any number of other groups.

    ``FakeNodesConfig(3, groups=[NodeGroup(2, "kyb-gpu-node-", extended={"nvidia.com/gpu":
    "8"}, labels={"gpu": "true"})])`` makes three plain nodes and two GPU nodes.
    """

    groups: Sequence[NodeGroup] = ()
    #: Seconds from a pod's binding to Running.
    start_delay: float = 0.0
    #: Seconds between Lease renewals of each node (upstream 10; see heartbeat.py for the load).
    lease_renew_interval: float = 10.0
    status_report_interval: float = 300.0
    #: Where node pod CIDRs come from; empty: DEFAULT_POD_CIDR, or LARGE_POD_CIDR when it is
    #: too small for all the nodes.
    pod_cidr: str = ""
    node_cidr_mask: int = 24
    #: The first node takes the pod subnet with this index (leave room for real nodes).
    cidr_offset: int = 0
    #: Node i's InternalIP is host i+1 of this range.
    node_ip_cidr: str = "10.41.0.0/16"
    workers: int = 16
    register_concurrency: int = 32
    #: Seconds between usage summaries pushed to metrics.k8s.io (usage from pod annotations,
    #: see agent/stats/synthetic.py).
    stats_interval: float = 15.0

    def node_groups(self) -> list[NodeGroup]:
        inline = NodeGroup(**{f.name: getattr(self, f.name) for f in dataclasses.fields(NodeGroup)})
        return [g for g in (inline, *self.groups) if g.count > 0]

    def node_configs(self) -> list[NodeConfig]:
        """Every simulated node, in order; node names must be unique."""
        groups = self.node_groups()
        total = sum(g.count for g in groups)
        cluster_cidr = self.pod_cidr or DEFAULT_POD_CIDR
        if not self.pod_cidr and subnet_count(cluster_cidr, self.node_cidr_mask) < (
            total + self.cidr_offset
        ):
            cluster_cidr = LARGE_POD_CIDR
        node_ips = ipaddress.ip_network(self.node_ip_cidr)
        configs: list[NodeConfig] = []
        for group in groups:
            for i in range(group.count):
                index = len(configs)
                configs.append(
                    NodeConfig(
                        name=f"{group.name_prefix}{i}",
                        capacity=group.capacity(),
                        internal_ip=str(node_ips.network_address + index + 1),
                        labels=dict(group.labels),
                        taints=tuple(group.taints),
                        pod_cidrs=(
                            subnet_for(index + self.cidr_offset, cluster_cidr, self.node_cidr_mask),
                        ),
                        zone=group.zones[i % len(group.zones)] if group.zones else "",
                        region=group.region,
                        instance_type=group.instance_type,
                        kernel_version=platform.release(),
                        os_image="Kybernetes simulated node",
                        container_runtime_version=f"{RUNTIME}://{__version__}",
                    )
                )
        if len({c.name for c in configs}) != len(configs):
            raise ValueError("fake node groups give two nodes the same name")
        return configs


@dataclass(slots=True)
class _Node:
    config: NodeConfig
    pool: IPPool


class FakeNodes:
    """Plays the kubelet for every simulated node, through one client."""

    def __init__(
        self, client: Client, config: FakeNodesConfig, *, clock: Clock | None = None
    ) -> None:
        self.client = client
        self.config = config
        self.clock: Clock = clock or RealClock()
        self.node_informer = Informer(
            client, NODES, clock=self.clock, transform=strip_managed_fields
        )
        self.pod_informer = Informer(
            client,
            PODS,
            field_selector="spec.nodeName!=",
            clock=self.clock,
            transform=strip_managed_fields,
        )
        self.queue = WorkQueue(
            "fake-nodes", clock=self.clock, rate_limiter=ExponentialRateLimiter(maximum=30.0)
        )
        self.heartbeats = Heartbeats(
            client,
            self.node_informer.store,
            clock=self.clock,
            renew_interval=config.lease_renew_interval,
            status_report_interval=config.status_report_interval,
            concurrency=config.register_concurrency,
        )
        self.stats = StatsPublisher(
            client, self._summaries, clock=self.clock, interval=config.stats_interval
        )
        #: Set once every node is registered and pods are being handled.
        self.ready = asyncio.Event()
        self._configs = config.node_configs()
        self._names = frozenset(c.name for c in self._configs)
        self._nodes: dict[str, _Node] = {}
        self._pool_of: dict[str, IPPool] = {}  # pod key -> the pool holding its address
        self._deleted: dict[str, str] = {}  # pod key -> uid deleted, until the informer sees it

    async def run(self) -> None:
        """Register the nodes, then run them until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.node_informer.run(), name="fake-nodes informer nodes")
            group.create_task(self.pod_informer.run(), name="fake-nodes informer pods")
            group.create_task(self.heartbeats.run(), name="fake-nodes heartbeats")
            await self.node_informer.wait_synced()
            await self.pod_informer.wait_synced()
            await self._register_all()
            self._adopt_addresses()
            self.pod_informer.add_handler(
                Handler(
                    on_add=self._enqueue,
                    on_update=lambda _, new: self._enqueue(new),
                    on_delete=self._enqueue,
                )
            )
            for i in range(self.config.workers):
                group.create_task(self._worker(), name=f"fake-nodes worker {i}")
            group.create_task(self.stats.run(), name="fake-nodes stats")
            self.ready.set()

    def _summaries(self) -> list[Obj]:
        pods = self.pod_informer.store.list()
        window = self.config.stats_interval
        return synthetic_summaries(self._nodes, pods, self.clock.now(), window)

    # --- nodes -------------------------------------------------------------------------------

    async def _register_all(self) -> None:
        started = self.clock.monotonic()
        pending = iter(self._configs)

        async def registrar() -> None:
            for config in pending:
                await self._register(config)

        workers = max(1, min(self.config.register_concurrency, len(self._configs)))
        await asyncio.gather(*(registrar() for _ in range(workers)))
        log.info(
            "fake nodes registered count=%d seconds=%.2f",
            len(self._configs),
            self.clock.monotonic() - started,
        )

    async def _register(self, config: NodeConfig) -> None:
        backoff = 0.5
        while True:
            try:
                node = await register(
                    self.client, config, self.clock, self.node_informer.store.get(config.name)
                )
                break
            except _FAILURES as exc:
                log.warning("node registration failed node=%s error=%s", config.name, exc)
                await self.clock.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
        cidrs = (node.get("spec") or {}).get("podCIDRs") or config.pod_cidrs
        self._nodes[config.name] = _Node(config, IPPool(cidrs[0]))
        self.heartbeats.add(config, node)

    def _adopt_addresses(self) -> None:
        """Claim the addresses of pods already running on our nodes (after a restart)."""
        for key, pod in self.pod_informer.store.items().items():
            node = self._nodes.get(pod["spec"].get("nodeName", ""))
            status = pod.get("status") or {}
            address = status.get("podIP")
            if node is None or not address or pod["spec"].get("hostNetwork"):
                continue
            if status.get("phase") in TERMINAL_PHASES:
                continue
            if node.pool.claim(address, key):
                self._pool_of[key] = node.pool
            else:
                log.warning("pod address not in node pool pod=%s ip=%s", key, address)

    # --- pods --------------------------------------------------------------------------------

    def _enqueue(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName") in self._names:
            meta = pod["metadata"]
            self.queue.add(f"{meta.get('namespace')}/{meta['name']}")

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self._sync(key)
            except errors.Conflict:
                self.queue.add_rate_limited(key)
            except _FAILURES as exc:
                log.warning("fake pod sync failed pod=%s error=%s", key, exc)
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)

    async def _sync(self, key: str) -> None:
        pod = self.pod_informer.store.get(key)
        node = self._nodes.get(((pod or {}).get("spec") or {}).get("nodeName", ""))
        if pod is None or node is None:
            self._release(key)
            self._deleted.pop(key, None)
            return
        status = pod.get("status") or {}
        if pod["metadata"].get("deletionTimestamp"):
            await self._finish(key, pod, node)
            return
        if status.get("phase") in TERMINAL_PHASES:
            self._release(key)
            return
        now = self.clock.now()
        addresses: tuple[str, ...] = ()
        if not has_started(pod):
            if not await self._due_to_start(key, pod, node, now):
                return
            if not pod["spec"].get("hostNetwork"):
                address = self._allocate(key, node)
                if address is None:
                    log.warning("no pod address left node=%s pod=%s", node.config.name, key)
                    self.queue.add_after(key, _RETRY_FULL_POOL)
                    return
                addresses = (address,)
        init, app, wake = containers_at(pod, now, plan_of(pod))
        wanted = pod_status(
            pod,
            containers=app,
            init_containers=init,
            sandbox_ready=True,
            pod_ips=addresses,
            host_ips=(node.config.internal_ip,),
            now=now,
        )
        if wanted != status:
            await self._write(pod, wanted)
            log.debug("fake pod status pod=%s phase=%s", key, wanted["phase"])
        if wanted["phase"] in TERMINAL_PHASES:
            self._release(key)
        elif wake is not None:
            self.queue.add_after(key, max(0.0, wake - now))

    async def _due_to_start(self, key: str, pod: Obj, node: _Node, now: float) -> bool:
        """Whether the start delay has passed (writing the Pending status when it begins)."""
        delay = self.config.start_delay
        if delay <= 0:
            return True
        start_time = (pod.get("status") or {}).get("startTime")
        if not start_time:
            pending = pod_status(
                pod,
                containers={},
                sandbox_ready=False,
                host_ips=(node.config.internal_ip,),
                now=now,
            )
            await self._write(pod, pending)
            self.queue.add_after(key, delay)
            return False
        remaining = parse_time(start_time).timestamp() + delay - now
        if remaining > 0:
            self.queue.add_after(key, remaining)
            return False
        return True

    async def _finish(self, key: str, pod: Obj, node: _Node) -> None:
        """Stop the containers of a deleted pod, report it, and complete the deletion."""
        meta = pod["metadata"]
        uid = meta.get("uid", "")
        if self._deleted.get(key) == uid:
            return
        status = pod.get("status") or {}
        if has_started(pod) and status.get("phase") not in TERMINAL_PHASES:
            now = self.clock.now()
            init, app = stopped(pod, now)
            final = pod_status(
                pod,
                containers=app,
                init_containers=init,
                sandbox_ready=False,
                host_ips=(node.config.internal_ip,),
                now=now,
                terminal=True,
            )
            await self._write(pod, final)
        # NotFound: gone already; Conflict: replaced by a new pod of the same name.
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(
                PODS,
                meta["name"],
                meta.get("namespace"),
                grace_period_seconds=0,
                preconditions={"uid": uid},
            )
        self._deleted[key] = uid
        self._release(key)
        log.debug("fake pod deleted pod=%s", key)

    async def _write(self, pod: Obj, status: Obj) -> None:
        updated = dict(pod)
        updated["status"] = status
        with contextlib.suppress(errors.NotFound):  # deleted meanwhile; the informer will say so
            await self.client.update_status(PODS, updated)

    # --- addresses ---------------------------------------------------------------------------

    def _allocate(self, key: str, node: _Node) -> str | None:
        held = self._pool_of.get(key)
        if held is not None and held is not node.pool:
            self._release(key)
        address = node.pool.allocate(key)
        if address is not None:
            self._pool_of[key] = node.pool
        return address

    def _release(self, key: str) -> None:
        pool = self._pool_of.pop(key, None)
        if pool is not None:
            pool.release(key)


async def run_fake_nodes(
    client: Client, config: FakeNodesConfig, *, clock: Clock | None = None
) -> None:
    """Run ``config``'s simulated nodes against the API server behind ``client`` until cancelled."""
    await FakeNodes(client, config, clock=clock).run()
