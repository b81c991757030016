"""Syncing one pod: converge the runtime on the pod spec, then compute the status to report.

``PodSyncer.sync`` is upstream's ``SyncPod`` for a pod that is not being deleted:

1. volumes are set up (or refreshed); a failure is a ``FailedMount`` event and a retry;
2. without a ready sandbox one is created (``attempt`` counts them), unless the pod ran to
   completion under restartPolicy Never; leftovers of an old sandbox are stopped first;
3. init containers run one at a time in order, each to exit 0 (sidecars, ``restartPolicy:
   Always``, only need to run); a failed one restarts with back-off, or ends the pod
   (Failed) under restartPolicy Never;
4. app containers are started; an exited one restarts as restartPolicy says (Always; OnFailure
   after a non-zero exit) after the crash-loop back-off (10 s doubling to 5 min: ``BackOff``
   event ``Back-off restarting failed container c in pod p_ns(uid)``, waiting reason
   ``CrashLoopBackOff``); a failed liveness or startup probe kills the container (then the
   same decision);
5. a container starts as: image (``pull.py``), environment (``env.py``), config
   (``containerconfig.py``), ``Created``, ``Started``, then its postStart hook (a failure
   kills it: ``FailedPostStartHook``).

Waiting reasons decided here (CrashLoopBackOff, ErrImagePull, CreateContainerConfigError...)
go into ``PodContext.waiting`` for ``status.py``. ``sync`` returns when it wants to run again
(the earliest back-off end), or None.

Invariant: a sync only adds what is missing and replaces what exited; a running container
is never touched unless its probe says so, so syncing an adopted pod changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from kybernetes.agent.images.interface import Image
from kybernetes.agent.kubelet import containerconfig as cc
from kybernetes.agent.kubelet import labels as L
from kybernetes.agent.kubelet.backoff import Backoff, go_duration
from kybernetes.agent.kubelet.env import EnvError, Lookup, command_line, container_env
from kybernetes.agent.kubelet.labels import PodRuntimeState
from kybernetes.agent.kubelet.probes import Kind, ProbeManager
from kybernetes.agent.kubelet.pull import ImagePuller, PullFailure
from kybernetes.agent.kubelet.termination import Killer, grace_period, hook_message
from kybernetes.agent.kubelet.volumes.manager import VolumeManager
from kybernetes.agent.kubelet.volumes.render import VolumeError
from kybernetes.agent.network.dns import ClusterDNS, DNSConfig
from kybernetes.agent.podstatus import Waiting, is_sidecar
from kybernetes.agent.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    PodSandboxStatus,
    RuntimeError_,
    RuntimeService,
)
from kybernetes.util.clock import Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Recorder = Callable[[Obj, str, str, str], None]
RETRY: Final = 10.0
KEEP_INSTANCES: Final = 2  # per container name: the current one and the one before


@dataclass
class PodContext:
    """What the agent remembers about one pod between syncs (lost on restart, as upstream)."""

    waiting: dict[str, Waiting] = field(default_factory=dict)
    last_pod: Obj | None = None
    mount_notes_reported: bool = False


@dataclass(frozen=True)
class SyncSettings:
    runtime_name: str
    logs_root: str
    cgroup_root: str
    cluster_dns: ClusterDNS
    node_dns: DNSConfig | None
    host_ips: Sequence[str]
    pids_limit: int = 0
    #: where Localhost seccomp profiles are (``<agent data dir>/seccomp``)
    seccomp_root: str = ""


def should_restart(policy: str, exit_code: int) -> bool:
    """Whether an exited container restarts under the pod's restartPolicy."""
    if policy == "Never":
        return False
    if policy == "OnFailure":
        return exit_code != 0
    return True


