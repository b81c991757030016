"""runc's command line, driven asynchronously: start, kill, delete, state, exec.

``create`` is not here: the container's shim runs it, so that the container's init becomes the
shim's child (see ``shim.py``).

Invariant: "no such container" is a value (``False``/``None``), never an exception, so the
runtime's stop and remove stay idempotent; every other runc failure raises ``RuntimeError_``
with runc's own message.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
from collections.abc import Sequence
from typing import Any

import orjson

from kybernetes.agent.runtime.interface import ExecResult, RuntimeError_

_MISSING = ("does not exist", "not exist", "no such file")


def _missing(err: bytes) -> bool:
    text = err.decode(errors="replace").lower()
    return any(m in text for m in _MISSING)


class Runc:
    def __init__(self, binary: str, root: str) -> None:
        self.binary = binary
        self.root = root

    async def _run(self, *args: str) -> tuple[int, bytes, bytes]:
        proc = await asyncio.create_subprocess_exec(
            self.binary,
            "--root",
            self.root,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        return proc.returncode or 0, out, err

    async def _call(self, *args: str) -> bool:
        """Run a command; False when the container does not exist."""
        rc, _, err = await self._run(*args)
        if rc == 0:
            return True
        if _missing(err):
            return False
        raise RuntimeError_(f"runc {args[0]} failed: {err.decode(errors='replace').strip()}")

    async def start(self, cid: str) -> None:
        if not await self._call("start", cid):
            raise RuntimeError_(f"runc start {cid}: the container does not exist")

    async def kill(self, cid: str, sig: str) -> bool:
        rc, _, err = await self._run("kill", cid, sig)
        # killing a container that has just exited is not a failure either
        return rc == 0 or _missing(err) or b"not running" in err or b"process already" in err

    async def delete(self, cid: str) -> bool:
        return await self._call("delete", "--force", cid)

    async def state(self, cid: str) -> dict[str, Any] | None:
        rc, out, err = await self._run("state", cid)
        if rc != 0:
            if _missing(err):
                return None
            raise RuntimeError_(f"runc state failed: {err.decode(errors='replace').strip()}")
        result: dict[str, Any] = orjson.loads(out)
        return result

    async def list_ids(self) -> list[str]:
        rc, out, err = await self._run("list", "--format", "json")
        if rc != 0:
            raise RuntimeError_(f"runc list failed: {err.decode(errors='replace').strip()}")
        return [c["id"] for c in orjson.loads(out) or []]

    async def exec(self, cid: str, command: Sequence[str], time_limit: float) -> ExecResult:
        """Run ``command`` in the container; on timeout the process is SIGKILLed by its PID."""
        with tempfile.TemporaryDirectory(prefix="kyb-exec-") as tmp:
            pid_file = os.path.join(tmp, "pid")
            proc = await asyncio.create_subprocess_exec(
                self.binary,
                "--root",
                self.root,
                "exec",
                "--pid-file",
                pid_file,
                cid,
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                async with asyncio.timeout(time_limit if time_limit > 0 else None):
                    out, err = await proc.communicate()
            except TimeoutError:
                # runc exec cannot forward SIGKILL: kill the process it started by its PID and
                # let runc exec reap it. Killing runc exec instead would orphan that process to
                # the host's init, and the container's PID 1 could then not finish exiting
                # until the orphan was reaped.
                _kill_pid_file(pid_file)
                try:
                    async with asyncio.timeout(5):
                        await proc.wait()
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
                raise TimeoutError(f"exec in {cid} timed out after {time_limit}s") from None
        code = proc.returncode or 0
        if code != 0 and not out and _runc_failed(err):
            raise RuntimeError_(f"exec in {cid} failed: {err.decode(errors='replace').strip()}")
        return ExecResult(stdout=out, stderr=err, exit_code=code)


def _kill_pid_file(path: str) -> None:
    with contextlib.suppress(OSError, ValueError), open(path) as f:
        os.kill(int(f.read()), signal.SIGKILL)


def _runc_failed(err: bytes) -> bool:
    """runc's own errors (no such container, stopped container, no such binary)."""
    return err.startswith(b"time=") and b"level=error" in err
