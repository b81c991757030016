"""The cgroup v1 paths of pods and containers, and their removal.

runc (cgroupfs driver) creates a container's cgroup ``<parent>/<container id>`` in every
hierarchy, the cgroup2 one included, and ``runc delete`` removes only that leaf; the pod's
parent directories are ours to remove, deepest first, once the pod's containers are gone.

Invariant: a path given here is absolute within each hierarchy (``/kybernetes/pod-<id>``), so it
names the same cgroup whatever cgroup the agent itself runs in.
"""

from __future__ import annotations

import logging
import os

from kybernetes.agent.runtime.runc.linux import cgroup_mounts

log = logging.getLogger(__name__)


def join(*parts: str) -> str:
    """An absolute cgroup path from its parts (``join("kyb", "pod-1")`` -> ``/kyb/pod-1``)."""
    return "/" + "/".join(p.strip("/") for p in parts if p.strip("/"))


def memory_dir(path: str) -> str:
    """The directory of ``path`` in the memory hierarchy ("" when there is none)."""
    root = cgroup_mounts().get("memory")
    return os.path.join(root, path.lstrip("/")) if root else ""


def existing(path: str) -> list[str]:
    """The directories of ``path`` that exist, one per hierarchy."""
    roots = set(cgroup_mounts().values())
    dirs = (os.path.join(root, path.lstrip("/")) for root in sorted(roots))
    return [d for d in dirs if os.path.isdir(d)]


def remove(path: str) -> None:
    """Remove ``path`` and everything below it in every hierarchy (they must hold no process)."""
    if path.strip("/") == "":
        return  # never the root cgroup
    for top in existing(path):
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("cgroup not removed path=%s error=%s", dirpath, exc)
