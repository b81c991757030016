"""The volumes of the pods on this node: set up before containers start, refreshed, torn down.

Each pod's volumes live under ``<data_dir>/pods/<uid>/volumes/<plugin>/<name>`` (upstream's
plugin names: ``kubernetes.io~empty-dir``, ``~configmap``, ``~secret``, ``~downward-api``,
``~projected``); hostPath volumes are the host's path itself, checked or created by ``type``.
Secret, projected and ``emptyDir.medium: Memory`` volumes are tmpfs mounts when the agent may
mount (root), sized by ``sizeLimit``; otherwise plain directories. ``prepare`` (async) fetches
what the files need from the API first: service-account tokens (``tokens.py``). ``setup`` is
idempotent and is called on every pod sync, so configMap, secret, downwardAPI and projected
contents follow their sources, and tokens are refreshed (written atomically, ``writer.py``).
Persistent volume claims and other sources go through ``attach`` hooks a later storage layer
provides; without one the pod waits.
Directories are created ``0777`` (tmpfs ``1777``) as upstream's emptyDir; with a pod
``fsGroup`` they are given to that group (``ownership.py``) when created, attached, or
rewritten (before the new content is visible).

Invariant: ``teardown`` leaves nothing of the pod's volumes mounted or on disk (hostPath
contents are the host's and are never touched).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import stat
from collections.abc import Callable, Mapping
from typing import Any, Final

from kybernetes.agent.kubelet.volumes import ownership, writer
from kybernetes.agent.kubelet.volumes.render import Lookup, VolumeError, render_volume
from kybernetes.agent.kubelet.volumes.tokens import TokenManager
from kybernetes.api.quantity import QuantityError, parse_quantity

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PLUGINS: Final = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}
#: A hook for other volume kinds (persistentVolumeClaim...): (pod, volume) -> host path.
Attacher = Callable[[Obj, Mapping[str, Any]], str]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def mount_tmpfs(target: str, size: int = 0) -> None:
    data = f"mode=1777,size={size}" if size > 0 else "mode=1777"  # tmpfs's default, as upstream
    if _libc().mount(b"tmpfs", target.encode(), b"tmpfs", 0, data.encode()) != 0:
        err = ctypes.get_errno()
        raise VolumeError(f"mount tmpfs on {target}: {os.strerror(err)}")


def unmount(target: str) -> None:
    if _libc().umount2(target.encode(), 2) != 0:  # MNT_DETACH
        log.warning("unmount failed path=%s error=%s", target, os.strerror(ctypes.get_errno()))


def is_mount(path: str) -> bool:
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == path for line in f)
    except OSError:
        return False


def remove_pod_dir(pod_dir: str) -> None:
    """Unmount the pod's volumes (``volumes/<plugin>/<name>``), then remove its directory."""
    root = os.path.join(pod_dir, "volumes")
    if os.path.isdir(root):
        for plugin in os.listdir(root):
            for name in os.listdir(os.path.join(root, plugin)):
                path = os.path.join(root, plugin, name)
                if is_mount(path):
                    unmount(path)
    shutil.rmtree(pod_dir, ignore_errors=True)


def _host_path(volume: Mapping[str, Any]) -> str:
    spec = volume["hostPath"]
    path = str(spec.get("path", ""))
    kind = str(spec.get("type") or "")
    if kind == "DirectoryOrCreate":
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif kind == "FileOrCreate" and not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
        open(path, "a").close()
    checks = {
        "Directory": (stat.S_ISDIR, "is not a directory"),
        "DirectoryOrCreate": (stat.S_ISDIR, "is not a directory"),
        "File": (stat.S_ISREG, "is not a file"),
        "FileOrCreate": (stat.S_ISREG, "is not a file"),
        "Socket": (stat.S_ISSOCK, "is not a socket file"),
        "CharDevice": (stat.S_ISCHR, "is not a character device"),
        "BlockDevice": (stat.S_ISBLK, "is not a block device"),
    }
    if kind in checks:
        test, message = checks[kind]
        try:
            mode = os.stat(path).st_mode
        except OSError:
            raise VolumeError(f"hostPath type check failed: {path} {message}") from None
        if not test(mode):
            raise VolumeError(f"hostPath type check failed: {path} {message}")
    return path


