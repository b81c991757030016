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

from kybernetes.testing.grpchealth import HealthServer
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


def events(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    items = json.loads(cluster.kubectl("get", "events", "-o", "json").stdout)["items"]
    return [e for e in items if e["involvedObject"].get("name") == name]


def container_status(cluster: Cluster, name: str) -> dict[str, Any]:
    statuses = get(cluster, name)["status"].get("containerStatuses") or [{}]
    return dict(statuses[0])


def finished_logs(cluster: Cluster, name: str) -> list[str]:
    """The logs of a restartPolicy Never pod once it has ended (asserting it succeeded)."""
    wait_until(lambda: phase(cluster, name) in ("Succeeded", "Failed"), what=f"pod {name}")
    logs = cluster.kubectl("logs", name).stdout
    assert phase(cluster, name) == "Succeeded", logs
    return logs.splitlines()


def test_failing_liveness_probe_restarts_the_container(cluster: Cluster) -> None:
    live = container(
        "live",
        "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600",
        livenessProbe={
            "exec": {"command": ["cat", "/tmp/healthy"]},
            "periodSeconds": 1,
            "failureThreshold": 1,
        },
    )
    cluster.kubectl("apply", "-f", "-", input=pod("live", [live], terminationGracePeriodSeconds=1))
    wait_until(
        lambda: container_status(cluster, "live").get("restartCount", 0) >= 1,
        timeout=60,
        what="the liveness restart",
    )
    status = container_status(cluster, "live")
    assert status["lastState"]["terminated"]["exitCode"] == 137  # killed after the grace
    reasons = {(e["reason"], e["message"].strip()) for e in events(cluster, "live")}
    assert (
        "Unhealthy",
        "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory",
    ) in reasons
    assert ("Killing", "Container live failed liveness probe, will be restarted") in reasons
    described = cluster.kubectl("describe", "pod", "live").stdout
    assert "Liveness probe failed" in described


def test_config_map_secret_and_downward_api_volumes(cluster: Cluster) -> None:
    cluster.kubectl("create", "configmap", "app-config", "--from-literal=greeting=hello")
    cluster.kubectl("create", "secret", "generic", "app-secret", "--from-literal=password=s3cret")
    report = (
        'echo "cm=$(cat /cm/greeting) item=$(cat /items/custom/path) '
        "secret=$(cat /secret/password) name=$(cat /info/name) labels=$(cat /info/labels) "
        'cpu=$(cat /info/cpu)"'
    )
    app = container(
        "app",
        f"while true; do {report}; sleep 0.5; done",
        resources={"limits": {"cpu": "250m", "memory": "32Mi"}},
        volumeMounts=[
            {"name": "cm", "mountPath": "/cm"},
            {"name": "items", "mountPath": "/items"},
            {"name": "secret", "mountPath": "/secret"},
            {"name": "info", "mountPath": "/info"},
        ],
    )
    body = json.loads(
        pod(
            "volumes",
            [app],
            volumes=[
                {"name": "cm", "configMap": {"name": "app-config"}},
                {
                    "name": "items",
                    "configMap": {
                        "name": "app-config",
                        "items": [{"key": "greeting", "path": "custom/path"}],
                    },
                },
                {"name": "secret", "secret": {"secretName": "app-secret", "defaultMode": 0o400}},
                {
                    "name": "info",
                    "downwardAPI": {
                        "items": [
                            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                            {
                                "path": "cpu",
                                "resourceFieldRef": {
                                    "containerName": "app",
                                    "resource": "limits.cpu",
                                    "divisor": "1m",
                                },
                            },
                        ]
                    },
                },
            ],
        )
    )
    body["metadata"]["labels"] = {"tier": "web"}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(body))
    cluster.kubectl("wait", "--for=condition=Ready", "pod/volumes", "--timeout=60s")

    def last_line() -> str:
        lines = cluster.kubectl("logs", "volumes", "--tail=1").stdout.splitlines()
        return lines[-1] if lines else ""

    expected = 'cm=hello item=hello secret=s3cret name=volumes labels=tier="web" cpu=250'
    wait_until(lambda: last_line() == expected, timeout=20, what=f"{expected!r} in the logs")
    cluster.kubectl("patch", "configmap", "app-config", "-p", '{"data":{"greeting":"bonjour"}}')
    updated = expected.replace("hello", "bonjour")
    wait_until(lambda: last_line() == updated, timeout=30, what="the configMap update")


def test_fs_group_owns_volumes_and_joins_the_processes(cluster: Cluster) -> None:
    cluster.kubectl("create", "secret", "generic", "group-secret", "--from-literal=key=k3y")
    script = (
        "id; stat -c '%g %a' /data; touch /data/new && stat -c '%g' /data/new; "
        "stat -L -c '%g %a' /secret/key; cat /secret/key; echo"
    )
    app = container(
        "app",
        script,
        volumeMounts=[
            {"name": "data", "mountPath": "/data"},
            {"name": "secret", "mountPath": "/secret"},
        ],
    )
    spec = pod(
        "fsgroup",
        [app],
        restartPolicy="Never",
        securityContext={
            "runAsUser": 1000,
            "runAsGroup": 3000,
            "fsGroup": 2000,
            "supplementalGroups": [4000],
        },
        volumes=[
            {"name": "data", "emptyDir": {}},
            {"name": "secret", "secret": {"secretName": "group-secret", "defaultMode": 0o400}},
        ],
    )
    cluster.kubectl("apply", "-f", "-", input=spec)
    assert finished_logs(cluster, "fsgroup") == [
        "uid=1000 gid=3000 groups=2000,3000,4000",
        "2000 2777",  # the emptyDir: group-owned, setgid, writable by all (upstream's 0777)
        "2000",  # a new file inherits the group
        "2000 440",  # the secret: defaultMode 0400 plus group read, readable through fsGroup
        "k3y",
    ]


