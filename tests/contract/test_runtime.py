"""The contract every ``RuntimeService`` passes: the in-memory fake and runc.

The runc case runs real containers and needs root (the machine and CI run as root); without
root it fails with a message saying so, never skips. Its containers get their rootfs from
``BusyboxImages``, a test double of the image service: an overlayfs over a busybox-static tree
built once per session. Each runc test has its own state directory, runc root and cgroup
parent, and afterwards checks that nothing it made is left: no mount under its directory, no
runc container, no cgroup, no process started from its directory.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kybernetes.agent.images.interface import AuthConfig, Image, ImageConfig, ImageNotFound
from kybernetes.agent.runtime.fakeruntime import FakeRuntime, FakeState
from kybernetes.agent.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    NotFoundError,
    PodSandboxConfig,
    RuntimeService,
    SandboxState,
)
from kybernetes.agent.runtime.runc import RuncRuntime, cgroups, linux

pytestmark = pytest.mark.timeout(60)

BUSYBOX = "localhost/test/busybox:1"
BUSYBOX_ID = "sha256:" + "b" * 64
CRI_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) (F|P) (.*)$", re.DOTALL
)


# -- the test image: busybox-static --------------------------------------------------------


def build_busybox_rootfs(dest: Path) -> None:
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.fail("busybox is not installed: `make setup` installs Debian's busybox-static")
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, dest / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    for applet in applets.stdout.split():
        if applet != "busybox" and not (dest / "bin" / applet).exists():
            (dest / "bin" / applet).symlink_to("busybox")
    (dest / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"
    )
    (dest / "etc" / "group").write_text("root:x:0:\nnobody:x:65534:\n")


@dataclass
class BusyboxImages:
    """An ImageService double: one image, an overlayfs rootfs per container."""

    base: Path
    config: ImageConfig = field(
        default_factory=lambda: ImageConfig(cmd=("sh",), env=("PATH=/bin",), working_dir="/")
    )

    def _image(self) -> Image:
        return Image(id=BUSYBOX_ID, repo_tags=(BUSYBOX,), config=self.config)

    async def pull_image(self, reference: str, auth: AuthConfig | None = None) -> Image:
        return await self.image_status(reference) or self._image()

    async def image_status(self, reference: str) -> Image | None:
        return self._image() if reference in (BUSYBOX, BUSYBOX_ID) else None

    async def list_images(self) -> list[Image]:
        return [self._image()]

    async def remove_image(self, reference: str) -> None:
        raise ImageNotFound(reference)

    async def prepare_rootfs(self, image: str, container_dir: str) -> str:
        d = Path(container_dir)
        for sub in ("upper", "work", "merged"):
            (d / sub).mkdir(exist_ok=True)
        options = f"lowerdir={self.base},upperdir={d / 'upper'},workdir={d / 'work'}"
        linux.mount("overlay", str(d / "merged"), "overlay", 0, options)
        return str(d / "merged")

    async def release_rootfs(self, container_dir: str) -> None:
        linux.umount(os.path.join(container_dir, "merged"))


@pytest.fixture(scope="session")
def busybox_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("busybox-rootfs")
    build_busybox_rootfs(base)
    return base


# -- the runtimes under test ---------------------------------------------------------------


@dataclass
class Harness:
    """A runtime under test, and how to restart it (a new object on the same state)."""

    runtime: RuntimeService
    log_dir: Path
    reopen_fn: Callable[[], RuntimeService]

    async def reopen(self) -> RuntimeService:
        old = self.runtime
        if isinstance(old, RuncRuntime):
            await old.close()
        self.runtime = self.reopen_fn()
        return self.runtime


def leftovers(directory: Path, runc_root: Path, cgroup_root: str) -> list[str]:
    """Everything a runc test made that still exists on the host."""
    found = []
    with open("/proc/self/mountinfo") as f:
        found += [f"mount: {line.split()[4]}" for line in f if str(directory) in line]
    if runc_root.is_dir():
        runc = subprocess.run(
            ["runc", "--root", str(runc_root), "list", "-q"], capture_output=True, text=True
        )
        found += [f"runc container: {cid}" for cid in runc.stdout.split()]
    for top in cgroups.existing(cgroup_root):
        found += [f"cgroup: {top}/{d.name}" for d in Path(top).iterdir() if d.is_dir()]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if str(directory).encode() in cmdline:
                args = cmdline.replace(b"\0", b" ")[:200]
                found.append(f"process {proc.name}: {args!r}")
    return found


async def runc_harness(base: Path, tmp_path: Path) -> AsyncIterator[Harness]:
    if os.geteuid() != 0:
        pytest.fail(
            "the runc runtime tests need root (namespaces, mounts, cgroups); run them as root, "
            "as CI does, or deselect them with -m 'not root'"
        )
    state = tmp_path / "state"
    cgroup_root = f"kyb-test-{uuid.uuid4().hex[:12]}"

    def make() -> RuncRuntime:
        return RuncRuntime(state, BusyboxImages(base), None, cgroup_root=cgroup_root)

    harness = Harness(make(), tmp_path / "logs", make)
    try:
        yield harness
    finally:
        runtime = harness.runtime
        for s in await runtime.list_pod_sandboxes():
            await runtime.remove_pod_sandbox(s.id)
        if isinstance(runtime, RuncRuntime):
            await runtime.close()
        left = leftovers(tmp_path, state / "runc", cgroup_root)
        cgroups.remove(cgroup_root)
        assert not left, f"left on the host: {left}"


@pytest_asyncio.fixture(params=["fake", pytest.param("runc", marks=pytest.mark.root)])
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, busybox_base: Path
) -> AsyncIterator[Harness]:
    if request.param == "fake":
        state = FakeState()
        yield Harness(FakeRuntime(state=state), tmp_path / "logs", lambda: FakeRuntime(state=state))
    else:
        async for h in runc_harness(busybox_base, tmp_path):
            yield h


# -- helpers ---------------------------------------------------------------------------------


def pod(name: str = "web", log_dir: Path | None = None, **kw: Any) -> PodSandboxConfig:
    return PodSandboxConfig(
        name=name,
        namespace="default",
        uid=uuid.uuid4().hex,
        hostname=name,
        log_directory=str(log_dir or ""),
        **kw,
    )


def container(script: str | None = None, name: str = "main", **kw: Any) -> ContainerConfig:
    command: Sequence[str] = ("sh", "-c", script) if script is not None else ()
    return ContainerConfig(
        name=name, image=BUSYBOX, command=command, log_path=f"{name}/0.log", **kw
    )


async def wait_exited(rt: RuntimeService, cid: str, seconds: float = 10) -> ContainerStatus:
    async with asyncio.timeout(seconds):
        while True:
            status = await rt.container_status(cid)
            if status.state is ContainerState.EXITED:
                return status
            await asyncio.sleep(0.02)


async def run(h: Harness, script: str, **kw: Any) -> tuple[str, str, PodSandboxConfig]:
    rt = h.runtime
    config = pod(log_dir=h.log_dir)
    sid = await rt.run_pod_sandbox(config)
    cid = await rt.create_container(sid, container(script, **kw), config)
    await rt.start_container(cid)
    return sid, cid, config


# -- the contract ----------------------------------------------------------------------------


async def test_sandbox_lifecycle(harness: Harness) -> None:
    rt = harness.runtime
    config = pod("db", harness.log_dir)
    sid = await rt.run_pod_sandbox(config)
    status = await rt.pod_sandbox_status(sid)
    assert (status.id, status.state) == (sid, SandboxState.READY)
    assert status.config is not None
    assert status.config.uid == config.uid
    assert status.created_at > 0
    assert [s.id for s in await rt.list_pod_sandboxes()] == [sid]

    await rt.stop_pod_sandbox(sid)
    assert (await rt.pod_sandbox_status(sid)).state is SandboxState.NOTREADY
    await rt.stop_pod_sandbox(sid)  # idempotent
    await rt.remove_pod_sandbox(sid)
    await rt.remove_pod_sandbox(sid)
    await rt.stop_pod_sandbox(sid)
    assert await rt.list_pod_sandboxes() == []
    with pytest.raises(NotFoundError):
        await rt.pod_sandbox_status(sid)


async def test_container_lifecycle(harness: Harness) -> None:
    rt = harness.runtime
    config = pod(log_dir=harness.log_dir)
    sid = await rt.run_pod_sandbox(config)
    cid = await rt.create_container(sid, container("sleep 3600", labels={"app": "x"}), config)
    created = await rt.container_status(cid)
    assert (created.state, created.sandbox_id, created.name) == (
        ContainerState.CREATED,
        sid,
        "main",
    )
    assert created.image == BUSYBOX
    assert created.labels == {"app": "x"}
    assert created.created_at > 0
    assert created.started_at == 0

    await rt.start_container(cid)
    running = await rt.container_status(cid)
    assert running.state is ContainerState.RUNNING
    assert running.started_at >= created.created_at
    assert [c.id for c in await rt.list_containers(sid)] == [cid]
    assert [c.id for c in await rt.list_containers()] == [cid]

    # sleep as PID 1 ignores SIGTERM: the grace period runs out and SIGKILL ends it
    await rt.stop_container(cid, 0.2)
    stopped = await rt.container_status(cid)
    assert (stopped.state, stopped.exit_code, stopped.reason) == (
        ContainerState.EXITED,
        137,
        "Error",
    )
    assert stopped.finished_at >= running.started_at

    await rt.stop_container(cid, 1)  # idempotent
    await rt.remove_container(cid)
    await rt.remove_container(cid)
    await rt.stop_container(cid, 1)
    with pytest.raises(NotFoundError):
        await rt.container_status(cid)
    assert await rt.list_containers(sid) == []
    await rt.remove_pod_sandbox(sid)


@pytest.mark.parametrize(
    ("script", "code", "reason"),
    [("true", 0, "Completed"), ("exit 3", 3, "Error"), ("false", 1, "Error")],
)
async def test_exit_codes_and_reasons(
    harness: Harness, script: str, code: int, reason: str
) -> None:
    sid, cid, _ = await run(harness, script)
    status = await wait_exited(harness.runtime, cid)
    assert (status.exit_code, status.reason) == (code, reason)
    assert status.finished_at >= status.started_at > 0
    await harness.runtime.remove_pod_sandbox(sid)


async def test_graceful_stop_lets_the_container_handle_sigterm(harness: Harness) -> None:
    sid, cid, _ = await run(harness, "trap 'exit 0' TERM; sleep 3600 & wait")
    await asyncio.sleep(0.1)  # let sh install its trap
    async with asyncio.timeout(5):  # well before the 30 s grace period
        await harness.runtime.stop_container(cid, 30)
    status = await harness.runtime.container_status(cid)
    assert (status.state, status.exit_code, status.reason) == (
        ContainerState.EXITED,
        0,
        "Completed",
    )
    await harness.runtime.remove_pod_sandbox(sid)


async def test_logs_are_written_in_cri_format(harness: Harness) -> None:
    sid, cid, _ = await run(harness, "echo hello; echo oops >&2; echo -n no-newline")
    status = await wait_exited(harness.runtime, cid)
    assert status.log_path == str(harness.log_dir / "main" / "0.log")
    lines = Path(status.log_path).read_text().splitlines()
    parsed = [m.groups() for m in map(CRI_LINE.match, lines) if m]
    assert len(parsed) == len(lines) == 3, lines
    by_stream = {
        s: [(tag, text) for _, stream, tag, text in parsed if stream == s]
        for s in ("stdout", "stderr")
    }
    assert by_stream == {
        "stdout": [("F", "hello"), ("F", "no-newline")],
        "stderr": [("F", "oops")],
    }
    await harness.runtime.remove_pod_sandbox(sid)


async def test_exec_sync(harness: Harness) -> None:
    rt = harness.runtime
    sid, cid, _ = await run(harness, "sleep 3600")
    result = await rt.exec_sync(cid, ["sh", "-c", "echo out; echo err >&2; exit 3"], 5)
    assert (result.stdout, result.stderr, result.exit_code) == (b"out\n", b"err\n", 3)
    ok = await rt.exec_sync(cid, ["echo", "hi"])
    assert (ok.stdout, ok.exit_code) == (b"hi\n", 0)
    with pytest.raises(TimeoutError):
        await rt.exec_sync(cid, ["sleep", "10"], 0.3)
    await rt.remove_pod_sandbox(sid)
    with pytest.raises(NotFoundError):
        await rt.exec_sync(cid, ["true"])


async def test_a_new_runtime_object_adopts_sandboxes_and_containers(harness: Harness) -> None:
    rt = harness.runtime
    config = pod(log_dir=harness.log_dir)
    sid = await rt.run_pod_sandbox(config)
    server = await rt.create_container(sid, container("sleep 3600", name="server"), config)
    job = await rt.create_container(sid, container("sleep 0.3; exit 7", name="job"), config)
    idle = await rt.create_container(sid, container("sleep 3600", name="idle"), config)
    await rt.start_container(server)
    await rt.start_container(job)

    rt = await harness.reopen()  # the agent restarts; the job ends while none runs
    await asyncio.sleep(0.6)
    assert (await rt.pod_sandbox_status(sid)).state is SandboxState.READY
    statuses = {c.name: c for c in await rt.list_containers(sid)}
    assert statuses["server"].state is ContainerState.RUNNING
    assert (statuses["job"].state, statuses["job"].exit_code) == (ContainerState.EXITED, 7)
    assert statuses["idle"].state is ContainerState.CREATED
    await rt.start_container(idle)
    assert (await rt.container_status(idle)).state is ContainerState.RUNNING

    await rt.stop_container(server, 0)
    assert (await rt.container_status(server)).exit_code == 137
    await rt.remove_pod_sandbox(sid)
    assert await rt.list_containers() == []


async def test_removing_a_sandbox_stops_and_removes_its_containers(harness: Harness) -> None:
    rt = harness.runtime
    sid, cid, _ = await run(harness, "sleep 3600")
    other = await rt.run_pod_sandbox(pod("other", harness.log_dir))
    await rt.stop_pod_sandbox(sid)
    assert (await rt.container_status(cid)).state is ContainerState.EXITED
    await rt.remove_pod_sandbox(sid)
    with pytest.raises(NotFoundError):
        await rt.container_status(cid)
    assert [s.id for s in await rt.list_pod_sandboxes()] == [other]
    await rt.remove_pod_sandbox(other)


async def test_unknown_ids_are_not_found(harness: Harness) -> None:
    rt = harness.runtime
    for call in (
        rt.container_status("nope"),
        rt.start_container("nope"),
        rt.exec_sync("nope", ["true"]),
        rt.pod_sandbox_status("nope"),
        rt.create_container("nope", container("true"), pod()),
    ):
        with pytest.raises(NotFoundError):
            await call
    await rt.stop_container("nope", 1)
    await rt.remove_container("nope")
    await rt.stop_pod_sandbox("nope")
    await rt.remove_pod_sandbox("nope")


async def test_a_container_cannot_start_twice(harness: Harness) -> None:
    from kybernetes.agent.runtime.interface import RuntimeError_

    sid, cid, _ = await run(harness, "sleep 3600")
    with pytest.raises(RuntimeError_):
        await harness.runtime.start_container(cid)
    await harness.runtime.remove_pod_sandbox(sid)
