"""Where a pod may run: tolerations, node and pod (anti-)affinity, topology spread constraints.

These are the scheduling constraints of a PodSpec, validated as upstream validates them
(``ValidateTolerations``, ``validateAffinity``, ``validateTopologySpreadConstraints``); the
node-selector term check is shared with PersistentVolume node affinity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from kybernetes.api.validation.common import (
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    index,
    validate_label_name,
    validate_label_selector,
)
from kybernetes.api.validation.names import (
    is_valid_label_value,
    name_is_dns_label,
    name_is_dns_subdomain,
)

__all__ = [
    "TAINT_EFFECTS",
    "validate_affinity",
    "validate_node_selector_term",
    "validate_tolerations",
    "validate_topology_spread",
]

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _taint_effect(effect: str, path: str) -> list[FieldError]:
    if effect in TAINT_EFFECTS:
        return []
    return [not_supported(path, effect, TAINT_EFFECTS)]


def validate_tolerations(tolerations: object, path: str) -> list[FieldError]:
    """``ValidateTolerations``."""
    errs: list[FieldError] = []
    for i, raw in enumerate(as_list(tolerations)):
        tol, p = as_dict(raw), index(path, i)
        k, operator = as_str(tol.get("key")), as_str(tol.get("operator"))
        effect, value = as_str(tol.get("effect")), as_str(tol.get("value"))
        if k:
            errs.extend(validate_label_name(k, child(p, "key")))
        if not k and operator != "Exists":
            errs.append(
                invalid(
                    child(p, "operator"),
                    operator,
                    "operator must be Exists when `key` is empty, which means "
                    '"match all values and all keys"',
                )
            )
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(
                invalid(
                    child(p, "effect"),
                    effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if operator in ("Equal", ""):
            messages = is_valid_label_value(value)
            if messages:
                errs.append(invalid(child(p, "operator"), value, ";".join(messages)))
        elif operator == "Exists":
            if value:
                errs.append(
                    invalid(
                        child(p, "operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    )
                )
        else:
            errs.append(not_supported(child(p, "operator"), operator, ("Equal", "Exists")))
        if effect:
            errs.extend(_taint_effect(effect, child(p, "effect")))
    return errs


def _node_selector_requirement(
    req: Mapping[str, Any], check_values: bool, path: str
) -> list[FieldError]:
    errs: list[FieldError] = []
    operator = as_str(req.get("operator"))
    values = [as_str(v) for v in as_list(req.get("values"))]
    if operator in ("In", "NotIn"):
        if not values:
            errs.append(
                required(
                    child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'"
                )
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            errs.append(
                forbidden(
                    child(path, "values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
    elif operator in ("Gt", "Lt"):
        if len(values) != 1:
            errs.append(
                required(
                    child(path, "values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                )
            )
    else:
        errs.append(invalid(child(path, "operator"), operator, "not a valid selector operator"))
    errs.extend(validate_label_name(as_str(req.get("key")), child(path, "key")))
    if check_values:
        for i, v in enumerate(values):
            errs.extend(
                invalid(index(child(path, "values"), i), v, m) for m in is_valid_label_value(v)
            )
    return errs


def validate_node_selector_term(
    term: Mapping[str, Any], check_values: bool, path: str
) -> list[FieldError]:
    errs: list[FieldError] = []
    for j, req in enumerate(as_list(term.get("matchExpressions"))):
        errs.extend(
            _node_selector_requirement(
                as_dict(req), check_values, index(child(path, "matchExpressions"), j)
            )
        )
    for j, raw in enumerate(as_list(term.get("matchFields"))):
        req, p = as_dict(raw), index(child(path, "matchFields"), j)
        values = [as_str(v) for v in as_list(req.get("values"))]
        if as_str(req.get("operator")) in ("In", "NotIn"):
            if len(values) != 1:
                errs.append(
                    required(
                        child(p, "values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node "
                        "field selector",
                    )
                )
        else:
            errs.append(
                invalid(
                    child(p, "operator"),
                    as_str(req.get("operator")),
                    "not a valid selector operator",
                )
            )
        if as_str(req.get("key")) != "metadata.name":
            errs.append(
                invalid(child(p, "key"), as_str(req.get("key")), "not a valid field selector key")
            )
        else:
            for i, v in enumerate(values):
                errs.extend(
                    invalid(index(child(p, "values"), i), v, m) for m in name_is_dns_subdomain(v)
                )
    return errs


def _pod_affinity_term(term: Mapping[str, Any], path: str) -> list[FieldError]:
    errs = validate_label_selector(term.get("labelSelector"), child(path, "labelSelector"))
    errs.extend(
        validate_label_selector(term.get("namespaceSelector"), child(path, "namespaceSelector"))
    )
    for ns in as_list(term.get("namespaces")):
        errs.extend(
            invalid(child(path, "namespace"), as_str(ns), m) for m in name_is_dns_label(as_str(ns))
        )
    selector = term.get("labelSelector")
    for field in ("matchLabelKeys", "mismatchLabelKeys"):
        keys = as_list(term.get(field))
        if keys and selector is None:
            errs.append(
                forbidden(child(path, field), "must not be specified when labelSelector is not set")
            )
            continue
        for i, k in enumerate(keys):
            errs.extend(validate_label_name(as_str(k), index(child(path, field), i)))
    mismatch = {as_str(k) for k in as_list(term.get("mismatchLabelKeys"))}
    for i, k in enumerate(as_list(term.get("matchLabelKeys"))):
        if as_str(k) in mismatch:
            errs.append(
                invalid(
                    index(child(path, "matchLabelKeys"), i),
                    as_str(k),
                    "exists in both matchLabelKeys and mismatchLabelKeys",
                )
            )
    topology = as_str(term.get("topologyKey"))
    if not topology:
        errs.append(required(child(path, "topologyKey"), "can not be empty"))
    return errs + validate_label_name(topology, child(path, "topologyKey"))


def _pod_affinity(affinity: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    req_path = child(path, "requiredDuringSchedulingIgnoredDuringExecution")
    for i, term in enumerate(
        as_list(affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))
    ):
        errs.extend(_pod_affinity_term(as_dict(term), index(req_path, i)))
    pref_path = child(path, "preferredDuringSchedulingIgnoredDuringExecution")
    for i, raw in enumerate(
        as_list(affinity.get("preferredDuringSchedulingIgnoredDuringExecution"))
    ):
        weighted = as_dict(raw)
        weight = as_int(weighted.get("weight")) or 0
        if not 0 < weight <= 100:
            errs.append(
                invalid(child(index(pref_path, i), "weight"), weight, "must be in the range 1-100")
            )
        errs.extend(
            _pod_affinity_term(
                as_dict(weighted.get("podAffinityTerm")),
                child(index(pref_path, i), "podAffinityTerm"),
            )
        )
    return errs


def validate_affinity(affinity: object, path: str) -> list[FieldError]:
    a = as_dict(affinity)
    errs: list[FieldError] = []
    if a.get("nodeAffinity") is not None:
        node, node_path = as_dict(a["nodeAffinity"]), child(path, "nodeAffinity")
        if node.get("requiredDuringSchedulingIgnoredDuringExecution") is not None:
            selector = as_dict(node["requiredDuringSchedulingIgnoredDuringExecution"])
            terms_path = child(
                node_path, "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"
            )
            terms = as_list(selector.get("nodeSelectorTerms"))
            if not terms:
                errs.append(required(terms_path, "must have at least one node selector term"))
            for i, term in enumerate(terms):
                errs.extend(validate_node_selector_term(as_dict(term), True, index(terms_path, i)))
        pref_path = child(node_path, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, raw in enumerate(
            as_list(node.get("preferredDuringSchedulingIgnoredDuringExecution"))
        ):
            term = as_dict(raw)
            weight = as_int(term.get("weight")) or 0
            if not 0 < weight <= 100:
                errs.append(
                    invalid(
                        child(index(pref_path, i), "weight"), weight, "must be in the range 1-100"
                    )
                )
            errs.extend(
                validate_node_selector_term(
                    as_dict(term.get("preference")), False, child(index(pref_path, i), "preference")
                )
            )
    for kind in ("podAffinity", "podAntiAffinity"):
        if a.get(kind) is not None:
            errs.extend(_pod_affinity(as_dict(a[kind]), child(path, kind)))
    return errs


def validate_topology_spread(constraints: object, path: str) -> list[FieldError]:
    items = [as_dict(c) for c in as_list(constraints)]
    errs: list[FieldError] = []
    for i, c in enumerate(items):
        p = index(path, i)
        skew = as_int(c.get("maxSkew")) or 0
        if skew <= 0:
            errs.append(invalid(child(p, "maxSkew"), skew, "must be greater than zero"))
        topology, when = as_str(c.get("topologyKey")), as_str(c.get("whenUnsatisfiable"))
        if not topology:
            errs.append(required(child(p, "topologyKey"), "can not be empty"))
        if when not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(
                not_supported(
                    child(p, "whenUnsatisfiable"), when, ("DoNotSchedule", "ScheduleAnyway")
                )
            )
        for rest in items[i + 1 :]:
            if (
                as_str(rest.get("topologyKey")) == topology
                and as_str(rest.get("whenUnsatisfiable")) == when
            ):
                errs.append(
                    duplicate(
                        child(p, "{topologyKey, whenUnsatisfiable}"), f"{{{topology}, {when}}}"
                    )
                )
                break
        min_domains = as_int(c.get("minDomains"))
        if c.get("minDomains") is not None:
            if (min_domains or 0) <= 0:
                errs.append(
                    invalid(child(p, "minDomains"), min_domains, "must be greater than zero")
                )
            if when != "DoNotSchedule":
                errs.append(
                    invalid(
                        child(p, "minDomains"),
                        min_domains,
                        f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {when}",
                    )
                )
        for field in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            value = c.get(field)
            if value is not None and value not in ("Honor", "Ignore"):
                errs.append(not_supported(child(p, field), as_str(value), ("Honor", "Ignore")))
        selector = c.get("labelSelector")
        keys = as_list(c.get("matchLabelKeys"))
        if keys and selector is None:
            errs.append(
                forbidden(
                    child(p, "matchLabelKeys"),
                    "must not be specified when labelSelector is not set",
                )
            )
        selector_keys = set(as_dict(as_dict(selector).get("matchLabels"))) | {
            as_str(as_dict(e).get("key"))
            for e in as_list(as_dict(selector).get("matchExpressions"))
        }
        for j, k in enumerate(keys):
            errs.extend(validate_label_name(as_str(k), index(child(p, "matchLabelKeys"), j)))
            if as_str(k) in selector_keys:
                errs.append(
                    invalid(
                        index(child(p, "matchLabelKeys"), j),
                        as_str(k),
                        "exists in both matchLabelKeys and labelSelector",
                    )
                )
        errs.extend(validate_label_selector(selector, child(p, "labelSelector")))
    return errs
