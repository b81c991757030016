"""fsGroup ownership of volumes: group, setgid and group permissions, when upstream applies them."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from kybernetes.agent.kubelet.volumes import ownership, writer
from kybernetes.agent.kubelet.volumes.manager import VolumeManager
from kybernetes.agent.kubelet.volumes.render import File

#: a group this process may give files to (root: any; otherwise its own)
GROUP = 2000 if os.geteuid() == 0 else os.getgid()


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def pod(volumes: list[dict[str, Any]], **sc: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "uid-1"},
        "spec": {"securityContext": sc, "volumes": volumes, "containers": []},
    }


def test_read_write_volume(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir(mode=0o700)
    (tmp_path / "sub" / "f").write_text("x")
    os.chmod(tmp_path / "sub" / "f", 0o600)
    os.chmod(tmp_path, 0o755)
    os.symlink("sub/f", tmp_path / "link")
    ownership.set_volume_ownership(str(tmp_path), GROUP, readonly=False)
    for path in (tmp_path, tmp_path / "sub", tmp_path / "sub" / "f", tmp_path / "link"):
        assert os.lstat(path).st_gid == GROUP
    assert mode(tmp_path / "sub" / "f") == 0o660
    assert mode(tmp_path / "sub") == 0o2770
    assert mode(tmp_path) == 0o2775


def test_read_only_volume_gets_group_read(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("secret")
    os.chmod(tmp_path / "key", 0o400)
    os.chmod(tmp_path, 0o700)
    ownership.set_volume_ownership(str(tmp_path), GROUP, readonly=True)
    assert mode(tmp_path / "key") == 0o440
    assert mode(tmp_path) == 0o2750


def test_on_root_mismatch_skips_a_volume_already_owned(tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    inner.write_text("x")
    os.chmod(inner, 0o600)
    os.chmod(tmp_path, 0o2770)
    os.chown(tmp_path, -1, GROUP)
    assert not ownership.requires_change(str(tmp_path), GROUP, readonly=False)
    ownership.set_volume_ownership(str(tmp_path), GROUP, readonly=False, policy="OnRootMismatch")
    assert mode(inner) == 0o600  # untouched
    os.chmod(tmp_path, 0o770)  # no setgid: a mismatch
    ownership.set_volume_ownership(str(tmp_path), GROUP, readonly=False, policy="OnRootMismatch")
    assert mode(inner) == 0o660


def test_which_volumes() -> None:
    assert ownership.for_volume(pod([]), "emptyDir") is None  # no fsGroup
    with_group = pod([], fsGroup=GROUP)
    assert ownership.for_volume(with_group, "hostPath") is None
    assert ownership.for_volume(with_group, "secret") is not None


def test_writer_prepares_before_the_swap_and_compares_content_only(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    seen: list[bool] = []

    def prepare(directory: str) -> None:
        seen.append(os.path.exists(os.path.join(directory, "..data", "a")))
        ownership.set_volume_ownership(directory, GROUP, readonly=True)

    assert writer.write(str(target), {"a": File(b"1", 0o400)}, prepare=prepare)
    assert seen == [False]  # the new content was not visible yet
    assert mode(Path(os.path.realpath(target / "a"))) == 0o440
    # the mode prepare added is no difference: nothing is rewritten
    assert not writer.write(str(target), {"a": File(b"1", 0o400)}, prepare=prepare)
    assert writer.write(str(target), {"a": File(b"2", 0o400)}, prepare=prepare)
    assert os.stat(target / "a").st_gid == GROUP


def test_manager_gives_new_volumes_to_the_fs_group(tmp_path: Path) -> None:
    configmap = {"metadata": {"name": "cm"}, "data": {"k": "v"}}
    manager = VolumeManager(
        str(tmp_path),
        configmaps=lambda ns, name: configmap if name == "cm" else None,
        secrets=lambda ns, name: None,
        allocatable=dict,
    )
    volumes = [
        {"name": "scratch", "emptyDir": {}},
        {"name": "config", "configMap": {"name": "cm", "defaultMode": 0o400}},
    ]
    paths, _ = manager.setup(pod(volumes, fsGroup=GROUP))
    scratch, config = Path(paths["scratch"]), Path(paths["config"])
    assert (os.stat(scratch).st_gid, mode(scratch)) == (GROUP, 0o2777)
    assert os.stat(config / "k").st_gid == GROUP
    assert mode(Path(os.path.realpath(config / "k"))) == 0o440
    # later syncs leave what the containers did alone
    (scratch / "private").write_text("x")
    os.chmod(scratch / "private", 0o600)
    manager.setup(pod(volumes, fsGroup=GROUP))
    assert mode(scratch / "private") == 0o600
    # without an fsGroup: upstream's modes, the agent's group
    plain, _ = VolumeManager(
        str(tmp_path / "other"),
        configmaps=lambda ns, name: configmap,
        secrets=lambda ns, name: None,
        allocatable=dict,
    ).setup(pod(volumes))
    assert mode(Path(plain["scratch"])) == 0o777
    assert mode(Path(os.path.realpath(Path(plain["config"]) / "k"))) == 0o400
