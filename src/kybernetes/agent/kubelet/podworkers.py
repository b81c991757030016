"""One serial task per pod UID: every sync of a pod runs on its own task, never two at once.

``wake(uid)`` asks the pod's task for another sync (creating the task if there is none);
wakes that arrive while a sync runs collapse into one more sync after it. The sync function
returns when it next wants to run on its own (a back-off ending, a hook deadline) or ``None``;
the task then sleeps on the injected clock until that time or the next wake. A sync that
returns ``DONE`` ends the task (the pod is gone and cleaned up). A sync that raises is logged
and retried with a back-off from 1 s doubling to 30 s.

Invariant: for one uid at most one sync runs at any time; no global lock is held across syncs,
so pods never wait on each other. Each sync's duration is observed
(``kubelet_pod_worker_duration_seconds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import aiohttp

from kybernetes.agent.kubelet.metrics import POD_SYNC
from kybernetes.api import errors
from kybernetes.util.clock import Clock

log = logging.getLogger(__name__)

DONE: Final = -1.0
SyncFunc = Callable[[str], Awaitable[float | None]]


class _Worker:
    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class PodWorkers:
    def __init__(self, sync: SyncFunc, clock: Clock) -> None:
        self._sync = sync
        self.clock = clock
        self._workers: dict[str, _Worker] = {}

    def __contains__(self, uid: str) -> bool:
        return uid in self._workers

    def uids(self) -> list[str]:
        return list(self._workers)

    def wake(self, uid: str) -> None:
        worker = self._workers.get(uid)
        if worker is None:
            worker = self._workers[uid] = _Worker()
            worker.task = asyncio.get_running_loop().create_task(
                self._run(uid, worker), name=f"pod worker {uid}"
            )
        worker.wake.set()

    async def _run(self, uid: str, worker: _Worker) -> None:
        failures = 0
        try:
            while True:
                await worker.wake.wait()
                worker.wake.clear()
                started = self.clock.monotonic()
                try:
                    after = await self._sync(uid)
                    failures = 0
                    POD_SYNC.observe(self.clock.monotonic() - started)
                except asyncio.CancelledError:
                    raise
                except errors.Conflict:
                    # Someone else wrote the pod meanwhile: look again at once, it is routine.
                    after = 0.1
                    log.info("pod changed during sync, syncing again uid=%s", uid)
                except (errors.StatusError, aiohttp.ClientError, OSError) as exc:
                    failures += 1
                    after = min(30.0, 2.0 ** (failures - 1))
                    log.warning("pod sync failed uid=%s retry_in=%.0fs error=%s", uid, after, exc)
                except Exception:
                    failures += 1
                    after = min(30.0, 2.0 ** (failures - 1))
                    log.exception("pod sync failed uid=%s retry_in=%.0fs", uid, after)
                if after == DONE:
                    return
                if after is not None and not worker.wake.is_set():
                    await self._sleep(worker, after)
                    worker.wake.set()
        finally:
            if self._workers.get(uid) is worker:
                del self._workers[uid]

    async def _sleep(self, worker: _Worker, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self.clock.sleep(max(0.0, seconds)))
        woken = asyncio.ensure_future(worker.wake.wait())
        try:
            await asyncio.wait((sleeper, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            woken.cancel()

    async def close(self) -> None:
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
