"""``FakeRuntime``: the ``RuntimeService`` in memory, for unit tests of the agent.

No process runs. A container "runs" its command through a tiny interpreter of the shell
commands tests use, so that the same pod specs behave alike here and under runc:

- ``echo [-n] WORDS [>&2]`` writes a line to the CRI log (or to an exec's output);
- ``exit N``, ``true``, ``false``, ``:`` set the exit code;
- ``sleep N`` makes the container run N seconds longer (output is written at start);
  ``sleep N &`` is ignored, ``wait`` and ``sleep infinity`` run until stopped;
- ``trap 'exit N' TERM`` makes a stop end with N instead of 137 (a SIGKILL);
- any other command runs until stopped (it stands for a server); in ``exec_sync`` it succeeds
  with no output.

``sh -c SCRIPT`` runs SCRIPT; anything else is one command. The labels or annotations
``kybernetes.io/fake-run-seconds``, ``kybernetes.io/fake-exit-code`` and
``kybernetes.io/fake-oom-killed`` (``"true"``) override the outcome. Time comes from the
injected clock, so a test moves containers to their exit with ``FakeClock.advance``.

Invariants: the same as the interface's; a ``FakeRuntime`` given another's ``FakeState``
sees everything the first one did, as a restarted agent does with a real runtime.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from kybernetes.agent.images.interface import ImageConfig
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
from kybernetes.util.clock import Clock, RealClock

RUN_SECONDS = "kybernetes.io/fake-run-seconds"
EXIT_CODE = "kybernetes.io/fake-exit-code"
OOM_KILLED = "kybernetes.io/fake-oom-killed"
MAX_LINE = 16 * 1024


@dataclass
class Outcome:
    """What a command does: its output, how long it runs, how it ends."""

    out: list[tuple[str, str]] = field(default_factory=list)  # (stream, line)
    seconds: float = 0.0  # math.inf: until stopped
    exit_code: int = 0
    term_exit_code: int = 137
    oom_killed: bool = False
    serving: bool = False  # a program we cannot imitate (it runs until stopped)


def interpret(argv: Sequence[str]) -> Outcome:
    script = argv[2] if len(argv) >= 3 and argv[0] in ("sh", "/bin/sh") and argv[1] == "-c" else ""
    tokens = _tokens(script) if script else list(argv)
    result = Outcome()
    for statement in _statements(tokens):
        if result.seconds == math.inf or not statement:
            break
        name, *args = statement
        background = args[-1:] == ["&"]
        if name == "echo":
            _echo(args, result)
        elif name == "exit":
            result.exit_code = int(args[0]) if args else 0
            break
        elif name in ("true", ":"):
            result.exit_code = 0
        elif name == "false":
            result.exit_code = 1
        elif name == "sleep" and background:
            continue
        elif name == "sleep":
            result.seconds += math.inf if args[0] == "infinity" else float(args[0])
        elif name == "trap":
            action = _tokens(args[0]) if args else []
            if action[:1] == ["exit"] and "TERM" in args[1:]:
                result.term_exit_code = int(action[1]) if len(action) > 1 else 0
        elif name == "wait":
            result.seconds = math.inf
        else:  # a program we cannot imitate: it serves until stopped
            result.seconds, result.serving = math.inf, True
    return result


def _tokens(script: str) -> list[str]:
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    return list(lexer)


def _statements(tokens: list[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for tok in tokens:
        if tok in (";", "&&", "\n"):
            out.append([])
        elif tok == "&":
            out[-1].append("&")
            out.append([])
        else:
            out[-1].append(tok)
    return out


def _echo(args: list[str], result: Outcome) -> None:
    stream = "stdout"
    if args[-2:] == [">&", "2"]:
        stream, args = "stderr", args[:-2]
    newline = True
    if args[:1] == ["-n"]:
        newline, args = False, args[1:]
    result.out.append((stream, " ".join(args) + ("\n" if newline else "")))


def _timestamp(at: float) -> str:
    secs = int(at)
    frac = min(round((at - secs) * 1e9), 999_999_999)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def cri_log_lines(at: float, out: Sequence[tuple[str, str]]) -> str:
    """The CRI log of ``out``: F ends a line, P is a part of one longer than MAX_LINE."""
    lines = []
    ts = _timestamp(at)
    for stream, text in out:
        body = text[:-1] if text.endswith("\n") else text
        for line in body.split("\n"):
            while len(line) > MAX_LINE:
                lines.append(f"{ts} {stream} P {line[:MAX_LINE]}\n")
                line = line[MAX_LINE:]
            lines.append(f"{ts} {stream} F {line}\n")
    return "".join(lines)


@dataclass
class _Container:
    config: ContainerConfig
    sandbox_id: str
    image_ref: str
    created_at: float
    log_path: str
    outcome: Outcome
    started_at: float = 0.0
    stopped: tuple[float, int] | None = None  # when and with which code a stop ended it


@dataclass
class _Sandbox:
    status: PodSandboxStatus


@dataclass
class FakeState:
    """Everything a ``FakeRuntime`` knows; share it to imitate an agent restart."""

    sandboxes: dict[str, _Sandbox] = field(default_factory=dict)
    containers: dict[str, _Container] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class FakeRuntime:
    def __init__(
        self,
        clock: Clock | None = None,
        state: FakeState | None = None,
        *,
        image_config: Callable[[str], ImageConfig] | None = None,
        exec_handler: Callable[[str, Sequence[str]], ExecResult] | None = None,
        pod_ip: Callable[[str], str] | None = None,
    ) -> None:
        self.clock = clock or RealClock()
        self.state = state or FakeState()
        self._image_config = image_config or (lambda image: ImageConfig())
        self._exec_handler = exec_handler
        self._pod_ip = pod_ip or (lambda sandbox_id: "")

    def _id(self, kind: str) -> str:
        return f"fake{kind}{next(self.state.ids):08x}"

    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        try:
            return self.state.sandboxes[sandbox_id]
        except KeyError:
            raise NotFoundError(f"pod sandbox {sandbox_id!r} not found") from None

    def _container(self, container_id: str) -> _Container:
        try:
            return self.state.containers[container_id]
        except KeyError:
            raise NotFoundError(f"container {container_id!r} not found") from None

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        sid = self._id("pod")
        status = PodSandboxStatus(
            id=sid,
            state=SandboxState.READY,
            created_at=self.clock.now(),
            ip="" if config.host_network else self._pod_ip(sid),
            config=config,
        )
        self.state.sandboxes[sid] = _Sandbox(status)
        return sid

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        sandbox = self.state.sandboxes.get(sandbox_id)
        if sandbox is None:
            return
        for cid, c in list(self.state.containers.items()):
            if c.sandbox_id == sandbox_id:
                await self.stop_container(cid, 0)
        sandbox.status = replace(sandbox.status, state=SandboxState.NOTREADY)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        await self.stop_pod_sandbox(sandbox_id)
        for cid, c in list(self.state.containers.items()):
            if c.sandbox_id == sandbox_id:
                del self.state.containers[cid]
        self.state.sandboxes.pop(sandbox_id, None)

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        return self._sandbox(sandbox_id).status

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return [s.status for s in self.state.sandboxes.values()]

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        if self._sandbox(sandbox_id).status.state is not SandboxState.READY:
            raise RuntimeError_(f"pod sandbox {sandbox_id} is not ready")
        image = self._image_config(config.image)
        if config.command:
            argv = [*config.command, *config.args]
        else:
            argv = [*image.entrypoint, *(config.args or image.cmd)]
        outcome = interpret(argv) if argv else Outcome(seconds=math.inf)
        _override(outcome, {**config.labels, **config.annotations})
        log_path = _log_path(config, sandbox_config)
        cid = self._id("ctr")
        self.state.containers[cid] = _Container(
            config, sandbox_id, f"fake:{config.image}", self.clock.now(), log_path, outcome
        )
        return cid

    async def start_container(self, container_id: str) -> None:
        c = self._container(container_id)
        if c.started_at or c.stopped:
            raise RuntimeError_(f"container {container_id} is not in the created state")
        c.started_at = self.clock.now()
        if c.log_path and c.outcome.out:
            _append(c.log_path, cri_log_lines(c.started_at, c.outcome.out))

    def _finished(self, c: _Container) -> tuple[float, int] | None:
        if c.stopped is not None:
            return c.stopped
        if c.started_at and self.clock.now() >= c.started_at + c.outcome.seconds:
            return c.started_at + c.outcome.seconds, c.outcome.exit_code
        return None

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        c = self.state.containers.get(container_id)
        if c is None or self._finished(c) is not None:
            return
        c.stopped = (self.clock.now(), c.outcome.term_exit_code if grace_seconds > 0 else 137)

    async def remove_container(self, container_id: str) -> None:
        await self.stop_container(container_id, 0)
        self.state.containers.pop(container_id, None)

    async def container_status(self, container_id: str) -> ContainerStatus:
        c = self._container(container_id)
        state = ContainerState.RUNNING if c.started_at else ContainerState.CREATED
        finished_at, exit_code, reason = 0.0, 0, ""
        ended = self._finished(c)
        if ended is not None:
            state, (finished_at, exit_code) = ContainerState.EXITED, ended
            reason = "Completed" if exit_code == 0 else "Error"
            if c.outcome.oom_killed and c.stopped is None:
                reason = "OOMKilled"
        return ContainerStatus(
            id=container_id,
            sandbox_id=c.sandbox_id,
            name=c.config.name,
            state=state,
            image=c.config.image,
            image_ref=c.image_ref,
            created_at=c.created_at,
            started_at=c.started_at,
            finished_at=finished_at,
            exit_code=exit_code,
            reason=reason,
            log_path=c.log_path,
            attempt=c.config.attempt,
            labels=c.config.labels,
            annotations=c.config.annotations,
        )

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        ids = [
            cid
            for cid, c in self.state.containers.items()
            if sandbox_id is None or c.sandbox_id == sandbox_id
        ]
        return [await self.container_status(cid) for cid in ids]

    async def exec_sync(
        self, container_id: str, command: Sequence[str], time_limit: float = 0
    ) -> ExecResult:
        if (await self.container_status(container_id)).state is not ContainerState.RUNNING:
            raise RuntimeError_(f"container {container_id} is not running")
        if self._exec_handler is not None:
            return self._exec_handler(container_id, command)
        outcome = interpret(command)
        if outcome.serving:
            outcome.seconds = 0.0  # an unknown program: a probe that succeeds at once
        if time_limit > 0 and outcome.seconds > time_limit:
            raise TimeoutError(f"exec in {container_id} timed out after {time_limit}s")
        stdout = "".join(text for stream, text in outcome.out if stream == "stdout")
        stderr = "".join(text for stream, text in outcome.out if stream == "stderr")
        return ExecResult(stdout.encode(), stderr.encode(), outcome.exit_code)


def _log_path(config: ContainerConfig, sandbox_config: PodSandboxConfig) -> str:
    if not config.log_path:
        return ""
    return os.path.abspath(os.path.join(sandbox_config.log_directory, config.log_path))


def _append(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        f.write(text)


def _override(outcome: Outcome, meta: Mapping[str, str]) -> None:
    with contextlib.suppress(ValueError):
        if RUN_SECONDS in meta:
            outcome.seconds = float(meta[RUN_SECONDS])
        if EXIT_CODE in meta:
            outcome.exit_code = int(meta[EXIT_CODE])
    if meta.get(OOM_KILLED) == "true":
        outcome.exit_code, outcome.oom_killed = 137, True
