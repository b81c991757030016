"""What every benchmark shares: percentiles, free ports, a process's RSS, the results table.

Not a benchmark itself: ``make bench`` runs only ``bench/[a-z]*.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import orjson


def pct(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples``, nearest rank; 0 when there are none."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def report(results: dict[str, Any], path: Path) -> None:
    """Print the figures as a table and write them to ``path`` as sorted JSON."""
    width = max(len(k) for k in results)
    print(f"{'figure':<{width}}  value")
    print(f"{'-' * width}  ------------")
    for key, value in results.items():
        text = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {text}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    print(f"wrote {os.path.relpath(path)}")


def run_wrk(argv: list[str], timeout: float) -> dict[str, Any]:
    """Run ``wrk`` (``argv`` is its whole command line, with a Lua script whose ``done`` writes
    one JSON line) and return that line parsed; raise with wrk's output when it failed."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    line = next((x for x in done.stdout.splitlines() if x.startswith("{")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    summary: dict[str, Any] = orjson.loads(line)
    return summary
