"""Real containers: ``kyb server --runtime runc`` as root, driven by the real kubectl.

The node runs pods with runc, overlayfs rootfs from an image imported with ``kyb image
import``, a pod network on its own bridge, cgroup limits, probes and volumes. The server's node
objects are named after a per-run instance (bridge, nftables table, cgroup root), and the test
removes them, and checks nothing of its pods is left on the host.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from kybernetes.testing.images import busybox_image
from tests.e2e.conftest import Cluster, RealNodeCluster, real_node_cluster

pytestmark = [pytest.mark.slow, pytest.mark.root]

IMAGE = "example.com/busybox:1"


def _require_root() -> None:
    if os.geteuid() != 0:
        raise AssertionError("real containers need root: run this suite as root (CI does)")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealNodeCluster]:
    base = tmp_path_factory.mktemp("containers")
    archive = busybox_image().write_oci(base / "busybox.tar", name=IMAGE)
    with real_node_cluster(base, [archive]) as running:
        yield running


@pytest.fixture
def cluster(node: RealNodeCluster) -> Cluster:
    return node.current


def pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> str:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": containers, **spec},
    }
    return json.dumps(body)


def container(name: str, command: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": IMAGE,
        "imagePullPolicy": "Never",
        "command": ["sh", "-c", command],
        **extra,
    }


def get(cluster: Cluster, name: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl("get", "pod", name, "-o", "json").stdout))


def wait_until(check: Any, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def phase(cluster: Cluster, name: str) -> str:
    return str(get(cluster, name)["status"].get("phase", ""))


def test_a_busybox_pod_runs_and_reports_its_exit(cluster: Cluster) -> None:
    spec = pod(
        "hello",
        [
            container(
                "hello",
                "echo hello from $(hostname); exit 3",
                terminationMessagePolicy="FallbackToLogsOnError",
            )
        ],
        restartPolicy="Never",
    )
    cluster.kubectl("apply", "-f", "-", input=spec)
    wait_until(lambda: phase(cluster, "hello") == "Failed", what="the pod to fail")
    (status,) = get(cluster, "hello")["status"]["containerStatuses"]
    terminated = status["state"]["terminated"]
    assert terminated["exitCode"] == 3
    assert terminated["reason"] == "Error"
    assert terminated["message"].strip() == "hello from hello"
    assert status["containerID"].startswith("runc://")
    listed = cluster.kubectl("get", "pod", "hello").stdout.splitlines()[1].split()
    assert listed[1:3] == ["0/1", "Error"]


def test_containers_of_a_pod_share_localhost(cluster: Cluster) -> None:
    probe = (
        "until wget -q -S -O /dev/null http://127.0.0.1:8080/ 2>&1 | grep -q HTTP/; "
        "do sleep 0.2; done"
    )
    spec = pod(
        "duo",
        [
            container("server", "exec httpd -f -p 8080"),
            container("client", probe),
        ],
    )
    cluster.kubectl("apply", "-f", "-", input=spec)

    def client_done() -> bool:
        statuses = get(cluster, "duo")["status"].get("containerStatuses") or []
        client = next((s for s in statuses if s["name"] == "client"), {})
        state = client.get("state", {}).get("terminated") or client.get("lastState", {}).get(
            "terminated"
        )
        return bool(state) and state["exitCode"] == 0

    wait_until(client_done, what="the client container to reach the server")
    ip = get(cluster, "duo")["status"]["podIP"]
    assert ip.startswith("10.42.")


def test_crash_loop_backs_off(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=pod("crash", [container("crash", "exit 1")]))

    def backing_off() -> bool:
        statuses = get(cluster, "crash")["status"].get("containerStatuses") or []
        return bool(statuses) and (
            statuses[0].get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
        )

    wait_until(backing_off, timeout=60, what="CrashLoopBackOff")
    (status,) = get(cluster, "crash")["status"]["containerStatuses"]
    assert status["restartCount"] >= 1
    assert status["lastState"]["terminated"]["exitCode"] == 1
    described = cluster.kubectl("describe", "pod", "crash").stdout
    assert "Back-off restarting failed container crash in pod crash_default" in described


def test_memory_hog_is_oom_killed(cluster: Cluster) -> None:
    hog = container(
        "hog",
        "dd if=/dev/zero of=/dev/shm/fill bs=1M count=64; tail /dev/zero",
        resources={"limits": {"memory": "16Mi"}},
    )
    cluster.kubectl("apply", "-f", "-", input=pod("hog", [hog], restartPolicy="Never"))

    def killed() -> bool:
        statuses = get(cluster, "hog")["status"].get("containerStatuses") or []
        terminated = statuses[0].get("state", {}).get("terminated") if statuses else None
        return bool(terminated)

    wait_until(killed, what="the OOM kill")
    (status,) = get(cluster, "hog")["status"]["containerStatuses"]
    assert status["state"]["terminated"]["reason"] == "OOMKilled"
    assert status["state"]["terminated"]["exitCode"] == 137


def test_init_container_and_config_map_volume(cluster: Cluster) -> None:
    cluster.kubectl("create", "configmap", "settings", "--from-literal=greeting=hi")
    spec = pod(
        "prepared",
        [
            container(
                "app",
                'test "$(cat /work/ready)" = yes && test "$(cat /config/greeting)" = hi',
                volumeMounts=[
                    {"name": "work", "mountPath": "/work"},
                    {"name": "config", "mountPath": "/config"},
                ],
            )
        ],
        initContainers=[
            container(
                "init",
                "echo -n yes > /work/ready",
                volumeMounts=[{"name": "work", "mountPath": "/work"}],
            )
        ],
        volumes=[
            {"name": "work", "emptyDir": {}},
            {"name": "config", "configMap": {"name": "settings"}},
        ],
        restartPolicy="Never",
    )
    cluster.kubectl("apply", "-f", "-", input=spec)
    wait_until(lambda: phase(cluster, "prepared") in ("Succeeded", "Failed"), what="the pod")
    assert phase(cluster, "prepared") == "Succeeded"


ECHO = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 2
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      containers:
      - name: echo
        image: example.com/busybox:1
        imagePullPolicy: Never
        command:
        - sh
        - -c
        - mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /, port: http}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  type: NodePort
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: echo
spec:
  rules:
  - host: echo.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: echo, port: {number: 80}}
"""


