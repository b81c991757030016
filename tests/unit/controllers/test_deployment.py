"""The pure parts of the Deployment controller: hashes, fenceposts, annotations, rollout steps."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.controllers.deployment import progress
from kybernetes.controllers.deployment.recreate import old_pods_running
from kybernetes.controllers.deployment.replicas import (
    go_round,
    new_rs_new_replicas,
    proportional_sizes,
)
from kybernetes.controllers.deployment.rolling import (
    max_scaled_down,
    new_rs_target,
    scale_down_plan,
    unhealthy_cleanup,
)
from kybernetes.controllers.deployment.util import (
    compute_hash,
    equal_ignore_hash,
    find_active_or_latest,
    fnv32a,
    max_surge,
    max_unavailable,
    resolve_fenceposts,
    safe_encode,
    set_new_rs_annotations,
)

NOW = 1_700_000_000.0
TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "x"}},
    "spec": {"containers": [{"name": "c", "image": "i"}]},
}


def deployment(
    replicas: int, surge: Any = "25%", unavailable: Any = "25%", **extra: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": "d", "generation": 1, "annotations": extra.pop("annotations", {})},
        "spec": {
            "replicas": replicas,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
            },
            "template": TEMPLATE,
            "progressDeadlineSeconds": 600,
            **extra,
        },
        "status": {},
    }


def rs(
    name: str,
    replicas: int,
    available: int = 0,
    created: str = "2024-01-01T00:00:00Z",
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "uid": name,
            "creationTimestamp": created,
            "annotations": dict(annotations or {}),
        },
        "spec": {"replicas": replicas, "template": TEMPLATE},
        "status": {
            "replicas": replicas,
            "availableReplicas": available,
            "readyReplicas": available,
        },
    }


def test_fnv32a_and_safe_encoding_match_their_definitions() -> None:
    assert fnv32a(b"") == 0x811C9DC5
    assert fnv32a(b"a") == 0xE40C292C  # the published FNV-1a test vector
    assert safe_encode("0123456789") == "456789bcdf"  # 48 % 27 = 21 -> "4"


def test_hash_is_stable_and_depends_on_template_and_collisions() -> None:
    h = compute_hash(TEMPLATE, None)
    assert h == compute_hash({"spec": TEMPLATE["spec"], "metadata": TEMPLATE["metadata"]}, None)
    assert h != compute_hash(TEMPLATE, 1)
    assert compute_hash(TEMPLATE, 1) != compute_hash(TEMPLATE, 2)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert 1 <= len(h) <= 10


def test_templates_compare_without_the_hash_label() -> None:
    hashed = {**TEMPLATE, "metadata": {"labels": {"app": "x", "pod-template-hash": "abc"}}}
    assert equal_ignore_hash(hashed, TEMPLATE)
    assert equal_ignore_hash(
        {**TEMPLATE, "metadata": {**TEMPLATE["metadata"], "annotations": {}}}, TEMPLATE
    )
    assert not equal_ignore_hash({**TEMPLATE, "spec": {"containers": []}}, TEMPLATE)


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "want"),
    [
        ("25%", "25%", 10, (3, 2)),  # surge rounds up, unavailable down
        ("25%", "25%", 1, (1, 0)),
        (0, "10%", 5, (0, 1)),  # both would be zero: one may be unavailable
        (2, 0, 3, (2, 0)),
        ("50%", "50%", 0, (0, 1)),
    ],
)
def test_fenceposts(surge: Any, unavailable: Any, desired: int, want: tuple[int, int]) -> None:
    assert resolve_fenceposts(surge, unavailable, desired) == want


def test_max_unavailable_is_capped_and_zero_for_recreate() -> None:
    assert max_unavailable(deployment(2, 0, 5)) == 2
    recreate = deployment(4)
    recreate["spec"]["strategy"] = {"type": "Recreate"}
    assert (max_surge(recreate), max_unavailable(recreate)) == (0, 0)


def test_new_replica_set_grows_within_the_surge() -> None:
    d = deployment(10)  # surge 3
    old, new = rs("old", 10), rs("new", 0)
    assert new_rs_new_replicas(d, [old, new], new) == 3
    assert new_rs_target(d, [old, rs("new", 3)], rs("new", 3)) == 3  # at 13 already
    assert new_rs_target(d, [rs("old", 2), new], new) == 10
    assert new_rs_target(d, [rs("big", 12)], rs("big", 12)) == 10  # scales down to replicas


def test_old_replica_sets_shrink_only_within_availability() -> None:
    d = deployment(10)  # unavailable 2, so at least 8 available
    old, new = rs("old", 10, available=10), rs("new", 3, available=0)
    assert max_scaled_down(d, [old, new], new) == 13 - 8 - 3 == 2
    assert [(r["metadata"]["name"], n) for r, n in scale_down_plan(d, [old, new], [old])] == [
        ("old", 8)
    ]
    sick = rs("sick", 4, available=1, created="2023-01-01T00:00:00Z")
    assert [(r["metadata"]["name"], n) for r, n in unhealthy_cleanup([old, sick], 2)] == [
        ("sick", 2)
    ]


def test_proportional_scaling_spreads_the_difference() -> None:
    d = deployment(20)  # surge 5: 25 allowed
    notes = {"deployment.kubernetes.io/max-replicas": "13"}
    old = rs("old", 8, created="2024-01-01T00:00:00Z", annotations=notes)
    new = rs("new", 5, created="2024-01-02T00:00:00Z", annotations=notes)
    sizes, op = proportional_sizes(d, [old, new])
    assert op == "up"
    assert {r["metadata"]["name"]: n for r, n in sizes} == {"old": 15, "new": 10}
    assert sum(n for _, n in sizes) == 25
    shrink, op = proportional_sizes(deployment(0), [old, new])
    assert op == "down"
    assert all(n == 0 for _, n in shrink)


def test_go_rounding_is_half_away_from_zero() -> None:
    assert [go_round(x) for x in (0.5, 1.5, 2.5, -0.5, -2.5)] == [1, 2, 3, -1, -3]


def test_active_or_latest() -> None:
    a, b = rs("a", 0, created="2024-01-01T00:00:00Z"), rs("b", 0, created="2024-01-02T00:00:00Z")
    assert find_active_or_latest(None, [a, b]) is b
    assert find_active_or_latest(rs("n", 0), [a, b])["metadata"]["name"] == "n"  # type: ignore[index]
    assert find_active_or_latest(rs("n", 2), [rs("o", 1)]) is None


def test_revision_annotations_and_history_on_rollback() -> None:
    d = deployment(3, annotations={"team": "a", "deployment.kubernetes.io/revision": "2"})
    new: dict[str, Any] = {"metadata": {}}
    assert set_new_rs_annotations(d, new, "1", exists=False)
    assert new["metadata"]["annotations"] == {
        "team": "a",
        "deployment.kubernetes.io/revision": "1",
        "deployment.kubernetes.io/desired-replicas": "3",
        "deployment.kubernetes.io/max-replicas": "4",
    }
    assert set_new_rs_annotations(d, new, "3", exists=True)
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert set_new_rs_annotations(d, new, "5", exists=True)
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1,3"
    assert not set_new_rs_annotations(d, new, "4", exists=True)


def test_rollout_status_conditions() -> None:
    d = deployment(2)
    new = rs("new", 2, available=2)
    status = progress.rollout_status(d, [new], new, NOW)
    assert status["availableReplicas"] == 2
    assert status["updatedReplicas"] == 2
    reasons = {c["type"]: c["reason"] for c in status["conditions"]}
    assert reasons == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }

    stuck = deployment(2)
    stuck["status"] = progress.rollout_status(stuck, [rs("new", 2)], rs("new", 2), NOW)
    assert {c["reason"] for c in stuck["status"]["conditions"]} == {
        "MinimumReplicasUnavailable",
        "ReplicaSetUpdated",
    }
    assert progress.requeue_delay(stuck, stuck["status"], NOW + 100) == 501.0
    later = progress.rollout_status(stuck, [rs("new", 2)], rs("new", 2), NOW + 601)
    cond = next(c for c in later["conditions"] if c["type"] == "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert cond["message"] == 'ReplicaSet "new" has timed out progressing.'


def test_paused_condition_flips_once() -> None:
    d = deployment(1, paused=True)
    cond = progress.paused_condition(d, NOW)
    assert cond is not None
    assert (cond["status"], cond["reason"]) == ("Unknown", "DeploymentPaused")
    d["status"]["conditions"] = [cond]
    assert progress.paused_condition(d, NOW) is None
    d["spec"]["paused"] = False
    resumed = progress.paused_condition(d, NOW)
    assert resumed is not None
    assert resumed["reason"] == "DeploymentResumed"


def test_recreate_waits_for_every_old_pod() -> None:
    new, old = rs("new", 0), rs("old", 0)
    old["status"]["replicas"] = 0
    running = {"metadata": {}, "status": {"phase": "Running"}}
    done = {"metadata": {}, "status": {"phase": "Succeeded"}}
    assert old_pods_running(new, [old], {"old": [running]})
    assert not old_pods_running(new, [old], {"old": [done], "new": [running]})
