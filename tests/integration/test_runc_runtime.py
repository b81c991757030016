"""What only the runc runtime can show: limits, OOM kills, shared namespaces, long log lines,
security settings, and containers that outlive the agent's process.

Root is required (as in the runtime contract suite, whose harness and busybox image double
these tests reuse, with its check that nothing is left on the host).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kybernetes.agent.runtime.interface import (
    ContainerState,
    Resources,
    SecurityContext,
)
from kybernetes.agent.runtime.runc import RuncRuntime
from tests.contract.test_runtime import (
    CRI_LINE,
    Harness,
    busybox_base,
    container,
    pod,
    run,
    runc_harness,
    wait_exited,
)

pytestmark = [pytest.mark.root, pytest.mark.timeout(60)]
__all__ = ["busybox_base"]  # the session fixture, shared with the contract suite


@pytest_asyncio.fixture
async def harness(tmp_path: Path, busybox_base: Path) -> AsyncIterator[Harness]:
    async for h in runc_harness(busybox_base, tmp_path):
        yield h


async def test_memory_hog_is_oom_killed(harness: Harness) -> None:
    _, cid, _ = await run(
        harness,
        "dd if=/dev/zero of=/dev/null bs=64M count=1",
        resources=Resources(memory_limit=16 << 20),
    )
    status = await wait_exited(harness.runtime, cid)
    assert (status.exit_code, status.reason) == (137, "OOMKilled")


async def test_cgroup_limits_are_applied(harness: Harness) -> None:
    resources = Resources(cpu_shares=512, cpu_quota=25_000, memory_limit=64 << 20, pids_limit=50)
    _, cid, _ = await run(harness, "sleep 3600", resources=resources)
    script = (
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
        "/sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/pids/pids.max"
    )
    result = await harness.runtime.exec_sync(cid, ["sh", "-c", script])
    assert result.stdout.split() == [str(64 << 20).encode(), b"25000", b"512", b"50"]


async def test_containers_of_a_pod_share_net_ipc_uts_but_not_pid(harness: Harness) -> None:
    rt = harness.runtime
    config = pod("shared", harness.log_dir)
    sid = await rt.run_pod_sandbox(config)
    ids = []
    for name in ("a", "b"):
        cid = await rt.create_container(sid, container("sleep 3600", name=name), config)
        await rt.start_container(cid)
        ids.append(cid)
    script = "for ns in net ipc uts pid; do readlink /proc/self/ns/$ns; done"
    views = [(await rt.exec_sync(c, ["sh", "-c", script])).stdout.split() for c in ids]
    assert views[0][:3] == views[1][:3]
    assert views[0][3] != views[1][3]
    assert views[0][0] != os.readlink("/proc/self/ns/net").encode()
    hostname = await rt.exec_sync(ids[0], ["hostname"])
    assert hostname.stdout == b"shared\n"
    links = await rt.exec_sync(ids[1], ["ls", "/sys/class/net"])
    assert links.stdout.split() == [b"lo"]  # no network plugin: a namespace with lo only
    await rt.exec_sync(ids[0], ["sh", "-c", "echo shared-memory > /dev/shm/x"])
    assert (await rt.exec_sync(ids[1], ["cat", "/dev/shm/x"])).stdout == b"shared-memory\n"


async def test_long_lines_are_split_into_partial_log_entries(harness: Harness) -> None:
    _, cid, _ = await run(harness, "head -c 40000 /dev/zero | tr '\\0' a; echo; echo end")
    status = await wait_exited(harness.runtime, cid)
    entries = []
    for line in Path(status.log_path).read_text().splitlines():
        match = CRI_LINE.match(line)
        assert match is not None, line
        entries.append((match[3], match[4]))
    assert [tag for tag, _ in entries] == ["P", "P", "F", "F"]
    assert "".join(text for _, text in entries[:3]) == "a" * 40000
    assert entries[3] == ("F", "end")


async def test_security_context(harness: Harness) -> None:
    rt = harness.runtime
    config = pod(log_dir=harness.log_dir)
    sid = await rt.run_pod_sandbox(config)
    default_caps = 0xA80425FB  # upstream's default set of 14 capabilities

    async def exec_in(security: SecurityContext, script: str) -> bytes:
        cid = await rt.create_container(sid, container("sleep 3600", security=security), config)
        await rt.start_container(cid)
        result = await rt.exec_sync(cid, ["sh", "-c", script])
        await rt.remove_container(cid)
        return result.stdout + result.stderr

    caps = await exec_in(SecurityContext(), "grep CapBnd /proc/self/status")
    assert int(caps.split()[1], 16) == default_caps
    added = await exec_in(
        SecurityContext(capabilities_add=("NET_ADMIN",), capabilities_drop=("KILL",)),
        "grep CapBnd /proc/self/status",
    )
    assert int(added.split()[1], 16) == (default_caps | 1 << 12) & ~(1 << 5)
    assert await exec_in(SecurityContext(run_as_user=65534), "id -u; id -g") == b"65534\n65534\n"
    readonly = await exec_in(SecurityContext(readonly_rootfs=True), "touch /x || echo denied")
    assert b"Read-only file system" in readonly
    nnp = await exec_in(SecurityContext(no_new_privs=True), "grep NoNewPrivs /proc/self/status")
    assert nnp.split()[1] == b"1"
    seccomp = await exec_in(
        SecurityContext(seccomp_profile="RuntimeDefault"), "grep Seccomp: /proc/self/status"
    )
    assert seccomp.split()[1] == b"2"
    await rt.remove_pod_sandbox(sid)


AGENT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from kybernetes.agent.runtime.runc import RuncRuntime
    from tests.contract.test_runtime import BusyboxImages, container, pod

    async def main(state, base, logs, cgroup_root):
        rt = RuncRuntime(state, BusyboxImages(Path(base)), None, cgroup_root=cgroup_root)
        config = pod(log_dir=Path(logs))
        sid = await rt.run_pod_sandbox(config)
        for name, script in (("server", "sleep 3600"), ("job", "sleep 0.5; echo done; exit 4")):
            cid = await rt.create_container(sid, container(script, name=name), config)
            await rt.start_container(cid)
        print(sid)

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_containers_outlive_the_agent_process(harness: Harness, busybox_base: Path) -> None:
    rt = harness.runtime
    assert isinstance(rt, RuncRuntime)
    state = Path(rt.runc.root).parent
    # the shims the short-lived "agent" leaves behind become our children, so that they are
    # reaped here (this machine's PID 1 reaps no orphans)
    libc = ctypes.CDLL(None)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    try:
        agent = subprocess.run(
            [
                sys.executable,
                "-c",
                AGENT,
                str(state),
                str(busybox_base),
                str(harness.log_dir),
                rt.cgroup_root,
            ],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parents[2],
            check=False,
        )
        assert agent.returncode == 0, agent.stderr
        sid = agent.stdout.strip()
        rt = await harness.reopen()
        statuses = {c.name: c for c in await rt.list_containers(sid)}
        assert statuses["server"].state is ContainerState.RUNNING
        job = await wait_exited(rt, statuses["job"].id)  # it ends while we watch, as adopted
        assert (job.exit_code, job.reason) == (4, "Error")
        assert "stdout F done" in Path(job.log_path).read_text()
        await rt.remove_pod_sandbox(sid)
    finally:
        libc.prctl(36, 0, 0, 0, 0)
