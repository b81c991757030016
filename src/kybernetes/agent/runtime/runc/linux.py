"""Thin wrappers over the Linux calls the runc runtime needs and Python's ``os`` lacks.

``mount``/``umount`` go through libc (no process per mount), ``process_start_time`` identifies a
process across PID reuse, ``bounding_capabilities`` reads which capabilities this process may
grant at all, and ``cgroup_mounts`` finds the cgroup hierarchies from ``/proc/self/mountinfo``
instead of assuming where they are mounted.

Invariant: nothing here keeps state; every call reads the kernel's current view.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Sequence
from functools import cache

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MNT_DETACH = 0x2

#: capability numbers as in <linux/capability.h>; index = number
CAPABILITIES: Sequence[str] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)


@cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def mount(source: str, target: str, fstype: str, flags: int = 0, data: str = "") -> None:
    rc = _libc().mount(
        source.encode(), target.encode(), fstype.encode(), ctypes.c_ulong(flags), data.encode()
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {fstype} on {target}: {os.strerror(err)}")


def umount(target: str) -> bool:
    """Detach the mount at ``target``; False when nothing was mounted there."""
    if _libc().umount2(target.encode(), MNT_DETACH) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOENT):  # not a mount point, or already gone
        return False
    raise OSError(err, f"umount {target}: {os.strerror(err)}")


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(b")") + 2 :].split()
    if fields[0] == b"Z":  # a zombie has finished: it is no longer the process we knew
        return None
    return int(fields[19])


def is_same_process(pid: int, start_time: int) -> bool:
    return pid > 0 and process_start_time(pid) == start_time


@cache
def bounding_capabilities() -> tuple[str, ...]:
    """Capabilities this process can pass on (privileged containers get exactly these)."""
    mask = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                mask = int(line.split()[1], 16)
    return tuple(name for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1)


def cgroup_mounts() -> dict[str, str]:
    """Mount point of each cgroup hierarchy, keyed by controller (``unified`` for cgroup2)."""
    mounts: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype, _, options = post.split()[:3]
            point = pre.split()[4]
            if fstype == "cgroup2":
                mounts.setdefault("unified", point)
            elif fstype == "cgroup":
                for opt in options.split(","):
                    if opt in ("rw", "ro") or opt.startswith("release_agent"):
                        continue
                    mounts.setdefault(opt.removeprefix("name="), point)
    return mounts
