"""``kubectl delete --cascade=background|foreground|orphan`` against a running ``kyb server``:
the in-process garbage collector removes (or keeps) the dependents, as on a real cluster."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.slow


def _family(cluster: Cluster, parent: str) -> None:
    cluster.kubectl("create", "configmap", parent)
    uid = cluster.kubectl("get", "cm", parent, "-o", "jsonpath={.metadata.uid}").stdout
    for child in (f"{parent}-a", f"{parent}-b"):
        cluster.kubectl(
            "apply",
            "-f",
            "-",
            input=(
                f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {child}\n"
                f"  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n"
                f"    name: {parent}\n    uid: {uid}\n    blockOwnerDeletion: true\n"
            ),
        )


def _names(cluster: Cluster, prefix: str) -> list[str]:
    out = cluster.kubectl("get", "cm", "-o", "name").stdout.split()
    return sorted(n.removeprefix("configmap/") for n in out if n.startswith(f"configmap/{prefix}"))


def _wait_for(cluster: Cluster, prefix: str, expected: list[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while _names(cluster, prefix) != expected:
        assert time.monotonic() < deadline, _names(cluster, prefix)
        time.sleep(0.2)


def test_background_cascade_removes_dependents(cluster: Cluster) -> None:
    _family(cluster, "bg")
    out = cluster.kubectl("delete", "cm", "bg", "--cascade=background").stdout
    assert out.strip() == 'configmap "bg" deleted'
    _wait_for(cluster, "bg", [])


def test_foreground_cascade_returns_once_everything_is_gone(cluster: Cluster) -> None:
    _family(cluster, "fg")
    cluster.kubectl("delete", "cm", "fg", "--cascade=foreground")  # kubectl waits for it
    assert _names(cluster, "fg") == []


def test_orphan_cascade_keeps_dependents(cluster: Cluster) -> None:
    _family(cluster, "or")
    cluster.kubectl("delete", "cm", "or", "--cascade=orphan")
    _wait_for(cluster, "or", ["or-a", "or-b"])
    refs = cluster.kubectl("get", "cm", "or-a", "-o", "jsonpath={.metadata.ownerReferences}")
    assert refs.stdout == ""
