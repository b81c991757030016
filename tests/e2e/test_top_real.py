"""``kubectl top`` and a HorizontalPodAutoscaler on a real node with real containers (as root).

The node pushes its usage every 3 s and the HPA controller syncs every 3 s (hidden test flags;
15 s each by default), so each step waits seconds, not minutes.

- A busybox CPU burner (limited to 500m, holding 24 MiB in its /dev/shm): ``kubectl top pod``
  and ``kubectl top node`` show numbers, and the pod's CPU and memory are within 20 % of what
  this test reads itself from the pod's cgroup — CPU over the very window the metric covers,
  from cpuacct.usage sampled every half second. The agent's own ``/stats/summary``,
  ``/metrics/resource`` and ``/metrics`` (port 10250's protocol, the admin's certificate) say
  the same.
- A Deployment of burners that burn while ``/tmp/load`` exists, under an autoscaling/v2 HPA
  (50 % of a 50m request, short stabilization windows): it scales up to its maximum under
  load, and back down to one replica once ``kubectl exec`` removed every pod's file.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kybernetes.agent.kubelet.resources import cgroup_parent
from kybernetes.api.meta import parse_time
from kybernetes.api.quantity import parse_quantity
from kybernetes.client.kubeconfig import load_kubeconfig
from kybernetes.client.rest import tls_client_context
from kybernetes.testing.images import busybox_image
from tests.e2e.conftest import Cluster, RealNodeCluster, real_node_cluster

pytestmark = [pytest.mark.slow, pytest.mark.root]

IMAGE = "example.com/busybox:1"
INTERVAL = 3
FLAGS = (
    "--node-stats-interval",
    f"{INTERVAL}s",
    "--horizontal-pod-autoscaler-sync-period",
    f"{INTERVAL}s",
)
MiB = 1 << 20
CGROUPS = Path("/sys/fs/cgroup")
BURN = "dd if=/dev/zero of=/dev/shm/hold bs=1M count=24 2>/dev/null; while :; do :; done"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealNodeCluster]:
    base = tmp_path_factory.mktemp("topreal")
    archive = busybox_image().write_oci(base / "busybox.tar", name=IMAGE)
    with real_node_cluster(base, [archive], FLAGS) as running:
        yield running


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def get_json(cluster: Cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def near(measured: float, expected: float, tolerance: float = 0.2) -> bool:
    return abs(measured - expected) <= tolerance * expected


class CgroupSampler:
    """cpuacct.usage of a cgroup every half second, with the wall time of each reading."""

    def __init__(self, path: str) -> None:
        self.file = CGROUPS / "cpuacct" / path.lstrip("/") / "cpuacct.usage"
        self.times: list[float] = []
        self.values: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CgroupSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            value = int(self.file.read_text())
            self.times.append(time.time())
            self.values.append(value)
            self._stop.wait(0.5)

    def _at(self, when: float) -> float:
        """The counter at ``when``, interpolated between the two readings around it."""
        i = bisect.bisect_left(self.times, when)
        assert 0 < i < len(self.times), "no readings around the metric's window"
        t0, t1 = self.times[i - 1], self.times[i]
        v0, v1 = self.values[i - 1], self.values[i]
        return v0 + (v1 - v0) * (when - t0) / (t1 - t0)

    def cores(self, start: float, end: float) -> float:
        """CPU used between two wall times, in cores."""
        return (self._at(end) - self._at(start)) / 1e9 / (end - start)


def working_set(path: str) -> int:
    memory = CGROUPS / "memory" / path.lstrip("/")
    usage = int((memory / "memory.usage_in_bytes").read_text())
    stat = dict(line.split() for line in (memory / "memory.stat").read_text().splitlines())
    return usage - int(stat["total_inactive_file"])


def millicores(text: str) -> float:
    return parse_quantity(text).milli_value()


def size(text: str) -> int:
    return parse_quantity(text).value()


def agent_get(cluster: Cluster, path: str) -> bytes:
    """GET ``path`` from the node agent's HTTPS server, as the admin (system:masters)."""
    node = get_json(cluster, "nodes")["items"][0]
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    entry = load_kubeconfig(cluster.kubeconfig)
    context = tls_client_context(
        entry.certificate_authority, entry.client_certificate, entry.client_key
    )
    url = f"https://127.0.0.1:{port}{path}"
    with urllib.request.urlopen(url, context=context, timeout=10) as response:
        return bytes(response.read())


