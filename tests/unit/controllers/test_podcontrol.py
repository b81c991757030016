"""Pod predicates, deletion ranking, slow start and pod templates (controllers/podcontrol.py)."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.controllers.podcontrol import (
    is_pod_active,
    is_pod_available,
    owner_ref_patch,
    pod_from_template,
    rank_for_deletion,
    release_patch,
    slow_start_batch,
)
from kybernetes.controllers.replicaset import calculate_status

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def stamp(seconds_ago: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(NOW - seconds_ago, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(
    name: str,
    *,
    node: str = "n1",
    phase: str = "Running",
    ready_for: float | None = 100.0,
    restarts: int = 0,
    age: float = 1000.0,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    conditions = []
    if ready_for is not None:
        conditions.append(
            {"type": "Ready", "status": "True", "lastTransitionTime": stamp(ready_for)}
        )
    return {
        "metadata": {
            "name": name,
            "uid": name,
            "creationTimestamp": stamp(age),
            "labels": labels or {"app": "x"},
        },
        "spec": {"nodeName": node} if node else {},
        "status": {
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": [{"name": "c", "restartCount": restarts}],
        },
    }


def names(pods: list[dict[str, Any]]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_active_excludes_terminating_and_finished_pods() -> None:
    assert is_pod_active(pod("a"))
    assert not is_pod_active(pod("b", phase="Succeeded"))
    assert not is_pod_active(pod("c", phase="Failed"))
    deleting = pod("d")
    deleting["metadata"]["deletionTimestamp"] = stamp(0)
    assert not is_pod_active(deleting)


def test_available_needs_min_ready_seconds_of_readiness() -> None:
    assert is_pod_available(pod("a", ready_for=5), 0, NOW)
    assert is_pod_available(pod("a", ready_for=5), 4, NOW)
    assert not is_pod_available(pod("a", ready_for=5), 5, NOW)  # strictly more than
    assert not is_pod_available(pod("a", ready_for=None), 0, NOW)


def test_deletion_order_follows_upstream_ranking() -> None:
    pods = [
        pod("running-ready-old", age=5000, ready_for=4000),
        pod("unassigned", node="", phase="Pending", ready_for=None),
        pod("pending", phase="Pending", ready_for=None),
        pod("unknown", phase="Unknown", ready_for=None),
        pod("not-ready", ready_for=None),
        pod("ready-recently", ready_for=10),
        pod("restarting", ready_for=4000, restarts=3, age=5000),
    ]
    order = names(rank_for_deletion(pods, pods, NOW))
    assert order[:5] == ["unassigned", "pending", "unknown", "not-ready", "ready-recently"]
    assert order[5:] == ["restarting", "running-ready-old"]


def test_doubled_up_nodes_lose_pods_first() -> None:
    pods = [pod("alone", node="n1"), pod("crowded", node="n2")]
    related = [*pods, pod("sibling", node="n2")]
    assert names(rank_for_deletion(pods, related, NOW)) == ["crowded", "alone"]


def test_deletion_cost_annotation_is_honoured() -> None:
    cheap, dear = pod("cheap"), pod("dear")
    dear["metadata"]["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": "10"}
    assert names(rank_for_deletion([dear, cheap], [], NOW)) == ["cheap", "dear"]


def test_newer_pods_go_first_in_logarithmic_buckets() -> None:
    young, old = pod("young", age=10, ready_for=None), pod("old", age=100_000, ready_for=None)
    assert names(rank_for_deletion([old, young], [], NOW)) == ["young", "old"]
    # 1000 s and 1100 s old fall in the same power-of-two bucket: the uid decides.
    a, b = pod("b-pod", age=1100, ready_for=None), pod("a-pod", age=1000, ready_for=None)
    assert names(rank_for_deletion([a, b], [], NOW)) == ["a-pod", "b-pod"]


async def test_slow_start_doubles_batches_and_stops_at_the_first_failing_batch() -> None:
    calls: list[int] = []

    async def ok() -> None:
        calls.append(1)

    assert await slow_start_batch(10, 1, ok) == (10, None)
    assert len(calls) == 10

    attempts = 0

    async def fails_from_fourth() -> None:
        nonlocal attempts
        attempts += 1
        if attempts >= 4:
            raise RuntimeError("quota")

    done, error = await slow_start_batch(20, 1, fails_from_fourth)
    # Batches of 1, 2, then 4 (where calls 4..7 fail): 3 succeeded, none attempted after.
    assert (done, str(error), attempts) == (3, "quota", 7)


def test_pod_from_template_carries_labels_owner_and_generate_name() -> None:
    owner = {"metadata": {"name": "web", "namespace": "ns", "uid": "u1"}}
    ref = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web",
        "uid": "u1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    template = {
        "metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    created = pod_from_template(template, owner, ref)
    assert created["metadata"] == {
        "generateName": "web-",
        "namespace": "ns",
        "labels": {"app": "web"},
        "annotations": {"a": "b"},
        "ownerReferences": [ref],
    }
    assert created["spec"] == template["spec"]
    assert created["spec"] is not template["spec"]


def test_adoption_patches_carry_the_object_uid() -> None:
    ref = {"uid": "owner"}
    assert owner_ref_patch("pod", ref) == {"metadata": {"ownerReferences": [ref], "uid": "pod"}}
    assert release_patch("pod", "owner") == {
        "metadata": {"ownerReferences": [{"$patch": "delete", "uid": "owner"}], "uid": "pod"}
    }


@pytest.mark.parametrize(
    ("error", "have", "reason"), [(None, 3, None), (ValueError("quota"), 1, "FailedCreate")]
)
def test_replicaset_status_counts_and_failure_condition(
    error: Exception | None, have: int, reason: str | None
) -> None:
    rs = {
        "metadata": {"generation": 2},
        "spec": {
            "replicas": 3,
            "minReadySeconds": 30,
            "template": {"metadata": {"labels": {"app": "x", "tier": "t"}}},
        },
        "status": {"observedGeneration": 1},
    }
    pods = [
        pod("a", labels={"app": "x", "tier": "t"}, ready_for=60),
        pod("b", labels={"app": "x"}, ready_for=10),
        pod("c", labels={"app": "x", "tier": "t"}, ready_for=None),
    ][:have]
    status = calculate_status(rs, pods, error, NOW)
    assert status["replicas"] == have
    if error is None:
        assert (status["fullyLabeledReplicas"], status["readyReplicas"]) == (2, 2)
        assert status["availableReplicas"] == 1
        assert "conditions" not in status
    else:
        (cond,) = status["conditions"]
        assert (cond["type"], cond["reason"], cond["message"]) == (
            "ReplicaFailure",
            reason,
            "quota",
        )
        assert calculate_status({**rs, "status": status}, pods, None, NOW).get("conditions") is None
