"""Usage of real pods and containers from their cgroup v1 files, for the runc runtime.

A pod's cgroup is ``/<cgroup_root>/kubepods[/<qos>]/pod<uid>`` (``kubelet/resources.py``) and
each container's is ``<pod cgroup>/<container id>``. Per cgroup:

- CPU: ``cpuacct.usage``, cumulative nanoseconds (two samples make a rate, ``summary.CpuRates``);
- memory: ``memory.usage_in_bytes``; the working set is usage minus ``total_inactive_file`` of
  ``memory.stat`` (upstream's definition, what the OOM killer and eviction look at); RSS and
  page faults from the hierarchical (``total_``) counters of ``memory.stat``; available bytes
  only under a limit;
- processes: ``cgroup.procs``, to find a process whose network namespace is the pod's.

Invariant: read-only; reading never writes or creates a cgroup, and a vanished cgroup (a
container that just exited) reads as ``None``, never as an error.
"""

from __future__ import annotations

import os
from typing import Final

#: ``memory.limit_in_bytes`` of an unlimited cgroup is near 2**63 (page-rounded); above this,
#: there is no limit.
_UNLIMITED: Final = 1 << 62


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def cpu_usage_ns(cpuacct_dir: str) -> int | None:
    """Cumulative CPU nanoseconds of the cgroup at ``cpuacct_dir``."""
    return _read_int(os.path.join(cpuacct_dir, "cpuacct.usage"))


def _memory_stat(memory_dir: str) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(os.path.join(memory_dir, "memory.stat")) as f:
            for line in f:
                key, _, value = line.partition(" ")
                try:
                    out[key] = int(value)
                except ValueError:
                    continue
    except OSError:
        pass
    return out


def memory_stats(memory_dir: str) -> dict[str, int] | None:
    """Upstream's MemoryStats fields of the cgroup at ``memory_dir`` (None: no such cgroup)."""
    usage = _read_int(os.path.join(memory_dir, "memory.usage_in_bytes"))
    if usage is None:
        return None
    stat = _memory_stat(memory_dir)
    inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
    working_set = max(0, usage - inactive)
    out = {
        "usageBytes": usage,
        "workingSetBytes": working_set,
        "rssBytes": stat.get("total_rss", stat.get("rss", 0)),
        "pageFaults": stat.get("total_pgfault", stat.get("pgfault", 0)),
        "majorPageFaults": stat.get("total_pgmajfault", stat.get("pgmajfault", 0)),
    }
    limit = _read_int(os.path.join(memory_dir, "memory.limit_in_bytes"))
    if limit is not None and limit < _UNLIMITED:
        out["availableBytes"] = max(0, limit - working_set)
    return out


def working_set(memory_dir: str) -> int | None:
    """``memory.usage_in_bytes`` minus inactive file pages, never below zero."""
    stats = memory_stats(memory_dir)
    return None if stats is None else stats["workingSetBytes"]


def first_pid(cgroup_dir: str) -> int | None:
    """A process of the cgroup at ``cgroup_dir`` (any hierarchy), or None when it has none."""
    try:
        with open(os.path.join(cgroup_dir, "cgroup.procs")) as f:
            for line in f:
                if line.strip().isdigit():
                    return int(line)
    except OSError:
        pass
    return None
