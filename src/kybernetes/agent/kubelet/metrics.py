"""The kubelet's Prometheus metrics (upstream's names), in the process's default registry.

- ``kubelet_pod_start_duration_seconds``: from the agent first seeing a pod to the pod's status
  turning Running (upstream observes the same transition, from the pod's ``config.seen``);
- ``kubelet_pod_worker_duration_seconds{operation="sync"}``: one pod sync;

served on the agent's ``/metrics`` (``agent/server/stats.py``).

Invariant: a pod's start is observed at most once, and forgetting a pod (its cleanup) drops
what was kept about it, so nothing grows with pods that come and go.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Histogram

from kybernetes.util.clock import Clock

POD_START_DURATION: Final = Histogram(
    "kubelet_pod_start_duration_seconds",
    "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
    buckets=(0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 600, 1200, 3600),
)
POD_WORKER_DURATION: Final = Histogram(
    "kubelet_pod_worker_duration_seconds",
    "Duration in seconds to sync a single pod.",
    ["operation"],
)
POD_SYNC: Final = POD_WORKER_DURATION.labels("sync")


class PodStarts:
    """When each not-yet-running pod was first seen; observes its start once it runs."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._seen: dict[str, float] = {}
        self._started: set[str] = set()

    def seen(self, uid: str, phase: str | None) -> None:
        if uid not in self._seen and uid not in self._started and phase in (None, "Pending"):
            self._seen[uid] = self.clock.monotonic()

    def phase(self, uid: str, phase: str) -> None:
        """The phase the agent just wrote for the pod."""
        first = self._seen.get(uid)
        if first is not None and phase == "Running":
            del self._seen[uid]
            self._started.add(uid)
            POD_START_DURATION.observe(self.clock.monotonic() - first)

    def forget(self, uid: str) -> None:
        self._seen.pop(uid, None)
        self._started.discard(uid)
