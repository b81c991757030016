"""The Job controller's pure parts: counts, indexes, failure reasons, backoff, policy rules."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.controllers.job import backoff, decisions, failurepolicy, indexes
from kybernetes.controllers.job.pods import (
    COMPLETION_INDEX,
    TRACKING_FINALIZER,
    completion_index,
    is_failed,
    new_pod,
)


def job(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "work", "namespace": "ns", "uid": "u-1"},
        "spec": {
            "backoffLimit": 6,
            "parallelism": 1,
            "template": {
                "metadata": {"labels": {"app": "w"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]},
            },
            **spec,
        },
    }


def pod(phase: str = "Running", index: int | None = None, **status: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": "p",
        "namespace": "ns",
        "creationTimestamp": "2024-01-01T00:00:00Z",
    }
    if index is not None:
        meta["annotations"] = {COMPLETION_INDEX: str(index)}
    return {"metadata": meta, "status": {"phase": phase, **status}}


def exited(code: int, name: str = "c") -> dict[str, Any]:
    return {"name": name, "state": {"terminated": {"exitCode": code}}}


@pytest.mark.parametrize(
    ("spec", "active", "succeeded", "wanted"),
    [
        ({"completions": 3, "parallelism": 2}, 0, 0, 2),
        ({"completions": 3, "parallelism": 2}, 2, 2, 1),
        ({"completions": 3, "parallelism": 2}, 0, 3, 0),
        ({"parallelism": 4}, 0, 0, 4),
        ({"parallelism": 4}, 3, 1, 3),  # work queue: after a success keep what runs
    ],
)
def test_wanted_active(spec: dict[str, Any], active: int, succeeded: int, wanted: int) -> None:
    assert decisions.wanted_active(job(**spec), active, succeeded) == wanted


def test_pending_indexes_skip_succeeded_and_running() -> None:
    indexed = job(completions=5, completionMode="Indexed")
    pods = [pod("Running", 1), pod("Failed", 2)]
    assert decisions.pending_indexes(indexed, pods, {0}, 10) == [2, 3, 4]
    assert decisions.pending_indexes(indexed, pods, {0}, 1) == [2]


def test_failure_backoff_limit_and_deadline() -> None:
    assert decisions.failure(job(backoffLimit=2), [], 2, 0.0, 1.0) is None
    reached = decisions.failure(job(backoffLimit=2), [], 3, 0.0, 1.0)
    assert reached == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    late = decisions.failure(job(activeDeadlineSeconds=10), [], 0, 100.0, 110.0)
    assert late == ("DeadlineExceeded", "Job was active longer than specified deadline")
    assert decisions.deadline_left(job(activeDeadlineSeconds=10), 100.0, 104.0) == 6.0
    assert (
        decisions.deadline_left(job(activeDeadlineSeconds=10, suspend=True), 100.0, 104.0) is None
    )


def test_restarts_count_against_the_limit_with_on_failure() -> None:
    spec = job(backoffLimit=2)
    spec["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    restarted = pod("Running", containerStatuses=[{"name": "c", "restartCount": 2}])
    assert decisions.failure(spec, [restarted], 0, None, 0.0) is not None


def test_fail_job_rule_comes_first() -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3]}}]}
    failed = pod("Failed", containerStatuses=[exited(3)])
    why = decisions.failure(job(podFailurePolicy=policy), [failed], 99, None, 0.0)
    assert why is not None
    assert why.reason == "PodFailurePolicy"
    assert (
        why.message
        == "Container c for pod ns/p failed with exit code 3 matching FailJob rule at index 0"
    )


def test_failure_policy_rules() -> None:
    policy = {
        "rules": [
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
            {
                "action": "Count",
                "onExitCodes": {"containerName": "c", "operator": "NotIn", "values": [1]},
            },
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}},
        ]
    }
    disrupted = pod("Failed", conditions=[{"type": "DisruptionTarget", "status": "True"}])
    assert failurepolicy.match(policy, disrupted) == failurepolicy.Match("Ignore", counts=False)
    assert (
        failurepolicy.match(policy, pod("Failed", containerStatuses=[exited(2)])).action == "Count"
    )
    fail = failurepolicy.match(policy, pod("Failed", containerStatuses=[exited(1)]))
    assert fail.action == "FailJob"
    assert fail.message is not None
    assert failurepolicy.match(policy, pod("Failed", containerStatuses=[exited(0)])).action is None
    assert failurepolicy.match(None, pod("Failed")) == failurepolicy.Match(None)
    on_condition = {"rules": [{"action": "FailJob", "onPodConditions": [{"type": "X"}]}]}
    message = failurepolicy.match(
        on_condition, pod("Failed", conditions=[{"type": "X", "status": "True"}])
    ).message
    assert message == "Pod ns/p has condition X matching FailJob rule at index 0"


def test_deleted_pods_count_as_failed_unless_only_failed_are_replaced() -> None:
    deleting = pod("Running")
    deleting["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert is_failed(deleting, job())
    assert not is_failed(deleting, job(podReplacementPolicy="Failed"))


def test_index_sets_round_trip() -> None:
    assert indexes.format_indexes({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    assert indexes.parse("0-2,5,7-8", 10) == {0, 1, 2, 5, 7, 8}
    assert indexes.parse("1,3-9,x", 5) == {1, 3, 4}
    assert indexes.format_indexes([]) == ""


def test_backoff_doubles_and_resets() -> None:
    record = backoff.advance(backoff.BackoffRecord(), [], [100.0])
    assert backoff.remaining(record, 104.0) == 6.0
    record = backoff.advance(record, [], [110.0])
    assert backoff.remaining(record, 110.0) == 20.0
    many = backoff.BackoffRecord(failures=20, last_failure=0.0)
    assert backoff.remaining(many, 0.0) == backoff.MAX_BACKOFF
    assert backoff.advance(record, [120.0], []) == backoff.BackoffRecord()
    mixed = backoff.advance(record, [120.0], [115.0, 125.0])
    assert mixed == backoff.BackoffRecord(1, 125.0)


def test_new_pod_for_an_index() -> None:
    made = new_pod(job(completions=3, completionMode="Indexed"), 2)
    meta = made["metadata"]
    assert meta["generateName"] == "work-2-"
    assert meta["annotations"][COMPLETION_INDEX] == "2"
    assert meta["labels"] == {"app": "w", COMPLETION_INDEX: "2"}
    assert meta["finalizers"] == [TRACKING_FINALIZER]
    assert meta["ownerReferences"][0]["uid"] == "u-1"
    assert made["spec"]["hostname"] == "work-2"
    assert made["spec"]["containers"][0]["env"][0]["name"] == "JOB_COMPLETION_INDEX"
    assert completion_index(made) == 2
    plain = new_pod(job(), None)
    assert plain["metadata"]["generateName"] == "work-"
    assert "hostname" not in plain["spec"]