def pod_name(pod: Mapping[str, Any]) -> str:
    """``format.Pod``: ``name_namespace(uid)``."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name')}_{meta.get('namespace')}({meta.get('uid')})"


class PodSyncer:
    def __init__(
        self,
        runtime: RuntimeService,
        *,
        puller: ImagePuller,
        volumes: VolumeManager,
        probes: ProbeManager,
        killer: Killer,
        clock: Clock,
        record: Recorder,
        settings: SyncSettings,
        configmaps: Lookup,
        secrets: Lookup,
        services: Callable[[], Sequence[Obj]],
        allocatable: Callable[[], Mapping[str, str]],
    ) -> None:
        self.runtime = runtime
        self.puller = puller
        self.volumes = volumes
        self.probes = probes
        self.killer = killer
        self.clock = clock
        self.record = record
        self.settings = settings
        self.configmaps = configmaps
        self.secrets = secrets
        self.services = services
        self.allocatable = allocatable
        self.backoff = Backoff(clock)

    # --- the sync ---------------------------------------------------------------------------

    async def sync(self, pod: Obj, ctx: PodContext, state: PodRuntimeState) -> float | None:
        ctx.waiting = {}
        spec = pod.get("spec") or {}
        policy = str(spec.get("restartPolicy") or "Always")
        try:
            await self.volumes.prepare(pod)
            paths, notes = self.volumes.setup(pod)
        except VolumeError as exc:
            self.record(pod, "Warning", "FailedMount", str(exc))
            log.info("volume setup failed pod=%s error=%s", pod_name(pod), exc)
            return RETRY
        if notes and not ctx.mount_notes_reported:
            ctx.mount_notes_reported = True
            for note in notes:
                log.warning("volume source skipped pod=%s note=%s", pod_name(pod), note)
        sandbox = state.ready_sandbox
        if sandbox is None:
            if policy == "Never" and state.containers:
                return None  # it ran; a lost sandbox does not run it again
            sandbox = await self._new_sandbox(pod, state)
            if sandbox is None:
                return RETRY
        waits: list[float] = []
        if not await self._init_containers(pod, ctx, state, sandbox, paths, policy, waits):
            return min(waits, default=None)
        for container in spec.get("containers") or ():
            await self._app_container(pod, ctx, state, sandbox, paths, policy, container, waits)
        await self._gc(state)
        return min(waits, default=None)

    async def _new_sandbox(self, pod: Obj, state: PodRuntimeState) -> PodSandboxStatus | None:
        leftovers = state.running()
        if leftovers:
            await self.killer.kill_pod(pod, leftovers, [], grace_period(pod))
        s = self.settings
        try:
            config, warnings = cc.sandbox_config(
                pod,
                attempt=len(state.sandboxes),
                logs_root=s.logs_root,
                cluster_dns=s.cluster_dns,
                node_dns=s.node_dns,
                cgroup_root=s.cgroup_root,
            )
        except ValueError as exc:
            self.record(
                pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}"
            )
            return None
        for warning in warnings:
            self.record(pod, "Warning", warning.reason, warning.message)
        try:
            sid = await self.runtime.run_pod_sandbox(config)
            sandbox = await self.runtime.pod_sandbox_status(sid)
        except (RuntimeError_, OSError) as exc:
            self.record(
                pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}"
            )
            log.warning("sandbox creation failed pod=%s error=%s", pod_name(pod), exc)
            return None
        for old in state.sandboxes:
            try:
                await self.runtime.remove_pod_sandbox(old.id)
            except RuntimeError_ as exc:
                log.warning("old sandbox not removed pod=%s error=%s", pod_name(pod), exc)
        state.sandboxes = [sandbox]
        log.info("sandbox created pod=%s sandbox=%s ip=%s", pod_name(pod), sid, sandbox.ip)
        return sandbox

    async def _init_containers(
        self,
        pod: Obj,
        ctx: PodContext,
        state: PodRuntimeState,
        sandbox: PodSandboxStatus,
        paths: Mapping[str, str],
        policy: str,
        waits: list[float],
    ) -> bool:
        """Advance the init containers; True once every one is done (app containers may run)."""
        spec = pod.get("spec") or {}
        apps = [c.get("name", "") for c in spec.get("containers") or ()]
        if any(state.latest(name) is not None for name in apps):
            # Initialized before (perhaps by an agent before a restart): keep sidecars running.
            for container in spec.get("initContainers") or ():
                if is_sidecar(container):
                    await self._app_container(
                        pod, ctx, state, sandbox, paths, "Always", container, waits, init=True
                    )
            return True
        for container in spec.get("initContainers") or ():
            name = str(container.get("name", ""))
            latest = state.latest(name)
            if is_sidecar(container):
                await self._app_container(
                    pod, ctx, state, sandbox, paths, "Always", container, waits, init=True
                )
                latest = state.latest(name)
                if latest is None or latest.state is not ContainerState.RUNNING:
                    return False
                if not self.probes.started(latest.id, container):
                    return False
                continue
            if latest is None:
                await self._start(pod, ctx, sandbox, paths, container, 0, waits, init=True)
                return False
            if latest.state in (ContainerState.RUNNING, ContainerState.CREATED):
                if latest.state is ContainerState.CREATED:
                    await self._start_created(pod, latest)
                return False
            if latest.exit_code == 0:
                continue
            if policy == "Never":
                return False  # the pod failed; status.py reports it
            await self._restart(pod, ctx, sandbox, paths, container, latest, waits, init=True)
            return False
        return True

    async def _app_container(
        self,
        pod: Obj,
        ctx: PodContext,
        state: PodRuntimeState,
        sandbox: PodSandboxStatus,
        paths: Mapping[str, str],
        policy: str,
        container: Mapping[str, Any],
        waits: list[float],
        *,
        init: bool = False,
    ) -> None:
        name = str(container.get("name", ""))
        latest = state.latest(name)
        if latest is None:
            await self._start(pod, ctx, sandbox, paths, container, 0, waits, init=init)
            return
        if latest.state is ContainerState.CREATED:
            await self._start_created(pod, latest)
            return
        if latest.state is ContainerState.RUNNING:
            failed = self.probes.failed(latest.id)
            if failed is None:
                return
            kind, _ = failed
            verb = "liveness" if kind is Kind.LIVENESS else "startup"
            await self.killer.kill_container(
                pod,
                latest,
                grace_period(pod),
                pod_ip=sandbox.ip,
                message=f"Container {name} failed {verb} probe, will be restarted",
            )
            latest = await self.runtime.container_status(latest.id)
            state.containers[name][0] = latest
        if latest.state is ContainerState.EXITED and should_restart(policy, latest.exit_code):
            await self._restart(pod, ctx, sandbox, paths, container, latest, waits, init=init)

    async def _restart(
        self,
        pod: Obj,
        ctx: PodContext,
        sandbox: PodSandboxStatus,
        paths: Mapping[str, str],
        container: Mapping[str, Any],
        latest: ContainerStatus,
        waits: list[float],
        *,
        init: bool = False,
    ) -> None:
        name = str(container.get("name", ""))
        key = f"{pod['metadata'].get('uid')}/{name}"
        finished = latest.finished_at or self.clock.now()
        if self.backoff.in_backoff_since(key, finished):
            delay = self.backoff.get(key)
            message = (
                f"back-off {go_duration(delay)} restarting failed container={name} "
                f"pod={pod_name(pod)}"
            )
            ctx.waiting[name] = Waiting("CrashLoopBackOff", message)
            self.record(
                pod,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {name} in pod {pod_name(pod)}",
            )
            waits.append(self.backoff.remaining(key, finished))
            return
        self.backoff.next(key, finished)
        count = L.restart_count(latest) + 1
        await self._start(pod, ctx, sandbox, paths, container, count, waits, init=init)

    async def _start_created(self, pod: Obj, status: ContainerStatus) -> None:
        try:
            await self.runtime.start_container(status.id)
        except RuntimeError_ as exc:
            log.warning("start of created container failed pod=%s error=%s", pod_name(pod), exc)

    async def _start(
        self,
        pod: Obj,
        ctx: PodContext,
        sandbox: PodSandboxStatus,
        paths: Mapping[str, str],
        container: Mapping[str, Any],
        restart_count: int,
        waits: list[float],
        *,
        init: bool = False,
    ) -> None:
        name = str(container.get("name", ""))
        pulled = await self.puller.ensure(pod, container)
        if isinstance(pulled, PullFailure):
            ctx.waiting[name] = Waiting(pulled.reason, pulled.message)
            if pulled.retry_after is not None:
                waits.append(pulled.retry_after)
            return
        config = self._config(pod, sandbox, paths, container, restart_count, pulled, ctx, init)
        if config is None:
            waits.append(RETRY)
            return
        assert sandbox.config is not None
        try:
            cid = await self.runtime.create_container(sandbox.id, config, sandbox.config)
        except (RuntimeError_, OSError) as exc:
            ctx.waiting[name] = Waiting("CreateContainerError", str(exc))
            self.record(pod, "Warning", "Failed", f"Error: {exc}")
            waits.append(RETRY)
            return
        self.record(pod, "Normal", "Created", f"Created container: {name}")
        try:
            await self.runtime.start_container(cid)
        except (RuntimeError_, OSError) as exc:
            ctx.waiting[name] = Waiting("RunContainerError", str(exc))
            self.record(
                pod, "Warning", "Failed", f"Error: failed to start container {name!r}: {exc}"
            )
            waits.append(RETRY)
            return
        self.record(pod, "Normal", "Started", f"Started container {name}")
        log.info(
            "container started pod=%s container=%s id=%s restarts=%d",
            pod_name(pod),
            name,
            cid,
            restart_count,
        )
        if (container.get("lifecycle") or {}).get("postStart"):
            status = await self.runtime.container_status(cid)
            failure = await self.killer.run_hook(
                pod, "postStart", status, sandbox.ip, grace_period(pod)
            )
            if failure is not None:
                hook = container["lifecycle"]["postStart"]
                self.record(
                    pod, "Warning", "FailedPostStartHook", hook_message(hook, name, pod, failure)
                )
                await self.killer.kill_container(pod, status, grace_period(pod), pod_ip=sandbox.ip)

    def _config(
        self,
        pod: Obj,
        sandbox: PodSandboxStatus,
        paths: Mapping[str, str],
        container: Mapping[str, Any],
        restart_count: int,
        image: Image,
        ctx: PodContext,
        init: bool,
    ) -> ContainerConfig | None:
        name = str(container.get("name", ""))
        status = dict(pod.get("status") or {})
        ips = (
            [sandbox.ip]
            if sandbox.ip
            else list(self.settings.host_ips)
            if (pod.get("spec") or {}).get("hostNetwork")
            else []
        )
        if ips:
            status["podIP"], status["podIPs"] = ips[0], [{"ip": ip} for ip in ips]
        if self.settings.host_ips:
            status["hostIP"] = self.settings.host_ips[0]
            status["hostIPs"] = [{"ip": ip} for ip in self.settings.host_ips]
        view = {**pod, "status": status}
        try:
            env = container_env(
                view,
                container,
                configmaps=self.configmaps,
                secrets=self.secrets,
                services=self.services(),
                allocatable=self.allocatable(),
            )
            command, args = command_line(container, env)
            read_only = {
                str(v.get("name"))
                for v in (pod.get("spec") or {}).get("volumes") or ()
                if any(
                    v.get(k) is not None
                    for k in ("configMap", "secret", "downwardAPI", "projected")
                )
            }
            mounts = cc.volume_mounts(container, paths, read_only)
            cc.verify_run_as_non_root(pod, container, image.config.user)
            message_file = cc.termination_message_file(
                self.volumes.pod_dir(str(pod["metadata"]["uid"])), name, restart_count
            )
            return cc.container_config(
                pod,
                container,
                image=image.id or str(container.get("image", "")),
                command=command,
                args=args,
                env=env,
                mounts=mounts,
                restart_count=restart_count,
                termination_file=message_file,
                pids_limit=self.settings.pids_limit,
                init=init,
                seccomp_root=self.settings.seccomp_root,
            )
        except (EnvError, cc.ConfigError) as exc:
            ctx.waiting[name] = Waiting("CreateContainerConfigError", str(exc))
            self.record(pod, "Warning", "Failed", f"Error: {exc}")
            return None

    async def _gc(self, state: PodRuntimeState) -> None:
        """Remove exited instances beyond the newest ``KEEP_INSTANCES`` of each container."""
        for instances in state.containers.values():
            for old in instances[KEEP_INSTANCES:]:
                if old.state is ContainerState.EXITED:
                    try:
                        await self.runtime.remove_container(old.id)
                    except RuntimeError_ as exc:
                        log.warning("container gc failed id=%s error=%s", old.id, exc)
