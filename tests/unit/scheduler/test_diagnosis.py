"""The FitError message, built as kube-scheduler builds it."""

from __future__ import annotations

from kybernetes.scheduler.framework.diagnosis import Diagnosis, fit_error_message
from kybernetes.scheduler.framework.status import Code, Status

TAINT = "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"


def test_histogram_sorted_as_strings_with_preemption_message() -> None:
    diagnosis = Diagnosis(
        node_to_status={
            "cp": Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, TAINT),
            "a": Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "Insufficient cpu"),
            "b": Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "Insufficient cpu"),
        },
        post_filter_msg=(
            "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        ),
    )
    assert fit_error_message(3, diagnosis) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
        "are available: 3 Preemption is not helpful for scheduling."
    )


def test_every_reason_of_a_node_counts_and_ten_sorts_before_two() -> None:
    statuses = {
        f"n{i}": Status(Code.UNSCHEDULABLE, "Insufficient cpu", "Insufficient memory")
        for i in range(10)
    }
    statuses["x"] = Status(Code.UNSCHEDULABLE, "Too many pods")
    statuses["y"] = Status(Code.UNSCHEDULABLE, "Too many pods")
    assert fit_error_message(12, Diagnosis(node_to_status=statuses)) == (
        "0/12 nodes are available: 10 Insufficient cpu, 10 Insufficient memory, 2 Too many pods."
    )


def test_pre_filter_message_replaces_the_histogram() -> None:
    diagnosis = Diagnosis(
        pre_filter_msg="pod has unbound immediate PersistentVolumeClaims",
        absent_status=Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "x"),
    )
    assert fit_error_message(5, diagnosis) == (
        "0/5 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    )


def test_absent_nodes_count_under_the_absent_status() -> None:
    diagnosis = Diagnosis(
        node_to_status={"a": Status(Code.UNSCHEDULABLE, "Insufficient cpu")},
        absent_status=Status(
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "Preemption is not helpful for scheduling"
        ),
    )
    assert fit_error_message(4, diagnosis) == (
        "0/4 nodes are available: 1 Insufficient cpu, 3 Preemption is not helpful for scheduling."
    )
