"""Every component's Prometheus ``/metrics``, each run as its own process, as upstream runs them.

``kyb apiserver`` (scraped through ``kubectl get --raw /metrics``), ``kyb controller-manager``
and ``kyb scheduler`` (their ``--metrics-bind-address``) and a simulated node (``kyb agent
--runtime fake``) to run the pods. A Deployment is created and scheduled; then each endpoint
must show upstream's metric names with values that say what happened. The real node's agent
serves ``/metrics`` on its HTTPS port: ``test_top_real.py`` scrapes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Cluster, free_port, stop_server

pytestmark = pytest.mark.slow

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: busybox}]
"""


def _kyb(*args: str, home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kybernetes", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    return err


@pytest.fixture(scope="module")
def components(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, int, int]]:
    base = tmp_path_factory.mktemp("metrics")
    home = base / "home"
    home.mkdir()
    data = base / "data"
    port = free_port()
    api = _kyb("apiserver", "--data-dir", str(data), "--port", str(port), home=home)
    assert api.stdout is not None
    line = api.stdout.readline()
    if not line.startswith("kybernetes ready"):
        api.kill()
        raise AssertionError(f"kyb apiserver did not start: {line}\n{api.communicate()[1]}")
    cluster = Cluster(data, home, api, f"https://127.0.0.1:{port}")
    kubeconfig = str(cluster.kubeconfig)
    scheduler_port, manager_port = free_port(), free_port()
    others = [
        _kyb(
            "scheduler",
            "--kubeconfig",
            kubeconfig,
            "--no-leader-elect",
            "--metrics-bind-address",
            f"127.0.0.1:{scheduler_port}",
            home=home,
        ),
        _kyb(
            "controller-manager",
            "--kubeconfig",
            kubeconfig,
            "--no-leader-elect",
            "--metrics-bind-address",
            f"127.0.0.1:{manager_port}",
            home=home,
        ),
        _kyb("agent", "--kubeconfig", kubeconfig, "--runtime", "fake", "--nodes", "1", home=home),
    ]
    try:
        yield cluster, scheduler_port, manager_port
    finally:
        errors = [_stop(proc) for proc in others]
        errors.append(stop_server(cluster))
        for err in errors:
            assert "Traceback" not in err, err


def _parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return _parse(response.read().decode())


def _value(samples: Samples, metric: str, /, **labels: str) -> float:
    """The sum of ``metric``'s samples whose labels include ``labels`` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == metric and wanted <= have)


def _names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_every_component_serves_its_metrics(components: tuple[Cluster, int, int]) -> None:
    cluster, scheduler_port, manager_port = components
    _wait(lambda: "Ready" in cluster.kubectl("get", "nodes", check=False).stdout, 60, "the node")
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT)

    def running() -> int:
        out = cluster.kubectl("get", "pods", "-l", "app=web", check=False).stdout
        return out.count("Running")

    _wait(lambda: running() == 2, 90, "two running pods")

    api = _parse(cluster.kubectl("get", "--raw", "/metrics").stdout)
    created = {"verb": "POST", "group": "apps", "version": "v1", "resource": "deployments"}
    assert _value(api, "apiserver_request_total", **created, code="201", scope="namespace") == 1
    assert _value(api, "apiserver_request_duration_seconds_count", **created) == 1
    assert _value(api, "apiserver_request_duration_seconds_sum", **created) > 0
    # the scheduler's binding, a subresource POST by name
    binding = {"verb": "POST", "resource": "pods", "subresource": "binding", "scope": "resource"}
    assert _value(api, "apiserver_request_total", **binding, code="201") == 2
    assert _value(api, "apiserver_request_total", verb="LIST", resource="pods") >= 2
    # informers of three components are watching pods right now
    watching = _value(api, "apiserver_longrunning_requests", verb="WATCH", resource="pods")
    assert watching >= 3
    stored = {"operation": "create", "type": "deployments.apps"}
    assert _value(api, "etcd_request_duration_seconds_count", **stored) == 1
    assert _value(api, "etcd_request_duration_seconds_count", operation="create", type="pods") == 2
    assert _value(api, "apiserver_storage_objects", resource="deployments.apps") == 1
    assert _value(api, "apiserver_storage_objects", resource="pods") == 2
    assert "process_cpu_seconds_total" in _names(api)

    scheduler = _scrape(scheduler_port)
    scheduled = {"result": "scheduled", "profile": "default-scheduler"}
    assert _value(scheduler, "scheduler_schedule_attempts_total", **scheduled) == 2
    attempts = "scheduler_scheduling_attempt_duration_seconds"
    assert _value(scheduler, f"{attempts}_count", **scheduled) == 2
    assert _value(scheduler, f"{attempts}_sum", **scheduled) > 0
    for queue in ("active", "backoff", "unschedulable", "gated"):
        assert _value(scheduler, "scheduler_pending_pods", queue=queue) == 0
    assert "workqueue_depth" not in _names(scheduler)  # a process of its own

    manager = _scrape(manager_port)
    for name in ("deployment", "replicaset"):
        assert ("workqueue_depth", frozenset({("name", name)})) in manager
        assert _value(manager, "workqueue_adds_total", name=name) >= 1
        assert _value(manager, "workqueue_queue_duration_seconds_count", name=name) >= 1
        assert _value(manager, "workqueue_work_duration_seconds_count", name=name) >= 1
    assert "scheduler_schedule_attempts_total" not in _names(manager)
