"""The ``kyb`` command as a user runs it: start, stop, restart, bad flags."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kybernetes.testing.images import busybox_image
from tests.e2e.conftest import start_server, stop_server

KYB = [sys.executable, "-m", "kybernetes"]


def test_version() -> None:
    out = subprocess.run([*KYB, "version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("kybernetes ")


@pytest.mark.slow
def test_server_stops_on_sigterm_and_restarts_with_its_state(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cluster = start_server(tmp_path / "data", home)
    try:
        cluster.kubectl("create", "configmap", "kept", "--from-literal=a=1")
        before = json.loads(cluster.kubectl("get", "cm", "kept", "-o", "json").stdout)
        credentials = cluster.kubeconfig.read_text()
    finally:
        err = stop_server(cluster, signal.SIGTERM)
    assert cluster.proc.returncode == 0, err
    assert "Traceback" not in err
    cluster = start_server(tmp_path / "data", home)
    try:
        after = json.loads(cluster.kubectl("get", "cm", "kept", "-o", "json").stdout)
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        assert after["metadata"]["uid"] == before["metadata"]["uid"]
        # The CA and admin certificate are reused; only the server URL may differ.
        old = [line for line in credentials.splitlines() if "data:" in line]
        new = [line for line in cluster.kubeconfig.read_text().splitlines() if "data:" in line]
        assert old == new
    finally:
        stop_server(cluster)


@pytest.mark.slow
def test_objects_survive_kill_9(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cluster = start_server(tmp_path / "data", home)
    try:
        for i in range(20):
            cluster.kubectl("create", "configmap", f"c{i}", f"--from-literal=i={i}")
        listed = json.loads(cluster.kubectl("get", "cm", "-o", "json").stdout)
    finally:
        stop_server(cluster, signal.SIGKILL)
    cluster = start_server(tmp_path / "data", home)
    try:
        again = json.loads(cluster.kubectl("get", "cm", "-o", "json").stdout)
        mine = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in listed["items"]}
        now = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in again["items"]}
        assert now == mine
        cluster.kubectl("create", "configmap", "after-crash")
        newest = json.loads(cluster.kubectl("get", "cm", "after-crash", "-o", "json").stdout)
        assert int(newest["metadata"]["resourceVersion"]) > max(int(v) for v in mine.values())
    finally:
        stop_server(cluster)


def test_bad_option_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [*KYB, "server", "--data-dir", str(tmp_path), "--storage", "etcd", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == "kyb server: --storage etcd needs --etcd-servers"


@pytest.mark.slow
def test_image_import_ls_rm(tmp_path: Path) -> None:
    """``kyb image import|ls|rm`` on the node's store, as an operator uses them."""
    archive = busybox_image().write_oci(
        tmp_path / "busybox.tar", name="example.com/tools/busybox:1.36"
    )
    data = tmp_path / "data"

    def kyb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kybernetes", "image", *args, "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    imported = kyb("import", str(archive))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("imported example.com/tools/busybox:1.36 sha256:")
    listed = kyb("ls").stdout.splitlines()
    assert listed[0].split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert listed[1].split()[:2] == ["example.com/tools/busybox", "1.36"]
    removed = kyb("rm", "example.com/tools/busybox:1.36")
    assert removed.stdout.startswith("Deleted: sha256:")
    assert len(kyb("ls").stdout.splitlines()) == 1
    missing = kyb("rm", "nope")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "kyb image rm: no such image: nope"
