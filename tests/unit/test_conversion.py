"""Conversions between API versions stored as one resource: round trips lose nothing."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api import conversion

V2_HPA: dict[str, Any] = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "namespace": "default", "annotations": {"team": "a"}},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1,
        "maxReplicas": 5,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 60},
                },
            },
            {
                "type": "Resource",
                "resource": {
                    "name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "100Mi"},
                },
            },
        ],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
    },
    "status": {
        "currentReplicas": 2,
        "desiredReplicas": 2,
        "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}
        ],
        "conditions": [{"type": "AbleToScale", "status": "True"}],
    },
}


def test_a_v2_hpa_seen_through_v1_and_back_is_unchanged() -> None:
    v1 = conversion.hpa_to_v1(V2_HPA)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert "metrics" not in v1["spec"]
    assert v1["status"]["currentCPUUtilizationPercentage"] == 40
    assert v1["metadata"]["annotations"]["team"] == "a"
    assert conversion.hpa_to_v2(v1) == V2_HPA


def test_a_v1_hpa_is_stored_as_v2() -> None:
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 80,
        },
    }
    v2 = conversion.hpa_to_v2(v1)
    assert v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    assert conversion.hpa_to_v1(v2) == v1


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "e"},
                "involvedObject": {"kind": "Pod", "name": "p"},
                "message": "m",
                "source": {"component": "kubelet"},
                "count": 2,
                "reportingComponent": "kubelet",
            },
            id="core",
        )
    ],
)
def test_events_round_trip(event: dict[str, Any]) -> None:
    modern = conversion.event_from_core(event)
    assert modern["regarding"] == event["involvedObject"]
    assert modern["deprecatedCount"] == 2
    assert conversion.event_to_core(modern) == event
