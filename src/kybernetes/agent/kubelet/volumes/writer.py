"""Atomic volume contents: the kubelet's ``AtomicWriter`` layout, so updates are seen all at once.

A volume directory holds a timestamped data directory (``..2024_01_01_00_00_00.123456789``),
a ``..data`` symlink to it, and for each top-level entry a symlink ``name -> ..data/name``.
``write`` builds a new data directory beside the old one, lets ``prepare`` see the volume
(upstream's ``setPerms``: ownership for an fsGroup), swaps ``..data`` with a rename (atomic),
fixes the top-level links and removes the old directory, only when the content differs from
what is there (the paths and their bytes, as upstream compares; modes come from the pod spec,
which cannot change, and ``prepare`` may add to them).

Invariant: a reader of ``<dir>/<path>`` sees either the old or the new content, never a mix.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping
from typing import Final

from kybernetes.agent.kubelet.volumes.render import File

DATA: Final = "..data"


def _current(directory: str) -> dict[str, bytes] | None:
    data = os.path.join(directory, DATA)
    if not os.path.islink(data):
        return None
    out: dict[str, bytes] = {}
    root = os.path.realpath(data)
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def write(
    directory: str,
    files: Mapping[str, File],
    now: float | None = None,
    prepare: Callable[[str], None] | None = None,
) -> bool:
    """Make ``directory`` hold ``files``; True when anything changed. ``prepare(directory)``
    runs once the new content is written and before it is visible."""
    os.makedirs(directory, exist_ok=True)
    if _current(directory) == {rel: file.data for rel, file in files.items()}:
        return False
    stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime(now if now is not None else time.time()))
    new = os.path.join(directory, f"..{stamp}.{time.monotonic_ns() % 10**9:09d}")
    os.makedirs(new)
    for rel, file in files.items():
        path = os.path.join(new, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(file.data)
        os.chmod(path, file.mode)
        if file.owner is not None:  # a service-account token for the pod's runAsUser
            os.chown(path, file.owner, -1)
    if prepare is not None:
        prepare(directory)
    old = (
        os.path.realpath(os.path.join(directory, DATA))
        if os.path.islink(os.path.join(directory, DATA))
        else None
    )
    tmp = os.path.join(directory, "..data_tmp")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.path.basename(new), tmp)
    os.rename(tmp, os.path.join(directory, DATA))
    tops = {rel.split("/", 1)[0] for rel in files}
    for entry in os.listdir(directory):
        if entry.startswith(".."):
            continue
        if entry not in tops and os.path.islink(os.path.join(directory, entry)):
            os.unlink(os.path.join(directory, entry))
    for top in tops:
        link = os.path.join(directory, top)
        if not os.path.lexists(link):
            os.symlink(os.path.join(DATA, top), link)
    if old and old != os.path.realpath(new):
        shutil.rmtree(old, ignore_errors=True)
    return True