def _http_get(url: str, host: str | None = None) -> str:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(response.read().decode().strip())


def test_echo_app_reachable_by_name_service_nodeport_and_ingress(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=ECHO)
    cluster.kubectl("rollout", "status", "deployment/echo", "--timeout=90s")
    names = {
        p["metadata"]["name"]
        for p in json.loads(cluster.kubectl("get", "pods", "-l", "app=echo", "-o", "json").stdout)[
            "items"
        ]
    }
    # From a pod: the Service's DNS name through the cluster DNS, then its ClusterIP.
    client = container(
        "client",
        "wget -q -O /dev/termination-log http://echo.default.svc.cluster.local/",
    )
    cluster.kubectl("apply", "-f", "-", input=pod("dns-client", [client], restartPolicy="Never"))
    wait_until(
        lambda: phase(cluster, "dns-client") in ("Succeeded", "Failed"), what="the DNS client"
    )
    (status,) = get(cluster, "dns-client")["status"]["containerStatuses"]
    assert phase(cluster, "dns-client") == "Succeeded", status
    assert status["state"]["terminated"]["message"].strip() in names
    # From the host: the NodePort on 127.0.0.1 and the Ingress by host name.
    service = json.loads(cluster.kubectl("get", "service", "echo", "-o", "json").stdout)
    node_port = service["spec"]["ports"][0]["nodePort"]
    assert _http_get(f"http://127.0.0.1:{node_port}/") in names
    port = cluster.ingress_port
    wait_until(lambda: _ingress_answers(port, names), timeout=30, what="the ingress to route echo")
    seen = {_http_get(f"http://127.0.0.1:{port}/", "echo.example.com") for _ in range(20)}
    assert seen == names  # both replicas answer


def _ingress_answers(port: int, names: set[str]) -> bool:
    try:
        return _http_get(f"http://127.0.0.1:{port}/", "echo.example.com") in names
    except OSError:
        return False


def test_readiness_probe_gates_ready_and_restart_keeps_containers(node: RealNodeCluster) -> None:
    web = container(
        "web",
        "exec httpd -f -p 8080",
        readinessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1},
    )
    cluster = node.current
    cluster.kubectl("apply", "-f", "-", input=pod("web", [web]))
    cluster.kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=60s")
    before = get(cluster, "web")["status"]["containerStatuses"][0]
    # The whole server (and its node agent) stops and starts again: the container lives on.
    restarted = node.restart()
    restarted.kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=60s")
    after = get(restarted, "web")["status"]["containerStatuses"][0]
    assert after["containerID"] == before["containerID"]
    assert after["restartCount"] == before["restartCount"]
