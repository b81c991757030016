"""The host's own totals from ``/proc``: cumulative CPU time and memory working set.

CPU is the non-idle time of every CPU in ``/proc/stat`` (user, nice, system, irq, softirq,
steal; idle and iowait excluded), in nanoseconds. The working set is ``MemTotal -
MemAvailable`` from ``/proc/meminfo`` — the memory the kernel could not hand out without
reclaiming, the node-level analogue of a cgroup's usage minus inactive file pages.

Invariant: read-only; a missing or unreadable file yields ``None``, never an exception.
"""

from __future__ import annotations

import os


def _clock_ticks() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError):
        return 100


def cpu_usage_ns(proc: str = "/proc") -> int | None:
    try:
        with open(os.path.join(proc, "stat")) as f:
            first = f.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    values = [int(v) for v in first[1:9]] + [0] * max(0, 8 - len(first[1:9]))
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    busy_ticks = user + nice + system + irq + softirq + steal
    return busy_ticks * 1_000_000_000 // _clock_ticks()


def memory_working_set(proc: str = "/proc") -> int | None:
    fields: dict[str, int] = {}
    try:
        with open(os.path.join(proc, "meminfo")) as f:
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts:
                    fields[key] = int(parts[0]) * 1024
    except (OSError, ValueError):
        return None
    if "MemTotal" not in fields or "MemAvailable" not in fields:
        return None
    return max(0, fields["MemTotal"] - fields["MemAvailable"])
