"""Seccomp and groups in real runc containers: what RuntimeDefault blocks and lets through,
Localhost profiles, and the supplementary groups a pod's fsGroup adds.

Root is required (the runtime contract suite's harness and busybox image are reused).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kybernetes.agent.runtime.interface import RuntimeError_, SecurityContext
from tests.contract.test_runtime import Harness, busybox_base, container, pod, runc_harness

pytestmark = [pytest.mark.root, pytest.mark.timeout(60)]
__all__ = ["busybox_base"]  # the session fixture, shared with the contract suite

#: unshare(CLONE_NEWUSER) needs no capability: it works in a default container, and
#: RuntimeDefault refuses it
UNSHARE = "unshare -U true && echo unshared"


@pytest_asyncio.fixture
async def harness(tmp_path: Path, busybox_base: Path) -> AsyncIterator[Harness]:
    async for h in runc_harness(busybox_base, tmp_path):
        yield h


async def exec_in(h: Harness, security: SecurityContext, script: str) -> str:
    rt = h.runtime
    config = pod(log_dir=h.log_dir)
    sid = await rt.run_pod_sandbox(config)
    cid = await rt.create_container(sid, container("sleep 3600", security=security), config)
    await rt.start_container(cid)
    result = await rt.exec_sync(cid, ["sh", "-c", script])
    await rt.remove_pod_sandbox(sid)
    return (result.stdout + result.stderr).decode()


async def test_runtime_default_blocks_unshare_and_keeps_ordinary_work(harness: Harness) -> None:
    assert "unshared" in await exec_in(harness, SecurityContext(), UNSHARE)
    unconfined = SecurityContext(seccomp_profile="Unconfined")
    assert "unshared" in await exec_in(harness, unconfined, UNSHARE)
    default = SecurityContext(seccomp_profile="RuntimeDefault")
    blocked = await exec_in(harness, default, UNSHARE)
    assert "Operation not permitted" in blocked
    assert "unshared" not in blocked
    ordinary = (
        "grep Seccomp: /proc/self/status; mkdir -p /tmp/d && echo hi > /tmp/d/f && cat /tmp/d/f;"
        " (sleep 0.1 & wait) && echo forked; ls / >/dev/null && echo listed;"
        " nc -l -p 7000 -e echo pong & sleep 0.2; nc 127.0.0.1 7000 </dev/null"
    )
    out = await exec_in(harness, default, ordinary)
    assert "Seccomp:\t2" in out
    for line in ("hi", "forked", "listed", "pong"):
        assert line in out.splitlines(), out


async def test_localhost_profile(harness: Harness, tmp_path: Path) -> None:
    profile = tmp_path / "seccomp" / "no-mkdir.json"
    profile.parent.mkdir()
    profile.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
                ],
            }
        )
    )
    local = SecurityContext(seccomp_profile="Localhost", seccomp_localhost=str(profile))
    out = await exec_in(harness, local, "mkdir /tmp/x; echo $?; unshare -U true && echo unshared")
    assert "Permission denied" in out  # EACCES, the profile's errno
    assert "unshared" in out  # everything else allowed
    rt = harness.runtime
    config = pod(log_dir=harness.log_dir)
    sid = await rt.run_pod_sandbox(config)
    missing = SecurityContext(
        seccomp_profile="Localhost", seccomp_localhost=str(tmp_path / "seccomp" / "gone.json")
    )
    with pytest.raises(RuntimeError_, match=r"cannot load seccomp profile .*gone\.json"):
        await rt.create_container(sid, container("true", security=missing), config)
    await rt.remove_pod_sandbox(sid)


async def test_fs_group_and_supplemental_groups_are_process_groups(harness: Harness) -> None:
    security = SecurityContext(
        run_as_user=1000, run_as_group=3000, supplemental_groups=(2000, 4000)
    )
    assert (await exec_in(harness, security, "id")).strip() == (
        "uid=1000 gid=3000 groups=2000,3000,4000"
    )
    # runc installs the filter before it changes user: that must still go through
    confined = dataclasses.replace(security, seccomp_profile="RuntimeDefault")
    assert (await exec_in(harness, confined, "id -u; id -G")).split() == [
        "1000",
        "3000",
        "2000",
        "4000",
    ]
