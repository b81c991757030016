"""Table-driven tests of the HPA replica calculation (upstream's ReplicaCalculator cases)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from kybernetes.api.meta import now_rfc3339
from kybernetes.controllers.hpa.replicas import (
    PodMetric,
    ReplicaCalcError,
    Settings,
    group_pods,
    raw_resource_replicas,
    resource_replicas,
)

NOW = 1_700_000_000.0
LONG_AGO = NOW - 3600


def _t(at: float) -> str:
    return now_rfc3339(datetime.fromtimestamp(at, UTC))


def pod(
    name: str,
    request: str | None = "1000m",
    *,
    phase: str = "Running",
    ready: str = "True",
    started: float = LONG_AGO,
    transition: float = LONG_AGO,
    deleting: bool = False,
) -> dict[str, Any]:
    resources = {"requests": {"cpu": request, "memory": request}} if request else {}
    meta: dict[str, Any] = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = _t(NOW)
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "c", "resources": resources}]},
        "status": {
            "phase": phase,
            "startTime": _t(started),
            "conditions": [
                {"type": "Ready", "status": ready, "lastTransitionTime": _t(transition)}
            ],
        },
    }


def metrics(**values: int) -> dict[str, PodMetric]:
    return {name: PodMetric(v, NOW, 30.0) for name, v in values.items()}


@dataclass
class Case:
    name: str
    current: int
    pods: list[dict[str, Any]]
    usage: dict[str, PodMetric]
    target: int
    expected: int
    utilization: int | None = None
    resource: str = "cpu"
    settings: Settings = field(default_factory=Settings)


UTILIZATION_CASES = [
    Case(
        "scale up",
        3,
        [pod("a"), pod("b"), pod("c")],
        metrics(a=300, b=500, c=700),
        30,
        5,
        50,
    ),
    Case(
        "scale down",
        5,
        [pod(n) for n in "abcde"],
        metrics(a=100, b=300, c=500, d=250, e=250),
        50,
        3,
        28,
    ),
    Case(
        "within tolerance",
        3,
        [pod("a", "900m"), pod("b", "1000m"), pod("c", "1100m")],
        metrics(a=1010, b=1030, c=1020),
        100,
        3,
        102,
    ),
    Case(
        "unready pod makes the scale-up smaller",
        3,
        [pod("a", ready="False"), pod("b"), pod("c")],
        metrics(a=300, b=500, c=700),
        30,
        4,
        60,
    ),
    Case(
        "pending pod counts as unready",
        3,
        [pod("a", phase="Pending"), pod("b"), pod("c")],
        metrics(b=500, c=700),
        30,
        4,
        60,
    ),
    Case(
        "deleted and failed pods are ignored",
        3,
        [pod("a", deleting=True), pod("b", phase="Failed"), pod("c")],
        metrics(a=9000, b=9000, c=500),
        25,
        2,
        50,
    ),
    Case(
        "missing metrics on a scale-up count as zero: no change",
        2,
        [pod("a"), pod("b")],
        metrics(a=1900),
        100,
        2,
        190,
    ),
    Case(
        "missing metrics on a scale-down count as the full request",
        4,
        [pod(n) for n in "abcd"],
        metrics(a=100, b=100, c=100),
        50,
        3,
        10,
    ),
    Case(
        "pod inside the cpu initialization period without a full window is unready",
        2,
        [pod("a", started=NOW - 10, transition=NOW - 10), pod("b")],
        metrics(a=2000, b=2000),
        50,
        4,
        200,
    ),
    Case(
        "memory ignores readiness",
        2,
        [pod("a", ready="False"), pod("b")],
        metrics(a=2000, b=2000),
        100,
        4,
        200,
        resource="memory",
    ),
    Case(
        "a larger tolerance keeps the count",
        2,
        [pod("a"), pod("b")],
        metrics(a=1200, b=1200),
        100,
        2,
        120,
        settings=Settings(tolerance=0.25),
    ),
]


@pytest.mark.parametrize("case", UTILIZATION_CASES, ids=lambda c: c.name)
def test_utilization(case: Case) -> None:
    proposal = resource_replicas(
        case.current, case.target, case.resource, case.pods, case.usage, NOW, case.settings
    )
    assert proposal.replicas == case.expected
    assert proposal.utilization == case.utilization


RAW_CASES = [
    Case("scale up", 3, [pod("a"), pod("b"), pod("c")], metrics(a=10, b=12, c=14), 4, 9),
    Case("scale down", 4, [pod(n) for n in "abcd"], metrics(a=1, b=1, c=1, d=1), 4, 1),
    Case("within tolerance", 2, [pod("a"), pod("b")], metrics(a=41, b=42), 40, 2),
    Case(
        "missing metrics on a scale-down count as the target",
        3,
        [pod("a"), pod("b"), pod("c")],
        metrics(a=10, b=10),
        40,
        2,
    ),
]


@pytest.mark.parametrize("case", RAW_CASES, ids=lambda c: c.name)
def test_average_value(case: Case) -> None:
    proposal = raw_resource_replicas(
        case.current, case.target, case.resource, case.pods, case.usage, NOW, case.settings
    )
    assert proposal.replicas == case.expected
    assert proposal.utilization is None


@pytest.mark.parametrize(
    ("pods", "usage", "message"),
    [
        ([pod("a")], {}, "unable to get metrics for resource cpu: no metrics returned"),
        ([], metrics(a=1), "no pods returned by selector while calculating replica count"),
        ([pod("a", ready="False")], metrics(a=1), "did not receive metrics for any ready pods"),
        ([pod("a", None)], metrics(a=1), "missing request for cpu in container c of Pod a"),
    ],
)
def test_errors(pods: list[dict[str, Any]], usage: dict[str, PodMetric], message: str) -> None:
    with pytest.raises(ReplicaCalcError, match=message):
        resource_replicas(1, 50, "cpu", pods, usage, NOW)


def test_group_pods_never_ready_after_the_initialization_period() -> None:
    # Unready and never ready: the Ready condition changed within the readiness delay of start.
    never = pod("a", ready="False", started=LONG_AGO, transition=LONG_AGO + 5)
    was_ready = pod("b", ready="False", started=LONG_AGO, transition=LONG_AGO + 600)
    ready, unready, missing, ignored = group_pods(
        [never, was_ready], metrics(a=1, b=1), "cpu", NOW, Settings()
    )
    assert (ready, unready, missing, ignored) == (1, {"a"}, set(), set())
