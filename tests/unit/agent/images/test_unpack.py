"""Layer unpacking: overlayfs whiteouts, attributes, and refusal of path traversal."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from kybernetes.agent.images.interface import ImageError
from kybernetes.agent.images.unpack import (
    OPAQUE_XATTR,
    UnsafeLayerError,
    clean_name,
    extract_tar,
    unpack_layer,
)
from kybernetes.testing.images import Dir, File, Hardlink, Symlink, layer_from_files

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="trusted.* xattrs and chown need root")


def _tar(*members: tuple[str, bytes, str | bytes]) -> bytes:
    """A tar with members in exactly this order: (name, type, data or link target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in members:
            ti = tarfile.TarInfo(name)
            ti.type = kind
            ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                ti.linkname = str(payload)
                tar.addfile(ti)
            else:
                data = payload if isinstance(payload, bytes) else payload.encode()
                ti.size = len(data) if kind == tarfile.REGTYPE else 0
                tar.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buf.getvalue()


@needs_root
def test_whiteouts_become_overlay_whiteouts(tmp_path: Path) -> None:
    layer = layer_from_files(
        {
            "etc/data/.wh.b": b"",
            "opt/dir/.wh..wh..opq": b"",
            "opt/dir/z": b"z",
            "bin/.wh.vi": b"",
            ".wh..wh.plnk/123": b"",  # aufs metadata is dropped
        }
    )
    dest = tmp_path / "layer"
    extract_tar(io.BytesIO(layer), dest)
    whiteout = os.lstat(dest / "etc/data/b")
    assert stat.S_ISCHR(whiteout.st_mode)
    assert whiteout.st_rdev == os.makedev(0, 0)
    assert stat.S_ISCHR(os.lstat(dest / "bin/vi").st_mode)
    assert os.getxattr(dest / "opt/dir", OPAQUE_XATTR) == b"y"
    assert (dest / "opt/dir/z").read_bytes() == b"z"
    assert not (dest / "etc/data/.wh.b").exists()
    assert not (dest / ".wh..wh.plnk").exists()


@needs_root
def test_attributes_kept(tmp_path: Path) -> None:
    layer = layer_from_files(
        {
            "usr/bin/su": File(b"#!", 0o4755, uid=0, gid=0),
            "home/user/": Dir(0o700, uid=1000, gid=1000),
            "home/user/f": File(b"f", 0o600, uid=1000, gid=1000),
            "bin/sh": Symlink("/bin/busybox"),
            "bin/busybox": File(b"bb", 0o755),
            "bin/hard": Hardlink("bin/busybox"),
        }
    )
    dest = tmp_path / "layer"
    extract_tar(io.BytesIO(layer), dest)
    assert stat.S_IMODE(os.stat(dest / "usr/bin/su").st_mode) == 0o4755  # setuid kept
    home = os.stat(dest / "home/user")
    assert (home.st_uid, home.st_gid, stat.S_IMODE(home.st_mode)) == (1000, 1000, 0o700)
    assert os.readlink(dest / "bin/sh") == "/bin/busybox"  # absolute, not rewritten
    assert os.stat(dest / "bin/hard").st_ino == os.stat(dest / "bin/busybox").st_ino
    assert os.stat(dest / "home/user/f").st_mtime == 1_700_000_000


@pytest.mark.parametrize("name", ["../escape", "a/../../escape", "/../escape", "./../escape"])
def test_dotdot_refused(tmp_path: Path, name: str) -> None:
    dest = tmp_path / "layer"
    with pytest.raises(UnsafeLayerError):
        extract_tar(io.BytesIO(_tar((name, tarfile.REGTYPE, "x"))), dest)
    assert not (tmp_path / "escape").exists()


def test_absolute_names_stay_inside(tmp_path: Path) -> None:
    dest = tmp_path / "layer"
    extract_tar(io.BytesIO(_tar(("/etc/x", tarfile.REGTYPE, "x"))), dest)
    assert (dest / "etc/x").read_text() == "x"


def test_symlink_escape_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    layer = _tar(("lnk", tarfile.SYMTYPE, str(outside)), ("lnk/pwned", tarfile.REGTYPE, "x"))
    with pytest.raises(UnsafeLayerError, match="symlink"):
        extract_tar(io.BytesIO(layer), tmp_path / "layer")
    assert list(outside.iterdir()) == []


def test_relative_symlink_escape_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    layer = _tar(
        ("a/", tarfile.DIRTYPE, ""),
        ("a/up", tarfile.SYMTYPE, "../../outside"),
        ("a/up/sub/pwned", tarfile.REGTYPE, "x"),
    )
    with pytest.raises(UnsafeLayerError):
        extract_tar(io.BytesIO(layer), tmp_path / "layer")
    assert list(outside.iterdir()) == []


def test_file_over_symlink_does_not_follow_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("safe")
    layer = _tar(("f", tarfile.SYMTYPE, str(victim)), ("f", tarfile.REGTYPE, "pwned"))
    dest = tmp_path / "layer"
    extract_tar(io.BytesIO(layer), dest)
    assert victim.read_text() == "safe"
    assert (dest / "f").read_text() == "pwned"
    assert not (dest / "f").is_symlink()


def test_hardlink_outside_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s")
    with pytest.raises(UnsafeLayerError):
        extract_tar(io.BytesIO(_tar(("h", tarfile.LNKTYPE, "../secret"))), tmp_path / "layer")
    layer = _tar(("lnk", tarfile.SYMTYPE, str(tmp_path)), ("h", tarfile.LNKTYPE, "lnk/secret"))
    with pytest.raises(UnsafeLayerError):
        extract_tar(io.BytesIO(layer), tmp_path / "layer2")


def test_whiteout_through_symlink_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("k")
    layer = _tar(("lnk", tarfile.SYMTYPE, str(outside)), ("lnk/.wh.keep", tarfile.REGTYPE, ""))
    with pytest.raises(UnsafeLayerError):
        extract_tar(io.BytesIO(layer), tmp_path / "layer")
    assert (outside / "keep").read_text() == "k"


def test_clean_name() -> None:
    assert clean_name("./a/b/") == "a/b"
    assert clean_name("/") is None
    assert clean_name("./") is None
    assert clean_name("a/./b//c") == "a/b/c"
    with pytest.raises(UnsafeLayerError):
        clean_name("a/../..")


def test_digests_checked(tmp_path: Path) -> None:
    layer = layer_from_files({"a": b"a"})
    blob = gzip.compress(layer, mtime=0)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    blob_digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    result = unpack_layer(
        io.BytesIO(blob), tmp_path / "ok", blob_digest=blob_digest, diff_id=diff_id
    )
    assert (result.diff_id, result.blob_digest, result.blob_size) == (
        diff_id,
        blob_digest,
        len(blob),
    )
    # plain tars too: then the blob digest is the diff_id
    plain = unpack_layer(
        io.BytesIO(layer), tmp_path / "plain", blob_digest=diff_id, diff_id=diff_id
    )
    assert plain.blob_digest == diff_id
    with pytest.raises(ImageError, match="diff_id mismatch"):
        unpack_layer(io.BytesIO(blob), tmp_path / "bad", blob_digest=None, diff_id=blob_digest)
    with pytest.raises(ImageError, match="digest mismatch"):
        unpack_layer(io.BytesIO(blob), tmp_path / "bad2", blob_digest=diff_id, diff_id=None)


def test_zstd_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="zstd"):
        unpack_layer(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"\0" * 100), tmp_path / "z",
                     blob_digest=None, diff_id=None)  # fmt: skip


def test_directory_replaced_by_symlink_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    layer = _tar(
        ("a/", tarfile.DIRTYPE, ""),
        ("a/x", tarfile.REGTYPE, "x"),  # `a` is now a known-safe directory
        ("a", tarfile.SYMTYPE, str(outside)),  # ... replaced by a symlink
        ("a/pwned", tarfile.REGTYPE, "x"),
    )
    with pytest.raises(UnsafeLayerError):
        extract_tar(io.BytesIO(layer), tmp_path / "layer")
    assert list(outside.iterdir()) == []
