"""Resource names and quantities: container requirements, quota names, limit-range types.

Upstream (``pkg/apis/core/helper`` and ``validation``) sorts resource names into standard ones
(``cpu``, ``memory``, quota counters ...), native ones (unprefixed or ``*kubernetes.io/``),
hugepages (``hugepages-<size>``) and extended ones (any other fully qualified name, which must
be whole numbers and may not be overcommitted). The checks here keep that classification and
upstream's messages; a quantity that does not parse is reported with the parser's message,
where upstream would already have refused the request body.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from kybernetes.api.errors import ErrorType, FieldError, duplicate, forbidden, invalid, required
from kybernetes.api.quantity import Quantity, parse_quantity
from kybernetes.api.validation.common import (
    NEGATIVE,
    as_dict,
    as_list,
    as_str,
    child,
    frozen_json,
    index,
    key,
    parse_quantity_or_error,
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
    q = parse_quantity_or_error(value)
    if isinstance(q, Quantity):
        return q, []
    return None, [invalid(path, str(value), q)]


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
    return _checked_quantity(name, value, path)[1]


# (resource name, quantity text) pairs already found valid, with their quantity: the answer
# depends on the pair alone, and the same few pairs come back on every write.
_VALID_QUANTITIES: dict[tuple[str, str], Quantity] = {}


def _checked_quantity(
    name: str, value: object, path: str
) -> tuple[Quantity | None, list[FieldError]]:
    """The parsed quantity (``None`` when it does not parse) and
    ``validate_resource_quantity``'s errors."""
    token = (name, value) if type(name) is str and type(value) is str else None
    if token is not None:
        known = _VALID_QUANTITIES.get(token)
        if known is not None:
            return known, []
    q, errs = _parse(value, path)
    if q is None:
        return q, errs
    errs.extend(_quantity_checks(name, q, path))
    if not errs and token is not None and len(_VALID_QUANTITIES) < 4096:
        _VALID_QUANTITIES[token] = q
    return q, errs


def _quantity_checks(name: str, q: Quantity, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if q.sign() < 0:
        errs.append(invalid(path, str(q), NEGATIVE))
    if _is_integer_resource(name) and q.milli_value() % 1000:
        errs.append(invalid(path, go_quantity_value(q), "must be an integer"))
    return errs


# Container resource names already found valid: the check depends on the name alone, and the
# same few names (cpu, memory ...) come back in every container of every write.
_VALID_CONTAINER_RESOURCE_NAMES: set[str] = set()


def _name_errors(
    name_fn: Callable[[str, str], list[FieldError]], name: str, path: str
) -> list[FieldError]:
    if name_fn is not validate_container_resource_name:
        return name_fn(name, path)
    if name in _VALID_CONTAINER_RESOURCE_NAMES:
        return []
    errs = name_fn(name, path)
    if not errs and type(name) is str and len(_VALID_CONTAINER_RESOURCE_NAMES) < 1024:
        _VALID_CONTAINER_RESOURCE_NAMES.add(name)
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


# Requirements already found valid, by (frozen requirements, pod claim names, name rule): the
# check depends on those alone (the path only shows in errors), and containers of one template,
# and of many templates, repeat the same requirements.
_VALID_REQUIREMENTS: set[Hashable] = set()


def validate_resource_requirements(
    requirements: object,
    path: str,
    claim_names: frozenset[str] = frozenset(),
    name_fn: Callable[[str, str], list[FieldError]] = validate_container_resource_name,
) -> list[FieldError]:
    """``validateResourceRequirements``: names, quantities, requests within limits, claims."""
    token: Hashable | None
    try:
        token = (frozen_json(requirements), claim_names, name_fn)
    except (TypeError, RecursionError):  # a value with no hashable image: check it every time
        token = None
    if token is not None and token in _VALID_REQUIREMENTS:
        return []
    errs = _resource_requirements(requirements, path, claim_names, name_fn)
    if not errs and token is not None and len(_VALID_REQUIREMENTS) < 4096:
        _VALID_REQUIREMENTS.add(token)
    return errs


def _resource_requirements(
    requirements: object,
    path: str,
    claim_names: frozenset[str],
    name_fn: Callable[[str, str], list[FieldError]],
) -> list[FieldError]:
    req = as_dict(requirements)
    limits, requests = as_dict(req.get("limits")), as_dict(req.get("requests"))
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    errs: list[FieldError] = []
    lim_cpu_mem = req_cpu_mem = lim_huge = req_huge = False
    parsed_limits: dict[str, Quantity] = {}
    for name, value in limits.items():
        p = key(lim_path, name)
        errs.extend(_name_errors(name_fn, name, p))
        q, q_errs = _checked_quantity(name, value, p)
        errs.extend(q_errs)
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
        errs.extend(_name_errors(name_fn, name, p))
        q, q_errs = _checked_quantity(name, value, p)
        errs.extend(q_errs)
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
