"""Custom resources with the real kubectl against a real ``kyb server``: a CRD applied, then
an object of it in the next command, printer columns, explain, scale, merge patch, and the
CRD's deletion taking its objects with it."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Cluster, start_server, stop_server

pytestmark = pytest.mark.slow

CRD = textwrap.dedent(
    """\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.example.com
    spec:
      group: example.com
      scope: Namespaced
      names:
        plural: widgets
        singular: widget
        kind: Widget
        shortNames: [wd]
      versions:
      - name: v1
        served: true
        storage: true
        subresources:
          status: {}
          scale:
            specReplicasPath: .spec.replicas
            statusReplicasPath: .status.replicas
        additionalPrinterColumns:
        - name: Size
          type: string
          jsonPath: .spec.size
        - name: Replicas
          type: integer
          jsonPath: .spec.replicas
        - name: Age
          type: date
          jsonPath: .metadata.creationTimestamp
        schema:
          openAPIV3Schema:
            type: object
            description: A widget of some size.
            properties:
              spec:
                type: object
                description: What the widget should be.
                properties:
                  size:
                    type: string
                    description: How big the widget is.
                    enum: [small, large]
                  replicas:
                    type: integer
                    default: 1
                    minimum: 0
              status:
                type: object
                properties:
                  replicas: {type: integer}
    """
)

WIDGET = textwrap.dedent(
    """\
    apiVersion: example.com/v1
    kind: Widget
    metadata:
      name: w1
    spec:
      size: small
    """
)


@pytest.fixture(scope="module")
def crd_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("crd-cluster")
    home = base / "home"
    home.mkdir()
    running = start_server(base / "data", home)
    try:
        yield running
    finally:
        err = stop_server(running)
        assert "Traceback" not in err, err


def test_apply_crd_then_object_in_the_next_command(crd_cluster: Cluster) -> None:
    # Discovery is cached by kubectl before the CRD exists: the new kind must still resolve.
    crd_cluster.kubectl("get", "pods")
    out = crd_cluster.kubectl("apply", "-f", "-", input=CRD)
    assert "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created" in (
        out.stdout
    )
    out = crd_cluster.kubectl("apply", "-f", "-", input=WIDGET)
    assert "widget.example.com/w1 created" in out.stdout
    crd = json.loads(crd_cluster.kubectl("get", "crd", "widgets.example.com", "-o", "json").stdout)
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}


def test_get_with_printer_columns_and_short_name(crd_cluster: Cluster) -> None:
    out = crd_cluster.kubectl("get", "wd")
    header, row = out.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "SIZE", "REPLICAS", "AGE"]
    assert row.split()[:3] == ["w1", "small", "1"]


def test_invalid_object_is_refused_with_the_field_path(crd_cluster: Cluster) -> None:
    bad = WIDGET.replace("w1", "w2").replace("small", "huge")
    out = crd_cluster.kubectl("apply", "-f", "-", input=bad, check=False)
    assert out.returncode != 0
    assert 'spec.size: Unsupported value: "huge": supported values: "small", "large"' in (
        out.stderr
    )


def test_explain_reads_the_crd_schema(crd_cluster: Cluster) -> None:
    out = crd_cluster.kubectl("explain", "widgets.spec")
    assert "How big the widget is." in out.stdout
    assert "replicas" in out.stdout


def test_scale_and_merge_patch(crd_cluster: Cluster) -> None:
    crd_cluster.kubectl("scale", "widget/w1", "--replicas=3")
    got = json.loads(crd_cluster.kubectl("get", "widget", "w1", "-o", "json").stdout)
    assert got["spec"]["replicas"] == 3
    assert got["metadata"]["generation"] == 2
    crd_cluster.kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":"large"}}')
    got = json.loads(crd_cluster.kubectl("get", "widget", "w1", "-o", "json").stdout)
    assert got["spec"]["size"] == "large"
    out = crd_cluster.kubectl(
        "patch", "widget", "w1", "-p", '{"spec":{"size":"small"}}', check=False
    )
    assert out.returncode != 0
    assert "application/strategic-merge-patch+json is not supported" in out.stderr


def test_delete_crd_removes_its_objects(crd_cluster: Cluster) -> None:
    crd_cluster.kubectl("delete", "crd", "widgets.example.com", timeout=60)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = crd_cluster.kubectl("get", "crd", check=False)
        if "widgets.example.com" not in out.stdout:
            break
        time.sleep(0.2)
    out = crd_cluster.kubectl("get", "--raw", "/apis/example.com/v1", check=False)
    assert out.returncode != 0
    # Recreated, the CRD starts empty: the old objects went with it.
    crd_cluster.kubectl("apply", "-f", "-", input=CRD)
    out = crd_cluster.kubectl("get", "widgets", "-o", "name")
    assert out.stdout.strip() == ""
