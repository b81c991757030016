"""Image garbage collection by disk usage, with the kubelet's thresholds.

When the filesystem holding the store is at least ``high_percent`` full (the kubelet's
``imageGCHighThresholdPercent``, 85), unused images are removed, least recently used first,
until usage would be down to ``low_percent`` (``imageGCLowThresholdPercent``, 80). Images
younger than ``min_age_s`` (``imageMinimumGCAge``, 2 minutes) are spared, so an image pulled for
a pod that has not started yet is not collected under it.

Invariant: an image whose id the ``in_use`` callable returns is never removed, and a layer a
mounted overlay uses is never deleted even when its image is (the store checks mountinfo).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from kybernetes.agent.images.store import Store
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GCPolicy:
    high_percent: int = 85
    low_percent: int = 80
    min_age_s: float = 120.0
    period_s: float = 300.0


@dataclass
class GCResult:
    removed: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    usage_percent: float = 0.0


class ImageGC:
    def __init__(
        self,
        store: Store,
        in_use: Callable[[], Collection[str]],
        policy: GCPolicy | None = None,
        *,
        usage: Callable[[], tuple[int, int]] | None = None,
        clock: Clock | None = None,
        last_used: Mapping[str, float] | None = None,
    ) -> None:
        self.store = store
        self.in_use = in_use
        self.policy = policy or GCPolicy()
        self.usage = usage or store.disk_usage
        self.clock = clock or RealClock()
        self.last_used = last_used if last_used is not None else {}
        if not 0 <= self.policy.low_percent <= self.policy.high_percent <= 100:
            raise ValueError("GC thresholds must satisfy 0 <= low <= high <= 100")

    async def run(self) -> None:
        """Collect every ``period_s`` until cancelled."""
        while True:
            try:
                await asyncio.to_thread(self.collect)
            except Exception:
                log.exception("image garbage collection failed")
            await self.clock.sleep(self.policy.period_s)

    def collect(self) -> GCResult:
        """One pass: free space down to the low threshold when usage is above the high one."""
        capacity, available = self.usage()
        if capacity <= 0:
            return GCResult()
        used = capacity - available
        percent = used * 100.0 / capacity
        result = GCResult(usage_percent=percent)
        if percent < self.policy.high_percent:
            return result
        to_free = used - capacity * self.policy.low_percent // 100
        log.info("image gc started usage_percent=%.1f to_free=%d", percent, to_free)
        self._remove_unused(result, to_free)
        if result.freed_bytes < to_free:
            log.warning(
                "image gc could not free enough freed=%d wanted=%d", result.freed_bytes, to_free
            )
        return result

    def prune(self) -> GCResult:
        """Remove every unused image old enough, whatever the disk usage (``kyb image prune``)."""
        result = GCResult()
        self._remove_unused(result, None)
        return result

    def _remove_unused(self, result: GCResult, to_free: int | None) -> None:
        in_use = set(self.in_use())
        now = self.clock.now()
        records = self.store.records()
        candidates = [
            r for r in records.values()
            if r.id not in in_use and now - max(r.created, self.last_used.get(r.id, 0.0))
            >= self.policy.min_age_s
        ]  # fmt: skip
        candidates.sort(key=lambda r: (self.last_used.get(r.id, r.created), r.id))
        for record in candidates:
            if to_free is not None and result.freed_bytes >= to_free:
                break
            if record.id in set(self.in_use()):  # it may have started being used meanwhile
                continue
            sizes = {layer.diff_id: layer.disk for r in records.values() for layer in r.layers}
            removed_layers = self.store.remove(record.id)
            freed = sum(sizes.get(d, 0) for d in removed_layers)
            result.freed_bytes += freed
            result.removed.append(record.id)
            records = self.store.records()
            log.info("image gc removed id=%s freed=%d", record.id, freed)
        self.store.sweep()
