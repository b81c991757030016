"""The node agent (kubelet): registers its Node, then runs every pod bound to it.

``Kubelet.register`` creates or adopts the Node (real capacity, ``nodeinfo.py``) and returns
the pod CIDR to use: the Node's ``spec.podCIDR`` when the control plane set one, else the
configured one; the caller builds the runtime (and its network) for that CIDR and calls
``run``. ``run`` keeps the Lease renewed (``heartbeat.py``), watches the pods bound to the node
and the configMaps, secrets and services they read, removes orphaned sandboxes (no pod in the
API) once at start, adopts everything else, and syncs each pod on its own serial worker
(``podworkers.py``), woken by informer events, the PLEG relist (``pleg.py``), probe results
and the timers the sync asks for.

One pod sync (``_sync_pod``): a pod gone from the API is killed and cleaned up; a pod with a
deletionTimestamp is stopped (preStop, SIGTERM, grace), its final status written, its sandbox
and volumes removed, and the pod deleted with ``gracePeriodSeconds=0`` and a uid precondition;
a terminal pod keeps its containers (for logs) but loses its sandbox; any other pod is synced
(``sync.py``) and its status written if it changed (``status.py``).

Invariants: nothing here kills a running container that the spec still wants; all pod state
the agent needs after a restart is in the runtime's labels and the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from kybernetes.agent.heartbeat import Heartbeats
from kybernetes.agent.images.interface import ImageService
from kybernetes.agent.kubelet import labels as L
from kybernetes.agent.kubelet.config import KubeletConfig
from kybernetes.agent.kubelet.metrics import PodStarts
from kybernetes.agent.kubelet.nodeinfo import node_config
from kybernetes.agent.kubelet.pleg import PLEG
from kybernetes.agent.kubelet.podworkers import DONE, PodWorkers
from kybernetes.agent.kubelet.probes import ProbeManager
from kybernetes.agent.kubelet.pull import ImagePuller
from kybernetes.agent.kubelet.status import StatusWriter, container_info
from kybernetes.agent.kubelet.sync import PodContext, PodSyncer, SyncSettings, pod_name
from kybernetes.agent.kubelet.termination import Killer, grace_period
from kybernetes.agent.kubelet.volumes.manager import VolumeManager
from kybernetes.agent.kubelet.volumes.tokens import TokenManager
from kybernetes.agent.network.dns import ClusterDNS, DNSConfig, parse_resolv_conf
from kybernetes.agent.node import NodeConfig, register
from kybernetes.agent.podstatus import TERMINAL_PHASES, ContainerInfo, pod_status
from kybernetes.agent.runtime.interface import PodSandboxStatus, RuntimeError_, RuntimeService
from kybernetes.api import errors
from kybernetes.client.events import EventRecorder
from kybernetes.client.informer import Handler, Informer
from kybernetes.client.resource import (
    CONFIGMAPS,
    NODES,
    PODS,
    SECRETS,
    SERVICEACCOUNTS,
    SERVICES,
)
from kybernetes.client.rest import Client
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
_FAILURES = (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError)


@dataclass(frozen=True)
class _Parts:
    """What ``run`` builds around the runtime."""

    runtime: RuntimeService
    syncer: PodSyncer
    probes: ProbeManager
    killer: Killer
    volumes: VolumeManager
    node: NodeConfig


def _rv(obj: Mapping[str, Any] | None) -> int:
    try:
        return int((obj or {}).get("metadata", {}).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


class Kubelet:
    def __init__(
        self,
        client: Client,
        config: KubeletConfig,
        *,
        images: ImageService,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.images = images
        self.clock: Clock = clock or RealClock()
        name = config.node_name
        self.node_informer = Informer(
            client, NODES, field_selector=f"metadata.name={name}", clock=self.clock
        )
        self.pod_informer = Informer(
            client, PODS, field_selector=f"spec.nodeName={name}", clock=self.clock
        )
        self.configmap_informer = Informer(client, CONFIGMAPS, clock=self.clock)
        self.secret_informer = Informer(client, SECRETS, clock=self.clock)
        self.service_informer = Informer(client, SERVICES, clock=self.clock)
        self.events = EventRecorder(client, "kubelet", host=name, clock=self.clock)
        self.heartbeats = Heartbeats(
            client,
            self.node_informer.store,
            clock=self.clock,
            renew_interval=config.lease_renew_interval,
            status_report_interval=config.status_report_interval,
        )
        self.workers = PodWorkers(self._sync_pod, self.clock)
        self.status_writer = StatusWriter(client)
        self.pod_starts = PodStarts(self.clock)
        self.node: NodeConfig | None = None
        self.node_object: Obj | None = None
        self.ready = asyncio.Event()
        self._pods: dict[str, Obj] = {}  # uid -> pod (informer)
        self._deleted: dict[str, Obj] = {}  # uid -> last pod seen before its DELETE
        self._contexts: dict[str, PodContext] = {}
        self._parts: _Parts | None = None

    @property
    def parts(self) -> _Parts:
        if self._parts is None:
            raise RuntimeError("the kubelet is not running: call run() first")
        return self._parts

    @property
    def runtime(self) -> RuntimeService:
        return self.parts.runtime

    # --- lookups the pod sync uses --------------------------------------------------------

    def _configmap(self, namespace: str, name: str) -> Obj | None:
        return self.configmap_informer.store.get(f"{namespace}/{name}")

    def _secret(self, namespace: str, name: str) -> Obj | None:
        return self.secret_informer.store.get(f"{namespace}/{name}")

    async def _request_token(self, namespace: str, account: str, request: Obj) -> Obj:
        """A TokenRequest for ``account`` (the projected volumes' service-account tokens)."""
        return await self.client.create(
            SERVICEACCOUNTS, request, namespace, name=account, subresource="token"
        )

    def _allocatable(self) -> Mapping[str, str]:
        node = self.node
        if node is None:
            return {}
        return node.allocatable if node.allocatable is not None else node.capacity

    def record(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        involved = {"kind": "Pod", "apiVersion": "v1", "metadata": pod.get("metadata") or {}}
        self.events.event(involved, type_, reason, message)

    # --- registration ---------------------------------------------------------------------

    async def register(self) -> str:
        """Create or adopt the Node; returns the pod CIDR the runtime's network must use."""
        self.node = node_config(self.config)
        backoff = 0.5
        while True:
            try:
                self.node_object = await register(self.client, self.node, self.clock)
                break
            except _FAILURES as exc:
                log.warning("node registration failed node=%s error=%s", self.node.name, exc)
                await self.clock.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
        spec = self.node_object.get("spec") or {}
        cidr = str(spec.get("podCIDR") or self.config.pod_cidr)
        if not cidr:
            cidr = await self._wait_for_pod_cidr(self.node.name)
        log.info("node registered node=%s pod_cidr=%s", self.node.name, cidr)
        return cidr

    async def _wait_for_pod_cidr(self, name: str) -> str:
        """The pod CIDR the control plane's node IPAM controller gives this Node."""
        log.info("waiting for the control plane to assign a pod CIDR node=%s", name)
        while True:
            await self.clock.sleep(1.0)
            try:
                node = await self.client.get(NODES, name)
            except _FAILURES as exc:
                log.warning("reading the node failed node=%s error=%s", name, exc)
                continue
            cidr = (node.get("spec") or {}).get("podCIDR")
            if cidr:
                self.node_object = node
                return str(cidr)

    # --- running --------------------------------------------------------------------------

    def _build(self, runtime: RuntimeService) -> None:
        cfg = self.config
        node = self.node
        if node is None:
            raise RuntimeError("register() must run before the kubelet is built")
        use_tmpfs = cfg.use_tmpfs if cfg.use_tmpfs is not None else os.geteuid() == 0
        volumes = VolumeManager(
            cfg.data_dir,
            configmaps=self._configmap,
            secrets=self._secret,
            allocatable=self._allocatable,
            use_tmpfs=use_tmpfs,
            tokens=TokenManager(self._request_token, self.clock),
        )
        probes = ProbeManager(runtime, self.clock, wake=self.workers.wake, record=self.record)
        killer = Killer(runtime, self.clock, self.record)
        node_dns: DNSConfig | None = None
        if cfg.resolv_conf is not None:
            try:
                with open(cfg.resolv_conf) as f:
                    node_dns = parse_resolv_conf(f.read())
            except OSError:
                node_dns = DNSConfig()
        settings = SyncSettings(
            runtime_name=cfg.runtime_name,
            logs_root=cfg.logs_root,
            cgroup_root=cfg.cgroup_root,
            cluster_dns=ClusterDNS(tuple(cfg.cluster_dns), cfg.cluster_domain, (node.internal_ip,)),
            node_dns=node_dns,
            host_ips=(node.internal_ip,),
            pids_limit=cfg.pod_pids_limit,
            seccomp_root=cfg.seccomp_root or os.path.join(cfg.data_dir, "seccomp"),
        )
        syncer = PodSyncer(
            runtime,
            puller=ImagePuller(self.images, self.clock, self.record, self._secret),
            volumes=volumes,
            probes=probes,
            killer=killer,
            clock=self.clock,
            record=self.record,
            settings=settings,
            configmaps=self._configmap,
            secrets=self._secret,
            services=self.service_informer.store.list,
            allocatable=self._allocatable,
        )
        self._parts = _Parts(runtime, syncer, probes, killer, volumes, node)

    async def run(self, runtime: RuntimeService) -> None:
        """Run the node with ``runtime`` until cancelled (``register`` first)."""
        if self.node is None or self.node_object is None:
            await self.register()
        self._build(runtime)
        node, node_object = self.parts.node, self.node_object or {}
        pleg = PLEG(runtime, self.clock, self.workers.wake, self.config.pleg_period)
        informers = (
            self.node_informer,
            self.pod_informer,
            self.configmap_informer,
            self.secret_informer,
            self.service_informer,
        )
        try:
            async with asyncio.TaskGroup() as group:
                for informer in informers:
                    group.create_task(informer.run(), name=f"kubelet {informer.resource.plural}")
                group.create_task(self.events.run(), name="kubelet events")
                for informer in informers:
                    await informer.wait_synced()
                self.heartbeats.add(node, node_object)
                group.create_task(self.heartbeats.run(), name="kubelet heartbeats")
                for pod in self.pod_informer.store.list():
                    self._pods[str(pod["metadata"]["uid"])] = pod
                await self._remove_orphans()
                self.pod_informer.add_handler(
                    Handler(
                        on_add=self._on_pod,
                        on_update=lambda _, new: self._on_pod(new),
                        on_delete=self._on_pod_deleted,
                    )
                )
                for informer in (self.configmap_informer, self.secret_informer):
                    informer.add_handler(
                        Handler(
                            on_add=self._on_source,
                            on_update=lambda _, new: self._on_source(new),
                        )
                    )
                group.create_task(pleg.run(), name="kubelet pleg")
                self.ready.set()
                log.info("kubelet running node=%s pods=%d", node.name, len(self._pods))
        finally:
            await self.workers.close()
            await self.parts.probes.close()

    async def _remove_orphans(self) -> None:
        """Remove sandboxes (and pod directories) of pods the API no longer has."""
        for sandbox in await self.runtime.list_pod_sandboxes():
            uid = sandbox.config.labels.get(L.POD_UID, "") if sandbox.config else ""
            if uid and uid not in self._pods:
                log.info("orphaned sandbox removed sandbox=%s pod_uid=%s", sandbox.id, uid)
                try:
                    await self.runtime.stop_pod_sandbox(sandbox.id)
                    await self.runtime.remove_pod_sandbox(sandbox.id)
                except RuntimeError_ as exc:
                    log.warning("orphan removal failed sandbox=%s error=%s", sandbox.id, exc)
        for uid in self.parts.volumes.known_pods():
            if uid not in self._pods:
                self.parts.volumes.teardown(uid)

    # --- informer handlers (enqueue only) -------------------------------------------------

    def _on_pod(self, pod: Obj) -> None:
        uid = str(pod["metadata"].get("uid", ""))
        self._pods[uid] = pod
        self.pod_starts.seen(uid, (pod.get("status") or {}).get("phase"))
        self.workers.wake(uid)

    def _on_pod_deleted(self, pod: Obj) -> None:
        uid = str(pod["metadata"].get("uid", ""))
        self._pods.pop(uid, None)
        self._deleted[uid] = pod
        self.workers.wake(uid)

    def _on_source(self, obj: Obj) -> None:
        namespace = obj["metadata"].get("namespace")
        for uid, pod in list(self._pods.items()):
            if pod["metadata"].get("namespace") == namespace:
                self.workers.wake(uid)

    # --- one pod --------------------------------------------------------------------------

    async def _runtime_state(self, uid: str) -> L.PodRuntimeState:
        sandboxes = [
            s
            for s in await self.runtime.list_pod_sandboxes()
            if s.config is not None and s.config.labels.get(L.POD_UID) == uid
        ]
        containers = []
        for sandbox in sandboxes:
            containers.extend(await self.runtime.list_containers(sandbox.id))
        return L.group_by_pod(sandboxes, containers).get(uid) or L.PodRuntimeState(uid)

    async def _sync_pod(self, uid: str) -> float | None:
        ctx = self._contexts.setdefault(uid, PodContext())
        state = await self._runtime_state(uid)
        pod = self._pods.get(uid)
        if pod is None:
            gone = self._deleted.pop(uid, None) or ctx.last_pod
            if gone is not None and state.sandboxes:
                await self.parts.killer.kill_pod(
                    gone, state.running(), state.sandboxes, grace_period(gone)
                )
            await self._cleanup(uid, state)
            return DONE
        if ctx.last_pod is not None and _rv(ctx.last_pod) > _rv(pod):
            pod = {**pod, "status": ctx.last_pod.get("status") or {}}
        if pod["metadata"].get("deletionTimestamp"):
            return await self._finish(pod, ctx, state)
        phase = (pod.get("status") or {}).get("phase")
        after: float | None = None
        if phase not in TERMINAL_PHASES:
            after = await self.parts.syncer.sync(pod, ctx, state)
            state = await self._runtime_state(uid)
        sandbox = state.ready_sandbox
        latest = {name: inst[0] for name, inst in state.containers.items() if inst}
        self.parts.probes.sync(pod, latest, self._probe_ip(pod, sandbox))
        status = self._status(pod, ctx, state)
        if status["phase"] in TERMINAL_PHASES and (sandbox is not None or state.running()):
            self.parts.probes.remove_pod(uid)
            await self.parts.killer.kill_pod(
                pod,
                state.running(),
                [s for s in state.sandboxes if s is sandbox],
                grace_period(pod),
            )
            log.info("pod finished pod=%s phase=%s", pod_name(pod), status["phase"])
            state = await self._runtime_state(uid)
            status = self._status(pod, ctx, state)
        await self._write(pod, ctx, status)
        resync = self.config.resync_period
        return resync if after is None else min(after, resync)

    async def _finish(self, pod: Obj, ctx: PodContext, state: L.PodRuntimeState) -> float:
        """Complete a graceful deletion: stop, report, clean up, delete with grace 0."""
        uid = str(pod["metadata"]["uid"])
        self.parts.probes.remove_pod(uid)
        ready = [s for s in state.sandboxes if s.state.value == "SANDBOX_READY"]
        if state.running() or ready:
            await self.parts.killer.kill_pod(pod, state.running(), ready, grace_period(pod))
            state = await self._runtime_state(uid)
        if state.containers or (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES:
            await self._write(pod, ctx, self._status(pod, ctx, state, terminal=True))
        await self._cleanup(uid, state)
        meta = pod["metadata"]
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(
                PODS,
                meta["name"],
                meta.get("namespace"),
                grace_period_seconds=0,
                preconditions={"uid": uid},
            )
        log.info("pod deleted pod=%s", pod_name(pod))
        return DONE

    async def _cleanup(self, uid: str, state: L.PodRuntimeState) -> None:
        self.parts.probes.remove_pod(uid)
        for sandbox in state.sandboxes:
            try:
                await self.runtime.remove_pod_sandbox(sandbox.id)
            except RuntimeError_ as exc:
                log.warning("sandbox removal failed pod_uid=%s error=%s", uid, exc)
        self.parts.volumes.teardown(uid)
        self.parts.syncer.puller.forget_pod(uid)
        self._contexts.pop(uid, None)
        self.pod_starts.forget(uid)

    def _probe_ip(self, pod: Obj, sandbox: PodSandboxStatus | None) -> str:
        """The address probes reach the pod at: its IP, the node's for a host-network pod."""
        if sandbox is not None and sandbox.ip:
            return sandbox.ip
        if (pod.get("spec") or {}).get("hostNetwork"):
            return self.parts.node.internal_ip
        return ""

    def _status(
        self, pod: Obj, ctx: PodContext, state: L.PodRuntimeState, terminal: bool = False
    ) -> Obj:
        spec = pod.get("spec") or {}
        messages: dict[str, str] = {}
        probes = self.parts.probes

        def infos(containers: list[Mapping[str, Any]]) -> dict[str, ContainerInfo]:
            out: dict[str, ContainerInfo] = {}
            for container in containers:
                name = str(container.get("name", ""))
                info = container_info(
                    container,
                    state.latest(name),
                    state.previous(name),
                    ctx.waiting.get(name),
                    runtime_name=self.config.runtime_name,
                    ready=probes.ready,
                    started=probes.started,
                    messages=messages,
                )
                if info is not None:
                    out[name] = info
            return out

        sandbox = state.ready_sandbox
        return pod_status(
            pod,
            containers=infos(spec.get("containers") or []),
            init_containers=infos(spec.get("initContainers") or []),
            sandbox_ready=sandbox is not None,
            pod_ips=[sandbox.ip] if sandbox is not None and sandbox.ip else [],
            host_ips=(self.parts.node.internal_ip,),
            now=self.clock.now(),
            terminal=terminal,
        )

    async def _write(self, pod: Obj, ctx: PodContext, status: Obj) -> None:
        try:
            written = await self.status_writer.write(pod, status)
        except _FAILURES as exc:
            log.warning("pod status not written pod=%s error=%s", pod_name(pod), exc)
            raise
        if written is not None:
            ctx.last_pod = written
            self.pod_starts.phase(str(pod["metadata"].get("uid", "")), status["phase"])
            log.debug("pod status written pod=%s phase=%s", pod_name(pod), status["phase"])


RuntimeFactory = Callable[[str], "RuntimeService | Awaitable[RuntimeService]"]


async def run_kubelet(
    client: Client,
    config: KubeletConfig,
    *,
    images: ImageService,
    runtime: RuntimeFactory,
    clock: Clock | None = None,
    on_created: Callable[[Kubelet], None] | None = None,
) -> None:
    """Register the node, build the runtime for its pod CIDR (``runtime(pod_cidr)``), run.

    ``on_created`` sees the kubelet first (the agent's server serves its pods).
    """
    kubelet = Kubelet(client, config, images=images, clock=clock)
    if on_created is not None:
        on_created(kubelet)
    cidr = await kubelet.register()
    made = runtime(cidr)
    built = await made if asyncio.iscoroutine(made) or isinstance(made, asyncio.Future) else made
    await kubelet.run(built)  # type: ignore[arg-type]
