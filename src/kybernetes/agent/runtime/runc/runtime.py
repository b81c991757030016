"""``RuncRuntime``: the CRI-shaped ``RuntimeService`` over runc, one shim per container.

A sandbox is a directory of namespace files and pod files (``sandbox.py``); a container is an
OCI bundle (``spec.py``) whose ``runc create`` is run by a detached shim (``shim.py``) that then
owns the container's stdio (the CRI log, rotated by size; ``kubectl attach`` through its
attach socket, ``attach.py``) and its exit status (``exit.json``). Everything the
runtime knows is on disk (``state.py``): a new ``RuncRuntime`` on the same state directory
adopts every sandbox and container, including those that exited while no agent ran.

Invariants: ids are random and never reused; stop and remove are idempotent and treat a missing
object as done; remove leaves nothing on the host (runc state, mounts, cgroups, namespaces,
files, the container's logs); operations on one id are serialized by a per-id lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import secrets
import shutil
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from kybernetes.agent.images.interface import ImageConfig, ImageService
from kybernetes.agent.network.interface import NetworkPlugin
from kybernetes.agent.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    ExecResult,
    NotFoundError,
    PodSandboxConfig,
    PodSandboxStatus,
    RuntimeError_,
    SandboxState,
)
from kybernetes.agent.runtime.runc import attach, cgroups, linux, sandbox, spec, streamexec
from kybernetes.agent.runtime.runc.cli import Runc
from kybernetes.agent.runtime.runc.launch import launch_shim
from kybernetes.agent.runtime.runc.state import (
    ContainerRecord,
    ExitRecord,
    SandboxRecord,
    read_json,
    write_json,
)
from kybernetes.agent.runtime.runc.watch import ShimWatcher
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)

ImageConfigSource = Callable[[str], "ImageConfig | Awaitable[ImageConfig]"]
KILL_WAIT_SECONDS = 10.0  # after SIGKILL, how long the shim may take to record the exit
DEFAULT_LOG_MAX_SIZE = 10 * 1024 * 1024  # upstream's containerLogMaxSize, 10Mi
DEFAULT_LOG_MAX_FILES = 5  # and containerLogMaxFiles


class RuncRuntime:
    """Runs pod sandboxes and containers with runc; state under ``state_dir``."""

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        images: ImageService,
        network: NetworkPlugin | None = None,
        *,
        cgroup_root: str = "kybernetes",
        runc: str | None = None,
        image_config: ImageConfigSource | None = None,
        clock: Clock | None = None,
        host_resolv_conf: str = "/etc/resolv.conf",
        host_hosts: str = "/etc/hosts",
        log_max_size: int = DEFAULT_LOG_MAX_SIZE,
        log_max_files: int = DEFAULT_LOG_MAX_FILES,
    ) -> None:
        binary = runc or shutil.which("runc")
        if binary is None:
            raise RuntimeError_("runc not found on PATH (Debian package runc)")
        self._dir = os.path.abspath(state_dir)
        for sub in ("runc", "sandboxes", "containers"):
            os.makedirs(os.path.join(self._dir, sub), exist_ok=True)
        self.runc = Runc(binary, os.path.join(self._dir, "runc"))
        self._images = images
        self._network = network
        self.cgroup_root = cgroup_root
        self._image_config = image_config
        self._clock = clock or RealClock()
        self._host_resolv_conf = host_resolv_conf
        self._host_hosts = host_hosts
        #: The shims rotate the CRI logs (``shim.py``): upstream's containerLogMaxSize/Files.
        self.log_max_size = log_max_size
        self.log_max_files = log_max_files
        self._records: dict[str, ContainerRecord] = {}
        self._shims = ShimWatcher()
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._loaded = False

    # -- paths and records ---------------------------------------------------------------

    def _sandbox_dir(self, sid: str) -> str:
        return os.path.join(self._dir, "sandboxes", sid)

    def _container_dir(self, cid: str) -> str:
        return os.path.join(self._dir, "containers", cid)

    def _sandbox(self, sid: str) -> SandboxRecord:
        try:
            return SandboxRecord.from_json(read_json(self._sandbox_path(sid)))
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"pod sandbox {sid!r} not found") from None

    def _sandbox_path(self, sid: str) -> str:
        if not sid or "/" in sid or sid.startswith("."):
            raise NotFoundError(f"pod sandbox {sid!r} not found")
        return os.path.join(self._sandbox_dir(sid), "sandbox.json")

    def _save_sandbox(self, record: SandboxRecord) -> None:
        write_json(os.path.join(self._sandbox_dir(record.id), "sandbox.json"), record.to_json())

    def _container(self, cid: str) -> ContainerRecord:
        record = self._records.get(cid)
        if record is not None:
            return record
        if not cid or "/" in cid or cid.startswith("."):
            raise NotFoundError(f"container {cid!r} not found")
        try:
            data = read_json(os.path.join(self._container_dir(cid), "container.json"))
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"container {cid!r} not found") from None
        record = self._records[cid] = ContainerRecord.from_json(data)
        return record

    def _has_record(self, cid: str) -> bool:
        return os.path.exists(os.path.join(self._container_dir(cid), "container.json"))

    def _exit(self, cid: str) -> ExitRecord | None:
        return ExitRecord.read(os.path.join(self._container_dir(cid), "exit.json"))

    def _started_at(self, cid: str) -> float:
        try:
            return float(Path(self._container_dir(cid), "started").read_text())
        except FileNotFoundError:
            return 0.0

    # -- adoption --------------------------------------------------------------------------

    async def _load(self) -> None:
        """Once per object: watch the shims already running, forget half-created containers."""
        if self._loaded:
            return
        self._loaded = True
        adopted = 0
        for cid in sorted(os.listdir(os.path.join(self._dir, "containers"))):
            if not self._has_record(cid):
                # the agent died inside create_container: nothing refers to it
                await self.runc.delete(cid)
                await self._images.release_rootfs(self._container_dir(cid))
                shutil.rmtree(self._container_dir(cid), ignore_errors=True)
                continue
            if self._watch(self._container(cid)):
                adopted += 1
        ready = [s.id for s in await self.list_pod_sandboxes() if s.state is SandboxState.READY]
        if self._network is not None and ready:
            await self._network.restore(ready)
        log.info("runtime loaded state=%s sandboxes=%d running=%d", self._dir, len(ready), adopted)

    def _watch(self, record: ContainerRecord) -> bool:
        """Learn when the container's shim exits (see ``watch.py``)."""
        if self._exit(record.id) is not None:
            return False
        return self._shims.watch(record.id, record.shim_pid, record.shim_start)

    async def close(self) -> None:
        """Stop watching the shims; containers keep running (a new object adopts them)."""
        self._shims.close()

    # -- sandboxes ---------------------------------------------------------------------------

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        await self._load()
        sid = secrets.token_hex(16)
        directory = self._sandbox_dir(sid)
        os.makedirs(directory)
        hostname = "" if config.host_network else (config.hostname or config.name)[:63]
        record = SandboxRecord(
            id=sid,
            config=config,
            created_at=self._clock.now(),
            state=SandboxState.NOTREADY,
            cgroup_parent=config.cgroup_parent or cgroups.join(self.cgroup_root, f"pod-{sid}"),
            hostname=hostname,
            namespaces={},
            owns_netns=not config.host_network and self._network is None,
        )
        self._save_sandbox(record)  # first, so that a failure below is cleaned up by remove
        try:
            kinds = ["ipc"] if config.host_network else ["ipc", "uts"]
            if record.owns_netns:
                kinds.append("network")
            record.namespaces = await sandbox.create_namespaces(directory, kinds, hostname)
            if self._network is not None and not config.host_network:
                net = await self._network.setup(
                    sid, config.name, config.namespace, config.port_mappings
                )
                record.namespaces["network"] = net.netns_path
                record.ip = net.ip
            sandbox.mount_shm(directory)
            files = {
                "hosts": sandbox.hosts_file(config, record.ip, hostname, self._host_hosts),
                "resolv.conf": sandbox.resolv_conf(config, self._host_resolv_conf),
            }
            if hostname:
                files["hostname"] = hostname + "\n"
            sandbox.write_files(directory, files)
            record.state = SandboxState.READY
            self._save_sandbox(record)
        except BaseException:
            await self.remove_pod_sandbox(sid)
            raise
        log.info(
            "sandbox ready id=%s pod=%s/%s ip=%s", sid, config.namespace, config.name, record.ip
        )
        return sid

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        await self._load()
        async with self._locks[sandbox_id]:
            try:
                record = self._sandbox(sandbox_id)
            except NotFoundError:
                return
            for c in await self.list_containers(sandbox_id):
                await self.stop_container(c.id, 0)
            directory = self._sandbox_dir(sandbox_id)
            plugin_net = not record.owns_netns and not record.config.host_network
            if self._network is not None and plugin_net:
                await self._network.teardown(sandbox_id)
            sandbox.destroy_namespaces(directory)
            sandbox.unmount_shm(directory)
            if record.state is not SandboxState.NOTREADY:
                record.state = SandboxState.NOTREADY
                self._save_sandbox(record)
                log.info("sandbox stopped id=%s", sandbox_id)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        await self._load()
        try:
            record = self._sandbox(sandbox_id)
        except NotFoundError:
            return
        await self.stop_pod_sandbox(sandbox_id)
        async with self._locks[sandbox_id]:
            for c in await self.list_containers(sandbox_id):
                await self.remove_container(c.id)
            cgroups.remove(record.cgroup_parent)
            shutil.rmtree(self._sandbox_dir(sandbox_id), ignore_errors=True)
        self._locks.pop(sandbox_id, None)
        log.info("sandbox removed id=%s", sandbox_id)

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        await self._load()
        r = self._sandbox(sandbox_id)
        return PodSandboxStatus(
            id=r.id, state=r.state, created_at=r.created_at, ip=r.ip, config=r.config
        )

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        await self._load()
        out = []
        for sid in sorted(os.listdir(os.path.join(self._dir, "sandboxes"))):
            with contextlib.suppress(NotFoundError):
                out.append(await self.pod_sandbox_status(sid))
        return out

    # -- containers ----------------------------------------------------------------------------

    async def _image(self, image: str) -> tuple[ImageConfig, str]:
        if self._image_config is not None:
            result = self._image_config(image)
            config = await result if inspect.isawaitable(result) else result
            return config, image
        found = await self._images.image_status(image)
        if found is None:
            raise RuntimeError_(f"image {image!r} is not present on this node")
        return found.config, found.id

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        await self._load()
        sb = self._sandbox(sandbox_id)
        if sb.state is not SandboxState.READY:
            raise RuntimeError_(f"pod sandbox {sandbox_id} is not ready")
        cid = secrets.token_hex(16)
        directory = self._container_dir(cid)
        bundle = os.path.join(directory, "bundle")
        os.makedirs(bundle)
        try:
            image, image_ref = await self._image(config.image)
            rootfs = await self._images.prepare_rootfs(config.image, directory)
            sdir = self._sandbox_dir(sandbox_id)
            hostname_file = os.path.join(sdir, "hostname") if sb.hostname else ""
            pod = spec.PodFiles(
                hostname=sb.hostname,
                namespaces=sb.namespaces,
                hosts=os.path.join(sdir, "hosts"),
                resolv_conf=os.path.join(sdir, "resolv.conf"),
                hostname_file=hostname_file,
                shm=os.path.join(sdir, "shm"),
            )
            cgroups_path = cgroups.join(sb.cgroup_parent, cid)
            oci = spec.build(
                config, image, rootfs, pod, cgroups_path, linux.bounding_capabilities()
            )
            write_json(os.path.join(bundle, "config.json"), oci)
            log_path = self._log_path(config, sandbox_config or sb.config)
            created_at = self._clock.now()
            options = {
                "stdin": config.stdin,
                "stdin-once": config.stdin_once,
                "tty": config.tty,
                "log-max-size": self.log_max_size,
                "log-max-files": self.log_max_files,
            }
            shim_pid, pid = await launch_shim(
                self.runc, cid, bundle, log_path, cgroups_path, options
            )
            record = ContainerRecord(
                id=cid,
                sandbox_id=sandbox_id,
                config=config,
                image_ref=image_ref,
                created_at=created_at,
                log_path=log_path,
                cgroups_path=cgroups_path,
                shim_pid=shim_pid,
                shim_start=linux.process_start_time(shim_pid) or 0,
                pid=pid,
            )
            write_json(os.path.join(directory, "container.json"), record.to_json())
        except BaseException:
            await self.runc.delete(cid)
            await self._images.release_rootfs(directory)
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self._records[cid] = record
        self._watch(record)
        log.info("container created id=%s sandbox=%s name=%s", cid, sandbox_id, config.name)
        return cid

    @staticmethod
    def _log_path(config: ContainerConfig, sandbox_config: PodSandboxConfig) -> str:
        if not config.log_path:
            return ""
        path = os.path.join(sandbox_config.log_directory, config.log_path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return os.path.abspath(path)

    async def start_container(self, container_id: str) -> None:
        await self._load()
        async with self._locks[container_id]:
            self._container(container_id)
            if self._started_at(container_id) or self._exit(container_id) is not None:
                raise RuntimeError_(f"container {container_id} is not in the created state")
            started_at = self._clock.now()
            await self.runc.start(container_id)
            self._mark_started(container_id, started_at)
        log.info("container started id=%s", container_id)

    def _mark_started(self, cid: str, started_at: float) -> None:
        Path(self._container_dir(cid), "started").write_text(repr(started_at))

    async def _wait_exit(self, cid: str, seconds: float) -> bool:
        event = self._shims.event(cid)
        if event is None:
            return self._exit(cid) is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()
        return event.is_set()

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        await self._load()
        async with self._locks[container_id]:
            try:
                record = self._container(container_id)
            except NotFoundError:
                return
            self._watch(record)
            if await self._wait_exit(container_id, 0):
                return
            if grace_seconds > 0:
                await self.runc.kill(container_id, "TERM")
                if await self._wait_exit(container_id, grace_seconds):
                    return
            await self.runc.kill(container_id, "KILL")
            if not await self._wait_exit(container_id, KILL_WAIT_SECONDS):
                raise RuntimeError_(f"container {container_id} did not exit after SIGKILL")
        log.info("container stopped id=%s", container_id)

    async def remove_container(self, container_id: str) -> None:
        await self._load()
        try:
            self._container(container_id)
        except NotFoundError:
            return
        await self.stop_container(container_id, 0)
        async with self._locks[container_id]:
            directory = self._container_dir(container_id)
            _remove_logs(self._container(container_id).log_path)
            await self.runc.delete(container_id)
            await self._images.release_rootfs(directory)
            shutil.rmtree(directory, ignore_errors=True)
            self._records.pop(container_id, None)
            self._shims.forget(container_id)
        self._locks.pop(container_id, None)
        log.info("container removed id=%s", container_id)

    async def container_status(self, container_id: str) -> ContainerStatus:
        await self._load()
        r = self._container(container_id)
        exited = self._exit(container_id)
        started_at = self._started_at(container_id)
        state = ContainerState.RUNNING if started_at else ContainerState.CREATED
        exit_code, reason, message, finished_at = 0, "", "", 0.0
        if exited is None and not linux.is_same_process(r.shim_pid, r.shim_start):
            exited = self._exit(container_id)  # it may have been written just now
            if exited is None:
                state, exit_code, reason = ContainerState.EXITED, 255, "Error"
                message = "the container's shim ended without recording an exit status"
        if exited is not None:
            state, exit_code, finished_at = (
                ContainerState.EXITED,
                exited.exit_code,
                exited.finished_at,
            )
            if exited.oom_killed and exit_code != 0:
                reason = "OOMKilled"
            else:
                reason = "Completed" if exit_code == 0 else "Error"
        return ContainerStatus(
            id=r.id,
            sandbox_id=r.sandbox_id,
            name=r.config.name,
            state=state,
            image=r.config.image,
            image_ref=r.image_ref,
            created_at=r.created_at,
            started_at=started_at,
            finished_at=finished_at,
            exit_code=exit_code,
            reason=reason,
            message=message,
            log_path=r.log_path,
            attempt=r.config.attempt,
            labels=r.config.labels,
            annotations=r.config.annotations,
        )

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        await self._load()
        out = []
        for cid in sorted(os.listdir(os.path.join(self._dir, "containers"))):
            try:
                if sandbox_id is None or self._container(cid).sandbox_id == sandbox_id:
                    out.append(await self.container_status(cid))
            except NotFoundError:
                continue  # being created or removed right now
        return out

    async def exec_sync(
        self, container_id: str, command: Sequence[str], time_limit: float = 0
    ) -> ExecResult:
        status = await self.container_status(container_id)
        if status.state is not ContainerState.RUNNING:
            raise RuntimeError_(f"container {container_id} is not running")
        return await self.runc.exec(container_id, command, time_limit)

    async def exec_stream(
        self, container_id: str, command: Sequence[str], *, stdin: bool, tty: bool
    ) -> streamexec.RuncExecProcess:
        """``command`` in the container with live stdio (``streaming.StreamingRuntime``)."""
        status = await self.container_status(container_id)
        if status.state is not ContainerState.RUNNING:
            raise RuntimeError_(f"container {container_id} is not running")
        return await streamexec.exec_stream(self.runc, container_id, command, stdin=stdin, tty=tty)

    async def attach_stream(
        self, container_id: str, *, stdin: bool, stderr: bool
    ) -> attach.ShimAttach:
        """The running container's own stdio, through its shim (``kubectl attach``)."""
        status = await self.container_status(container_id)
        if status.state is not ContainerState.RUNNING:
            raise RuntimeError_(f"container {container_id} is not running")
        return await attach.attach(self._container_dir(container_id), stdin=stdin, stderr=stderr)


def _remove_logs(log_path: str) -> None:
    """A removed container's log files, rotated ones included (upstream's kubelet removes them
    with the container); then its directory and the pod's, once empty."""
    if not log_path:
        return
    directory, name = os.path.split(log_path)
    with contextlib.suppress(FileNotFoundError):
        for entry in os.listdir(directory):
            if entry == name or entry.startswith(name + "."):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, entry))
    for empty in (directory, os.path.dirname(directory)):
        with contextlib.suppress(OSError):  # not empty: other containers' logs
            os.rmdir(empty)
