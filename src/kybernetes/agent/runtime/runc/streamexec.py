"""``runc exec`` with live stdio: pipes, or a pseudo-terminal for ``kubectl exec -t``.

Without a TTY, runc hands its own stdin, stdout and stderr to the process, so they are pipes
the agent reads and writes. With a TTY, runc (in the foreground) allocates the container's
terminal itself and relays it to its own stdio, which must then be a terminal too: the agent
opens a pseudo-terminal pair, gives runc the secondary end (raw mode, so nothing is echoed or
translated twice) and reads and writes the primary end. A resize sets the size of that
terminal and sends runc ``SIGWINCH``, on which runc copies the size to the container's.

Invariants: the process is always ended and reaped (``kill`` signals the process runc started,
by its PID file, then runc exits with it); the agent's copy of the secondary end is closed at
once, so reading the primary end ends (EIO) when runc exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import shutil
import signal
import struct
import tempfile
import termios
import tty as ttymod
from collections.abc import Sequence
from pathlib import Path

from kybernetes.agent.runtime.runc.cli import Runc

_EOT = b"\x04"


class RuncExecProcess:
    """One ``runc exec``; see the module docstring."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        tmp: str,
        *,
        primary: int = -1,
    ) -> None:
        self._proc = proc
        self._tmp = tmp
        self._primary = primary
        self.stderr: asyncio.StreamReader | None
        if primary >= 0:
            self.stdout = asyncio.StreamReader()
            self.stderr = None
            os.set_blocking(primary, False)
            asyncio.get_running_loop().add_reader(primary, self._readable)
        else:
            if proc.stdout is None or proc.stderr is None:
                raise ValueError("runc exec without a TTY needs piped stdout and stderr")
            self.stdout = proc.stdout
            self.stderr = proc.stderr

    def _readable(self) -> None:
        try:
            data = os.read(self._primary, 65536)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO: every holder of the secondary end has closed it
            if exc.errno != errno.EIO:
                raise
            data = b""
        if data:
            self.stdout.feed_data(data)
            return
        asyncio.get_running_loop().remove_reader(self._primary)
        self.stdout.feed_eof()

    async def write(self, data: bytes) -> None:
        if self._primary >= 0:
            view = memoryview(data)
            while view:
                try:
                    written = os.write(self._primary, view)
                except BlockingIOError:
                    await asyncio.sleep(0.01)
                    continue
                view = view[written:]
            return
        stdin = self._proc.stdin
        if stdin is None or stdin.is_closing():
            return
        stdin.write(data)
        with contextlib.suppress(ConnectionError):
            await stdin.drain()

    async def close_stdin(self) -> None:
        if self._primary >= 0:
            await self.write(_EOT)  # a terminal has no end of input, only ^D
            return
        if self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.close()

    def resize(self, width: int, height: int) -> None:
        if self._primary < 0 or width <= 0 or height <= 0:
            return
        with contextlib.suppress(OSError):
            size = struct.pack("HHHH", height, width, 0, 0)
            fcntl.ioctl(self._primary, termios.TIOCSWINSZ, size)
            os.kill(self._proc.pid, signal.SIGWINCH)

    async def wait(self) -> int:
        try:
            code = await self._proc.wait()
        finally:
            self._cleanup()
        return code if code >= 0 else 128 - code

    async def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            pid = int(Path(self._tmp, "pid").read_text())  # noqa: ASYNC240 (tiny local file)
            os.kill(pid, signal.SIGKILL)
        try:
            async with asyncio.timeout(5):
                await self._proc.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            await self._proc.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)
        if self._primary >= 0 and self._proc.returncode is not None:
            # The reader sees EIO by itself; closing early would lose buffered output, so the
            # descriptor is closed only once the reader has finished with it.
            if self.stdout.at_eof():
                self._close_primary()
            else:
                asyncio.get_running_loop().call_later(5.0, self._close_primary)

    def _close_primary(self) -> None:
        if self._primary < 0:
            return
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self._primary)
        with contextlib.suppress(OSError):
            os.close(self._primary)
        if not self.stdout.at_eof():
            self.stdout.feed_eof()
        self._primary = -1


async def exec_stream(
    runc: Runc, container_id: str, command: Sequence[str], *, stdin: bool, tty: bool
) -> RuncExecProcess:
    """Start ``command`` in the container with its stdio connected to the returned process."""
    tmp = tempfile.mkdtemp(prefix="kyb-exec-")
    argv = [runc.binary, "--root", runc.root, "exec", "--pid-file", os.path.join(tmp, "pid")]
    if tty:
        argv.append("--tty")
    argv += [container_id, *command]
    if not tty:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return RuncExecProcess(proc, tmp)
    primary, secondary = os.openpty()
    try:
        ttymod.setraw(secondary)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=secondary, stdout=secondary, stderr=secondary, start_new_session=True
        )
    except BaseException:
        os.close(primary)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(secondary)
    return RuncExecProcess(proc, tmp, primary=primary)
