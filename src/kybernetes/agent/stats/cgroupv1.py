"""Usage of real pods and containers from their cgroup v1 files, for the runc runtime.

A pod's cgroup is ``/<cgroup_root>/kubepods[/<qos>]/pod<uid>`` (``kubelet/resources.py``) and
each container's is ``<pod cgroup>/<container id>``, the id being the part of the status's
``containerID`` after ``://``. Per container:

- CPU: ``cpuacct.usage`` (cumulative nanoseconds) sampled twice, the difference over the
  elapsed time giving nanocores (``summary.CpuRates``);
- memory working set: ``memory.usage_in_bytes`` minus ``total_inactive_file`` of
  ``memory.stat`` (upstream's definition, what the OOM killer and eviction look at).

Invariant: only containers the API says are running are sampled, and reading never writes or
creates a cgroup; a vanished cgroup (the container just exited) is skipped for this round.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kybernetes.agent.kubelet.resources import cgroup_parent
from kybernetes.agent.runtime.runc.linux import cgroup_mounts
from kybernetes.agent.stats import host
from kybernetes.agent.stats.summary import (
    ContainerSample,
    CpuRates,
    PodSample,
    Sample,
    build_summary,
)

Obj = dict[str, Any]


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def cpu_usage_ns(cpuacct_dir: str) -> int | None:
    """Cumulative CPU nanoseconds of the cgroup at ``cpuacct_dir``."""
    return _read_int(os.path.join(cpuacct_dir, "cpuacct.usage"))


def working_set(memory_dir: str) -> int | None:
    """``memory.usage_in_bytes`` minus inactive file pages, never below zero."""
    usage = _read_int(os.path.join(memory_dir, "memory.usage_in_bytes"))
    if usage is None:
        return None
    inactive: dict[str, int] = {}
    try:
        with open(os.path.join(memory_dir, "memory.stat")) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key in ("total_inactive_file", "inactive_file"):
                    inactive[key] = int(value)
    except (OSError, ValueError):
        pass
    subtract = inactive.get("total_inactive_file", inactive.get("inactive_file", 0))
    return max(0, usage - subtract)


def _container_id(status: Mapping[str, Any]) -> str:
    return str(status.get("containerID") or "").partition("://")[2]


class CgroupCollector:
    """Builds the node's summary from the cgroups of its running pods and from ``/proc``."""

    def __init__(
        self,
        node_name: str,
        cgroup_root: str,
        pods: Callable[[], Iterable[Obj]],
        *,
        window: float = 15.0,
        mounts: Mapping[str, str] | None = None,
        proc: str = "/proc",
    ) -> None:
        self.node_name = node_name
        self.cgroup_root = cgroup_root
        self.pods = pods
        self.window = window
        self.proc = proc
        self._mounts = mounts
        self.rates = CpuRates()

    def _dirs(self, path: str) -> tuple[str, str]:
        mounts = self._mounts if self._mounts is not None else cgroup_mounts()
        rel = path.lstrip("/")
        cpu_root = mounts.get("cpuacct", "")
        memory_root = mounts.get("memory", "")
        return (
            os.path.join(cpu_root, rel) if cpu_root else "",
            os.path.join(memory_root, rel) if memory_root else "",
        )

    def _sample(self, key: str, path: str, at: float) -> Sample | None:
        cpu_dir, memory_dir = self._dirs(path)
        if not (cpu_dir and os.path.isdir(cpu_dir)) and not (
            memory_dir and os.path.isdir(memory_dir)
        ):
            return None
        used = cpu_usage_ns(cpu_dir) if cpu_dir else None
        rate = self.rates.rate(key, used, at) if used is not None else None
        return Sample(rate, working_set(memory_dir) if memory_dir else None)

    def pod_samples(self, at: float) -> list[PodSample]:
        out: list[PodSample] = []
        for pod in self.pods():
            meta = pod.get("metadata") or {}
            if (pod.get("spec") or {}).get("nodeName") != self.node_name:
                continue
            parent = cgroup_parent(pod, self.cgroup_root)
            containers: list[ContainerSample] = []
            for status in (pod.get("status") or {}).get("containerStatuses") or ():
                cid = _container_id(status)
                if not cid or "running" not in (status.get("state") or {}):
                    continue
                sample = self._sample(cid, f"{parent}/{cid}", at)
                if sample is not None:
                    containers.append(ContainerSample(str(status.get("name", "")), sample))
            if containers:
                out.append(
                    PodSample(
                        str(meta.get("name", "")),
                        str(meta.get("namespace", "")),
                        str(meta.get("uid", "")),
                        tuple(containers),
                    )
                )
        return out

    def collect(self, now: float, at: float) -> dict[str, Any]:
        """The summary at wall time ``now``; ``at`` is the monotonic time of the sample."""
        pods = self.pod_samples(at)
        used = host.cpu_usage_ns(self.proc)
        node = Sample(
            self.rates.rate("node", used, at) if used is not None else None,
            host.memory_working_set(self.proc),
        )
        self.rates.forget_unseen()
        return build_summary(self.node_name, node, pods, now, self.window)
