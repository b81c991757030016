"""The pod lifecycle event generator: a relist of the runtime every second that wakes pod workers.

As upstream's generic PLEG, ``relist`` lists every sandbox and container, compares each one's
state with the previous relist and calls ``wake(pod uid)`` once per pod with any change (a
container started, exited, appeared or vanished; a sandbox changed state). That is how a
container's exit reaches its pod's worker without the worker polling the runtime.

Invariant: a change seen by one relist is reported exactly once; a runtime error skips that
relist (logged) and the next one compares against the last good one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kybernetes.agent.kubelet.labels import POD_UID
from kybernetes.agent.runtime.interface import RuntimeError_, RuntimeService
from kybernetes.util.clock import Clock

log = logging.getLogger(__name__)

RELIST_PERIOD = 1.0


class PLEG:
    def __init__(
        self,
        runtime: RuntimeService,
        clock: Clock,
        wake: Callable[[str], None],
        period: float = RELIST_PERIOD,
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.wake = wake
        self.period = period
        self._seen: dict[str, tuple[str, str]] = {}  # object id -> (pod uid, state)

    async def relist(self) -> set[str]:
        """One relist; returns the uids woken."""
        try:
            sandboxes = await self.runtime.list_pod_sandboxes()
            containers = await self.runtime.list_containers()
        except (RuntimeError_, OSError) as exc:
            log.warning("pleg relist failed error=%s", exc)
            return set()
        now: dict[str, tuple[str, str]] = {}
        for sandbox in sandboxes:
            uid = sandbox.config.labels.get(POD_UID, "") if sandbox.config is not None else ""
            if uid:
                now["s/" + sandbox.id] = (uid, str(sandbox.state))
        for container in containers:
            uid = container.labels.get(POD_UID, "")
            if uid:
                now["c/" + container.id] = (uid, str(container.state))
        changed = {entry[0] for key, entry in now.items() if self._seen.get(key) != entry}
        changed |= {entry[0] for key, entry in self._seen.items() if key not in now}
        self._seen = now
        for uid in sorted(changed):
            self.wake(uid)
        return changed

    async def run(self) -> None:
        while True:
            await self.relist()
            await self.clock.sleep(self.period)
