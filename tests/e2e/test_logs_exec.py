"""Seeing into running pods with the real kubectl and real containers (``kyb server`` as root).

``kubectl logs`` (plain, ``--tail``, ``--timestamps``, ``-c``, ``-f`` while lines arrive,
``--previous`` after a restart, ``deploy/x``), ``kubectl exec`` with and without stdin and
its exit code, ``kubectl cp`` both ways, ``kubectl port-forward`` carrying HTTP from a busybox
httpd to a request on 127.0.0.1, and the Python client's ``stream`` exec. The server's host
objects are named after a per-run instance and removed at the end, as in test_containers.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kybernetes.testing.images import busybox_image
from tests.e2e.conftest import Cluster, free_port, real_node_cluster

pytestmark = [pytest.mark.slow, pytest.mark.root]

IMAGE = "example.com/busybox:1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("streams")
    archive = busybox_image().write_oci(base / "busybox.tar", name=IMAGE)
    with real_node_cluster(base, [archive]) as node:
        yield node.current


def container(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": IMAGE,
        "imagePullPolicy": "Never",
        "command": ["sh", "-c", script],
        **extra,
    }


def run_pod(cluster: Cluster, name: str, containers: list[dict[str, Any]], **spec: Any) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": containers, "terminationGracePeriodSeconds": 1, **spec},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(body))
    cluster.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s")


def wait_until(check: Any, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_logs_plain_tail_timestamps_and_container(cluster: Cluster) -> None:
    run_pod(
        cluster,
        "talker",
        [
            container("main", "echo one; echo two; echo three >&2; sleep 3600"),
            container("side", "echo from-side; sleep 3600"),
        ],
    )
    assert cluster.kubectl("logs", "talker", "-c", "main").stdout == "one\ntwo\nthree\n"
    assert cluster.kubectl("logs", "talker", "-c", "side").stdout == "from-side\n"
    assert cluster.kubectl("logs", "talker", "-c", "main", "--tail=1").stdout == "three\n"
    stamped = cluster.kubectl("logs", "talker", "-c", "main", "--timestamps").stdout
    first = stamped.splitlines()[0]
    assert first.endswith(" one"), first
    assert first[10] == "T", first
    # kubectl picks the first container without -c; the API wants a name for several
    assert cluster.kubectl("logs", "talker").stdout == "one\ntwo\nthree\n"


def test_logs_follow_sees_lines_written_after_it_started(cluster: Cluster) -> None:
    run_pod(
        cluster,
        "ticker",
        [container("main", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done")],
    )
    proc = subprocess.Popen(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "logs", "-f", "ticker", "--tail=1"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(cluster.home)},
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == sorted(numbers)
    assert numbers[-1] >= numbers[0] + 3


def test_logs_previous_after_a_restart(cluster: Cluster) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "restarter"},
        "spec": {"containers": [container("main", "echo run at $(date +%s%N); sleep 1; exit 1")]},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(body))

    def restarted() -> bool:
        pod = json.loads(cluster.kubectl("get", "pod", "restarter", "-o", "json").stdout)
        statuses = pod.get("status", {}).get("containerStatuses") or [{}]
        return int(statuses[0].get("restartCount", 0)) >= 1

    wait_until(restarted, 60, "a restart")
    previous = cluster.kubectl("logs", "restarter", "--previous").stdout
    assert previous.startswith("run at "), previous


def test_exec_output_exit_code_and_stdin(cluster: Cluster) -> None:
    run_pod(cluster, "shell", [container("main", "sleep 3600")])
    assert (
        cluster.kubectl("exec", "shell", "--", "sh", "-c", "echo hi; echo err >&2").stdout == "hi\n"
    )
    failed = cluster.kubectl("exec", "shell", "--", "sh", "-c", "exit 3", check=False)
    assert failed.returncode == 3, failed.stderr
    assert "command terminated with exit code 3" in failed.stderr
    echoed = cluster.kubectl(
        "exec", "-i", "shell", "--", "sh", "-c", "cat; echo done", input="abc\n"
    )
    assert echoed.stdout == "abc\ndone\n"


def test_cp_both_ways(cluster: Cluster, tmp_path: Path) -> None:
    run_pod(cluster, "files", [container("main", "sleep 3600")])
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.txt").write_text("beta\n" * 1000)
    cluster.kubectl("cp", str(src), "files:/tmp/copied")
    listing = cluster.kubectl("exec", "files", "--", "cat", "/tmp/copied/sub/b.txt").stdout
    assert listing == "beta\n" * 1000
    back = tmp_path / "back"
    cluster.kubectl("cp", "files:/tmp/copied", str(back))
    assert (back / "a.txt").read_text() == "alpha\n"
    assert (back / "sub" / "b.txt").read_text() == "beta\n" * 1000


HTTPD = "mkdir -p /www && echo hello-from-httpd > /www/index.html && httpd -f -p 8080 -h /www"


def port_forward(cluster: Cluster, target: str, remote: str) -> None:
    """``kubectl port-forward TARGET`` carries HTTP, also over several connections at once."""
    port = free_port()
    proc = subprocess.Popen(
        [
            "kubectl",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "port-forward",
            "--address",
            "127.0.0.1",
            target,
            f"{port}:{remote}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(cluster.home)},
    )

    def fetch() -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            return bytes(response.read())

    try:
        assert proc.stdout is not None
        assert "Forwarding from 127.0.0.1" in proc.stdout.readline()
        for _ in range(3):  # one after another
            assert fetch() == b"hello-from-httpd\n"
        with ThreadPoolExecutor(4) as pool:  # and at the same time
            assert list(pool.map(lambda _: fetch(), range(8))) == [b"hello-from-httpd\n"] * 8
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)  # also closes the pipes
    assert "error" not in err.lower(), err


def test_port_forward_carries_http(cluster: Cluster) -> None:
    run_pod(cluster, "web", [container("main", HTTPD)])
    port_forward(cluster, "pod/web", "8080")


def test_port_forward_to_a_service_and_a_deployment(cluster: Cluster) -> None:
    """kubectl resolves ``svc/`` and ``deploy/`` to one of their pods, the service's
    targetPort included, then forwards to that pod (the image is on the node: its tag is
    not ``latest``, so the default pull policy is IfNotPresent)."""
    cluster.kubectl("create", "deployment", "webd", f"--image={IMAGE}", "--", "sh", "-c", HTTPD)
    cluster.kubectl("rollout", "status", "deployment/webd", "--timeout=90s", timeout=100)
    cluster.kubectl("expose", "deployment", "webd", "--port=80", "--target-port=8080")
    port_forward(cluster, "deploy/webd", "8080")
    port_forward(cluster, "svc/webd", "80")
    cluster.kubectl("delete", "deployment", "webd", "--wait=true")
    cluster.kubectl("delete", "service", "webd")


PYTHON_EXEC = """
import sys
from kubernetes import client, config
from kubernetes.stream import stream

