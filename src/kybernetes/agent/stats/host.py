"""The host's own totals from ``/proc``: CPU time, memory, network counters, boot time.

CPU is the non-idle time of every CPU in ``/proc/stat`` (user, nice, system, irq, softirq,
steal; idle and iowait excluded), in nanoseconds. The working set is ``MemTotal -
MemAvailable`` from ``/proc/meminfo`` — the memory the kernel could not hand out without
reclaiming, the node-level analogue of a cgroup's usage minus inactive file pages.

Network counters come from a ``net/dev`` file: the host's (``/proc/net/dev``) or a process's
(``/proc/<pid>/net/dev``, the counters of that process's network namespace, so of its pod).
The summary's top-level counters are the default interface's: the one the default route leaves
by on the host, ``eth0`` in a pod.

Invariant: read-only; a missing or unreadable file yields ``None``, never an exception.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from kybernetes.api.meta import now_rfc3339

POD_INTERFACE = "eth0"


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


def boot_time(proc: str = "/proc") -> str:
    """When the host booted (RFC 3339), from ``btime`` of ``/proc/stat``; "" if unknown."""
    try:
        with open(os.path.join(proc, "stat")) as f:
            for line in f:
                if line.startswith("btime "):
                    return now_rfc3339(datetime.fromtimestamp(int(line.split()[1]), UTC))
    except (OSError, ValueError, IndexError):
        pass
    return ""


def _meminfo(proc: str) -> dict[str, int] | None:
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
    return fields


def memory_working_set(proc: str = "/proc") -> int | None:
    fields = _meminfo(proc)
    if fields is None:
        return None
    return max(0, fields["MemTotal"] - fields["MemAvailable"])


def memory_stats(proc: str = "/proc") -> dict[str, int] | None:
    """The node's MemoryStats beyond the working set: available and used bytes."""
    fields = _meminfo(proc)
    if fields is None:
        return None
    return {
        "availableBytes": fields["MemAvailable"],
        "usageBytes": max(0, fields["MemTotal"] - fields.get("MemFree", 0)),
    }


def interfaces(net_dev: str) -> list[dict[str, Any]]:
    """Every interface but loopback in a ``net/dev`` file, as upstream's InterfaceStats."""
    out: list[dict[str, Any]] = []
    try:
        with open(net_dev) as f:
            lines = f.readlines()[2:]  # two header lines
    except OSError:
        return out
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        values = rest.split()
        if not name or name == "lo" or len(values) < 16:
            continue
        try:
            rx_bytes, rx_errors, tx_bytes, tx_errors = (int(values[i]) for i in (0, 2, 8, 10))
        except ValueError:
            continue
        out.append(
            {
                "name": name,
                "rxBytes": rx_bytes,
                "rxErrors": rx_errors,
                "txBytes": tx_bytes,
                "txErrors": tx_errors,
            }
        )
    return out


def default_interface(proc: str = "/proc") -> str:
    """The interface of the host's IPv4 default route ("" when there is none)."""
    try:
        with open(os.path.join(proc, "net", "route")) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if len(fields) > 1 and fields[1] == "00000000":
                    return fields[0]
    except OSError:
        pass
    return ""


def network_stats(found: Sequence[dict[str, Any]], default: str) -> dict[str, Any] | None:
    """Upstream's NetworkStats: the default interface's counters and every interface's."""
    if not found:
        return None
    first = next((i for i in found if i["name"] == default), found[0])
    return {**first, "interfaces": list(found)}
