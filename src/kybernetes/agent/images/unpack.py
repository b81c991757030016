"""Unpacking one image layer (a tar, plain or gzipped) into its own directory, for overlayfs.

OCI whiteouts become overlayfs whiteouts as they are met: ``dir/.wh.name`` is a 0/0 character
device ``dir/name``, ``dir/.wh..wh..opq`` is the ``trusted.overlay.opaque=y`` xattr on ``dir``.
Owners are numeric (the host's ``/etc/passwd`` means nothing to an image), setuid bits and
file capabilities (``security.capability`` xattrs) are kept, directory attributes are set after
their contents, and absolute symlinks are written as they are (they resolve inside the
container).

Invariant: nothing is ever created, changed or followed outside the destination: entry names are
normalised and ``..`` refused; every parent directory is resolved (symlinks included) and must
lie inside the destination; the final component is never followed (an existing entry is removed
and files are opened with ``O_NOFOLLOW | O_EXCL``); hard links must point inside the layer.
The digests of the compressed and uncompressed streams are checked by :func:`unpack_layer`
before its caller may publish the directory.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kybernetes.agent.images.digest import CHUNK, HashingReader, Readable, decompressed
from kybernetes.agent.images.interface import ImageError

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_AUFS_META = WHITEOUT_PREFIX + WHITEOUT_PREFIX
_XATTR_PAX = "SCHILY.xattr."
#: Layers may carry file capabilities and user xattrs; never overlay's own trusted.* ones.
_XATTR_ALLOWED = ("security.capability", "user.")


class UnsafeLayerError(ImageError):
    """A layer tried to write outside its directory (path traversal or a symlink escape)."""


@dataclass(frozen=True)
class UnpackResult:
    blob_digest: str  # digest of the stream as read (compressed when it was compressed)
    diff_id: str  # digest of the uncompressed tar
    blob_size: int
    disk_size: int  # estimated bytes on disk


def unpack_layer(
    fileobj: Readable, dest: Path, *, blob_digest: str | None, diff_id: str | None
) -> UnpackResult:
    """Unpack the layer in ``fileobj`` into the empty directory ``dest``, checking digests.

    ``blob_digest`` (when known) is checked against the bytes read, ``diff_id`` against the
    uncompressed tar; a mismatch raises :class:`ImageError` and the caller discards ``dest``.
    """
    raw = HashingReader(fileobj)
    plain = HashingReader(decompressed(raw))
    disk = extract_tar(plain, dest)
    plain.drain()
    raw.drain()
    if blob_digest is not None and raw.digest != blob_digest:
        raise ImageError(f"digest mismatch for layer: expected {blob_digest}, got {raw.digest}")
    if diff_id is not None and plain.digest != diff_id:
        raise ImageError(f"diff_id mismatch for layer: expected {diff_id}, got {plain.digest}")
    return UnpackResult(raw.digest, plain.digest, raw.size, disk)


def extract_tar(stream: Readable, dest: Path) -> int:
    """Extract a tar stream into ``dest`` with overlayfs whiteouts; returns an estimate of bytes."""
    dest.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(dest)
    ex = _Extractor(root)
    with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
        for member in tar:
            ex.entry(tar, member)
    ex.finish()
    return ex.disk


class _Extractor:
    def __init__(self, root: str) -> None:
        self.root = root
        self.disk = 0
        self.dirs: list[tuple[str, tarfile.TarInfo]] = []
        self._safe_dirs: set[str] = {root}
        self._as_root = os.geteuid() == 0

    def entry(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        name = clean_name(m.name)
        if name is None:
            return
        parent, base = os.path.split(name)
        if _AUFS_META in parent and any(c.startswith(_AUFS_META) for c in parent.split("/")):
            return  # inside aufs metadata (.wh..wh.plnk/...): meaningless to overlayfs
        pdir = self._parent(parent, m.name)
        self.disk += 512
        if base == OPAQUE_MARKER:
            os.setxattr(pdir, OPAQUE_XATTR, b"y")
            return
        if base.startswith(_AUFS_META):
            return  # aufs metadata (.wh..wh.plnk and the like): meaningless to overlayfs
        if base.startswith(WHITEOUT_PREFIX):
            hidden = base[len(WHITEOUT_PREFIX) :]
            if hidden in ("", ".", ".."):
                raise UnsafeLayerError(f"invalid whiteout entry {m.name!r}")
            target = os.path.join(pdir, hidden)
            self._remove(target)
            os.mknod(target, stat.S_IFCHR, os.makedev(0, 0))
            return
        target = os.path.join(pdir, base)
        if m.isdir():
            if os.path.lexists(target) and not stat.S_ISDIR(os.lstat(target).st_mode):
                self._remove(target)
            os.makedirs(target, mode=0o755, exist_ok=True)
            self.dirs.append((target, m))
            return
        self._remove(target)
        if m.isreg():
            self._write_file(tar, m, target)
        elif m.issym():
            # a new name cannot change what a cached (existing) directory resolves to; replacing
            # an existing entry can, and _remove forgets the cache then
            os.symlink(m.linkname, target)
        elif m.islnk():
            self._hardlink(m, target)
        elif m.ischr() or m.isblk():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            os.mknod(target, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor))
        elif m.isfifo():
            os.mkfifo(target)
        else:
            log.debug("skipping tar entry name=%s type=%r", m.name, m.type)
            return
        self._attrs(target, m)

    def finish(self) -> None:
        for target, m in reversed(self.dirs):
            self._attrs(target, m)

    def _parent(self, parent: str, original: str) -> str:
        pdir = os.path.join(self.root, parent) if parent else self.root
        if pdir in self._safe_dirs:
            return pdir
        if not os.path.isdir(pdir):
            # the grandparent first: its check catches a symlink before anything is created
            self._parent(os.path.dirname(parent), original)
            if os.path.lexists(pdir) and not os.path.islink(pdir):
                self._remove(pdir)
            if not os.path.lexists(pdir):
                os.mkdir(pdir, 0o755)
        real = os.path.realpath(pdir)
        if real != self.root and not real.startswith(self.root + os.sep):
            raise UnsafeLayerError(f"tar entry {original!r} escapes the layer through a symlink")
        if not os.path.isdir(real):
            raise UnsafeLayerError(f"tar entry {original!r}: parent is not a directory")
        self._safe_dirs.add(pdir)
        return pdir

    def _remove(self, path: str) -> None:
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISDIR(mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)
        self._safe_dirs = {self.root}

    def _write_file(self, tar: tarfile.TarFile, m: tarfile.TarInfo, target: str) -> None:
        src: IO[bytes] | None = tar.extractfile(m)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            if src is not None:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
        self.disk += m.size

    def _hardlink(self, m: tarfile.TarInfo, target: str) -> None:
        name = clean_name(m.linkname)
        if name is None:
            raise UnsafeLayerError(f"hard link {m.name!r} to {m.linkname!r}")
        source_parent = self._parent(os.path.dirname(name), m.name)
        source = os.path.join(source_parent, os.path.basename(name))
        if not os.path.lexists(source):
            raise ImageError(f"hard link {m.name!r} points to {m.linkname!r}, not in this layer")
        os.link(source, target, follow_symlinks=False)

    def _attrs(self, target: str, m: tarfile.TarInfo) -> None:
        if self._as_root:
            os.lchown(target, m.uid, m.gid)
        if not m.issym():
            os.chmod(target, m.mode & 0o7777)  # after chown, which clears setuid bits
        for key, value in m.pax_headers.items():
            if key.startswith(_XATTR_PAX):
                self._xattr(target, key[len(_XATTR_PAX) :], value)
        if not m.islnk():
            os.utime(target, (m.mtime, m.mtime), follow_symlinks=False)

    def _xattr(self, target: str, name: str, value: str) -> None:
        if not name.startswith(_XATTR_ALLOWED):
            return
        try:
            os.setxattr(
                target, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False
            )
        except OSError as e:
            if e.errno not in (errno.ENOTSUP, errno.EPERM, errno.EINVAL):
                raise
            log.debug("xattr not set path=%s name=%s error=%s", target, name, e)


def clean_name(name: str) -> str | None:
    """The normalised relative path of a tar entry; None for the root; refuses ``..``."""
    stripped = name.lstrip("/")
    if not stripped:
        return None
    normal = os.path.normpath(stripped)
    if normal == ".":
        return None
    if normal == ".." or normal.startswith("../") or "\x00" in normal:
        raise UnsafeLayerError(f"tar entry {name!r} escapes the layer")
    return normal