api = client.CoreV1Api(config.new_client_from_config(sys.argv[1]))
out = stream(
    api.connect_get_namespaced_pod_exec, "pyexec", "default",
    command=["sh", "-c", "echo from-python"],
    stderr=True, stdin=False, stdout=True, tty=False,
)
print(out, end="")
"""


def test_python_client_stream_exec(cluster: Cluster) -> None:
    """The official client's ``stream`` helper, run as a user would: a script of its own."""
    run_pod(cluster, "pyexec", [container("main", "sleep 3600")])
    done = subprocess.run(
        [sys.executable, "-c", PYTHON_EXEC, str(cluster.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "from-python\n"


def test_logs_of_a_deployment(cluster: Cluster) -> None:
    cluster.kubectl(
        "create",
        "deployment",
        "greeter",
        f"--image={IMAGE}",
        "--",
        "sh",
        "-c",
        "echo greetings; sleep 3600",
    )
    cluster.kubectl(
        "patch",
        "deployment",
        "greeter",
        "--type=json",
        "-p",
        json.dumps(
            [
                {
                    "op": "add",
                    "path": "/spec/template/spec/containers/0/imagePullPolicy",
                    "value": "Never",
                }
            ]
        ),
    )
    cluster.kubectl("rollout", "status", "deployment/greeter", "--timeout=60s")
    wait_until(
        lambda: cluster.kubectl("logs", "deploy/greeter", check=False).stdout == "greetings\n",
        30,
        "logs",
    )
