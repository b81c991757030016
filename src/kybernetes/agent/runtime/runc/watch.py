"""Knowing when a container's shim exits, without polling: one pidfd per shim on the loop.

The shim exits right after writing ``exit.json``, so its exit is the container's "exit status
recorded" event. A pidfd works for any process, also for shims adopted from an agent that has
since died (those are not our children; reaping them is their new parent's business).

Invariants: an event, once set, stays set; every pidfd opened here is closed when its shim
exits or at ``close``; a shim that is our child is reaped, so none stays a zombie.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from kybernetes.agent.runtime.runc import linux


class ShimWatcher:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._pidfds: dict[str, int] = {}

    def watch(self, cid: str, shim_pid: int, shim_start: int) -> bool:
        """Start watching; False when the shim is already gone (its event is then set)."""
        if cid in self._pidfds:
            return False
        event = self._events.setdefault(cid, asyncio.Event())
        if not linux.is_same_process(shim_pid, shim_start):
            event.set()
            return False
        try:
            pidfd = os.pidfd_open(shim_pid)
        except ProcessLookupError:
            event.set()
            return False
        self._pidfds[cid] = pidfd
        asyncio.get_running_loop().add_reader(pidfd, self._exited, cid)
        return True

    def event(self, cid: str) -> asyncio.Event | None:
        return self._events.get(cid)

    def forget(self, cid: str) -> None:
        self._events.pop(cid, None)

    def _exited(self, cid: str) -> None:
        pidfd = self._pidfds.pop(cid)
        asyncio.get_running_loop().remove_reader(pidfd)
        with contextlib.suppress(ChildProcessError):  # not our child after an agent restart
            os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG)
        os.close(pidfd)
        self._events[cid].set()

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing is registered on it
            loop = asyncio.get_running_loop()
            for pidfd in self._pidfds.values():
                loop.remove_reader(pidfd)
        for pidfd in self._pidfds.values():
            os.close(pidfd)
        self._pidfds.clear()
