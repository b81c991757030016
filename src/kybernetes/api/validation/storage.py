"""storage.k8s.io: StorageClasses.

A class names a provisioner (a qualified name), up to 512 parameters in 256 KiB, a reclaim
policy of Delete or Retain and a binding mode; parameters, provisioner, reclaim policy and
binding mode are fixed once created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
    too_long,
)
from kybernetes.api.validation.common import (
    as_dict,
    as_list,
    as_str,
    immutable,
    index,
    validate_label_name,
    validate_qualified_name,
)
from kybernetes.api.validation.names import name_is_dns_subdomain
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update

__all__ = ["validate_storage_class"]

_MAX_PARAMETERS = 512
_MAX_PARAMETER_BYTES = 256 * 1024


def _parameters(params: Mapping[str, Any]) -> list[FieldError]:
    if len(params) > _MAX_PARAMETERS:
        return [too_long("parameters", _MAX_PARAMETERS)]
    errs = [invalid("parameters", k, "field can not be empty.") for k in params if not k]
    if (
        sum(len(k.encode()) + len(as_str(v).encode()) for k, v in params.items())
        > _MAX_PARAMETER_BYTES
    ):
        errs.append(too_long("parameters", _MAX_PARAMETER_BYTES))
    return errs


def _allowed_topologies(topologies: object) -> list[FieldError]:
    """``validateAllowedTopologies`` with ``ValidateTopologySelectorTerm`` per term."""
    errs: list[FieldError] = []
    seen_terms: list[dict[str, set[str]]] = []
    for i, term in enumerate(as_list(topologies)):
        exprs: dict[str, set[str]] = {}
        term_path = f"allowedTopologies[{i}].matchLabelExpressions"
        for j, raw in enumerate(as_list(as_dict(term).get("matchLabelExpressions"))):
            req, p = as_dict(raw), index(term_path, j)
            values = [as_str(v) for v in as_list(req.get("values"))]
            if not values:
                errs.append(required(f"{p}.values"))
            errs.extend(
                duplicate(index(f"{p}.values", k), v)
                for k, v in enumerate(values)
                if v in values[:k]
            )
            k = as_str(req.get("key"))
            errs.extend(validate_label_name(k, f"{p}.key"))
            if k in exprs:
                errs.append(duplicate(f"{p}.key", k))
            exprs[k] = set(values)
        errs.extend(duplicate(term_path, "") for other in seen_terms if other == exprs)
        seen_terms.append(exprs)
    return errs


def validate_storage_class(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[FieldError]:
    if old is not None:
        errs = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        if as_dict(obj.get("parameters")) != as_dict(old.get("parameters")):
            errs.append(forbidden("parameters", "updates to parameters are forbidden."))
        if obj.get("provisioner") != old.get("provisioner"):
            errs.append(forbidden("provisioner", "updates to provisioner are forbidden."))
        if obj.get("reclaimPolicy") != old.get("reclaimPolicy"):
            errs.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
        return errs + immutable(
            obj.get("volumeBindingMode"), old.get("volumeBindingMode"), "volumeBindingMode"
        )
    errs = validate_object_meta(obj.get("metadata"), False, name_is_dns_subdomain)
    provisioner = as_str(obj.get("provisioner"))
    if not provisioner:
        errs.append(required("provisioner"))
    else:
        errs.extend(validate_qualified_name(provisioner.lower(), "provisioner"))
    errs.extend(_parameters(as_dict(obj.get("parameters"))))
    policy = as_str(obj.get("reclaimPolicy"))
    if policy and policy not in ("Delete", "Retain"):
        errs.append(not_supported("reclaimPolicy", policy, ("Delete", "Retain")))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        errs.append(required("volumeBindingMode"))
    elif mode not in ("Immediate", "WaitForFirstConsumer"):
        errs.append(
            not_supported("volumeBindingMode", as_str(mode), ("Immediate", "WaitForFirstConsumer"))
        )
    return errs + _allowed_topologies(obj.get("allowedTopologies"))
