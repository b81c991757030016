"""The seeds' echo example end to end: ``kubectl apply -f examples/echo/`` on a real node.

``kyb server --runtime runc`` as root (its bridge, nftables tables and cgroups named after a
per-run instance), the echo image built from busybox-static and imported, the example applied
unchanged. Then, while a bounded client loop sends requests through the Ingress and through the
ClusterIP (from the host: the proxy's output chain handles it), a pod is deleted, the Deployment
is scaled 2 -> 4 -> 2 and a new version is rolled out — and not one request may fail. Also:
DNS from inside a pod, the NodePort on 127.0.0.1, and a NetworkPolicy denying then allowing.
The fixture removes every pod, table, link and cgroup the run made, and checks it.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.conftest import EXAMPLE, Cluster, echo_example, real_node_cluster

pytestmark = [pytest.mark.slow, pytest.mark.root]

HOST = "echo.example.com"
RATE = 20.0  # requests per second, per target


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("echo")
    image = echo_example()
    archives = [
        image.echo_image(tag).write_oci(base / f"echo-{tag}.tar", f"{image.REPOSITORY}:{tag}")
        for tag in ("1", "2")
    ]
    with real_node_cluster(base, archives) as node:
        yield node.current


def get_json(cluster: Cluster, *args: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl("get", *args, "-o", "json").stdout))


def wait_until(check: Callable[[], bool], timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def echo_pods(cluster: Cluster) -> list[dict[str, Any]]:
    return list(get_json(cluster, "pods", "-l", "app=echo")["items"])


def settled(cluster: Cluster, replicas: int) -> bool:
    """Exactly ``replicas`` echo pods, all ready, none terminating, and the Deployment done."""
    deployment = get_json(cluster, "deployment", "echo")
    status = deployment["status"]
    pods = echo_pods(cluster)
    ready = [
        p
        for p in pods
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", [])
        )
    ]
    return (
        len(pods) == replicas
        and len(ready) == replicas
        and status.get("updatedReplicas") == replicas
        and status.get("availableReplicas") == replicas
        and status.get("observedGeneration") == deployment["metadata"]["generation"]
    )


def http_get(host: str, port: int, header_host: str | None = None, timeout: float = 5) -> str:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/", headers={"Host": header_host or f"{host}:{port}"})
        response = connection.getresponse()
        body = response.read().decode()
        if response.status != 200:
            raise OSError(f"HTTP {response.status}: {body[:80]}")
        return body.strip()
    finally:
        connection.close()


def fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


@dataclass
class Load:
    """A bounded client loop: ``RATE`` requests/s to one target, on a thread, until stopped."""

    name: str
    host: str
    port: int
    header_host: str | None = None
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    pods: Counter[str] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        interval = 1 / RATE
        next_at = time.monotonic()
        while not self.stop.is_set():
            try:
                answer = fields(http_get(self.host, self.port, self.header_host))
                self.ok += 1
                self.pods[answer.get("pod", "?")] += 1
                self.versions[answer.get("version", "?")] += 1
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(f"{time.strftime('%X')} {type(error).__name__}: {error}")
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))


# --- the scenario ---------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_echo_example_upgrades_without_a_failed_request(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(EXAMPLE))
    wait_until(lambda: settled(cluster, 2), what="2 ready echo pods")
    service = get_json(cluster, "service", "echo")
    cluster_ip = service["spec"]["clusterIP"]
    node_port = service["spec"]["ports"][0]["nodePort"]
    ingress_port: int = cluster.ingress_port

    def ingress_answers() -> bool:
        try:
            return "pod=echo-" in http_get("127.0.0.1", ingress_port, HOST)
        except OSError:
            return False

    wait_until(ingress_answers, timeout=30, what="the ingress to route echo.example.com")
    loads = [
        Load("ingress", "127.0.0.1", ingress_port, HOST),
        Load("clusterip", cluster_ip, 80),
    ]
    threads = [threading.Thread(target=load.run, name=load.name) for load in loads]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        victim = echo_pods(cluster)[0]["metadata"]["name"]
        cluster.kubectl("delete", "pod", victim, "--wait=false")
        wait_until(lambda: victim not in {p["metadata"]["name"] for p in echo_pods(cluster)})
        wait_until(lambda: settled(cluster, 2), what="the deleted pod's replacement")
        cluster.kubectl("scale", "deployment/echo", "--replicas=4")
        wait_until(lambda: settled(cluster, 4), what="4 ready echo pods")
        cluster.kubectl("scale", "deployment/echo", "--replicas=2")
        wait_until(lambda: settled(cluster, 2), what="scaled back to 2")
        cluster.kubectl("set", "image", "deployment/echo", f"echo={echo_example().REPOSITORY}:2")
        cluster.kubectl("rollout", "status", "deployment/echo", "--timeout=120s", timeout=130)
        wait_until(lambda: settled(cluster, 2), what="the rollout to finish")
        time.sleep(2)
    finally:
        for load in loads:
            load.stop.set()
        for thread in threads:
            thread.join(timeout=15)
    report = {
        load.name: {"ok": load.ok, "failed": len(load.failures), "versions": dict(load.versions)}
        for load in loads
    }
    print(f"echo load: {json.dumps(report)}")
    for load in loads:
        assert not load.failures, f"{load.name}: {len(load.failures)} failed: {load.failures[:10]}"
        assert load.ok > 100, report
        assert load.versions["1"] > 0, report
        assert load.versions["2"] > 0, report
        assert len(load.pods) >= 5, load.pods  # 2 + replacement + 2 scaled + 2 new versions
    # After the rollout every answer comes from version 2.
    assert fields(http_get("127.0.0.1", ingress_port, HOST))["version"] == "2"
    # The NodePort answers on 127.0.0.1 too.
    assert fields(http_get("127.0.0.1", node_port))["pod"].startswith("echo-")


def run_pod(cluster: Cluster, name: str, command: str, namespace: str = "default") -> str:
    """Run ``command`` in a one-shot busybox pod; its output (from the termination log)."""
    spec = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"role": "client"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "client",
                    "image": f"{echo_example().REPOSITORY}:1",
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", f"({command}) > /dev/termination-log 2>&1"],
                }
            ],
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(spec))

    def finished() -> bool:
        phase = get_json(cluster, "pod", name, "-n", namespace)["status"].get("phase")
        return phase in ("Succeeded", "Failed")

    try:
        wait_until(finished, timeout=60, what=f"pod {name}")
    except AssertionError:
        described = cluster.kubectl("describe", "pod", name, "-n", namespace, check=False).stdout
        raise AssertionError(f"pod {name} did not finish:\n{described}") from None
    pod = get_json(cluster, "pod", name, "-n", namespace)
    (status,) = pod["status"]["containerStatuses"]
    terminated = status["state"]["terminated"]
    output = f"{terminated.get('exitCode')} {terminated.get('message', '')}"
    cluster.kubectl("delete", "pod", name, "-n", namespace, "--wait=false")
    return f"{pod['status']['phase']}: {output}"


def test_dns_from_inside_a_pod(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(EXAMPLE))
    cluster_ip = get_json(cluster, "service", "echo")["spec"]["clusterIP"]
    answer = run_pod(cluster, "lookup", "nslookup echo.default.svc.cluster.local")
    assert answer.startswith("Succeeded"), answer
    assert cluster_ip in answer, answer
    short = run_pod(cluster, "lookup-short", "wget -q -O - http://echo/")
    assert short.startswith("Succeeded"), short
    assert "pod=echo-" in short, short


DENY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: echo-deny}
spec:
  podSelector: {matchLabels: {app: echo}}
  policyTypes: [Ingress]
"""

