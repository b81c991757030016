"""Table-driven tests of HPA stabilization and scaling policies (``behavior.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from kybernetes.controllers.hpa.behavior import Normalizer

NOW = 10_000.0


@dataclass
class Case:
    name: str
    behavior: dict[str, Any] | None
    current: int
    desired: int
    expected: int
    able: str
    limited: str
    limited_status: bool
    low: int = 1
    high: int = 100
    history: list[tuple[int, float]] = field(default_factory=list)  # (replicas, seconds ago)
    scaled: list[tuple[int, int, float]] = field(default_factory=list)  # (from, to, seconds ago)


CASES = [
    Case(
        "no behavior, within range", None, 3, 5, 5, "ReadyForNewScale", "DesiredWithinRange", False
    ),
    Case("no behavior, scale-up rate", None, 1, 10, 4, "ReadyForNewScale", "ScaleUpLimit", True),
    Case("no behavior, max", None, 3, 10, 5, "ReadyForNewScale", "TooManyReplicas", True, high=5),
    Case("no behavior, min", None, 3, 0, 2, "ReadyForNewScale", "TooFewReplicas", True, low=2),
    Case(
        "no behavior, downscale window keeps the highest",
        None,
        5,
        2,
        5,
        "ScaleDownStabilized",
        "DesiredWithinRange",
        False,
        history=[(5, 100)],
    ),
    Case(
        "no behavior, recommendations older than the window are forgotten",
        None,
        5,
        2,
        2,
        "ReadyForNewScale",
        "DesiredWithinRange",
        False,
        history=[(5, 301)],
    ),
    Case(
        "default scale-up policies: the larger of +4 pods and +100 %",
        {},
        10,
        30,
        20,
        "ReadyForNewScale",
        "ScaleUpLimit",
        True,
    ),
    Case(
        "selectPolicy Min takes the smaller",
        {"scaleUp": {"selectPolicy": "Min"}},
        10,
        30,
        14,
        "ReadyForNewScale",
        "ScaleUpLimit",
        True,
    ),
    Case(
        "scale-up Disabled",
        {"scaleUp": {"selectPolicy": "Disabled"}},
        10,
        30,
        10,
        "ReadyForNewScale",
        "ScaleUpLimit",
        True,
    ),
    Case(
        "scale-up window holds the lowest recent recommendation",
        {"scaleUp": {"stabilizationWindowSeconds": 60}},
        2,
        6,
        3,
        "ScaleUpStabilized",
        "DesiredWithinRange",
        False,
        history=[(3, 30)],
    ),
    Case(
        "default scale-down window (300 s) holds the highest",
        {},
        8,
        2,
        8,
        "ScaleDownStabilized",
        "DesiredWithinRange",
        False,
        history=[(8, 200)],
    ),
    Case(
        "scale-down percent policy",
        {
            "scaleDown": {
                "stabilizationWindowSeconds": 0,
                "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
            }
        },
        10,
        1,
        5,
        "ReadyForNewScale",
        "ScaleDownLimit",
        True,
    ),
    Case(
        "scale-down policy counts the period's earlier scale-downs",
        {
            "scaleDown": {
                "stabilizationWindowSeconds": 0,
                "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
            }
        },
        5,
        1,
        5,
        "ReadyForNewScale",
        "ScaleDownLimit",
        True,
        scaled=[(10, 5, 30)],
    ),
    Case(
        "scale-down policy after its period",
        {
            "scaleDown": {
                "stabilizationWindowSeconds": 0,
                "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
            }
        },
        5,
        1,
        2,
        "ReadyForNewScale",
        "ScaleDownLimit",
        True,
        scaled=[(10, 5, 61)],
    ),
    Case(
        "scale-down pods policy with Min select keeps the most",
        {
            "scaleDown": {
                "stabilizationWindowSeconds": 0,
                "selectPolicy": "Min",
                "policies": [
                    {"type": "Pods", "value": 1, "periodSeconds": 60},
                    {"type": "Percent", "value": 50, "periodSeconds": 60},
                ],
            }
        },
        10,
        1,
        9,
        "ReadyForNewScale",
        "ScaleDownLimit",
        True,
    ),
    Case(
        "scale-down below the minimum",
        {"scaleDown": {"stabilizationWindowSeconds": 0}},
        10,
        1,
        3,
        "ReadyForNewScale",
        "TooFewReplicas",
        True,
        low=3,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_normalize(case: Case) -> None:
    normalizer = Normalizer()
    for replicas, ago in case.history:
        normalizer.normalize("k", case.behavior, replicas, replicas, 0, 1000, NOW - ago)
    for before, after, ago in case.scaled:
        normalizer.record_scale("k", case.behavior, before, after, NOW - ago)
    outcome = normalizer.normalize(
        "k", case.behavior, case.current, case.desired, case.low, case.high, NOW
    )
    assert outcome.replicas == case.expected
    assert outcome.able_reason == case.able
    assert outcome.limited_reason == case.limited
    assert outcome.limited == case.limited_status


def test_forget_drops_history() -> None:
    normalizer = Normalizer()
    normalizer.normalize("k", None, 5, 5, 1, 10, NOW)
    normalizer.forget("k")
    assert normalizer.normalize("k", None, 5, 2, 1, 10, NOW + 1).replicas == 2


def test_initial_recommendation_holds_a_new_hpa_at_its_current_count() -> None:
    normalizer = Normalizer()
    normalizer.record_initial("k", 6, NOW)
    normalizer.record_initial("k", 2, NOW + 1)  # only the first sight counts
    held = normalizer.normalize("k", None, 6, 1, 1, 10, NOW + 10)
    assert held.replicas == 6
    assert held.able_reason == "ScaleDownStabilized"
    assert normalizer.normalize("k", None, 6, 1, 1, 10, NOW + 301).replicas == 1
