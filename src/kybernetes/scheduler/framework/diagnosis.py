"""Why a pod fits nowhere: ``Diagnosis`` and ``FitError`` with upstream's message.

The message is built exactly as kube-scheduler builds it (one line; wrapped here)::

    0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/
    control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption
    is not helpful for scheduling.

Each reason of each rejected node is counted, the ``"<count> <reason>"`` strings are sorted as
strings (so ``"10 ..."`` sorts before ``"2 ..."``, as in Go) and joined with ``", "``. Nodes not in
the status map count under ``absent_status`` (set when PreFilter rejected the pod for every node
or limited the nodes to a subset). A PreFilter rejection message replaces the histogram; the
PostFilter (preemption) message is appended after it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kybernetes.scheduler.framework.interface import NodeToStatus
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.status import Status

__all__ = ["Diagnosis", "FitError", "fit_error_message"]


@dataclass(slots=True)
class Diagnosis:
    node_to_status: NodeToStatus = field(default_factory=dict)
    absent_status: Status | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    message = f"0/{num_all_nodes} nodes are available:"
    if diagnosis.pre_filter_msg:
        message += f" {diagnosis.pre_filter_msg}."
    else:
        reasons: Counter[str] = Counter()
        for status in diagnosis.node_to_status.values():
            reasons.update(status.reasons)
        absent = num_all_nodes - len(diagnosis.node_to_status)
        if absent > 0 and diagnosis.absent_status is not None:
            for reason in diagnosis.absent_status.reasons:
                reasons[reason] += absent
        histogram = sorted(f"{count} {reason}" for reason, count in reasons.items())
        if histogram:
            message += f" {', '.join(histogram)}."
    if diagnosis.post_filter_msg:
        message += f" {diagnosis.post_filter_msg}"
    return message


class FitError(Exception):
    """The pod fits on none of ``num_all_nodes`` nodes; ``str()`` is upstream's message."""

    def __init__(self, pod: PodInfo, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        return fit_error_message(self.num_all_nodes, self.diagnosis)
