"""The scheduler's Prometheus metrics (upstream's names), in the process's default registry.

- ``scheduler_schedule_attempts_total{result, profile}``: every attempt, by its result:
  ``scheduled``, ``unschedulable`` (no node fits, or a plugin rejected the pod) or ``error``;
- ``scheduler_scheduling_attempt_duration_seconds{result, profile}``: from the start of the
  attempt's scheduling cycle to its end (for a scheduled pod, once its binding is done);
- ``scheduler_pending_pods{queue}``: pods waiting in each of the queue's parts (``active``,
  ``backoff``, ``unschedulable``, ``gated``), counted when scraped.

Invariant: recording an attempt costs two dictionary lookups and two lock-free updates; the
pending counts cost nothing until a scrape.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from typing import Any, Final, Protocol

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

SCHEDULED: Final = "scheduled"
UNSCHEDULABLE: Final = "unschedulable"
ERROR: Final = "error"

SCHEDULE_ATTEMPTS: Final = Counter(
    "scheduler_schedule_attempts_total",
    "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not "
    "be scheduled, while 'error' means an internal scheduler problem.",
    ["result", "profile"],
)
ATTEMPT_DURATION: Final = Histogram(
    "scheduler_scheduling_attempt_duration_seconds",
    "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
    ["result", "profile"],
    buckets=tuple(0.001 * 2**i for i in range(15)),
)
_children: dict[tuple[str, str], tuple[Any, Any]] = {}


def attempt(result: str, profile: str, started: float) -> None:
    """One attempt that began at ``started`` (``time.perf_counter()``) ended with ``result``."""
    key = (result, profile)
    pair = _children.get(key)
    if pair is None:
        pair = _children[key] = (
            SCHEDULE_ATTEMPTS.labels(result, profile),
            ATTEMPT_DURATION.labels(result, profile),
        )
    pair[0].inc()
    pair[1].observe(time.perf_counter() - started)


class Pending(Protocol):
    def pending_counts(self) -> dict[str, int]: ...


class PendingPods:
    """``scheduler_pending_pods`` over the live schedulers' queues (one in a real process)."""

    def __init__(self) -> None:
        self._queues: weakref.WeakSet[Any] = weakref.WeakSet()

    def track(self, queue: Pending) -> None:
        self._queues.add(queue)

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in "
            "activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means "
            "number of pods in unschedulablePods that the scheduler attempted to schedule and "
            "failed; 'gated' is the number of unschedulable pods that the scheduler never "
            "attempted to schedule because they are gated.",
            labels=["queue"],
        )
        totals = {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 0}
        for queue in list(self._queues):
            for name, count in queue.pending_counts().items():
                totals[name] = totals.get(name, 0) + count
        for name, count in totals.items():
            family.add_metric([name], count)
        yield family


PENDING_PODS: Final = PendingPods()
REGISTRY.register(PENDING_PODS)