def test_top_shows_the_cgroup_numbers(node: RealNodeCluster) -> None:
    cluster = node.current
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "burner"},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "burn",
                    "image": IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", BURN],
                    "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "500m"}},
                }
            ],
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
    cluster.kubectl("wait", "--for=condition=Ready", "pod/burner", "--timeout=60s")
    path = cgroup_parent(get_json(cluster, "pod", "burner"), f"kybernetes-{node.instance}")

    with CgroupSampler(path) as sampler:

        def metric() -> Any:
            result = cluster.kubectl(
                "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/burner",
                check=False,
            )  # fmt: skip
            return json.loads(result.stdout) if result.returncode == 0 else None

        # metrics need two samples; then take one whose window the sampler saw whole
        first = wait_until(metric, 60, "the pod's metrics")
        stamp = parse_time(first["timestamp"]).timestamp()
        wait_until(lambda: sampler.times[-1] > stamp + INTERVAL + 1, 30, "readings after it")
        found = wait_until(
            lambda: (m := metric()) is not None and m["timestamp"] != first["timestamp"] and m,
            30,
            "the next sample",
        )
        time.sleep(1.5)  # readings past the end of its window
        end = parse_time(found["timestamp"]).timestamp()
        window = float(found["window"].removesuffix("s"))
        assert window == INTERVAL
        usage = found["containers"][0]["usage"]
        reported = millicores(usage["cpu"])
        measured = sampler.cores(end - window, end) * 1000
        # the stamp is truncated to whole seconds: the sample was taken up to 1 s after it
        later = sampler.cores(end + 1 - window, end + 1) * 1000
        assert near(reported, measured) or near(reported, later), (reported, measured, later)
        assert 300 < reported < 600  # the limit is 500m

        memory = working_set(path)
        assert memory > 24 * MiB
        assert near(size(usage["memory"]), memory), (usage["memory"], memory)

        top = cluster.kubectl("top", "pod", "burner").stdout.splitlines()
        assert top[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
        name, cpu, mem = top[1].split()
        assert name == "burner"
        last = sampler.times[-1]
        assert near(millicores(cpu), sampler.cores(last - 2 * INTERVAL, last) * 1000)
        assert near(size(mem), working_set(path))

    top_node = cluster.kubectl("top", "node").stdout.splitlines()
    assert top_node[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    _, cpu, cpu_percent, mem, mem_percent = top_node[1].split()
    assert millicores(cpu) >= 0.8 * reported  # the node runs the burner and more
    assert int(cpu_percent.rstrip("%")) > 0
    assert size(mem) > memory
    assert int(mem_percent.rstrip("%")) >= 0

    # the agent's own endpoints, as metrics-server and Prometheus read them
    summary = json.loads(agent_get(cluster, "/stats/summary"))
    [pod_stats] = [p for p in summary["pods"] if p["podRef"]["name"] == "burner"]
    assert pod_stats["network"]["name"] == "eth0"
    assert pod_stats["network"]["rxBytes"] >= 0
    container = pod_stats["containers"][0]
    assert container["rootfs"]["usedBytes"] > 0
    assert container["logs"]["inodesUsed"] >= 1
    assert container["memory"]["workingSetBytes"] > 24 * MiB
    assert summary["node"]["fs"]["capacityBytes"] > 0
    assert summary["node"]["memory"]["workingSetBytes"] > 0

    def samples(text: bytes) -> dict[str, float]:
        return {
            s.name: s.value
            for family in text_string_to_metric_families(text.decode())
            for s in family.samples
            if not s.labels or s.labels.get("pod") in ("burner", None)
        }

    resource = samples(agent_get(cluster, "/metrics/resource"))
    assert resource["container_cpu_usage_seconds_total"] > 0
    assert resource["container_memory_working_set_bytes"] > 24 * MiB
    assert resource["node_cpu_usage_seconds_total"] > resource["pod_cpu_usage_seconds_total"]
    agent_metrics = samples(agent_get(cluster, "/metrics"))
    assert agent_metrics["kubelet_pod_start_duration_seconds_count"] >= 1
    assert agent_metrics["kubelet_pod_worker_duration_seconds_count"] >= 1
    cluster.kubectl("delete", "pod", "burner", "--wait=true", "--timeout=60s")


SPINNER = "touch /tmp/load; while :; do if [ -e /tmp/load ]; then :; else sleep 1; fi; done"
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "spinner"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "spinner"}},
        "template": {
            "metadata": {"labels": {"app": "spinner"}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "spin",
                        "image": IMAGE,
                        "imagePullPolicy": "Never",
                        "command": ["sh", "-c", SPINNER],
                        "resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "200m"}},
                    }
                ],
            },
        },
    },
}
HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "spinner"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "spinner"},
        "minReplicas": 1,
        "maxReplicas": 3,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 50},
                },
            }
        ],
        "behavior": {
            "scaleUp": {
                "stabilizationWindowSeconds": 0,
                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 5}],
            },
            "scaleDown": {
                "stabilizationWindowSeconds": 6,
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 5}],
            },
        },
    },
}


def test_hpa_scales_a_burner_up_under_load_and_down_after(node: RealNodeCluster) -> None:
    cluster = node.current
    cluster.kubectl("apply", "-f", "-", input=json.dumps(DEPLOYMENT))
    cluster.kubectl("rollout", "status", "deployment/spinner", "--timeout=60s")
    cluster.kubectl("apply", "-f", "-", input=json.dumps(HPA))

    def replicas() -> int:
        return int(get_json(cluster, "deployment", "spinner")["spec"]["replicas"])

    def running_pods() -> list[str]:
        pods = get_json(cluster, "pods", "-l", "app=spinner")["items"]
        return [
            p["metadata"]["name"]
            for p in pods
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
        ]

    wait_until(lambda: replicas() == 3, 90, "the HPA to scale up to 3")
    hpa = get_json(cluster, "hpa", "spinner")
    assert hpa["status"]["desiredReplicas"] == 3
    [current] = hpa["status"]["currentMetrics"]
    assert current["resource"]["current"]["averageUtilization"] > 100  # ~400 % of 50m
    described = cluster.kubectl("describe", "hpa", "spinner").stdout
    assert "New size: 3; reason: cpu resource utilization (percentage of request) above target" in (
        described
    )
    pods = wait_until(lambda: len(p := running_pods()) == 3 and p, 60, "3 running pods")
    cluster.kubectl("rollout", "status", "deployment/spinner", "--timeout=60s")

    for name in pods:  # the load stops
        cluster.kubectl("exec", name, "--", "rm", "-f", "/tmp/load")
    wait_until(lambda: replicas() == 1, 120, "the HPA to scale down to 1")
    described = cluster.kubectl("describe", "hpa", "spinner").stdout
    assert "New size: 1; reason: All metrics below target" in described
    wait_until(lambda: len(running_pods()) == 1, 60, "one pod left")
    hpa_line = cluster.kubectl("get", "hpa", "spinner").stdout
    assert re.search(r"cpu: \d+%/50%", hpa_line), hpa_line
