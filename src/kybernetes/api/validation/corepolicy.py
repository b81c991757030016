"""Core kinds about storage and resource budgets: PersistentVolumes and claims, ResourceQuotas
and LimitRanges (``pkg/apis/core/validation``).

A claim's spec is immutable once created except for its storage request and volume attributes
class while bound, and its request may never shrink; quota scopes are fixed for life.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from kybernetes.api.validation.common import (
    as_dict,
    as_list,
    as_str,
    child,
    index,
    quantity_of,
    semantic_equal,
)
from kybernetes.api.validation.gofmt import go_string_map
from kybernetes.api.validation.names import (
    is_dns1123_subdomain,
    is_qualified_name,
    name_is_dns_subdomain,
)
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update
from kybernetes.api.validation.resourcelists import (
    go_quantity_value,
    validate_quota_resource_name,
    validate_resource_quantity,
)
from kybernetes.api.validation.volumes import validate_access_modes, validate_pvc_spec

__all__ = ["validate_limit_range", "validate_pv", "validate_pvc", "validate_resource_quota"]

Obj = Mapping[str, Any]


def _meta(obj: Obj, old: Obj | None, namespaced: bool) -> list[FieldError]:
    if old is None:
        return validate_object_meta(obj.get("metadata"), namespaced, name_is_dns_subdomain)
    return validate_object_meta_update(obj.get("metadata"), old.get("metadata"))


def validate_pvc(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    errs = (
        [] if old is None else validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    )
    errs.extend(validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain))
    errs.extend(validate_pvc_spec(obj.get("spec"), "spec"))
    if old is None:
        return errs
    new_spec, old_spec = dict(as_dict(obj.get("spec"))), dict(as_dict(old.get("spec")))
    if not as_str(old_spec.get("volumeName")):
        old_spec["volumeName"] = new_spec.get("volumeName")
    if as_dict(obj.get("status")).get("phase") == "Bound":
        new_spec["resources"] = old_spec.get("resources")
        new_spec["volumeAttributesClassName"] = old_spec.get("volumeAttributesClassName")
    if not semantic_equal(new_spec, old_spec):
        errs.append(
            forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and "
                "volumeAttributesClassName for bound claims",
            )
        )
    new_size = quantity_of(
        as_dict(as_dict(obj["spec"].get("resources")).get("requests")).get("storage")
    )
    old_size = quantity_of(
        as_dict(as_dict(old["spec"].get("resources")).get("requests")).get("storage")
    )
    if new_size is not None and old_size is not None and new_size < old_size:
        errs.append(
            forbidden(
                "spec.resources.requests.storage", "field can not be less than previous value"
            )
        )
    return errs


_RECLAIM = ("Delete", "Recycle", "Retain")


def validate_pv(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    errs = _meta(obj, old, False)
    spec = as_dict(obj.get("spec"))
    modes = [as_str(m) for m in as_list(spec.get("accessModes"))]
    if not modes:
        errs.append(required("spec.accessModes"))
    errs.extend(validate_access_modes(modes, "spec.accessModes"))
    capacity = as_dict(spec.get("capacity"))
    if not capacity:
        errs.append(required("spec.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        errs.append(not_supported("spec.capacity", go_string_map(None), ("storage",)))
    for name, value in capacity.items():
        q = quantity_of(value)
        if q is None or q.sign() <= 0:
            errs.append(invalid(f"spec.capacity[{name}]", str(value), "must be greater than zero"))
    policy = as_str(spec.get("persistentVolumeReclaimPolicy"))
    if policy and policy not in _RECLAIM:
        errs.append(not_supported("spec.persistentVolumeReclaimPolicy", policy, _RECLAIM))
    mode = spec.get("volumeMode")
    if isinstance(mode, str) and mode not in ("Block", "Filesystem"):
        errs.append(not_supported("spec.volumeMode", mode, ("Block", "Filesystem")))
    class_name = as_str(spec.get("storageClassName"))
    if class_name:
        errs.extend(
            invalid("spec.storageClassName", class_name, m)
            for m in is_dns1123_subdomain(class_name)
        )
    return errs


def validate_resource_quota(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    errs = _meta(obj, old, True)
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    sections = [("spec.hard", spec.get("hard"))]
    if old is None:
        sections += [("status.hard", status.get("hard")), ("status.used", status.get("used"))]
    for section, values in sections:
        for name, value in as_dict(values).items():
            errs.extend(validate_quota_resource_name(name, f"{section}[{name}]"))
            errs.extend(validate_resource_quantity(name, value, f"{section}[{name}]"))
    scopes = [as_str(s) for s in as_list(spec.get("scopes"))]
    known = (
        "Terminating",
        "NotTerminating",
        "BestEffort",
        "NotBestEffort",
        "PriorityClass",
        "CrossNamespacePodAffinity",
    )
    for scope in scopes:
        if scope not in known:
            errs.append(invalid("spec.scopes", scopes, "unsupported scope"))
    for pair in (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating")):
        if all(s in scopes for s in pair):
            errs.append(invalid("spec.scopes", scopes, "conflicting scopes"))
    if old is not None and sorted(scopes) != sorted(
        as_str(s) for s in as_list(as_dict(old.get("spec")).get("scopes"))
    ):
        errs.append(invalid("spec.scopes", scopes, "field is immutable"))
    return errs


_LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")


def validate_limit_range(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    errs = _meta(obj, old, True)
    types: set[str] = set()
    for i, raw in enumerate(as_list(as_dict(obj.get("spec")).get("limits"))):
        item, p = as_dict(raw), index("spec.limits", i)
        kind = as_str(item.get("type"))
        qualified = is_qualified_name(kind)
        errs.extend(invalid(child(p, "type"), kind, m) for m in qualified)
        if not qualified and "/" not in kind and kind not in _LIMIT_TYPES:
            errs.append(
                invalid(child(p, "type"), kind, "must be a standard limit type or fully qualified")
            )
        if kind in types:
            errs.append(duplicate(child(p, "type"), kind))
        types.add(kind)
        if kind == "Pod":
            for field in ("default", "defaultRequest"):
                if as_dict(item.get(field)):
                    errs.append(
                        forbidden(child(p, field), "may not be specified when `type` is 'Pod'")
                    )
        if kind == "PersistentVolumeClaim" and not (
            "storage" in as_dict(item.get("min")) or "storage" in as_dict(item.get("max"))
        ):
            errs.append(
                required(
                    child(p, "limits"),
                    "either minimum or maximum storage value is required, but neither was provided",
                )
            )
        errs.extend(_limit_relations(item, p))
    return errs


def _limit_relations(item: Obj, path: str) -> list[FieldError]:
    sections = {
        f: {k: quantity_of(v) for k, v in as_dict(item.get(f)).items()}
        for f in ("min", "max", "default", "defaultRequest")
    }
    errs: list[FieldError] = []
    # (lower, upper, field reported, quantity shown, message), in upstream's order.
    min_max = "min value {a} is greater than max value {b}"
    min_request = "min value {a} is greater than default request value {b}"
    request_max = "default request value {a} is greater than max value {b}"
    request_default = "default request value {a} is greater than default limit value {b}"
    min_default = "min value {a} is greater than default value {b}"
    default_max = "default value {a} is greater than max value {b}"
    checks = (
        ("min", "max", "min", "min", min_max),
        ("min", "defaultRequest", "defaultRequest", "defaultRequest", min_request),
        ("defaultRequest", "max", "defaultRequest", "defaultRequest", request_max),
        ("defaultRequest", "default", "defaultRequest", "defaultRequest", request_default),
        ("min", "default", "default", "min", min_default),
        ("default", "max", "default", "max", default_max),
    )
    names = sorted({name for section in sections.values() for name in section})
    for name in names:
        for low, high, at, shown, message in checks:
            a, b = sections[low].get(name), sections[high].get(name)
            value = sections[shown].get(name)
            if a is not None and b is not None and value is not None and a > b:
                errs.append(
                    invalid(
                        f"{path}.{at}[{name}]", go_quantity_value(value), message.format(a=a, b=b)
                    )
                )
    return errs