def _size(value: Any) -> int:
    try:
        return int(parse_quantity(value).value()) if value is not None else 0
    except (QuantityError, TypeError):
        return 0


class VolumeManager:
    """Volume directories of every pod under ``data_dir``."""

    def __init__(
        self,
        data_dir: str,
        *,
        configmaps: Lookup,
        secrets: Lookup,
        allocatable: Callable[[], Mapping[str, str]],
        use_tmpfs: bool = False,
        attachers: Mapping[str, Attacher] | None = None,
        tokens: TokenManager | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.configmaps = configmaps
        self.secrets = secrets
        self.allocatable = allocatable
        self.use_tmpfs = use_tmpfs
        self.attachers = dict(attachers or {})
        #: Service-account tokens for projected volumes (None: such sources are left out).
        self.tokens = tokens

    def pod_dir(self, uid: str) -> str:
        return os.path.join(self.data_dir, "pods", uid)

    async def prepare(self, pod: Obj) -> None:
        """What ``setup`` needs from the API first: the pod's service-account tokens."""
        if self.tokens is not None:
            await self.tokens.prepare(pod)

    def setup(self, pod: Obj) -> tuple[dict[str, str], list[str]]:
        """Every volume of ``pod`` ready; (name -> host path, notes on what was left out).

        Raises ``VolumeError`` naming the first volume that cannot be set up.
        """
        uid = str(pod["metadata"]["uid"])
        paths: dict[str, str] = {}
        notes: list[str] = []
        for volume in (pod.get("spec") or {}).get("volumes") or ():
            name = str(volume.get("name", ""))
            try:
                paths[name] = self._setup_one(pod, uid, name, volume, notes)
            except (VolumeError, OSError) as exc:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {exc}') from exc
        return paths, notes

    def _setup_one(
        self, pod: Obj, uid: str, name: str, volume: Mapping[str, Any], notes: list[str]
    ) -> str:
        if volume.get("hostPath") is not None:
            return _host_path(volume)
        kind = next((k for k in PLUGINS if volume.get(k) is not None), None)
        if kind is None:
            for key, attach in self.attachers.items():
                if volume.get(key) is not None:
                    attached = attach(pod, volume)
                    own = ownership.for_volume(pod, key)
                    if own is not None:
                        own(attached)
                    return attached
            raise VolumeError("volume type not supported on this node")
        path = os.path.join(self.pod_dir(uid), "volumes", PLUGINS[kind], name)
        fresh = not os.path.isdir(path)
        own = ownership.for_volume(pod, kind)
        os.makedirs(path, exist_ok=True)
        if fresh:
            os.chmod(path, 0o777)  # upstream's emptyDir (and the directory under the others)
            if self.use_tmpfs:
                if kind in ("secret", "projected"):  # projected: tokens stay off disk
                    mount_tmpfs(path)
                elif kind == "emptyDir" and volume["emptyDir"].get("medium") == "Memory":
                    mount_tmpfs(path, _size(volume["emptyDir"].get("sizeLimit")))
            if own is not None:
                own(path)
        rendered = render_volume(
            volume,
            pod,
            configmaps=self.configmaps,
            secrets=self.secrets,
            allocatable=self.allocatable(),
            tokens=self.tokens.token if self.tokens is not None else None,
        )
        if rendered is not None:
            if writer.write(path, rendered.files, prepare=own):
                log.info(
                    "volume content written pod=%s volume=%s files=%d",
                    uid,
                    name,
                    len(rendered.files),
                )
            notes.extend(
                f'volume "{name}": projected source {p!r} left out: not supported on this node'
                for p in rendered.skipped
            )
        return path

    def teardown(self, uid: str) -> None:
        """Unmount and remove everything of the pod's volumes (and its pod directory)."""
        remove_pod_dir(self.pod_dir(uid))
        if self.tokens is not None:
            self.tokens.forget(uid)

    def known_pods(self) -> list[str]:
        try:
            return os.listdir(os.path.join(self.data_dir, "pods"))
        except FileNotFoundError:
            return []
