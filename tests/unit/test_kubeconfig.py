"""Kubeconfig files: written, loaded back, merged into a user's file, read by real kubectl."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kybernetes.client import kubeconfig as kc
from kybernetes.client.kubeconfig import (
    KubeconfigError,
    default_kubeconfig_path,
    load_kubeconfig,
    merge_into,
    write_admin_kubeconfig,
)
from kybernetes.util.pki import ClusterPKI, ensure_cluster_pki

SERVER = "https://127.0.0.1:6443"

OTHER_CONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    insecure-skip-tls-verify: true
- name: kybernetes
  cluster:
    server: https://stale.example:1
users:
- name: prod-admin
  user:
    token: prod-secret
- name: kybernetes
  user:
    token: stale
contexts:
- name: prod
  context:
    cluster: prod
    user: prod-admin
    namespace: web
- name: kybernetes
  context:
    cluster: kybernetes
    user: kybernetes
current-context: prod
preferences:
  colors: true
extensions:
- name: something
  extension: {kept: 1}
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> ClusterPKI:
    return ensure_cluster_pki(tmp_path_factory.mktemp("data"), hosts=[])


def kubectl_view(path: Path, home: Path) -> dict[str, Any]:
    home.mkdir(exist_ok=True)
    out = subprocess.run(
        ["kubectl", "config", "view", "--kubeconfig", str(path), "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)},
    )
    view: dict[str, Any] = json.loads(out.stdout)
    return view


def names(config: dict[str, Any], section: str) -> list[str]:
    return [item["name"] for item in config.get(section) or []]


def test_write_then_load_round_trip(tmp_path: Path, pki: ClusterPKI) -> None:
    path = tmp_path / "kubeconfig"
    written = write_admin_kubeconfig(path, SERVER, pki)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entry = load_kubeconfig(path)
    assert entry == written
    assert entry.context_name == "kybernetes"
    assert entry.user_name == "admin"
    assert entry.server == SERVER
    assert entry.certificate_authority == pki.ca.cert_pem
    assert entry.client_certificate == pki.admin.cert_pem
    assert entry.client_key == pki.admin.key_pem
    assert entry.token is None
    assert not entry.insecure_skip_tls_verify
    raw = yaml.safe_load(path.read_text())
    assert raw["current-context"] == "kybernetes"
    cluster = raw["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == pki.ca.cert_pem


def test_kubectl_reads_what_we_write(tmp_path: Path, pki: ClusterPKI) -> None:
    path = tmp_path / "kubeconfig"
    write_admin_kubeconfig(path, SERVER, pki)
    view = kubectl_view(path, tmp_path / "home")
    assert view["current-context"] == "kybernetes"
    (ctx,) = view["contexts"]
    assert ctx == {"name": "kybernetes", "context": {"cluster": "kybernetes", "user": "admin"}}
    (cluster,) = view["clusters"]
    assert cluster["cluster"]["server"] == SERVER
    assert "certificate-authority-data" in cluster["cluster"]
    (user,) = view["users"]
    assert set(user["user"]) == {"client-certificate-data", "client-key-data"}


def test_load_resolves_files_tokens_and_flags(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_bytes(b"CA PEM")
    (tmp_path / "tok").write_text("file-token\n")
    path = tmp_path / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "a",
                        "cluster": {"server": "https://a", "certificate-authority": "certs/ca.pem"},
                    },
                    {
                        "name": "b",
                        "cluster": {"server": "https://b", "insecure-skip-tls-verify": True},
                    },
                ],
                "users": [
                    {"name": "ua", "user": {"token": "inline-token"}},
                    {"name": "ub", "user": {"tokenFile": str(tmp_path / "tok")}},
                    {"name": "ux", "user": {"exec": {"command": "x"}}},
                ],
                "contexts": [
                    {"name": "ca", "context": {"cluster": "a", "user": "ua", "namespace": "ns1"}},
                    {"name": "cb", "context": {"cluster": "b", "user": "ub"}},
                    {"name": "cx", "context": {"cluster": "b", "user": "ux"}},
                    {"name": "ghost", "context": {"cluster": "nope", "user": "ua"}},
                ],
                "current-context": "ca",
            }
        )
    )
    a = load_kubeconfig(path)
    assert (a.server, a.certificate_authority, a.token, a.namespace) == (
        "https://a",
        b"CA PEM",
        "inline-token",
        "ns1",
    )
    b = load_kubeconfig(path, context="cb")
    assert b.insecure_skip_tls_verify
    assert b.token == "file-token"
    assert b.certificate_authority is None
    with pytest.raises(KubeconfigError, match="exec"):
        load_kubeconfig(path, context="cx")
    with pytest.raises(KubeconfigError, match="no cluster named 'nope'"):
        load_kubeconfig(path, context="ghost")
    with pytest.raises(KubeconfigError, match="no context named 'missing'"):
        load_kubeconfig(path, context="missing")
    with pytest.raises(KubeconfigError, match="cannot read"):
        load_kubeconfig(tmp_path / "absent")


def test_merge_keeps_other_entries_and_replaces_ours(tmp_path: Path, pki: ClusterPKI) -> None:
    path = tmp_path / ".kube" / "config"
    path.parent.mkdir()
    path.write_text(OTHER_CONFIG)
    path.chmod(0o644)
    source = tmp_path / "kubeconfig"
    entry = write_admin_kubeconfig(source, SERVER, pki)
    merge_into(path, "kybernetes", entry.cluster_dict(), entry.user_dict(), entry.context_dict())

    merged = yaml.safe_load(path.read_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert names(merged, "clusters") == ["prod", "kybernetes"]
    assert names(merged, "users") == ["prod-admin", "kybernetes"]
    assert names(merged, "contexts") == ["prod", "kybernetes"]
    assert merged["current-context"] == "kybernetes"
    assert merged["preferences"] == {"colors": True}
    assert merged["extensions"] == [{"name": "something", "extension": {"kept": 1}}]
    assert merged["users"][0] == {"name": "prod-admin", "user": {"token": "prod-secret"}}
    assert merged["contexts"][0]["context"]["namespace"] == "web"

    ours = load_kubeconfig(path)
    assert (ours.server, ours.user_name, ours.cluster_name) == (SERVER, "kybernetes", "kybernetes")
    assert ours.client_certificate == pki.admin.cert_pem
    assert ours.certificate_authority == pki.ca.cert_pem
    assert load_kubeconfig(path, context="prod").token == "prod-secret"

    view = kubectl_view(path, tmp_path / "home")
    assert view["current-context"] == "kybernetes"
    assert {"prod", "kybernetes"} == set(names(view, "contexts"))
    assert not (path.parent / "config.lock").exists()
    assert sorted(p.name for p in path.parent.iterdir()) == ["config"]


def test_merge_without_set_current_keeps_the_users_choice(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(OTHER_CONFIG)
    merge_into(path, "kybernetes", {"server": SERVER}, {"token": "t"}, set_current=False)
    assert yaml.safe_load(path.read_text())["current-context"] == "prod"
    assert load_kubeconfig(path, context="kybernetes").token == "t"


def test_merge_into_missing_file_and_directory(tmp_path: Path, pki: ClusterPKI) -> None:
    path = tmp_path / "home" / ".kube" / "config"
    entry = write_admin_kubeconfig(tmp_path / "kc", SERVER, pki)
    merge_into(path, "kybernetes", entry.cluster_dict(), entry.user_dict(), entry.context_dict())
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_kubeconfig(path)
    assert loaded.context_name == "kybernetes"
    assert loaded.client_key == pki.admin.key_pem
    merge_into(path, "kybernetes", entry.cluster_dict(), entry.user_dict(), entry.context_dict())
    assert names(yaml.safe_load(path.read_text()), "clusters") == ["kybernetes"]


def test_merge_into_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("")
    merge_into(path, "kybernetes", {"server": SERVER}, {"token": "t"})
    assert load_kubeconfig(path).server == SERVER


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("clusters: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "not a mapping"),
        ("clusters: {name: x}\n", "'clusters' is not a list"),
        ("\tkind: Config\n", "not valid YAML"),
    ],
)
def test_corrupt_file_is_left_alone_with_a_clear_error(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "config"
    path.write_text(content)
    path.chmod(0o640)
    before = path.stat()
    with pytest.raises(KubeconfigError, match=message) as info:
        merge_into(path, "kybernetes", {"server": SERVER}, {"token": "t"})
    assert str(path) in str(info.value)
    assert path.read_text() == content
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, stat.S_IMODE(after.st_mode)) == (
        before.st_ino,
        before.st_mtime_ns,
        0o640,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


def test_merge_respects_a_held_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config"
    path.write_text(OTHER_CONFIG)
    (tmp_path / "config.lock").write_text("")
    monkeypatch.setattr(kc, "_LOCK_WAIT_S", 0.1)
    with pytest.raises(KubeconfigError, match=r"config\.lock exists"):
        merge_into(path, "kybernetes", {"server": SERVER}, {"token": "t"})
    assert path.read_text() == OTHER_CONFIG


def test_default_kubeconfig_path(tmp_path: Path) -> None:
    assert default_kubeconfig_path(home=tmp_path) == tmp_path / ".kube" / "config"
    assert default_kubeconfig_path("", home=tmp_path) == tmp_path / ".kube" / "config"
    assert default_kubeconfig_path(str(tmp_path / "one")) == tmp_path / "one"
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    env = os.pathsep.join(map(str, (a, b, c)))
    assert default_kubeconfig_path(env) == c  # none exists: the last one
    b.write_text("")
    assert default_kubeconfig_path(env) == b  # the first that exists
