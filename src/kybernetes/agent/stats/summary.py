"""The usage summary of one node and its pods, and CPU rates from cumulative counters.

The document is the part of the kubelet's ``stats/v1alpha1`` Summary that resource metrics
use (``node.cpu.usageNanoCores``, ``node.memory.workingSetBytes``, the same per pod and per
container) plus ``windowSeconds``, the interval the CPU rates were measured over. The API server
(``apiserver/metrics/summaries.py``) accepts exactly this shape.

Invariant: a rate is reported only from two samples of the same counter (a container that was
restarted, whose counter went backwards, starts over), so a first sample yields no CPU usage
rather than a wrong one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from kybernetes.api.meta import now_rfc3339

API_VERSION: Final = "stats.kybernetes.io/v1alpha1"


@dataclass(frozen=True, slots=True)
class Sample:
    """CPU rate (nanocores) and memory working set (bytes); either may be unknown."""

    cpu_nanocores: int | None
    memory_bytes: int | None


@dataclass(frozen=True, slots=True)
class ContainerSample:
    name: str
    sample: Sample


@dataclass(frozen=True, slots=True)
class PodSample:
    name: str
    namespace: str
    uid: str
    containers: tuple[ContainerSample, ...]


def _stats(sample: Sample, stamp: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sample.cpu_nanocores is not None:
        out["cpu"] = {"time": stamp, "usageNanoCores": sample.cpu_nanocores}
    if sample.memory_bytes is not None:
        out["memory"] = {"time": stamp, "workingSetBytes": sample.memory_bytes}
    return out


def _total(samples: Iterable[Sample]) -> Sample:
    cpu: int | None = None
    memory: int | None = None
    for s in samples:
        if s.cpu_nanocores is not None:
            cpu = (cpu or 0) + s.cpu_nanocores
        if s.memory_bytes is not None:
            memory = (memory or 0) + s.memory_bytes
    return Sample(cpu, memory)


def build_summary(
    node: str, node_sample: Sample, pods: Iterable[PodSample], now: float, window: float
) -> dict[str, Any]:
    """The summary document of ``node`` at wall time ``now``."""
    stamp = now_rfc3339(datetime.fromtimestamp(now, UTC))
    pod_docs = [
        {
            "podRef": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
            **_stats(_total(c.sample for c in pod.containers), stamp),
            "containers": [{"name": c.name, **_stats(c.sample, stamp)} for c in pod.containers],
        }
        for pod in pods
    ]
    return {
        "kind": "Summary",
        "apiVersion": API_VERSION,
        "node": {"nodeName": node, **_stats(node_sample, stamp)},
        "pods": pod_docs,
        "windowSeconds": window,
    }


class CpuRates:
    """Nanocores from cumulative CPU nanoseconds, per counter key, between two samples."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, float]] = {}
        self._seen: set[str] = set()

    def rate(self, key: str, cumulative_ns: int, at: float) -> int | None:
        self._seen.add(key)
        previous = self._last.get(key)
        self._last[key] = (cumulative_ns, at)
        if previous is None:
            return None
        used, when = previous
        elapsed = at - when
        if elapsed <= 0 or cumulative_ns < used:
            return None
        return int((cumulative_ns - used) / elapsed)

    def forget_unseen(self) -> None:
        """Drop counters not sampled since the last call (containers that are gone)."""
        for key in set(self._last) - self._seen:
            del self._last[key]
        self._seen.clear()
