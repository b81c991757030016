"""autoscaling: HorizontalPodAutoscalers (v2, and v1 through the fields v1 has).

Replica bounds (``minReplicas`` at least 1, ``maxReplicas`` positive and not below the minimum),
a scale target named by kind and name, and each metric of exactly the source its type names
with a sensible target. Behavior policies keep their periods within an hour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported, required
from kybernetes.api.validation.common import (
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    index,
    is_valid_path_segment_name,
    quantity_of,
    validate_label_selector,
)
from kybernetes.api.validation.names import name_is_dns_subdomain
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update

__all__ = ["validate_horizontal_pod_autoscaler"]

_SOURCES = {
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "External": "external",
    "ContainerResource": "containerResource",
}
_MAX_PERIOD = 1800
_MAX_STABILIZATION = 3600


def _target_ref(ref: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for field in ("kind", "name"):
        value = as_str(ref.get(field))
        if not value:
            errs.append(required(child(path, field)))
        else:
            errs.extend(
                invalid(child(path, field), value, m) for m in is_valid_path_segment_name(value)
            )
    return errs


def _metric_target(target: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    kind = as_str(target.get("type"))
    if not kind:
        errs.append(required(child(path, "type"), "must specify a metric target type"))
    if kind not in ("Utilization", "Value", "AverageValue"):
        errs.append(
            invalid(child(path, "type"), kind, "must be either Utilization, Value, or AverageValue")
        )
    for field in ("value", "averageValue"):
        if target.get(field) is not None:
            q = quantity_of(target[field])
            if q is None or q.sign() != 1:
                errs.append(invalid(child(path, field), str(target[field]), "must be positive"))
    utilization = target.get("averageUtilization")
    if utilization is not None and (as_int(utilization) or 0) < 1:
        errs.append(
            invalid(
                child(path, "averageUtilization"), as_int(utilization), "must be greater than 0"
            )
        )
    return errs


def _metric_identifier(metric: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not as_str(metric.get("name")):
        errs.append(required(child(path, "name"), "must specify a metric name"))
    if metric.get("selector") is not None:
        errs.extend(validate_label_selector(metric["selector"], child(path, "selector")))
    return errs


def _source(kind: str, source: Mapping[str, Any], path: str) -> list[FieldError]:
    if kind in ("resource", "containerResource"):
        errs = (
            []
            if as_str(source.get("name"))
            else [required(child(path, "name"), "must specify a resource name")]
        )
        if kind == "containerResource" and not as_str(source.get("container")):
            errs.append(required(child(path, "container"), "must specify a container"))
        return errs + _metric_target(as_dict(source.get("target")), child(path, "target"))
    errs = _metric_identifier(as_dict(source.get("metric")), child(path, "metric"))
    if kind == "object":
        errs = (
            _target_ref(as_dict(source.get("describedObject")), child(path, "describedObject"))
            + errs
        )
    return errs + _metric_target(as_dict(source.get("target")), child(path, "target"))


def _metric(metric: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    kind = as_str(metric.get("type"))
    if not kind:
        errs.append(required(child(path, "type"), "must specify a metric source type"))
    if kind not in _SOURCES:
        errs.append(not_supported(child(path, "type"), kind, tuple(_SOURCES)))
    present = [field for field in _SOURCES.values() if metric.get(field) is not None]
    if len(present) >= 1:
        errs.extend(_source(present[0], as_dict(metric[present[0]]), child(path, present[0])))
    expected = _SOURCES.get(kind)
    if expected is not None and metric.get(expected) is None:
        errs.append(
            required(child(path, expected), "must populate information for the given metric source")
        )
    if len(present) != 1:
        errs.extend(
            forbidden(child(path, field), "must populate the given metric source only")
            for field in present
            if field != expected
        )
    return errs


def _scaling_rules(rules: object, path: str) -> list[FieldError]:
    if rules is None:
        return []
    r = as_dict(rules)
    errs: list[FieldError] = []
    window = as_int(r.get("stabilizationWindowSeconds"))
    if window is not None and window < 0:
        errs.append(
            invalid(
                child(path, "stabilizationWindowSeconds"),
                window,
                "must be greater than or equal to zero",
            )
        )
    if window is not None and window > _MAX_STABILIZATION:
        errs.append(
            invalid(
                child(path, "stabilizationWindowSeconds"),
                window,
                f"must be less than or equal to {_MAX_STABILIZATION}",
            )
        )
    policy = r.get("selectPolicy")
    if policy is not None and policy not in ("Max", "Min", "Disabled"):
        errs.append(
            not_supported(child(path, "selectPolicy"), as_str(policy), ("Max", "Min", "Disabled"))
        )
    policies = as_list(r.get("policies"))
    if not policies:
        errs.append(required(child(path, "policies"), "must specify at least one Policy"))
    for i, raw in enumerate(policies):
        item, p = as_dict(raw), index(child(path, "policies"), i)
        if item.get("type") not in ("Pods", "Percent"):
            errs.append(
                not_supported(child(p, "type"), as_str(item.get("type")), ("Pods", "Percent"))
            )
        if (as_int(item.get("value")) or 0) <= 0:
            errs.append(
                invalid(
                    child(p, "value"), as_int(item.get("value")) or 0, "must be greater than zero"
                )
            )
        period = as_int(item.get("periodSeconds")) or 0
        if period <= 0:
            errs.append(invalid(child(p, "periodSeconds"), period, "must be greater than zero"))
        if period > _MAX_PERIOD:
            errs.append(
                invalid(
                    child(p, "periodSeconds"),
                    period,
                    f"must be less than or equal to {_MAX_PERIOD}",
                )
            )
    return errs


def validate_horizontal_pod_autoscaler(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None = None, *, version: str = "v2"
) -> list[FieldError]:
    if old is None:
        errs = validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    else:
        errs = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    spec = as_dict(obj.get("spec"))
    min_replicas, max_replicas = (
        as_int(spec.get("minReplicas")),
        as_int(spec.get("maxReplicas")) or 0,
    )
    if min_replicas is not None and min_replicas < 1:
        errs.append(invalid("spec.minReplicas", min_replicas, "must be greater than or equal to 1"))
    if max_replicas < 1:
        errs.append(invalid("spec.maxReplicas", max_replicas, "must be greater than 0"))
    if min_replicas is not None and max_replicas < min_replicas:
        errs.append(
            invalid(
                "spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`"
            )
        )
    errs.extend(_target_ref(as_dict(spec.get("scaleTargetRef")), "spec.scaleTargetRef"))
    if version == "v1":
        target = spec.get("targetCPUUtilizationPercentage")
        if target is not None and (as_int(target) or 0) < 1:
            errs.append(
                invalid(
                    "spec.metrics[0].resource.target.averageUtilization",
                    as_int(target),
                    "must be greater than 0",
                )
            )
        return errs
    for i, metric in enumerate(as_list(spec.get("metrics"))):
        errs.extend(_metric(as_dict(metric), index("spec.metrics", i)))
    behavior = spec.get("behavior")
    if behavior is not None:
        errs.extend(_scaling_rules(as_dict(behavior).get("scaleUp"), "spec.behavior.scaleUp"))
        errs.extend(_scaling_rules(as_dict(behavior).get("scaleDown"), "spec.behavior.scaleDown"))
    return errs
