"""Starting a container's shim and learning whether its ``runc create`` worked.

The shim (``shim.py``) runs in a session of its own, started with ``posix_spawn`` rather than
asyncio's subprocess machinery: asyncio would keep a child watcher for it for as long as the
container lives, and the shim must outlive the agent. Its stdout is a pipe the agent reads one
line from (``ok <shim pid> <container pid>`` or ``error <why>``) and then closes.

Invariant: when ``launch_shim`` returns, the container exists in runc's ``created`` state and
its init's only parent is the shim; when it raises, no shim for that container is left.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from kybernetes.agent.runtime.interface import RuntimeError_
from kybernetes.agent.runtime.runc import cgroups
from kybernetes.agent.runtime.runc.cli import Runc

SHIM = str(Path(__file__).with_name("shim.py"))


async def launch_shim(
    runc: Runc,
    cid: str,
    bundle: str,
    log_path: str,
    cgroups_path: str,
    options: Mapping[str, str | int | bool] | None = None,
) -> tuple[int, int]:
    """Start the shim (it runs ``runc create``); its PID and the container's.

    ``options`` are the shim's: ``stdin``, ``stdin-once``, ``tty`` (booleans),
    ``log-max-size`` (bytes, 0: no rotation) and ``log-max-files``.
    """
    directory = os.path.dirname(bundle)
    argv = [sys.executable, "-I", "-S", SHIM, runc.binary, runc.root, cid, bundle]
    argv += [log_path, os.path.join(directory, "exit.json"), cgroups.memory_dir(cgroups_path)]
    for key, value in (options or {}).items():
        argv.append(f"{key}={int(value) if isinstance(value, bool) else value}")
    shim_pid, read_end = _spawn(argv, os.path.join(directory, "shim.log"))
    line = (await asyncio.to_thread(_read_line, read_end)).split()
    if line[:1] != ["ok"]:
        await asyncio.to_thread(os.waitpid, shim_pid, 0)
        reason = " ".join(line[1:]) or _tail(os.path.join(directory, "shim.log"))
        raise RuntimeError_(f"creating container {cid} failed: {reason}")
    return int(line[1]), int(line[2])


def _spawn(argv: list[str], log_path: str) -> tuple[int, int]:
    """Start the shim in a session of its own; its PID and the read end of its stdout."""
    read_end, write_end = os.pipe()
    devnull = os.open(os.devnull, os.O_RDWR)
    shim_log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        pid = os.posix_spawn(
            argv[0],
            argv,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, write_end, 1),
                (os.POSIX_SPAWN_DUP2, shim_log, 2),
            ],
            setsid=True,  # no signal meant for the agent's process group reaches it
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        for fd in (write_end, devnull, shim_log):
            os.close(fd)
    return pid, read_end


def _read_line(fd: int) -> str:
    with open(fd, "rb", buffering=0) as pipe:
        return pipe.readline().decode(errors="replace")


def _tail(path: str) -> str:
    try:
        return Path(path).read_text()[-2000:].strip()
    except OSError:
        return "the shim exited without a word"
