"""Volume ownership for a pod's ``fsGroup``: group-owned, setgid directories, group access.

As upstream's ``SetVolumeOwnership``: every file and directory of the volume gets the fsGroup
as its group (``lchown``, owner unchanged), and its mode gains group read (read-only volumes:
configMap, secret, downwardAPI, projected) or group read-write (emptyDir, persistent
volumes); directories also gain the setgid bit, so files created later inherit the group, and
group search. Symlinks are re-grouped but never chmod-ed (that would reach their targets).

Which volumes and when (upstream's plugins): emptyDir when it is created; configMap, secret,
downwardAPI and projected whenever new content is written, before it becomes visible;
persistent volumes when attached, honouring ``fsGroupChangePolicy: OnRootMismatch`` (skip
when the volume's root already has the group, the setgid bit and the group permissions).
hostPath volumes are never touched.

Invariant: without an fsGroup nothing changes; applying twice changes nothing more.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Final

log = logging.getLogger(__name__)

RW_MASK: Final = 0o660
RO_MASK: Final = 0o440
EXEC_MASK: Final = 0o110

#: volume kind -> whether upstream treats it as read-only when setting ownership
READ_ONLY: Final = {
    "emptyDir": False,
    "configMap": True,
    "secret": True,
    "downwardAPI": True,
    "projected": True,
}


def fs_group(pod: Mapping[str, Any]) -> int | None:
    value = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
    return None if value is None else int(value)


def requires_change(directory: str, group: int, *, readonly: bool) -> bool:
    """OnRootMismatch: whether the volume's root lacks the group, setgid or the permissions."""
    try:
        st = os.stat(directory)
    except OSError:
        return True
    if st.st_gid != group or not stat.S_ISDIR(st.st_mode):
        return True
    wanted = (RO_MASK if readonly else RW_MASK) | EXEC_MASK
    return (st.st_mode & wanted) != wanted or not st.st_mode & stat.S_ISGID


def _change(path: str, group: int, readonly: bool) -> None:
    try:
        st = os.lstat(path)
        os.lchown(path, -1, group)
    except OSError as exc:
        log.warning("lchown failed path=%s error=%s", path, exc)
        return
    if stat.S_ISLNK(st.st_mode):
        return
    mask = RO_MASK if readonly else RW_MASK
    if stat.S_ISDIR(st.st_mode):
        mask |= stat.S_ISGID | EXEC_MASK
    mode = stat.S_IMODE(st.st_mode)
    if mode | mask != mode:
        try:
            os.chmod(path, mode | mask)
        except OSError as exc:
            log.warning("chmod failed path=%s error=%s", path, exc)


def set_volume_ownership(
    directory: str, group: int, *, readonly: bool, policy: str = "Always"
) -> None:
    """Give ``directory`` and everything under it to ``group`` (children first, as upstream)."""
    if policy == "OnRootMismatch" and not requires_change(directory, group, readonly=readonly):
        return
    for root, dirs, files in os.walk(directory, topdown=False):
        for name in files + dirs:
            _change(os.path.join(root, name), group, readonly)
    _change(directory, group, readonly)


def for_volume(pod: Mapping[str, Any], kind: str) -> Callable[[str], None] | None:
    """The ownership change of a volume of ``kind`` (a key of the volume source, e.g.
    ``configMap``; ``persistentVolumeClaim`` and other attached kinds: read-write, with the
    pod's fsGroupChangePolicy) of ``pod``; None when there is nothing to do."""
    group = fs_group(pod)
    if group is None or kind == "hostPath":
        return None
    if kind in READ_ONLY:
        return partial(set_volume_ownership, group=group, readonly=READ_ONLY[kind])
    sc = (pod.get("spec") or {}).get("securityContext") or {}
    policy = str(sc.get("fsGroupChangePolicy") or "Always")
    return partial(set_volume_ownership, group=group, readonly=False, policy=policy)