ALLOW = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: echo-allow}
spec:
  podSelector: {matchLabels: {app: echo}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{port: http}]
"""


def test_network_policy_denies_then_allows(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(EXAMPLE))
    wait_until(lambda: settled(cluster, 2), what="2 ready echo pods")
    # busybox 1.35's wget -T segfaults and its timeout applet did not stop a blocked wget here:
    # a shell watchdog bounds the request.
    fetch = (
        "wget -q -O - http://echo.default.svc.cluster.local/ & p=$!; "
        "(sleep 3; kill $p 2>/dev/null) & wait $p"
    )
    assert "pod=echo-" in run_pod(cluster, "before", fetch)
    cluster.kubectl("apply", "-f", "-", input=DENY)
    denied = run_pod(cluster, "denied", fetch)
    assert denied.startswith("Failed"), denied
    # Traffic from the node is always allowed: the ingress controller still reaches the pods.
    ingress_port: int = cluster.ingress_port
    assert "pod=echo-" in http_get("127.0.0.1", ingress_port, HOST)
    cluster.kubectl("apply", "-f", "-", input=ALLOW)
    allowed = run_pod(cluster, "allowed", fetch)
    assert allowed.startswith("Succeeded"), allowed
    cluster.kubectl("delete", "networkpolicies", "echo-deny", "echo-allow")
