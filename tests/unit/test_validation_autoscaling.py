"""Semantic validation of HorizontalPodAutoscalers (v1 and v2), with upstream's messages."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.defaults import apply_defaults
from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]


def hpa(version: str = "v2", **spec: Any) -> Obj:
    return {
        "apiVersion": f"autoscaling/{version}",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            **spec,
        },
    }


def errors(obj: Obj) -> list[str]:
    apply_defaults("autoscaling", obj["apiVersion"].split("/")[1], "HorizontalPodAutoscaler", obj)
    return [str(e) for e in validate_object("autoscaling", "HorizontalPodAutoscaler", obj)]


def test_v2_defaults() -> None:
    obj = hpa()
    assert errors(obj) == []
    assert obj["spec"]["minReplicas"] == 1
    assert obj["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]


def test_behavior_defaults_fill_only_what_is_missing() -> None:
    obj = hpa(behavior={"scaleDown": {"stabilizationWindowSeconds": 60}})
    assert errors(obj) == []
    assert obj["spec"]["behavior"] == {
        "scaleDown": {
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
            "stabilizationWindowSeconds": 60,
        },
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        },
    }


CASES = [
    pytest.param(
        hpa(minReplicas=0, maxReplicas=0),
        [
            "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
            "spec.maxReplicas: Invalid value: 0: must be greater than 0",
        ],
        id="replica-bounds",
    ),
    pytest.param(
        hpa(minReplicas=6),
        ["spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`"],
        id="max-below-min",
    ),
    pytest.param(
        hpa(scaleTargetRef={"kind": "", "name": "a/b"}),
        [
            "spec.scaleTargetRef.kind: Required value",
            "spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'",
        ],
        id="target-ref",
    ),
    pytest.param(
        hpa(
            metrics=[
                {
                    "type": "Resource",
                    "pods": {
                        "metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "10"},
                    },
                }
            ]
        ),
        # Upstream forbids other sources only when more than one is present.
        [
            "spec.metrics[0].resource: Required value: must populate information for the given "
            "metric source"
        ],
        id="wrong-source",
    ),
    pytest.param(
        hpa(
            metrics=[
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Ratio", "averageUtilization": 0},
                    },
                }
            ]
        ),
        [
            'spec.metrics[0].resource.target.type: Invalid value: "Ratio": must be either '
            "Utilization, Value, or AverageValue",
            "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be "
            "greater than 0",
        ],
        id="metric-target",
    ),
    pytest.param(hpa("v1", targetCPUUtilizationPercentage=50), [], id="v1-valid"),
]


@pytest.mark.parametrize(("obj", "expected"), CASES)
def test_hpa(obj: Obj, expected: list[str]) -> None:
    assert errors(obj) == expected
