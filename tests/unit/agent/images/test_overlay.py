"""Reading overlay mounts back from mountinfo (what protects mounted layers from removal)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kybernetes.agent.images import overlay

MOUNTINFO = (
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "90 22 0:50 / /data/c1/rootfs rw,relatime - overlay overlay "
    "rw,lowerdir=/data/layers/sha256/bb:/data/layers/sha256/aa,upperdir=/data/c1/upper,"
    "workdir=/data/c1/work\n"
    "91 22 0:51 / /data/with\\040space/rootfs rw - overlay overlay "
    "rw,lowerdir+=/data/layers/sha256/cc,lowerdir+=/data/odd\\:name,upperdir=/u,workdir=/w\n"
    "92 22 0:52 / /mnt rw - tmpfs tmpfs rw,lowerdir=/not/an/overlay\n"
)


@pytest.fixture
def mountinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mountinfo"
    path.write_text(MOUNTINFO)
    monkeypatch.setattr(overlay, "MOUNTINFO", str(path))


@pytest.mark.usefixtures("mountinfo")
def test_mounted_lowerdirs() -> None:
    assert overlay.mounted_lowerdirs() == {
        "/data/layers/sha256/aa",
        "/data/layers/sha256/bb",
        "/data/layers/sha256/cc",
        "/data/odd:name",
    }


@pytest.mark.usefixtures("mountinfo")
def test_is_mounted_unescapes() -> None:
    assert overlay.is_mounted(Path("/data/c1/rootfs"))
    assert overlay.is_mounted(Path("/data/with space/rootfs"))
    assert not overlay.is_mounted(Path("/data/c2/rootfs"))


def test_options() -> None:
    assert overlay.overlay_options(["/l2", "/l1"], "/u", "/w") == (
        "lowerdir=/l2:/l1,upperdir=/u,workdir=/w"
    )
