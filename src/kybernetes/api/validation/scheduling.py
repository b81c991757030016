"""scheduling.k8s.io: PriorityClasses.

User-defined classes may not exceed one billion; the ``system-`` prefix is reserved for the two
built-in classes with their fixed values. Value and preemption policy never change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, forbidden, not_supported, required
from kybernetes.api.validation.common import as_int, as_str, immutable
from kybernetes.api.validation.names import name_is_dns_subdomain
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update

__all__ = ["HIGHEST_USER_DEFINABLE_PRIORITY", "SYSTEM_PRIORITY_CLASSES", "validate_priority_class"]

HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": 2_000_001_000,
    "system-cluster-critical": 2_000_000_000,
}


def _system_class_error(name: str, value: int, global_default: bool) -> str | None:
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"name {name} is not a known system priority class"
    if value != SYSTEM_PRIORITY_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return None


def validate_priority_class(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[FieldError]:
    if old is not None:
        errs = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        if as_int(obj.get("value")) != as_int(old.get("value")):
            errs.append(forbidden("value", "may not be changed in an update."))
        return errs + immutable(
            obj.get("preemptionPolicy"), old.get("preemptionPolicy"), "preemptionPolicy"
        )
    errs = validate_object_meta(obj.get("metadata"), False, name_is_dns_subdomain)
    name = as_str(dict(obj.get("metadata") or {}).get("name"))
    value = as_int(obj.get("value")) or 0
    if name.startswith("system-"):
        problem = _system_class_error(name, value, obj.get("globalDefault") is True)
        if problem:
            errs.append(
                forbidden(
                    "metadata.name",
                    "priority class names with 'system-' prefix are reserved for system use only. "
                    f"error: {problem}",
                )
            )
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(
            forbidden(
                "value",
                "maximum allowed value of a user defined priority is "
                f"{HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        )
    policy = obj.get("preemptionPolicy")
    if policy is not None:
        if not policy:
            errs.append(required("preemptionPolicy"))
        elif policy not in ("PreemptLowerPriority", "Never"):
            errs.append(
                not_supported("preemptionPolicy", as_str(policy), ("PreemptLowerPriority", "Never"))
            )
    return errs
