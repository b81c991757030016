"""The usage summary of one node and its pods, and CPU rates from cumulative counters.

The document is the kubelet's ``stats/v1alpha1`` Summary (``GET /stats/summary``), in the part
resource metrics and monitoring use, plus ``windowSeconds``, the interval the CPU rates were
measured over:

- ``cpu``: ``usageNanoCores`` (a rate) and ``usageCoreNanoSeconds`` (cumulative);
- ``memory``: ``workingSetBytes`` and, where known, ``usageBytes``, ``rssBytes``,
  ``availableBytes``, ``pageFaults``, ``majorPageFaults``;
- ``network`` (node and pods): the default interface's counters and every interface's;
- ``fs`` (node), ``rootfs`` and ``logs`` (containers), ``ephemeral-storage`` (pods).

The API server (``apiserver/metrics/summaries.py``) reads the CPU rate and working set of the
node and of each container, and ignores the rest.

Invariant: a rate is reported only from two samples of the same counter (a container that was
restarted, whose counter went backwards, starts over), so a first sample yields no CPU rate
rather than a wrong one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from kybernetes.api.meta import now_rfc3339

API_VERSION: Final = "stats.kybernetes.io/v1alpha1"

Fields = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Sample:
    """CPU rate (nanocores) and memory working set (bytes); either may be unknown.

    ``cpu_usage_ns`` is the cumulative CPU time; ``memory`` more of upstream's MemoryStats
    fields (``usageBytes``, ``rssBytes``...)."""

    cpu_nanocores: int | None
    memory_bytes: int | None
    cpu_usage_ns: int | None = None
    memory: Fields | None = None


@dataclass(frozen=True, slots=True)
class ContainerSample:
    name: str
    sample: Sample
    start_time: str = ""
    rootfs: Fields | None = None
    logs: Fields | None = None


@dataclass(frozen=True, slots=True)
class PodSample:
    name: str
    namespace: str
    uid: str
    containers: tuple[ContainerSample, ...]
    start_time: str = ""
    #: The pod cgroup's own sample; without one the pod's usage is its containers' sum.
    total: Sample | None = None
    network: Fields | None = None


def _stats(sample: Sample, stamp: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cpu: dict[str, Any] = {}
    if sample.cpu_nanocores is not None:
        cpu["usageNanoCores"] = sample.cpu_nanocores
    if sample.cpu_usage_ns is not None:
        cpu["usageCoreNanoSeconds"] = sample.cpu_usage_ns
    if cpu:
        out["cpu"] = {"time": stamp, **cpu}
    memory = dict(sample.memory or {})
    if sample.memory_bytes is not None:
        memory["workingSetBytes"] = sample.memory_bytes
    if memory:
        out["memory"] = {"time": stamp, **memory}
    return out


def _stamped(fields: Fields | None, stamp: str) -> dict[str, Any] | None:
    return None if fields is None else {"time": stamp, **fields}


def _sum(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _total(samples: Iterable[Sample]) -> Sample:
    listed = list(samples)
    return Sample(
        _sum(s.cpu_nanocores for s in listed),
        _sum(s.memory_bytes for s in listed),
        _sum(s.cpu_usage_ns for s in listed),
    )


def _ephemeral_storage(containers: Iterable[ContainerSample]) -> dict[str, Any] | None:
    """A pod's local storage: its containers' writable layers and logs (upstream's sum)."""
    used: list[int] = []
    inodes: list[int] = []
    capacity: Fields = {}
    for c in containers:
        for fs in (c.rootfs, c.logs):
            if fs is None:
                continue
            used.append(int(fs.get("usedBytes", 0)))
            inodes.append(int(fs.get("inodesUsed", 0)))
            capacity = capacity or fs
    if not used:
        return None
    out = {k: capacity[k] for k in ("availableBytes", "capacityBytes") if k in capacity}
    return {**out, "usedBytes": sum(used), "inodesUsed": sum(inodes)}


def _container(c: ContainerSample, stamp: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": c.name}
    if c.start_time:
        doc["startTime"] = c.start_time
    doc.update(_stats(c.sample, stamp))
    for key, fields in (("rootfs", c.rootfs), ("logs", c.logs)):
        stamped = _stamped(fields, stamp)
        if stamped is not None:
            doc[key] = stamped
    return doc


def _pod(pod: PodSample, stamp: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "podRef": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
    }
    if pod.start_time:
        doc["startTime"] = pod.start_time
    doc.update(_stats(pod.total or _total(c.sample for c in pod.containers), stamp))
    doc["containers"] = [_container(c, stamp) for c in pod.containers]
    network = _stamped(pod.network, stamp)
    if network is not None:
        doc["network"] = network
    storage = _stamped(_ephemeral_storage(pod.containers), stamp)
    if storage is not None:
        doc["ephemeral-storage"] = storage
    return doc


def build_summary(
    node: str,
    node_sample: Sample,
    pods: Iterable[PodSample],
    now: float,
    window: float,
    *,
    start_time: str = "",
    network: Fields | None = None,
    fs: Fields | None = None,
) -> dict[str, Any]:
    """The summary document of ``node`` at wall time ``now``."""
    stamp = now_rfc3339(datetime.fromtimestamp(now, UTC))
    node_doc: dict[str, Any] = {"nodeName": node}
    if start_time:
        node_doc["startTime"] = start_time
    node_doc.update(_stats(node_sample, stamp))
    for key, fields in (("network", network), ("fs", fs)):
        stamped = _stamped(fields, stamp)
        if stamped is not None:
            node_doc[key] = stamped
    return {
        "kind": "Summary",
        "apiVersion": API_VERSION,
        "node": node_doc,
        "pods": [_pod(pod, stamp) for pod in pods],
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
