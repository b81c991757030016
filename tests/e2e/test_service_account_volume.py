"""A real pod reads its service-account token, CA and namespace, and the token works.

``kyb server --runtime runc`` as root: ServiceAccount admission adds the ``kube-api-access``
volume, the kubelet asks the TokenRequest API for a token bound to the pod and writes it with
``ca.crt`` (the ``kube-root-ca.crt`` ConfigMap) and ``namespace`` under
``/var/run/secrets/kubernetes.io/serviceaccount``. The test takes what the container printed
and uses the token with the real kubectl: it authenticates as the pod's service account.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kybernetes.testing.images import busybox_image
from tests.e2e.conftest import Cluster, RealNodeCluster, real_node_cluster

pytestmark = [pytest.mark.slow, pytest.mark.root]

IMAGE = "example.com/busybox:1"
MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealNodeCluster]:
    base = tmp_path_factory.mktemp("satoken")
    archive = busybox_image().write_oci(base / "busybox.tar", name=IMAGE)
    with real_node_cluster(base, [archive]) as running:
        yield running


def _pod(name: str, account: str, script: str, **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "serviceAccountName": account,
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "reader",
                        "image": IMAGE,
                        "imagePullPolicy": "Never",
                        "command": ["sh", "-c", script],
                    }
                ],
                **spec,
            },
        }
    )


def _finished(cluster: Cluster, name: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        pod = json.loads(cluster.kubectl("get", "pod", name, "-o", "json").stdout)
        if pod["status"].get("phase") in ("Succeeded", "Failed"):
            return dict(pod)
        assert time.monotonic() < deadline, f"pod {name} did not finish: {pod['status']}"
        time.sleep(0.3)


def _kubectl_with_token(
    cluster: Cluster, token: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            "/dev/null",
            "--server",
            cluster.url,
            "--certificate-authority",
            str(cluster.data_dir / "pki" / "ca.crt"),
            "--token",
            token,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(cluster.home), "PATH": "/usr/local/bin:/usr/bin:/bin"},
    )


def test_a_pod_reads_its_token_and_the_token_authenticates(node: RealNodeCluster) -> None:
    cluster = node.current
    cluster.kubectl("create", "serviceaccount", "reader")
    script = (
        f"cd {MOUNT} && "
        "echo TOKEN=$(cat token) && echo NAMESPACE=$(cat namespace) && "
        "echo CA_BEGIN && cat ca.crt && echo CA_END && "
        "ls -1 && (touch probe 2>/dev/null && echo WRITABLE || echo READONLY) && "
        "grep -q ' [^ ]*kubernetes.io/serviceaccount ' /proc/mounts && echo MOUNTED"
    )
    cluster.kubectl("apply", "-f", "-", input=_pod("reader", "reader", script))
    pod = _finished(cluster, "reader")
    assert pod["status"]["phase"] == "Succeeded", pod["status"]
    logs = cluster.kubectl("logs", "reader").stdout
    lines = logs.splitlines()
    token = next(line for line in lines if line.startswith("TOKEN=")).removeprefix("TOKEN=")
    assert token.count(".") == 2
    assert "NAMESPACE=default" in lines
    ca = logs[logs.index("CA_BEGIN\n") + len("CA_BEGIN\n") : logs.index("CA_END")]
    assert ca == (cluster.data_dir / "pki" / "ca.crt").read_text()
    listed = lines[lines.index("CA_END") + 1 : lines.index("CA_END") + 4]
    assert listed == ["ca.crt", "namespace", "token"]
    assert "READONLY" in lines
    assert "MOUNTED" in lines

    # The pod's token is the pod's service account, bound to this pod.
    who = _kubectl_with_token(cluster, token, "auth", "whoami", "-o", "json")
    assert who.returncode == 0, who.stderr
    info = json.loads(who.stdout)["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:default:reader"
    assert "system:serviceaccounts:default" in info["groups"]
    assert info["extra"]["authentication.kubernetes.io/pod-name"] == ["reader"]
    assert info["extra"]["authentication.kubernetes.io/pod-uid"] == [pod["metadata"]["uid"]]
    listed_pods = _kubectl_with_token(cluster, token, "get", "pods", "-o", "name")
    assert listed_pods.returncode == 0, listed_pods.stderr
    assert "pod/reader" in listed_pods.stdout.split()

    # Once the pod is gone its token authenticates nobody.
    cluster.kubectl("delete", "pod", "reader", "--wait=true", "--timeout=60s")
    gone = _kubectl_with_token(cluster, token, "get", "pods")
    assert gone.returncode == 1
    assert "Unauthorized" in gone.stderr


def test_the_token_is_readable_by_a_non_root_user_only(node: RealNodeCluster) -> None:
    cluster = node.current
    script = f"id -u && ls -ln {MOUNT}/..data/token && cat {MOUNT}/token >/dev/null && echo READ"
    spec = _pod("nonroot", "default", script, securityContext={"runAsUser": 1000})
    cluster.kubectl("apply", "-f", "-", input=spec)
    pod = _finished(cluster, "nonroot")
    logs = cluster.kubectl("logs", "nonroot").stdout.splitlines()
    assert pod["status"]["phase"] == "Succeeded", (pod["status"], logs)
    assert logs[0] == "1000"
    mode, _, owner = logs[1].split()[:3]
    assert (mode, owner) == ("-rw-------", "1000")
    assert logs[-1] == "READ"
    cluster.kubectl("delete", "pod", "nonroot", "--wait=true", "--timeout=60s")
