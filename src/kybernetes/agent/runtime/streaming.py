"""Streaming exec: a process in a container whose stdio the agent's server relays live.

CRI's ``Exec`` hands the kubelet a stream; here a runtime that can stream implements
``StreamingRuntime.exec_stream`` and returns an ``ExecProcess``: readers for its output
(one, the terminal, with a TTY), a writer for its stdin, terminal resize, its exit code, and
``kill``. ``exec_process`` picks that for runtimes that have it, and falls back to
``exec_sync`` (the output arrives when the command ends, stdin is not read) for those that do
not, such as the fake runtime. ``AttachingRuntime.attach_stream`` is the same shape for a
container's own stdio (``kubectl attach``): there ``kill`` detaches and ``wait`` ends with
the container; ``attach_process`` is None for runtimes without it (the server then follows
the container's log).

Invariant: by the time ``wait()`` returns, everything the process wrote is in its output
readers and they are at their end, so a caller that drains them after ``wait()`` has relayed
every byte before it reports the exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from kybernetes.agent.runtime.interface import RuntimeService


class ExecProcess(Protocol):
    #: stdout, or the terminal's output with a TTY
    stdout: asyncio.StreamReader
    #: None with a TTY (the terminal carries both streams)
    stderr: asyncio.StreamReader | None

    async def write(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    def resize(self, width: int, height: int) -> None: ...

    async def wait(self) -> int:
        """The exit code, once the process has ended and its output has been read."""
        ...

    async def kill(self) -> None: ...


@runtime_checkable
class StreamingRuntime(Protocol):
    async def exec_stream(
        self, container_id: str, command: Sequence[str], *, stdin: bool, tty: bool
    ) -> ExecProcess: ...


@runtime_checkable
class AttachingRuntime(Protocol):
    async def attach_stream(
        self, container_id: str, *, stdin: bool, stderr: bool
    ) -> ExecProcess: ...


class SyncExecProcess:
    """``exec_sync`` dressed as an ``ExecProcess``: output comes when the command ends."""

    def __init__(self, runtime: RuntimeService, container_id: str, command: Sequence[str]):
        self.stdout = asyncio.StreamReader()
        self.stderr: asyncio.StreamReader | None = asyncio.StreamReader()
        self._task = asyncio.ensure_future(runtime.exec_sync(container_id, command))

    async def write(self, data: bytes) -> None:
        return None

    async def close_stdin(self) -> None:
        return None

    def resize(self, width: int, height: int) -> None:
        return None

    async def wait(self) -> int:
        try:
            result = await self._task
            if result.stdout:
                self.stdout.feed_data(result.stdout)
            if self.stderr is not None and result.stderr:
                self.stderr.feed_data(result.stderr)
        finally:
            self.stdout.feed_eof()
            if self.stderr is not None:
                self.stderr.feed_eof()
        return result.exit_code

    async def kill(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


async def exec_process(
    runtime: RuntimeService,
    container_id: str,
    command: Sequence[str],
    *,
    stdin: bool,
    tty: bool,
) -> ExecProcess:
    if isinstance(runtime, StreamingRuntime):
        return await runtime.exec_stream(container_id, command, stdin=stdin, tty=tty)
    return SyncExecProcess(runtime, container_id, command)


async def attach_process(
    runtime: RuntimeService, container_id: str, *, stdin: bool, stderr: bool
) -> ExecProcess | None:
    if isinstance(runtime, AttachingRuntime):
        return await runtime.attach_stream(container_id, stdin=stdin, stderr=stderr)
    return None
