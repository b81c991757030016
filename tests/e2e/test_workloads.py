"""Workloads with the real kubectl against ``kyb server --fake-nodes 3``: the seed's scenario
(a Deployment of 2; one pod dies; another takes its place), scaling, rollouts and rollback,
Jobs, nodes, describe."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("workloads")
    home = base / "home"
    home.mkdir()
    running = start_server(base / "data", home, "--fake-nodes", "3")
    try:
        yield running
    finally:
        err = stop_server(running)
        assert "Traceback" not in err, err


def pods(cluster: Cluster, selector: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", "pods", "-l", selector, "-o", "json").stdout
    return list(json.loads(out)["items"])


def wait_until(check: Any, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def running_names(cluster: Cluster, selector: str) -> set[str]:
    return {
        p["metadata"]["name"]
        for p in pods(cluster, selector)
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    }


def test_nodes_are_ready(cluster: Cluster) -> None:
    wait_until(
        lambda: cluster.kubectl("get", "nodes").stdout.count(" Ready ") == 3, what="3 Ready nodes"
    )
    lines = cluster.kubectl("get", "nodes").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]


def test_deployment_heals_scales_and_rolls_back(cluster: Cluster) -> None:
    cluster.kubectl("create", "deployment", "echo", "--image=busybox:1", "--replicas=2")
    cluster.kubectl("rollout", "status", "deployment/echo", "--timeout=60s")
    first = running_names(cluster, "app=echo")
    assert len(first) == 2
    listing = cluster.kubectl("get", "pods", "-l", "app=echo", "-o", "wide").stdout.splitlines()
    assert listing[0].split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert all(" 1/1 " in line and "Running" in line for line in listing[1:])

    victim = sorted(first)[0]
    cluster.kubectl("delete", "pod", victim)
    wait_until(
        lambda: len(running_names(cluster, "app=echo") - {victim}) == 2,
        what="a replacement pod",
    )

    cluster.kubectl("scale", "deployment/echo", "--replicas=10")
    cluster.kubectl("rollout", "status", "deployment/echo", "--timeout=60s")
    wait_until(lambda: len(running_names(cluster, "app=echo")) == 10, what="10 pods")
    out = cluster.kubectl("get", "deployment", "echo").stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert out[1].split()[1:4] == ["10/10", "10", "10"]

    cluster.kubectl("set", "image", "deployment/echo", "busybox=busybox:2")
    cluster.kubectl("rollout", "status", "deployment/echo", "--timeout=90s")
    images = {p["spec"]["containers"][0]["image"] for p in pods(cluster, "app=echo")}
    assert "busybox:2" in images
    history = cluster.kubectl("rollout", "history", "deployment/echo").stdout
    assert "REVISION" in history
    assert "2 " in history

    cluster.kubectl("rollout", "undo", "deployment/echo")
    cluster.kubectl("rollout", "status", "deployment/echo", "--timeout=90s")
    wait_until(
        lambda: (
            {p["spec"]["containers"][0]["image"] for p in pods(cluster, "app=echo")}
            == {"busybox:1"}
        ),
        what="the rollback",
    )

    cluster.kubectl("scale", "deployment/echo", "--replicas=0")
    wait_until(lambda: not pods(cluster, "app=echo"), what="scale to zero")


def test_job_completes(cluster: Cluster) -> None:
    manifest = """
apiVersion: batch/v1
kind: Job
metadata:
  name: count
spec:
  completions: 3
  parallelism: 2
  template:
    metadata:
      annotations:
        kybernetes.io/fake-run-seconds: "1"
    spec:
      restartPolicy: Never
      containers:
      - name: count
        image: busybox:1
        command: ["sh", "-c", "echo done"]
"""
    cluster.kubectl("apply", "-f", "-", input=manifest)
    cluster.kubectl("wait", "--for=condition=complete", "job/count", "--timeout=60s")
    out = cluster.kubectl("get", "job", "count").stdout.splitlines()
    assert out[1].split()[1] == "Complete"
    assert out[1].split()[2] == "3/3"


def test_describe_pod_shows_scheduling_events(cluster: Cluster) -> None:
    cluster.kubectl("run", "solo", "--image=busybox:1", "--restart=Never")
    cluster.kubectl("wait", "--for=condition=Ready", "pod/solo", "--timeout=60s")
    described = cluster.kubectl("describe", "pod", "solo").stdout
    assert [line.split() for line in described.splitlines() if line.startswith("Status:")] == [
        ["Status:", "Running"]
    ]
    assert "Successfully assigned default/solo to kyb-fake-node-" in described


def test_cascading_delete_of_a_deployment(cluster: Cluster) -> None:
    cluster.kubectl("create", "deployment", "gone", "--image=busybox:1", "--replicas=3")
    cluster.kubectl("rollout", "status", "deployment/gone", "--timeout=60s")
    cluster.kubectl("delete", "deployment", "gone")
    wait_until(
        lambda: (
            not pods(cluster, "app=gone")
            and "gone" not in cluster.kubectl("get", "rs", "-o", "name").stdout
        ),
        what="the ReplicaSet and pods to go",
    )
