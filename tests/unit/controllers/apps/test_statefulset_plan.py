"""What one StatefulSet sync does: ordering, scaling, replacement, updates, status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kybernetes.controllers.statefulset import identity
from kybernetes.controllers.statefulset.plan import (
    CREATE,
    DELETE,
    UPDATE,
    Revision,
    compute_status,
    plan,
)

NOW = 1_700_000_000.0
V1 = Revision("web-v1", {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}})
V2 = Revision("web-v2", {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{}]}})


def stamp(seconds_ago: float) -> str:
    return datetime.fromtimestamp(NOW - seconds_ago, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sts(replicas: int = 3, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "u", "generation": 4},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            **spec,
        },
    }


def pod(
    ordinal: int,
    revision: Revision = V1,
    *,
    ready: bool = True,
    phase: str = "Running",
    deleting: bool = False,
    ready_for: float = 100.0,
) -> dict[str, Any]:
    out = identity.new_pod(sts(), revision.template, ordinal, revision.name)
    out["metadata"]["uid"] = f"uid-{ordinal}"
    status = "True" if ready else "False"
    out["status"] = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": status, "lastTransitionTime": stamp(ready_for)}],
    }
    if deleting:
        out["metadata"]["deletionTimestamp"] = stamp(0)
    return out


def summary(the_set: dict[str, Any], pods: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a.verb, a.pod["metadata"]["name"]) for a in plan(the_set, pods, V1, V2, NOW).actions]


def test_ordered_ready_creates_one_pod_and_waits_for_it() -> None:
    assert summary(sts(), []) == [(CREATE, "web-0")]
    assert summary(sts(), [pod(0, ready=False)]) == []
    assert summary(sts(), [pod(0)]) == [(CREATE, "web-1")]
    assert summary(sts(), [pod(0), pod(1, phase="Pending", ready=False)]) == []


def test_parallel_creates_every_missing_pod() -> None:
    parallel = sts(podManagementPolicy="Parallel")
    assert summary(parallel, [pod(1, ready=False)]) == [(CREATE, "web-0"), (CREATE, "web-2")]


def test_created_pods_take_the_revision_their_partition_says() -> None:
    partitioned = sts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    created = plan(partitioned, [pod(0), pod(1)], V1, V2, NOW).actions[0].pod
    assert identity.pod_revision(created) == "web-v2"
    below = plan(partitioned, [pod(1), pod(2, V2)], V1, V2, NOW).actions[0].pod
    assert below["metadata"]["name"] == "web-0"
    assert identity.pod_revision(below) == "web-v1"


def test_min_ready_seconds_holds_the_next_pod_back() -> None:
    the_set = sts(minReadySeconds=30)
    waiting = plan(the_set, [pod(0, ready_for=10)], V1, V2, NOW)
    assert waiting.actions == []
    assert waiting.requeue_after == 20
    assert summary(the_set, [pod(0, ready_for=40)]) == [(CREATE, "web-1")]


def test_scale_down_removes_the_highest_ordinal_first_one_at_a_time() -> None:
    pods = [pod(0, V2), pod(1, V2), pod(2, V2), pod(3, V2)]
    assert summary(sts(replicas=1), pods) == [(DELETE, "web-3")]
    assert summary(sts(replicas=1), [pod(0, V2), pod(1, V2), pod(2, V2, deleting=True)]) == []
    assert summary(sts(replicas=1, podManagementPolicy="Parallel"), pods) == [
        (DELETE, "web-3"),
        (DELETE, "web-2"),
        (DELETE, "web-1"),
    ]


def test_failed_pods_are_deleted_and_recreated() -> None:
    actions = plan(sts(), [pod(0, phase="Failed", ready=False)], V1, V2, NOW).actions
    assert [(a.verb, a.pod["metadata"]["name"], a.reason) for a in actions] == [
        (DELETE, "web-0", "recreate-failed"),
        (CREATE, "web-0", ""),
    ]


def test_drifted_identity_is_updated() -> None:
    drifted = pod(0, V2)
    del drifted["metadata"]["labels"][identity.POD_INDEX_LABEL]
    assert summary(sts(replicas=1), [drifted]) == [(UPDATE, "web-0")]


def test_rolling_update_goes_from_the_highest_ordinal_down_to_the_partition() -> None:
    pods = [pod(0), pod(1), pod(2)]
    assert summary(sts(), pods) == [(DELETE, "web-2")]
    assert summary(sts(), [pod(0), pod(1), pod(2, V2, ready=False)]) == []
    assert summary(sts(), [pod(0), pod(1), pod(2, V2)]) == [(DELETE, "web-1")]
    partitioned = sts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    assert summary(partitioned, [pod(0), pod(1), pod(2, V2)]) == []


def test_on_delete_never_deletes_for_an_update() -> None:
    assert summary(sts(updateStrategy={"type": "OnDelete"}), [pod(0), pod(1), pod(2)]) == []


def test_max_unavailable_updates_several_at_once() -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 2}}
    pods = [pod(0), pod(1), pod(2)]
    assert summary(sts(updateStrategy=strategy), pods) == [(DELETE, "web-2"), (DELETE, "web-1")]
    pods = [pod(0), pod(1), pod(2, V2, ready=False)]
    assert summary(sts(updateStrategy=strategy), pods) == []  # ordered: waits for web-2
    parallel = sts(updateStrategy=strategy, podManagementPolicy="Parallel")
    assert summary(parallel, pods) == [(DELETE, "web-1")]


def test_status_counts_and_completes_a_rollout() -> None:
    status = compute_status(sts(), [pod(0), pod(1, V2), pod(2, V2, ready=False)], V1, V2, 0, NOW)
    assert status == {
        "observedGeneration": 4,
        "replicas": 3,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "currentReplicas": 1,
        "updatedReplicas": 2,
        "currentRevision": "web-v1",
        "updateRevision": "web-v2",
        "collisionCount": 0,
    }
    done = compute_status(sts(), [pod(0, V2), pod(1, V2), pod(2, V2)], V1, V2, 1, NOW)
    assert done["currentRevision"] == "web-v2"
    assert done["currentReplicas"] == 3
    assert done["collisionCount"] == 1
