"""``kubectl top`` and ``kubectl autoscale`` against ``kyb server --fake-nodes 2``.

Simulated pods use what their ``kybernetes.io/fake-cpu-millicores`` and ``fake-memory``
annotations say; the nodes push usage every 15 s and the HPA syncs every 15 s (the upstream
defaults), so each step waits up to a couple of minutes of real time.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.conftest import Cluster, start_server, stop_server

pytestmark = pytest.mark.slow

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: burner
spec:
  replicas: 1
  selector:
    matchLabels: {app: burner}
  template:
    metadata:
      labels: {app: burner}
    spec:
      containers:
      - name: burn
        image: busybox
        resources:
          requests: {cpu: 100m, memory: 64Mi}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("tophpa")
    home = base / "home"
    home.mkdir()
    running = start_server(base / "data", home, "--fake-nodes", "2")
    try:
        yield running
    finally:
        err = stop_server(running)
        assert "Traceback" not in err, err


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1.0)


def replicas(cluster: Cluster) -> int:
    out = cluster.kubectl("get", "deployment", "burner", "-o", "json").stdout
    return int(json.loads(out)["spec"]["replicas"])


@pytest.mark.timeout(600)
def test_top_and_autoscale(cluster: Cluster) -> None:
    def top_nodes() -> str:
        return cluster.kubectl("top", "nodes", check=False).stdout

    wait_until(lambda: top_nodes().count("kyb-fake-node-") == 2, 60, "kubectl top nodes")
    header = top_nodes().splitlines()[0].split()
    assert header == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]

    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT)
    wait_until(
        lambda: "Running" in cluster.kubectl("get", "pods", "-l", "app=burner").stdout,
        60,
        "the pod running",
    )
    cluster.kubectl(
        "annotate",
        "pods",
        "-l",
        "app=burner",
        "kybernetes.io/fake-cpu-millicores=20",
        "kybernetes.io/fake-memory=32Mi",
        "--overwrite",
    )

    def top_pods() -> str:
        return cluster.kubectl("top", "pods", "-l", "app=burner", check=False).stdout

    wait_until(lambda: re.search(r"burner-\S+\s+20m\s+32Mi", top_pods()) is not None, 60, "top")
    assert top_pods().splitlines()[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]

    cluster.kubectl("autoscale", "deployment", "burner", "--cpu-percent=50", "--min=1", "--max=5")

    def hpa_line() -> str:
        return cluster.kubectl("get", "hpa", "burner", check=False).stdout

    wait_until(lambda: "cpu: 20%/50%" in hpa_line(), 90, "the HPA's first metrics")
    header = hpa_line().splitlines()[0].split()
    assert header == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert replicas(cluster) == 1

    # Load: 200 % of the request, four times the target.
    cluster.kubectl(
        "annotate",
        "pods",
        "-l",
        "app=burner",
        "kybernetes.io/fake-cpu-millicores=200",
        "--overwrite",
    )
    wait_until(lambda: replicas(cluster) == 4, 150, "the HPA to scale to 4")
    described = cluster.kubectl("describe", "hpa", "burner").stdout
    assert "SuccessfulRescale" in described
    assert "New size: 4; reason: cpu resource utilization (percentage of request) above target" in (
        described
    )
    wait_until(
        lambda: (
            len(
                [
                    line
                    for line in cluster.kubectl(
                        "get", "pods", "-l", "app=burner"
                    ).stdout.splitlines()
                    if "Running" in line
                ]
            )
            == 4
        ),
        60,
        "4 running pods",
    )
    wait_until(lambda: "cpu: 50%/50%" in hpa_line(), 90, "usage spread over 4 pods")
