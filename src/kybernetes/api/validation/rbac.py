"""rbac.authorization.k8s.io: Roles, ClusterRoles and their bindings.

Names only need to be usable as URL path segments. Rules grant at least one verb, either on
resources (with API groups) or on non-resource URLs (cluster roles only), never both. A binding
refers to a role of this API group and may never be re-pointed after creation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, invalid, not_supported, required
from kybernetes.api.validation.common import (
    as_dict,
    as_list,
    as_str,
    child,
    index,
    is_valid_path_segment_name,
    selector_of,
    validate_label_selector,
)
from kybernetes.api.validation.gofmt import GoValue, go_string_slice
from kybernetes.api.validation.names import name_is_dns_subdomain
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update

__all__ = ["validate_binding", "validate_role"]

Obj = Mapping[str, Any]
GROUP = "rbac.authorization.k8s.io"


def _path_segment(name: str, prefix: bool) -> list[str]:
    return is_valid_path_segment_name(name)


def _meta(obj: Obj, old: Obj | None, namespaced: bool) -> list[FieldError]:
    errs = validate_object_meta(obj.get("metadata"), namespaced, _path_segment)
    if old is not None:
        errs.extend(validate_object_meta_update(obj.get("metadata"), old.get("metadata")))
    return errs


def _rule(rule: Obj, namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not as_list(rule.get("verbs")):
        errs.append(required(child(path, "verbs"), "verbs must contain at least one value"))
    urls = as_list(rule.get("nonResourceURLs"))
    if urls:
        shown = go_string_slice(urls)
        if namespaced:
            errs.append(
                invalid(
                    child(path, "nonResourceURLs"),
                    shown,
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if any(as_list(rule.get(f)) for f in ("apiGroups", "resources", "resourceNames")):
            errs.append(
                invalid(
                    child(path, "nonResourceURLs"),
                    shown,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return errs
    if not as_list(rule.get("apiGroups")):
        errs.append(
            required(child(path, "apiGroups"), "resource rules must supply at least one api group")
        )
    if not as_list(rule.get("resources")):
        errs.append(
            required(child(path, "resources"), "resource rules must supply at least one resource")
        )
    return errs


def validate_role(obj: Obj, old: Obj | None = None, *, namespaced: bool = True) -> list[FieldError]:
    """A Role (``namespaced``) or ClusterRole, with its aggregation rule."""
    errs = _meta(obj, old, namespaced)
    for i, rule in enumerate(as_list(obj.get("rules"))):
        errs.extend(_rule(as_dict(rule), namespaced, index("rules", i)))
    aggregation = obj.get("aggregationRule")
    if not namespaced and aggregation is not None:
        selectors = as_list(as_dict(aggregation).get("clusterRoleSelectors"))
        if not selectors:
            errs.append(
                required(
                    "aggregationRule.clusterRoleSelectors",
                    "at least one clusterRoleSelector required if aggregationRule is non-nil",
                )
            )
        for i, selector in enumerate(selectors):
            p = index("aggregationRule.clusterRoleSelectors", i)
            errs.extend(validate_label_selector(selector, p))
            if selector_of(selector) is None:
                errs.append(invalid(p, GoValue("v1.LabelSelector{...}"), "invalid label selector."))
    return errs


def _subject(subject: Obj, namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name, kind, group = (
        as_str(subject.get("name")),
        as_str(subject.get("kind")),
        as_str(subject.get("apiGroup")),
    )
    if not name:
        errs.append(required(child(path, "name")))
    if kind == "ServiceAccount":
        if name:
            errs.extend(invalid(child(path, "name"), name, m) for m in name_is_dns_subdomain(name))
        if group:
            errs.append(not_supported(child(path, "apiGroup"), group, ("",)))
        if not namespaced and not as_str(subject.get("namespace")):
            errs.append(required(child(path, "namespace")))
    elif kind in ("User", "Group"):
        if group != GROUP:
            errs.append(not_supported(child(path, "apiGroup"), group, (GROUP,)))
    else:
        errs.append(not_supported(child(path, "kind"), kind, ("ServiceAccount", "User", "Group")))
    return errs


def validate_binding(
    obj: Obj, old: Obj | None = None, *, namespaced: bool = True
) -> list[FieldError]:
    """A RoleBinding (``namespaced``) or ClusterRoleBinding; ``roleRef`` is fixed for life."""
    errs = _meta(obj, old, namespaced)
    ref = as_dict(obj.get("roleRef"))
    if as_str(ref.get("apiGroup")) != GROUP:
        errs.append(not_supported("roleRef.apiGroup", as_str(ref.get("apiGroup")), (GROUP,)))
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if as_str(ref.get("kind")) not in kinds:
        errs.append(not_supported("roleRef.kind", as_str(ref.get("kind")), kinds))
    name = as_str(ref.get("name"))
    if not name:
        errs.append(required("roleRef.name"))
    else:
        errs.extend(invalid("roleRef.name", name, m) for m in is_valid_path_segment_name(name))
    for i, subject in enumerate(as_list(obj.get("subjects"))):
        errs.extend(_subject(as_dict(subject), namespaced, index("subjects", i)))
    if old is not None and as_dict(old.get("roleRef")) != ref:
        shown = GoValue(
            f'rbac.RoleRef{{APIGroup:"{as_str(ref.get("apiGroup"))}", '
            f'Kind:"{as_str(ref.get("kind"))}", Name:"{name}"}}'
        )
        errs.append(invalid("roleRef", shown, "cannot change roleRef"))
    return errs
