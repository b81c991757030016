"""Conversions between API versions that are one resource in storage.

``events.k8s.io/v1`` Events are core ``v1`` Events with renamed fields, and ``autoscaling/v1``
HorizontalPodAutoscalers are ``autoscaling/v2`` ones seen through a narrower window (upstream
stores each pair as one resource and converts on the way in and out). Each function returns a
new dict and never changes its argument, and a round trip through both directions gives back the
same object (for HPAs, the v1 view carries what v1 cannot express in annotations, as upstream).
"""

from __future__ import annotations

import json
from typing import Any

# events.k8s.io/v1 field -> core v1 field; fields not listed have the same name in both.
_EVENT_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "reportingController": "reportingComponent",
}
_EVENT_RENAMES_BACK = {core: new for new, core in _EVENT_RENAMES.items()}


def _renamed(obj: dict[str, Any], renames: dict[str, str], api_version: str) -> dict[str, Any]:
    out = {renames.get(key, key): value for key, value in obj.items()}
    out["apiVersion"] = api_version
    out["kind"] = "Event"
    return out


def event_to_core(event: dict[str, Any]) -> dict[str, Any]:
    """An ``events.k8s.io/v1`` Event as the core ``v1`` Event it is stored as."""
    return _renamed(event, _EVENT_RENAMES, "v1")


def event_from_core(event: dict[str, Any]) -> dict[str, Any]:
    """A stored core ``v1`` Event as an ``events.k8s.io/v1`` Event."""
    return _renamed(event, _EVENT_RENAMES_BACK, "events.k8s.io/v1")


# What autoscaling/v1 cannot express travels in annotations of the v1 view, so that an HPA read
# and written back through v1 keeps its other metrics, behavior and conditions (upstream uses
# these annotation names; their values here are the v2 objects as JSON).
_METRICS = "autoscaling.alpha.kubernetes.io/metrics"
_CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"
_BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
_CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"


def _is_cpu_utilization(metric: dict[str, Any]) -> bool:
    resource = metric.get("resource") or {}
    target = resource.get("target") or {}
    return (
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and target.get("type") == "Utilization"
    )


def _with_annotations(obj: dict[str, Any], extra: dict[str, str]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _HPA_KEYS}
    annotations.update(extra)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return {**obj, "metadata": meta}


_HPA_KEYS = (_METRICS, _CURRENT_METRICS, _BEHAVIOR, _CONDITIONS)


def hpa_to_v2(hpa: dict[str, Any]) -> dict[str, Any]:
    """An ``autoscaling/v1`` HorizontalPodAutoscaler as the ``autoscaling/v2`` object it is
    stored as: ``targetCPUUtilizationPercentage`` becomes a cpu Utilization metric, and what
    the v1 view carried in annotations comes back."""
    carried = (hpa.get("metadata") or {}).get("annotations") or {}
    out = _with_annotations({k: v for k, v in hpa.items() if k not in ("spec", "status")}, {})
    out["apiVersion"] = "autoscaling/v2"
    out["kind"] = "HorizontalPodAutoscaler"
    spec = dict(hpa.get("spec") or {})
    target = spec.pop("targetCPUUtilizationPercentage", None)
    metrics: list[Any] = []
    if target is not None:
        metrics.append(
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": target},
                },
            }
        )
    if _METRICS in carried:
        metrics.extend(json.loads(carried[_METRICS]))
    if metrics:
        spec["metrics"] = metrics
    if _BEHAVIOR in carried:
        spec["behavior"] = json.loads(carried[_BEHAVIOR])
    out["spec"] = spec
    if "status" in hpa:
        status = dict(hpa.get("status") or {})
        current = status.pop("currentCPUUtilizationPercentage", None)
        current_metrics: list[Any] = []
        if current is not None:
            current_metrics.append(
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": current}},
                }
            )
        if _CURRENT_METRICS in carried:
            current_metrics.extend(json.loads(carried[_CURRENT_METRICS]))
        if current_metrics:
            status["currentMetrics"] = current_metrics
        if _CONDITIONS in carried:
            status["conditions"] = json.loads(carried[_CONDITIONS])
        out["status"] = status
    return out


def hpa_to_v1(hpa: dict[str, Any]) -> dict[str, Any]:
    """A stored ``autoscaling/v2`` HorizontalPodAutoscaler as ``autoscaling/v1``: a cpu
    Utilization target is ``targetCPUUtilizationPercentage``; other metrics, behavior and
    conditions ride in annotations (see above)."""
    carried: dict[str, str] = {}
    spec = {k: v for k, v in (hpa.get("spec") or {}).items() if k not in ("metrics", "behavior")}
    others = []
    for metric in (hpa.get("spec") or {}).get("metrics") or []:
        if _is_cpu_utilization(metric) and "targetCPUUtilizationPercentage" not in spec:
            spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"][
                "averageUtilization"
            ]
        else:
            others.append(metric)
    if others:
        carried[_METRICS] = json.dumps(others, separators=(",", ":"))
    behavior = (hpa.get("spec") or {}).get("behavior")
    if behavior is not None:
        carried[_BEHAVIOR] = json.dumps(behavior, separators=(",", ":"))
    status = None
    if "status" in hpa:
        source = hpa.get("status") or {}
        status = {k: v for k, v in source.items() if k not in ("currentMetrics", "conditions")}
        other_current = []
        for metric in source.get("currentMetrics") or []:
            resource = metric.get("resource") or {}
            value = (resource.get("current") or {}).get("averageUtilization")
            is_cpu = metric.get("type") == "Resource" and resource.get("name") == "cpu"
            if is_cpu and value is not None and "currentCPUUtilizationPercentage" not in status:
                status["currentCPUUtilizationPercentage"] = value
            else:
                other_current.append(metric)
        if other_current:
            carried[_CURRENT_METRICS] = json.dumps(other_current, separators=(",", ":"))
        if source.get("conditions"):
            carried[_CONDITIONS] = json.dumps(source["conditions"], separators=(",", ":"))
    base = {k: v for k, v in hpa.items() if k not in ("spec", "status")}
    out = _with_annotations(base, carried)
    out["apiVersion"] = "autoscaling/v1"
    out["kind"] = "HorizontalPodAutoscaler"
    out["spec"] = spec
    if status is not None:
        out["status"] = status
    return out
