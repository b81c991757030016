"""Resource names and quantities: container requirements, quota names, limit-range types.

Upstream (``pkg/apis/core/helper`` and ``validation``) sorts resource names into standard ones
(``cpu``, ``memory``, quota counters ...), native ones (unprefixed or ``*kubernetes.io/``),
hugepages (``hugepages-<size>``) and extended ones (any other fully qualified name, which must
be whole numbers and may not be overcommitted). The checks here keep that classification and
upstream's messages; a quantity that does not parse is reported with the parser's message,
where upstream would already have refused the request body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kybernetes.api.errors import ErrorType, FieldError, duplicate, forbidden, invalid, required
from kybernetes.api.quantity import Quantity, QuantityError, parse_quantity
from kybernetes.api.validation.common import (
    NEGATIVE,
    as_dict,
    as_list,
    as_str,
    child,
    index,
    key,
    validate_dns1123_label,
)
from kybernetes.api.validation.gofmt import GoValue, go_quantity
from kybernetes.api.validation.names import is_qualified_name

__all__ = [
    "go_quantity_value",
    "is_extended_resource_name",
    "is_hugepage_resource_name",
    "is_native_resource",
    "is_overcommit_allowed",
    "validate_container_resource_name",
    "validate_quota_resource_name",
    "validate_resource_name",
    "validate_resource_quantity",
    "validate_resource_requirements",
]

_STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
_STANDARD_RESOURCES = frozenset(
    {
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "storage",
        "requests.storage",
        "services.nodeports",
        "services.loadbalancers",
    }
)
_STANDARD_QUOTA_RESOURCES = _STANDARD_RESOURCES - {"storage"}
_INTEGER_RESOURCES = frozenset(
    {
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)


def is_native_resource(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_hugepage_resource_name(name: str) -> bool:
    return name.startswith("hugepages-")


def _is_hugepage_quota_name(name: str) -> bool:
    return name.startswith("requests.hugepages-")


def is_extended_resource_name(name: str) -> bool:
    if is_native_resource(name) or name.startswith("requests."):
        return False
    return not is_qualified_name("requests." + name)


def is_overcommit_allowed(name: str) -> bool:
    return is_native_resource(name) and not is_hugepage_resource_name(name)


def _is_integer_resource(name: str) -> bool:
    return name in _INTEGER_RESOURCES or is_extended_resource_name(name)


def validate_resource_name(name: str, path: str) -> list[FieldError]:
    """``validateResourceName``: a qualified name; unprefixed ones must be standard."""
    errs = [invalid(path, name, m) for m in is_qualified_name(name)]
    if errs:
        return errs
    standard = (
        name in _STANDARD_RESOURCES
        or is_hugepage_resource_name(name)
        or _is_hugepage_quota_name(name)
    )
    if "/" not in name and not standard:
        return [invalid(path, name, "must be a standard resource type or fully qualified")]
    return []


def validate_container_resource_name(name: str, path: str) -> list[FieldError]:
    errs = validate_resource_name(name, path)
    if "/" not in name:
        if name not in _STANDARD_CONTAINER_RESOURCES and not is_hugepage_resource_name(name):
            errs.append(invalid(path, name, "must be a standard resource for containers"))
    elif not is_native_resource(name) and not is_extended_resource_name(name):
        errs.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def validate_quota_resource_name(name: str, path: str) -> list[FieldError]:
    errs = validate_resource_name(name, path)
    if (
        "/" not in name
        and name not in _STANDARD_QUOTA_RESOURCES
        and not _is_hugepage_quota_name(name)
    ):
        errs.append(invalid(path, name, "must be a standard resource for quota"))
    return errs


def _parse(value: object, path: str) -> tuple[Quantity | None, list[FieldError]]:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None, [invalid(path, str(value), "must be a valid quantity")]
    try:
        return parse_quantity(value), []
    except (QuantityError, ValueError, OverflowError) as exc:
        return None, [invalid(path, str(value), str(exc))]


def go_quantity_value(q: Quantity) -> GoValue:
    # Defaulting rounds every resource-list quantity (``RoundUp``), which drops the cached
    # string; the amount is shown at its smallest exact scale, as parsing "1.5" stores it.
    fraction = q.as_fraction()
    scale = 0
    while fraction.denominator != 1 and scale > -9:
        fraction *= 10
        scale -= 1
    return go_quantity("", int(fraction), scale, q.format.value)


def validate_resource_quantity(name: str, value: object, path: str) -> list[FieldError]:
    """``ValidateResourceQuantityValue``: not negative; whole for integer resources."""
    q, errs = _parse(value, path)
    if q is None:
        return errs
    if q.sign() < 0:
        errs.append(invalid(path, str(q), NEGATIVE))
    if _is_integer_resource(name) and q.milli_value() % 1000:
        errs.append(invalid(path, go_quantity_value(q), "must be an integer"))
    return errs


def _hugepage_error(name: str, q: Quantity) -> str | None:
    size = (
        parse_quantity(name.removeprefix("hugepages-")) if name.startswith("hugepages-") else None
    )
    if size is None or size.value() <= 0:
        return None
    if q.value() % size.value():
        return f"{q} is not positive integer multiple of {name}"
    return None


def validate_resource_requirements(
    requirements: object,
    path: str,
    claim_names: frozenset[str] = frozenset(),
    name_fn: Callable[[str, str], list[FieldError]] = validate_container_resource_name,
) -> list[FieldError]:
    """``validateResourceRequirements``: names, quantities, requests within limits, claims."""
    req = as_dict(requirements)
    limits, requests = as_dict(req.get("limits")), as_dict(req.get("requests"))
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    errs: list[FieldError] = []
    lim_cpu_mem = req_cpu_mem = lim_huge = req_huge = False
    parsed_limits: dict[str, Quantity] = {}
    for name, value in limits.items():
        p = key(lim_path, name)
        errs.extend(name_fn(name, p))
        errs.extend(validate_resource_quantity(name, value, p))
        q, _ = _parse(value, p)
        if q is not None:
            parsed_limits[name] = q
            if is_hugepage_resource_name(name):
                lim_huge = True
                message = _hugepage_error(name, q)
                if message:
                    errs.append(invalid(p, str(q), message))
        lim_cpu_mem = lim_cpu_mem or name in ("cpu", "memory")
    for name, value in requests.items():
        p = key(req_path, name)
        errs.extend(name_fn(name, p))
        errs.extend(validate_resource_quantity(name, value, p))
        q, _ = _parse(value, p)
        limit = parsed_limits.get(name)
        if q is not None and limit is not None:
            if q != limit and not is_overcommit_allowed(name):
                errs.append(invalid(req_path, str(q), f"must be equal to {name} limit of {limit}"))
            elif q > limit:
                errs.append(
                    invalid(
                        req_path, str(q), f"must be less than or equal to {name} limit of {limit}"
                    )
                )
        elif name not in limits and not is_overcommit_allowed(name):
            errs.append(required(lim_path, "Limit must be set for non overcommitable resources"))
        if q is not None and is_hugepage_resource_name(name):
            req_huge = True
            message = _hugepage_error(name, q)
            if message:
                errs.append(invalid(p, str(q), message))
        req_cpu_mem = req_cpu_mem or name in ("cpu", "memory")
    if not lim_cpu_mem and not req_cpu_mem and (req_huge or lim_huge):
        errs.append(forbidden(path, "HugePages require cpu or memory"))
    errs.extend(_validate_claims(as_list(req.get("claims")), claim_names, child(path, "claims")))
    return errs


def _validate_claims(claims: list[Any], pod_claims: frozenset[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, raw in enumerate(claims):
        claim: Mapping[str, Any] = as_dict(raw)
        name, request = as_str(claim.get("name")), as_str(claim.get("request"))
        p = index(path, i)
        if not name:
            errs.append(required(p))
            continue
        if name in seen:
            errs.append(duplicate(p, name))
        else:
            entry = name
            if request:
                errs.extend(validate_dns1123_label(request, child(p, "request")))
                entry = f"{name}/{request}"
            seen.add(entry)
        if name not in pod_claims:
            detail = "must be one of the names in pod.spec.resourceClaims"
            detail += ": " + ", ".join(sorted(pod_claims)) if pod_claims else " which is empty"
            errs.append(FieldError(ErrorType.NOT_FOUND, p, name, detail))
    return errs