UNSHARE = "unshare -U true && echo unshared || echo refused; echo still-working"


def test_seccomp_runtime_default_blocks_unshare(node: RealNodeCluster) -> None:
    cluster = node.current
    confined = pod(
        "confined",
        [container("c", UNSHARE)],
        restartPolicy="Never",
        securityContext={"seccompProfile": {"type": "RuntimeDefault"}},
    )
    cluster.kubectl("apply", "-f", "-", input=confined)
    free = pod("unconfined", [container("c", UNSHARE)], restartPolicy="Never")
    cluster.kubectl("apply", "-f", "-", input=free)
    assert sorted(finished_logs(cluster, "confined")) == [
        "refused",
        "still-working",
        "unshare: unshare(0x10000000): Operation not permitted",  # EPERM, the filter's answer
    ]
    assert finished_logs(cluster, "unconfined") == ["unshared", "still-working"]
    # Localhost profiles come from <agent data dir>/seccomp; a missing one fails the container
    profiles = node.data / "agent" / "seccomp" / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    (profiles / "no-mkdir.json").write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
                ],
            }
        )
    )
    local = container(
        "c",
        "mkdir /tmp/x 2>/dev/null && echo made || echo mkdir-refused",
        securityContext={
            "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/no-mkdir.json"}
        },
    )
    cluster.kubectl("apply", "-f", "-", input=pod("localhost", [local], restartPolicy="Never"))
    assert finished_logs(cluster, "localhost") == ["mkdir-refused"]
    missing = container(
        "c",
        "true",
        securityContext={
            "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/gone.json"}
        },
    )
    cluster.kubectl("apply", "-f", "-", input=pod("no-profile", [missing]))

    def waiting() -> dict[str, Any]:
        return dict(container_status(cluster, "no-profile").get("state", {}).get("waiting") or {})

    wait_until(lambda: waiting().get("reason") == "CreateContainerError", what="the failure")
    path = profiles / "gone.json"
    assert (
        f'cannot load seccomp profile "{path}": open {path}: no such file' in waiting()["message"]
    )


def test_run_as_non_root(cluster: Cluster) -> None:
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=pod(
            "rooted",
            [container("app", "id -u")],
            restartPolicy="Never",
            securityContext={"runAsNonRoot": True},
        ),
    )

    def waiting() -> dict[str, Any]:
        return dict(container_status(cluster, "rooted").get("state", {}).get("waiting") or {})

    wait_until(lambda: bool(waiting().get("message")), what="the refusal")
    uid = get(cluster, "rooted")["metadata"]["uid"]
    assert waiting() == {
        "reason": "CreateContainerConfigError",
        "message": "container has runAsNonRoot and image will run as root "
        f'(pod: "rooted_default({uid})", container: app)',
    }
    allowed = pod(
        "nonroot",
        [container("app", "id -u", securityContext={"runAsUser": 1000})],
        restartPolicy="Never",
        securityContext={"runAsNonRoot": True},
    )
    cluster.kubectl("apply", "-f", "-", input=allowed)
    assert finished_logs(cluster, "nonroot") == ["1000"]


def test_read_only_root_filesystem_and_capabilities(cluster: Cluster) -> None:
    script = (
        "touch /rootfs-file 2>&1; echo > /scratch/ok && echo scratch-writable; "
        "grep CapEff /proc/self/status; chown 1 /scratch/ok 2>/dev/null || echo chown-refused"
    )
    locked = container(
        "app",
        script,
        securityContext={
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
        },
        volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}],
    )
    spec = pod(
        "locked", [locked], restartPolicy="Never", volumes=[{"name": "scratch", "emptyDir": {}}]
    )
    cluster.kubectl("apply", "-f", "-", input=spec)
    assert finished_logs(cluster, "locked") == [
        "touch: /rootfs-file: Read-only file system",
        "scratch-writable",
        "CapEff:\t0000000000000400",  # CAP_NET_BIND_SERVICE alone
        "chown-refused",  # root without CAP_CHOWN
    ]


def node_ip(cluster: Cluster) -> str:
    (item,) = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    return next(a["address"] for a in item["status"]["addresses"] if a["type"] == "InternalIP")


def ready(cluster: Cluster, name: str) -> bool:
    conditions = get(cluster, name)["status"].get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_grpc_readiness_probe_of_a_host_network_pod(cluster: Cluster) -> None:
    with HealthServer(node_ip(cluster)) as server:
        probed = container(
            "app",
            "exec sleep 3600",
            readinessProbe={"grpc": {"port": server.port}, "periodSeconds": 1},
        )
        cluster.kubectl(
            "apply",
            "-f",
            "-",
            input=pod("grpc", [probed], hostNetwork=True, terminationGracePeriodSeconds=0),
        )
        cluster.kubectl("wait", "--for=condition=Ready", "pod/grpc", "--timeout=60s")
        assert server.calls >= 1
        server.statuses[""] = "NOT_SERVING"
        wait_until(lambda: not ready(cluster, "grpc"), timeout=30, what="the pod to be unready")
    messages = {e["message"] for e in events(cluster, "grpc") if e["reason"] == "Unhealthy"}
    assert 'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")' in messages
