"""Operators running unchanged against a real ``kyb server``: the kopf example and the
``kubernetes``-client watch-loop example each turn a MonitoringEndpoint into a ConfigMap that
follows updates and goes away with the object."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, start_server, stop_server

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def operator_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("operator-cluster")
    home = base / "home"
    home.mkdir()
    running = start_server(base / "data", home)
    try:
        running.kubectl("apply", "-f", str(EXAMPLES / "monitoringendpoint-crd.yaml"))
        yield running
    finally:
        err = stop_server(running)
        assert "Traceback" not in err, err


def _start(cluster: Cluster, *args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOME": str(cluster.home), "KUBECONFIG": str(cluster.kubeconfig)}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, *args], stdout=out, stderr=subprocess.STDOUT, env=env
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _eventually(check: Callable[[], bool], what: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; operator log:\n{log.read_text()[-4000:]}")


def _configmap(cluster: Cluster, name: str) -> dict[str, str] | None:
    out = cluster.kubectl("get", "configmap", name, "-o", "json", check=False)
    if out.returncode != 0:
        return None
    data: dict[str, str] = json.loads(out.stdout).get("data") or {}
    return data


def _endpoint(name: str, url: str) -> str:
    return (
        "apiVersion: example.kybernetes.io/v1\nkind: MonitoringEndpoint\n"
        f"metadata:\n  name: {name}\nspec:\n  url: {url}\n"
    )


def _scenario(cluster: Cluster, name: str, log: Path) -> dict[str, object]:
    cluster.kubectl("apply", "-f", "-", input=_endpoint(name, "https://a.example"))
    cm = f"monitoring-{name}"
    _eventually(
        lambda: (_configmap(cluster, cm) or {}).get("url") == "https://a.example",
        "the ConfigMap",
        log,
    )
    assert _configmap(cluster, cm) == {"url": "https://a.example", "interval": "30"}
    cluster.kubectl(
        "patch", "monitoringendpoint", name, "--type=merge", "-p", '{"spec":{"interval":5}}'
    )
    _eventually(lambda: (_configmap(cluster, cm) or {}).get("interval") == "5", "the update", log)
    obj = json.loads(cluster.kubectl("get", "me", name, "-o", "json").stdout)
    cluster.kubectl("delete", "monitoringendpoint", name, timeout=60)
    _eventually(lambda: _configmap(cluster, cm) is None, "the ConfigMap to go", log)
    status: dict[str, object] = obj.get("status") or {}
    return status


def test_kopf_operator(operator_cluster: Cluster, tmp_path: Path) -> None:
    log = tmp_path / "kopf.log"
    proc = _start(
        operator_cluster,
        "-m",
        "kopf",
        "run",
        "--standalone",
        "--namespace",
        "default",
        str(EXAMPLES / "kopf-operator.py"),
        log=log,
    )
    try:
        status = _scenario(operator_cluster, "kopf-site", log)
        assert status.get("create") == {"configMap": "monitoring-kopf-site"}
        events = operator_cluster.kubectl("get", "events", "-o", "json").stdout
        reasons = {e.get("reason") for e in json.loads(events)["items"]}
        assert "Created" in reasons
        assert proc.poll() is None, log.read_text()
    finally:
        _stop(proc)


def test_kopf_timer_writes_status(operator_cluster: Cluster, tmp_path: Path) -> None:
    log = tmp_path / "kopf.log"
    proc = _start(
        operator_cluster,
        "-m",
        "kopf",
        "run",
        "--standalone",
        "--namespace",
        "default",
        str(EXAMPLES / "kopf-operator.py"),
        log=log,
    )
    try:
        operator_cluster.kubectl("apply", "-f", "-", input=_endpoint("beat", "http://b.example"))

        def beats() -> bool:
            out = operator_cluster.kubectl("get", "me", "beat", "-o", "json", check=False)
            status = json.loads(out.stdout).get("status") or {} if out.returncode == 0 else {}
            return int(status.get("heartbeats", 0)) >= 2

        _eventually(beats, "two timer heartbeats", log)
        operator_cluster.kubectl("delete", "me", "beat", timeout=60)
        _eventually(lambda: _configmap(operator_cluster, "monitoring-beat") is None, "cleanup", log)
    finally:
        _stop(proc)


def test_watch_loop_operator(operator_cluster: Cluster, tmp_path: Path) -> None:
    log = tmp_path / "watch.log"
    proc = _start(operator_cluster, str(EXAMPLES / "operator-watch.py"), log=log)
    try:
        status = _scenario(operator_cluster, "watch-site", log)
        assert status.get("configMap") == "monitoring-watch-site"
        assert proc.poll() is None, log.read_text()
    finally:
        _stop(proc)
