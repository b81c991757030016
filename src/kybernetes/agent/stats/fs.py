"""Filesystem usage: a filesystem's size (``statvfs``) and a directory tree's usage (``du``).

Upstream's FsStats: ``capacityBytes``, ``availableBytes``, ``usedBytes``, ``inodes``,
``inodesFree``, ``inodesUsed``. For a filesystem they describe the whole filesystem; for a
container's writable layer or logs, ``usedBytes`` and ``inodesUsed`` are the tree's own (the
blocks its files occupy, as ``du`` counts them) and capacity and availability the filesystem's
that holds it.

Invariant: read-only; the walk never follows a symlink nor crosses into another filesystem, and
a file that disappears mid-walk is skipped.
"""

from __future__ import annotations

import os
from typing import Any

Stats = dict[str, Any]


def filesystem(path: str) -> Stats | None:
    """The filesystem holding ``path`` (None if ``path`` cannot be read)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return {
        "availableBytes": st.f_bavail * st.f_frsize,
        "capacityBytes": st.f_blocks * st.f_frsize,
        "usedBytes": (st.f_blocks - st.f_bfree) * st.f_frsize,
        "inodesFree": st.f_favail,
        "inodes": st.f_files,
        "inodesUsed": st.f_files - st.f_ffree,
    }


def disk_usage(path: str) -> tuple[int, int] | None:
    """(bytes, inodes) the tree at ``path`` occupies on its filesystem (None: no such path)."""
    try:
        top = os.lstat(path)
    except OSError:
        return None
    used, inodes = top.st_blocks * 512, 1
    pending = [path]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            used += st.st_blocks * 512
            inodes += 1
            if entry.is_dir(follow_symlinks=False) and st.st_dev == top.st_dev:
                pending.append(entry.path)
    return used, inodes


def tree(path: str, holder: Stats | None) -> Stats | None:
    """Usage of the tree at ``path``, with ``holder``'s (its filesystem's) capacity."""
    usage = disk_usage(path)
    if usage is None:
        return None
    out: Stats = {}
    if holder is not None:
        out["availableBytes"] = holder["availableBytes"]
        out["capacityBytes"] = holder["capacityBytes"]
    out["usedBytes"], out["inodesUsed"] = usage
    return out
