"""The real kubectl 1.32 against a real ``kyb server``: what a user types and sees."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.slow

DEPLOYMENT = textwrap.dedent(
    """\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: {app: web}
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: web
            image: nginx:1.25
            ports:
            - containerPort: 80
    """
)


def header(output: str) -> list[str]:
    return output.splitlines()[0].split()


def test_version(cluster: Cluster) -> None:
    out = cluster.kubectl("version", "-o", "json").stdout
    assert json.loads(out)["serverVersion"]["minor"] == "32"


def test_api_resources(cluster: Cluster) -> None:
    out = cluster.kubectl("api-resources").stdout
    lines: dict[str, list[str]] = {}
    for line in out.splitlines()[1:]:  # the first of a name: pods before metrics.k8s.io pods
        lines.setdefault(line.split()[0], line.split())
    assert lines["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert lines["pods"][1:] == ["po", "v1", "true", "Pod"]
    assert lines["namespaces"][1:] == ["ns", "v1", "false", "Namespace"]


def test_namespaces_exist(cluster: Cluster) -> None:
    out = cluster.kubectl("get", "namespaces").stdout
    assert header(out) == ["NAME", "STATUS", "AGE"]
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]


def test_apply_get_and_reapply(cluster: Cluster, tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT)
    out = cluster.kubectl("apply", "-f", str(manifest)).stdout
    assert out.strip() == "deployment.apps/web created"
    out = cluster.kubectl("get", "deploy").stdout
    assert header(out) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert out.splitlines()[1].split()[0] == "web"
    manifest.write_text(DEPLOYMENT.replace("replicas: 2", "replicas: 3"))
    out = cluster.kubectl("apply", "-f", str(manifest)).stdout
    assert out.strip() == "deployment.apps/web configured"
    obj = json.loads(cluster.kubectl("get", "deployment", "web", "-o", "json").stdout)
    assert obj["spec"]["replicas"] == 3
    assert obj["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    out = cluster.kubectl("apply", "-f", str(manifest)).stdout
    assert out.strip() == "deployment.apps/web unchanged"


def test_server_side_apply_and_dry_run(cluster: Cluster, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: '1'\n"
    )
    out = cluster.kubectl("apply", "--server-side", "-f", str(manifest)).stdout
    assert out.strip() == "configmap/ssa serverside-applied"
    out = cluster.kubectl(
        "create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server"
    ).stdout
    assert out.strip() == "configmap/dry created (server dry run)"
    result = cluster.kubectl("get", "configmap", "dry", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == 'Error from server (NotFound): configmaps "dry" not found'


def test_create_commands_send_protobuf(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "proto")
    out = cluster.kubectl("-n", "proto", "create", "configmap", "c", "--from-literal=k=v").stdout
    assert out.strip() == "configmap/c created"
    out = cluster.kubectl(
        "-n", "proto", "create", "secret", "generic", "s", "--from-literal=password=hunter2"
    ).stdout
    assert out.strip() == "secret/s created"
    secret = json.loads(cluster.kubectl("-n", "proto", "get", "secret", "s", "-o", "json").stdout)
    assert secret["type"] == "Opaque"
    assert secret["data"] == {"password": "aHVudGVyMg=="}
    cluster.kubectl("-n", "proto", "create", "serviceaccount", "robot")
    cluster.kubectl("-n", "proto", "create", "deployment", "d", "--image=nginx", "--replicas=2")
    cluster.kubectl("-n", "proto", "create", "job", "j", "--image=busybox")
    dep = json.loads(cluster.kubectl("-n", "proto", "get", "deploy", "d", "-o", "json").stdout)
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"


def test_get_output_forms(cluster: Cluster) -> None:
    cluster.kubectl("create", "configmap", "shown", "--from-literal=a=1", "--from-literal=b=2")
    cluster.kubectl("label", "configmap", "shown", "tier=web")
    out = cluster.kubectl("get", "configmaps", "shown").stdout
    assert header(out) == ["NAME", "DATA", "AGE"]
    assert out.splitlines()[1].split()[:2] == ["shown", "2"]
    out = cluster.kubectl("get", "cm", "-l", "tier=web", "--show-labels").stdout
    assert out.splitlines()[1].split()[-1] == "tier=web"
    out = cluster.kubectl(
        "get", "cm", "--field-selector", "metadata.name=shown", "-o", "name"
    ).stdout
    assert out.strip() == "configmap/shown"
    out = cluster.kubectl("get", "cm", "-A").stdout
    assert header(out)[0] == "NAMESPACE"
    assert any(line.split()[:2] == ["default", "shown"] for line in out.splitlines())
    out = cluster.kubectl("get", "cm", "shown", "-o", "yaml").stdout
    assert "kind: ConfigMap" in out
    assert "tier: web" in out
    out = cluster.kubectl("get", "cm", "shown", "-o", "jsonpath={.data.b}").stdout
    assert out == "2"


def test_patch_label_annotate(cluster: Cluster) -> None:
    cluster.kubectl("create", "configmap", "patched", "--from-literal=a=1")
    cluster.kubectl("patch", "configmap", "patched", "-p", '{"data":{"b":"2"}}')
    cluster.kubectl("patch", "configmap", "patched", "--type=merge", "-p", '{"data":{"c":"3"}}')
    cluster.kubectl(
        "patch", "configmap", "patched", "--type=json", "-p", '[{"op":"remove","path":"/data/a"}]'
    )
    cluster.kubectl("annotate", "configmap", "patched", "note=hello")
    obj = json.loads(cluster.kubectl("get", "cm", "patched", "-o", "json").stdout)
    assert obj["data"] == {"b": "2", "c": "3"}
    assert obj["metadata"]["annotations"]["note"] == "hello"
    result = cluster.kubectl(
        "patch",
        "configmap",
        "patched",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/data/zzz"}]',
        check=False,
    )
    assert result.returncode == 1
    # Upstream answers a json-patch that does not apply with this generic 422 text.
    assert result.stderr.strip() == (
        "The request is invalid: the server rejected our request due to an error in our request"
    )


def test_replace_and_edit(cluster: Cluster, tmp_path: Path) -> None:
    cluster.kubectl("create", "configmap", "edited", "--from-literal=a=1")
    obj = json.loads(cluster.kubectl("get", "cm", "edited", "-o", "json").stdout)
    obj["data"]["a"] = "replaced"
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(obj))
    assert cluster.kubectl("replace", "-f", str(path)).stdout.strip() == "configmap/edited replaced"
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/replaced/edited-by-editor/' \"$1\"\n")
    editor.chmod(0o755)
    out = cluster.kubectl("edit", "configmap", "edited", env={"KUBE_EDITOR": str(editor)}).stdout
    assert out.strip() == "configmap/edited edited"
    obj = json.loads(cluster.kubectl("get", "cm", "edited", "-o", "json").stdout)
    assert obj["data"]["a"] == "edited-by-editor"


def test_delete_forms(cluster: Cluster, tmp_path: Path) -> None:
    for name in ("d1", "d2", "d3", "d4"):
        cluster.kubectl("create", "configmap", name, "-n", "default")
    cluster.kubectl("label", "configmap", "d2", "d3", "gone=yes")
    out = cluster.kubectl("delete", "configmap", "d1").stdout
    assert out.strip() == 'configmap "d1" deleted'
    out = cluster.kubectl("delete", "configmap", "-l", "gone=yes").stdout
    assert sorted(out.split("\n")[:2]) == ['configmap "d2" deleted', 'configmap "d3" deleted']
    manifest = tmp_path / "d4.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d4\n")
    out = cluster.kubectl("delete", "-f", str(manifest)).stdout
    assert out.strip() == 'configmap "d4" deleted'
    result = cluster.kubectl("delete", "configmap", "d4", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == 'Error from server (NotFound): configmaps "d4" not found'


def test_multi_document_apply_and_delete_all(cluster: Cluster, tmp_path: Path) -> None:
    cluster.kubectl("create", "namespace", "multi")
    manifest = tmp_path / "many.yaml"
    manifest.write_text(
        "\n---\n".join(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m{i}\n  namespace: multi"
            for i in range(3)
        )
    )
    out = cluster.kubectl("apply", "-f", str(manifest)).stdout
    assert out.splitlines() == [f"configmap/m{i} created" for i in range(3)]
    out = cluster.kubectl("delete", "configmaps", "--all", "-n", "multi").stdout
    # As on a real cluster, every namespace also holds the root CA publisher's ConfigMap.
    assert sorted(out.splitlines()) == [
        'configmap "kube-root-ca.crt" deleted',
        *(f'configmap "m{i}" deleted' for i in range(3)),
    ]


def test_invalid_objects_are_refused_with_the_field(cluster: Cluster, tmp_path: Path) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(DEPLOYMENT.replace("name: web\n  labels", "name: Bad_Name\n  labels"))
    result = cluster.kubectl("apply", "-f", str(manifest), check=False)
    assert result.returncode == 1
    assert 'The Deployment "Bad_Name" is invalid' in result.stderr
    assert "metadata.name" in result.stderr
    manifest.write_text(DEPLOYMENT.replace("replicas: 2", "replicas: 2\n  replicaz: 3"))
    result = cluster.kubectl("apply", "-f", str(manifest), check=False)
    assert result.returncode == 1
    assert 'unknown field "spec.replicaz"' in result.stderr


def test_explain(cluster: Cluster) -> None:
    out = cluster.kubectl("explain", "pods.spec.containers").stdout
    assert "KIND:       Pod" in out
    assert "FIELD: containers <[]Container>" in out


def test_describe_and_events(cluster: Cluster) -> None:
    out = cluster.kubectl("describe", "namespace", "default").stdout
    assert out.splitlines()[0].split() == ["Name:", "default"]
    assert "Status:" in out


def test_wait_for_condition(cluster: Cluster, tmp_path: Path) -> None:
    manifest = tmp_path / "crd-like.yaml"
    manifest.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: waited\n")
    cluster.kubectl("apply", "-f", str(manifest))
    out = cluster.kubectl(
        "wait", "--for=jsonpath={.status.phase}=Active", "namespace/waited", "--timeout=20s"
    ).stdout
    assert out.strip() == "namespace/waited condition met"


def test_get_watch_sees_a_change(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "watched")
    proc = subprocess.Popen(
        [
            "kubectl",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "get",
            "configmaps",
            "-n",
            "watched",
            "-w",
            "--request-timeout=20s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(cluster.home)},
    )
    try:
        time.sleep(1.5)
        cluster.kubectl("create", "configmap", "arrives", "-n", "watched")
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        seen = ""
        while time.monotonic() < deadline and "arrives" not in seen:
            seen += proc.stdout.readline()
        assert "arrives" in seen
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def test_services_get_cluster_ips_and_node_ports(cluster: Cluster, tmp_path: Path) -> None:
    out = cluster.kubectl("get", "service", "kubernetes").stdout
    assert header(out) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert out.splitlines()[1].split()[:5] == [
        "kubernetes",
        "ClusterIP",
        "10.43.0.1",
        "<none>",
        "443/TCP",
    ]
    manifest = tmp_path / "svc.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: echo\nspec:\n  type: NodePort\n"
        "  selector: {app: echo}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
    )
    cluster.kubectl("apply", "-f", str(manifest))
    svc = json.loads(cluster.kubectl("get", "svc", "echo", "-o", "json").stdout)
    assert svc["spec"]["clusterIP"].startswith("10.43.")
    assert svc["spec"]["clusterIPs"] == [svc["spec"]["clusterIP"]]
    assert 30000 <= svc["spec"]["ports"][0]["nodePort"] <= 32767
    assert svc["spec"]["ipFamilies"] == ["IPv4"]
    taken = svc["spec"]["clusterIP"]
    manifest.write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: clash\nspec:\n"
        f"  clusterIP: {taken}\n  ports:\n  - port: 80\n"
    )
    result = cluster.kubectl("apply", "-f", str(manifest), check=False)
    assert result.returncode == 1
    assert "provided IP is already allocated" in result.stderr
    cluster.kubectl("delete", "svc", "echo")
    cluster.kubectl("apply", "-f", str(manifest))  # the address is free again


def test_get_all_and_describe(cluster: Cluster) -> None:
    out = cluster.kubectl("get", "all", "-n", "default").stdout
    assert "service/kubernetes" in out.split()
    out = cluster.kubectl("describe", "service", "kubernetes").stdout
    fields = {
        line.split(":", 1)[0]: line.split(":", 1)[1].strip()
        for line in out.splitlines()
        if ":" in line and not line.startswith(" ")
    }
    assert fields["IP"] == "10.43.0.1"
    assert fields["Port"] == "https  443/TCP"
    assert fields["Events"] == "<none>"


def test_server_side_apply_owns_fields(cluster: Cluster, tmp_path: Path) -> None:
    manifest = tmp_path / "owned.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\ndata:\n  a: '1'\n  b: '2'\n"
    )
    cluster.kubectl("apply", "--server-side", "-f", str(manifest))
    obj = json.loads(
        cluster.kubectl("get", "cm", "owned", "-o", "json", "--show-managed-fields").stdout
    )
    (entry,) = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("kubectl", "Apply")
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}}
    # Dropping a field from the applied configuration removes it.
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\ndata:\n  a: '1'\n"
    )
    cluster.kubectl("apply", "--server-side", "-f", str(manifest))
    obj = json.loads(cluster.kubectl("get", "cm", "owned", "-o", "json").stdout)
    assert obj["data"] == {"a": "1"}
    # Another manager changing a field it does not own conflicts, unless it forces.
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\ndata:\n  a: '9'\n")
    result = cluster.kubectl(
        "apply", "--server-side", "--field-manager=rival", "-f", str(other), check=False
    )
    assert result.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .data.a' in result.stderr
    cluster.kubectl(
        "apply", "--server-side", "--field-manager=rival", "--force-conflicts", "-f", str(other)
    )
    obj = json.loads(
        cluster.kubectl("get", "cm", "owned", "-o", "json", "--show-managed-fields").stdout
    )
    assert obj["data"] == {"a": "9"}
    assert [e["manager"] for e in obj["metadata"]["managedFields"]] == ["rival"]


def test_auth_can_i_and_whoami(cluster: Cluster) -> None:
    out = cluster.kubectl("auth", "can-i", "create", "deployments").stdout
    assert out.strip() == "yes"
    out = cluster.kubectl("auth", "whoami", "-o", "json").stdout
    user = json.loads(out)["status"]["userInfo"]
    assert user["username"] == "admin"
    assert "system:masters" in user["groups"]
    assert "system:authenticated" in user["groups"]
    out = cluster.kubectl("auth", "can-i", "--list").stdout
    assert out.splitlines()[1].split()[:1] == ["*.*"]
    # Reviews are answered, never stored.
    listed = cluster.kubectl(
        "get", "--raw", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", check=False
    )
    assert listed.returncode == 1
