"""The fake runtime's imitation of containers over a fake clock."""

from __future__ import annotations

import math

import pytest

from kybernetes.agent.runtime.fakeruntime import (
    EXIT_CODE,
    OOM_KILLED,
    RUN_SECONDS,
    FakeRuntime,
    cri_log_lines,
    interpret,
)
from kybernetes.agent.runtime.interface import ContainerConfig, ContainerState, PodSandboxConfig
from kybernetes.util.clock import FakeClock


def test_the_interpreter_understands_the_scripts_tests_use() -> None:
    out = interpret(["sh", "-c", "echo hi; echo -n err >&2; sleep 2; exit 3"])
    assert out.out == [("stdout", "hi\n"), ("stderr", "err")]
    assert (out.seconds, out.exit_code) == (2.0, 3)
    assert interpret(["nginx", "-g", "daemon off;"]).seconds == math.inf
    trap = interpret(["sh", "-c", "trap 'exit 5' TERM; sleep 3600 & wait"])
    assert (trap.seconds, trap.term_exit_code) == (math.inf, 5)


def test_long_lines_become_partial_entries() -> None:
    text = cri_log_lines(0.5, [("stdout", "a" * 20000 + "\n")])
    assert [line.split(" ")[2] for line in text.splitlines()] == ["P", "F"]
    assert text.startswith("1970-01-01T00:00:00.500000000Z stdout P ")


@pytest.mark.parametrize(
    ("meta", "code", "reason"),
    [
        ({RUN_SECONDS: "10"}, 0, "Completed"),
        ({RUN_SECONDS: "10", EXIT_CODE: "2"}, 2, "Error"),
        ({RUN_SECONDS: "10", OOM_KILLED: "true"}, 137, "OOMKilled"),
    ],
)
async def test_containers_exit_when_the_clock_says_so(
    meta: dict[str, str], code: int, reason: str
) -> None:
    clock = FakeClock()
    rt = FakeRuntime(clock)
    pod = PodSandboxConfig(name="p", namespace="ns", uid="u")
    sid = await rt.run_pod_sandbox(pod)
    cid = await rt.create_container(
        sid, ContainerConfig(name="c", image="i", command=("server",), annotations=meta), pod
    )
    await rt.start_container(cid)
    clock.advance(9.9)
    assert (await rt.container_status(cid)).state is ContainerState.RUNNING
    clock.advance(0.1)
    status = await rt.container_status(cid)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, code, reason)
    assert status.finished_at == status.started_at + 10
