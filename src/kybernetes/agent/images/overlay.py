"""Overlayfs mounts: a container's root over the image's read-only layer directories.

``mount_overlay`` calls mount(2) directly (no ``mount`` process per container); when the
option string would not fit in one page (images with very many layers) it passes the layers one
by one through the new mount API (``fsconfig`` with ``lowerdir+``, Linux 6.8), and only on
older kernels runs the ``mount`` binary in the layers' directory with relative lower dirs.
``mounted_lowerdirs`` reads ``/proc/self/mountinfo`` so the store never deletes a layer a live
overlay still uses, even one mounted by an earlier agent process.

Invariant: the top layer is listed first (overlayfs order); ``unmount`` is idempotent (a path
that is not a mount point is not an error), and falls back to a lazy detach only when the
filesystem is busy, so nothing is left mounted after it returns.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import resource
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from kybernetes.agent.images.interface import ImageError

log = logging.getLogger(__name__)

MNT_DETACH = 2
MOUNTINFO = "/proc/self/mountinfo"
_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return _libc


def overlay_options(lowers: Sequence[str], upper: str, work: str) -> str:
    return f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}"


def mount_overlay(lowers: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    """Mount overlayfs at ``target``: ``lowers`` top first, writes into ``upper``."""
    if not lowers:
        raise ImageError("an overlay needs at least one lower directory")
    options = overlay_options([str(p) for p in lowers], str(upper), str(work))
    if len(options) < resource.getpagesize() - 1:
        rc = _c().mount(b"overlay", os.fsencode(target), b"overlay", 0, os.fsencode(options))
        if rc != 0:
            err = ctypes.get_errno()
            raise ImageError(f"mount overlay at {target}: {os.strerror(err)} (options {options})")
        return
    try:
        _mount_fsconfig(lowers, upper, work, target)
    except OSError as e:
        if e.errno not in (errno.ENOSYS, errno.EINVAL):
            raise ImageError(f"mount overlay at {target}: {e}") from e
        # before Linux 6.8 (no "lowerdir+"): relative paths, which mountinfo shows as given
        _mount_relative(lowers, upper, work, target)


# the new mount API (Linux 5.2; overlayfs takes "lowerdir+" one layer at a time from 6.8): no
# page-size limit on the options, and mountinfo lists every lower dir by its absolute path
_SYS_MOVE_MOUNT, _SYS_FSOPEN, _SYS_FSCONFIG, _SYS_FSMOUNT = 429, 430, 431, 432
_FSCONFIG_SET_STRING, _FSCONFIG_CMD_CREATE = 1, 6
_CLOEXEC, _MOVE_MOUNT_F_EMPTY_PATH, _AT_FDCWD = 1, 4, -100


def _sys(number: int, *args: object) -> int:
    # syscall(2) is variadic: pass every integer as a full-width long
    wide = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    rc: int = _c().syscall(ctypes.c_long(number), *wide)
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return rc


def _mount_fsconfig(lowers: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    fs = _sys(_SYS_FSOPEN, b"overlay", _CLOEXEC)
    try:
        for lower in lowers:
            _sys(_SYS_FSCONFIG, fs, _FSCONFIG_SET_STRING, b"lowerdir+", os.fsencode(lower), 0)
        _sys(_SYS_FSCONFIG, fs, _FSCONFIG_SET_STRING, b"upperdir", os.fsencode(upper), 0)
        _sys(_SYS_FSCONFIG, fs, _FSCONFIG_SET_STRING, b"workdir", os.fsencode(work), 0)
        _sys(_SYS_FSCONFIG, fs, _FSCONFIG_CMD_CREATE, None, None, 0)
        mnt = _sys(_SYS_FSMOUNT, fs, _CLOEXEC, 0)
        try:
            _sys(
                _SYS_MOVE_MOUNT, mnt, b"", _AT_FDCWD, os.fsencode(target), _MOVE_MOUNT_F_EMPTY_PATH
            )
        finally:
            os.close(mnt)
    finally:
        os.close(fs)


def _mount_relative(lowers: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    base = os.path.commonpath([str(p) for p in lowers])
    rel = [os.path.relpath(p, base) for p in lowers]
    options = overlay_options(rel, str(upper), str(work))
    if len(options) >= resource.getpagesize() - 1:
        raise ImageError(f"image has too many layers to mount ({len(lowers)})")
    binary = shutil.which("mount")
    if binary is None:
        raise ImageError("the mount binary is needed for an image with this many layers")
    done = subprocess.run(
        [binary, "-t", "overlay", "overlay", "-o", options, str(target)],
        cwd=base,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ImageError(f"mount overlay at {target}: {done.stderr.strip()}")


def unmount(target: Path) -> bool:
    """Unmount ``target``; False when it was not mounted."""
    path = os.fsencode(target)
    if _c().umount2(path, 0) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOENT):
        return False
    if err == errno.EBUSY:
        log.warning("rootfs busy, detaching lazily path=%s", target)
        if _c().umount2(path, MNT_DETACH) == 0:
            return True
        err = ctypes.get_errno()
    raise ImageError(f"umount {target}: {os.strerror(err)}")


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (``\\040`` is a space)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, fs type, super options) of every mount this process sees."""
    out = []
    with open(MOUNTINFO, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) >= 5 and len(tail) >= 3:
                out.append((_unescape(fields[4]), tail[0], tail[2]))
    return out


def is_mounted(target: Path) -> bool:
    path = os.path.abspath(target)
    return any(point == path for point, _, _ in _mounts())


def mounted_lowerdirs() -> set[str]:
    """Every directory some mounted overlay uses as a lower layer (absolute paths)."""
    out: set[str] = set()
    for _, fstype, options in _mounts():
        if fstype != "overlay":
            continue
        for option in options.split(","):
            key, _, value = option.partition("=")
            if key in ("lowerdir", "lowerdir+", "datadir+"):
                for part in value.replace("\\:", "\0").split(":"):
                    if part:
                        out.add(_unescape(part.replace("\0", ":")))
    return out
