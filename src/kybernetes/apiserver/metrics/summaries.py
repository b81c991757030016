"""The latest usage summary each node pushed, parsed into what the metrics API serves.

A summary is the subset of the kubelet's ``/stats/summary`` document (``stats/v1alpha1``) that
resource metrics need, plus the sampling window::

    {"node": {"nodeName": "n1", "cpu": {"time": "<rfc3339>", "usageNanoCores": 250000000},
              "memory": {"time": "...", "workingSetBytes": 104857600}},
     "pods": [{"podRef": {"name": "p", "namespace": "default", "uid": "..."},
               "containers": [{"name": "c", "cpu": {...}, "memory": {...}}]}],
     "windowSeconds": 15}

Invariants: one entry per node, replaced whole by each push; an entry not refreshed for
``max_age`` seconds (of this process's monotonic clock) is dropped, so a node that stopped
reporting stops being served; malformed documents are rejected with 400 and change nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from kybernetes.api import errors

DEFAULT_MAX_AGE: Final = 120.0
DEFAULT_WINDOW: Final = 15.0


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU (nanocores) and memory working set (bytes) at ``timestamp`` over ``window`` s."""

    cpu_nanocores: int
    memory_bytes: int
    timestamp: str
    window: float


@dataclass(frozen=True, slots=True)
class PodUsage:
    name: str
    namespace: str
    uid: str
    containers: tuple[tuple[str, Usage], ...]


@dataclass(frozen=True, slots=True)
class NodeSummary:
    node: str
    usage: Usage | None
    pods: tuple[PodUsage, ...]
    received: float


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.new_bad_request(f"summary: {what} must be a non-negative integer")
    return value


def _usage(cpu: object, memory: object, window: float, what: str) -> Usage | None:
    if not isinstance(cpu, Mapping) or not isinstance(memory, Mapping):
        return None
    if "usageNanoCores" not in cpu or "workingSetBytes" not in memory:
        return None
    stamp = cpu.get("time") or memory.get("time")
    if not isinstance(stamp, str) or not stamp:
        raise errors.new_bad_request(f"summary: {what} has no sample time")
    return Usage(
        _int(cpu["usageNanoCores"], f"{what} usageNanoCores"),
        _int(memory["workingSetBytes"], f"{what} workingSetBytes"),
        stamp,
        window,
    )


def parse_summary(node: str, doc: Mapping[str, Any], received: float) -> NodeSummary:
    """Validate a pushed summary for ``node`` (the name in the URL must match the document)."""
    node_stats = doc.get("node")
    if not isinstance(node_stats, Mapping) or node_stats.get("nodeName") != node:
        raise errors.new_bad_request(f"summary: node.nodeName must be {node!r}")
    window = doc.get("windowSeconds", DEFAULT_WINDOW)
    if isinstance(window, bool) or not isinstance(window, int | float) or window <= 0:
        raise errors.new_bad_request("summary: windowSeconds must be a positive number")
    node_usage = _usage(node_stats.get("cpu"), node_stats.get("memory"), float(window), "node")
    pods: list[PodUsage] = []
    for entry in doc.get("pods") or ():
        ref = entry.get("podRef") if isinstance(entry, Mapping) else None
        if not isinstance(ref, Mapping) or not ref.get("name") or not ref.get("namespace"):
            raise errors.new_bad_request("summary: every pod needs podRef.name and namespace")
        containers: list[tuple[str, Usage]] = []
        for container in entry.get("containers") or ():
            name = container.get("name") if isinstance(container, Mapping) else None
            if not isinstance(name, str) or not name:
                raise errors.new_bad_request("summary: every container needs a name")
            usage = _usage(container.get("cpu"), container.get("memory"), float(window), name)
            if usage is not None:
                containers.append((name, usage))
        pods.append(
            PodUsage(
                str(ref["name"]), str(ref["namespace"]), str(ref.get("uid", "")), tuple(containers)
            )
        )
    return NodeSummary(node, node_usage, tuple(pods), received)


class SummaryStore:
    """The newest summary per node, forgotten ``max_age`` seconds after its last push."""

    def __init__(
        self,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self._monotonic = monotonic
        self._nodes: dict[str, NodeSummary] = {}

    def put(self, node: str, doc: Mapping[str, Any]) -> NodeSummary:
        summary = parse_summary(node, doc, self._monotonic())
        self._nodes[node] = summary
        return summary

    def get(self, node: str) -> NodeSummary | None:
        summary = self._nodes.get(node)
        if summary is not None and self._expired(summary):
            del self._nodes[node]
            return None
        return summary

    def summaries(self) -> Iterator[NodeSummary]:
        for node in sorted(self._nodes):
            summary = self.get(node)
            if summary is not None:
                yield summary

    def _expired(self, summary: NodeSummary) -> bool:
        return self._monotonic() - summary.received > self.max_age
