"""policy: PodDisruptionBudgets.

Upstream validates only the spec here (the object's metadata gets the generic checks every
kind gets); ``minAvailable`` and ``maxUnavailable`` are exclusive integers or percentages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, invalid, not_supported
from kybernetes.api.validation.apps import validate_positive_int_or_percent
from kybernetes.api.validation.common import as_dict, as_str, validate_label_selector
from kybernetes.api.validation.gofmt import GoValue, go_int_or_string
from kybernetes.api.validation.objectmeta import validate_object_meta_update

__all__ = ["validate_pod_disruption_budget"]

_POLICIES = ("AlwaysAllow", "IfHealthyBudget")


def _not_more_than_100(value: object, path: str) -> list[FieldError]:
    if (
        isinstance(value, str)
        and value.endswith("%")
        and value[:-1].isdigit()
        and int(value[:-1]) > 100
    ):
        return [invalid(path, go_int_or_string(value), "must not be greater than 100%")]
    return []


def validate_pod_disruption_budget(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = (
        [] if old is None else validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    )
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        errs.append(
            invalid(
                "spec",
                GoValue("policy.PodDisruptionBudgetSpec{...}"),
                "minAvailable and maxUnavailable cannot be both set",
            )
        )
    for field, value in (("minAvailable", min_available), ("maxUnavailable", max_unavailable)):
        if value is not None:
            errs.extend(validate_positive_int_or_percent(value, f"spec.{field}"))
            errs.extend(_not_more_than_100(value, f"spec.{field}"))
    errs.extend(validate_label_selector(spec.get("selector"), "spec.selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in _POLICIES:
        errs.append(not_supported("spec.unhealthyPodEvictionPolicy", as_str(policy), _POLICIES))
    return errs
