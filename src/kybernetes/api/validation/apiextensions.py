"""apiextensions.k8s.io: CustomResourceDefinitions (the parts a CRD author meets).

The name must be ``<spec.names.plural>.<spec.group>``; the group is a dotted DNS subdomain; the
scope is Namespaced or Cluster; versions have unique DNS-1035 names, exactly one is the storage
version and, through ``apiextensions.k8s.io/v1``, each has a structural schema whose root is an
object and whose specified fields and array items all have a type. Resource and kind names are
DNS-1035 labels (kinds in any case). Group and plural never change; scope and kind are fixed
once the CRD is established. Schema checks beyond that structural core (value validations,
defaults, CEL rules) are not made here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported, required
from kybernetes.api.validation.common import (
    as_bool,
    as_dict,
    as_list,
    as_str,
    child,
    immutable,
    index,
    key,
)
from kybernetes.api.validation.gofmt import GoValue, go_string_slice
from kybernetes.api.validation.names import (
    is_dns1035_label,
    is_dns1123_subdomain,
    name_is_dns_subdomain,
)
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update

__all__ = ["validate_custom_resource_definition"]

Obj = Mapping[str, Any]
_COLUMN_TYPES = "boolean,date,integer,number,string"
_COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
# Upstream prints the internal versions slice with %#v (pointers included); it cannot be matched.
_VERSIONS_VALUE = GoValue("[]apiextensions.CustomResourceDefinitionVersion{...}")


def _names(names: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for field in ("plural", "singular"):
        value = as_str(names.get(field))
        messages = is_dns1035_label(value)
        if value and messages:
            errs.append(invalid(child(path, field), value, ",".join(messages)))
    for field in ("kind", "listKind"):
        value = as_str(names.get(field))
        messages = is_dns1035_label(value.lower())
        if value and messages:
            errs.append(
                invalid(
                    child(path, field),
                    value,
                    "may have mixed case, but should otherwise match: " + ",".join(messages),
                )
            )
    for field in ("shortNames", "categories"):
        for i, value in enumerate(as_list(names.get(field))):
            messages = is_dns1035_label(as_str(value))
            if messages:
                errs.append(
                    invalid(index(child(path, field), i), as_str(value), ",".join(messages))
                )
    kind = as_str(names.get("kind"))
    if kind and kind == as_str(names.get("listKind")):
        errs.append(invalid(child(path, "listKind"), kind, "kind and listKind may not be the same"))
    return errs


def _structural(schema: Obj, path: str, level: str) -> list[FieldError]:
    """The type rules of structural schemas (``validateStructuralCompleteness``)."""
    errs: list[FieldError] = []
    kind = as_str(schema.get("type"))
    untyped_ok = any(
        as_bool(schema.get(x))
        for x in (
            "x-kubernetes-embedded-resource",
            "x-kubernetes-int-or-string",
            "x-kubernetes-preserve-unknown-fields",
        )
    )
    if not kind and not untyped_ok:
        detail = {
            "root": "must not be empty at the root",
            "item": "must not be empty for specified array items",
            "field": "must not be empty for specified object fields",
        }[level]
        errs.append(required(child(path, "type"), detail))
    if level == "root" and kind and kind != "object":
        errs.append(invalid(child(path, "type"), kind, "must be object at the root"))
    for name, sub in sorted(as_dict(schema.get("properties")).items()):
        errs.extend(_structural(as_dict(sub), key(child(path, "properties"), name), "field"))
    items = schema.get("items")
    if isinstance(items, dict):
        errs.extend(_structural(items, child(path, "items"), "item"))
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        errs.extend(_structural(additional, child(path, "additionalProperties"), "field"))
    return errs


def _columns(columns: object, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, raw in enumerate(as_list(columns)):
        column, p = as_dict(raw), index(path, i)
        if not as_str(column.get("name")):
            errs.append(required(child(p, "name")))
        kind = as_str(column.get("type"))
        if not kind:
            errs.append(required(child(p, "type"), f"must be one of {_COLUMN_TYPES}"))
        elif kind not in _COLUMN_TYPES.split(","):
            errs.append(invalid(child(p, "type"), kind, f"must be one of {_COLUMN_TYPES}"))
        fmt = as_str(column.get("format"))
        if fmt and fmt not in _COLUMN_FORMATS:
            errs.append(
                invalid(child(p, "format"), fmt, "must be one of " + ",".join(_COLUMN_FORMATS))
            )
        if not as_str(column.get("jsonPath")):
            errs.append(required(child(p, "jsonPath")))
    return errs


def _versions(spec: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    versions = [as_dict(v) for v in as_list(spec.get("versions"))]
    storage, names, unique = 0, set(), True
    for i, version in enumerate(versions):
        p = index("spec.versions", i)
        name = as_str(version.get("name"))
        storage += version.get("storage") is True
        unique = unique and name not in names
        names.add(name)
        messages = is_dns1035_label(name)
        if messages:
            errs.append(invalid(child(p, "name"), name, ",".join(messages)))
        schema = as_dict(version.get("schema")).get("openAPIV3Schema")
        if schema is None:
            errs.append(required(child(p, "schema", "openAPIV3Schema"), "schemas are required"))
        else:
            errs.extend(_structural(as_dict(schema), child(p, "schema", "openAPIV3Schema"), "root"))
        errs.extend(
            _columns(version.get("additionalPrinterColumns"), child(p, "additionalPrinterColumns"))
        )
        warning = version.get("deprecationWarning")
        if warning is not None and version.get("deprecated") is not True:
            errs.append(
                forbidden(child(p, "deprecationWarning"), "can only be set for deprecated versions")
            )
    if not unique:
        errs.append(invalid("spec.versions", _VERSIONS_VALUE, "must contain unique version names"))
    if storage != 1:
        errs.append(
            invalid(
                "spec.versions",
                _VERSIONS_VALUE,
                "must have exactly one version marked as storage version",
            )
        )
    return errs


def _conversion(conversion: object) -> list[FieldError]:
    if conversion is None:
        return []
    c = as_dict(conversion)
    strategy = as_str(c.get("strategy"))
    if not strategy:
        return [required("spec.conversion.strategy")]
    if strategy not in ("None", "Webhook"):
        return [not_supported("spec.conversion.strategy", strategy, ("None", "Webhook"))]
    webhook = as_dict(c.get("webhook"))
    if strategy == "Webhook":
        errs = []
        if webhook.get("clientConfig") is None:
            errs.append(
                required(
                    "spec.conversion.webhookClientConfig",
                    "required when strategy is set to Webhook",
                )
            )
        if not as_list(webhook.get("conversionReviewVersions")):
            errs.append(
                required(
                    "spec.conversion.conversionReviewVersions",
                    "must include at least one of v1, v1beta1",
                )
            )
        return errs
    if c.get("webhook") is not None:
        return [
            forbidden(
                "spec.conversion.webhookClientConfig",
                "should not be set when strategy is not set to Webhook",
            )
        ]
    return []


def _stored_versions(crd: Obj) -> list[FieldError]:
    stored = [as_str(v) for v in as_list(as_dict(crd.get("status")).get("storedVersions"))]
    path = "status.storedVersions"
    if not stored:
        return [invalid(path, go_string_slice(None), "must have at least one stored version")]
    errs: list[FieldError] = []
    remaining = {v: i for i, v in enumerate(stored)}
    for version in as_list(as_dict(crd.get("spec")).get("versions")):
        name = as_str(as_dict(version).get("name"))
        if as_dict(version).get("storage") is True and name not in remaining:
            errs.append(
                invalid(
                    path,
                    GoValue("apiextensions.CustomResourceDefinitionVersion{...}"),
                    f"must have the storage version {name}",
                )
            )
        remaining.pop(name, None)
    errs.extend(
        invalid(index(path, i), v, "must appear in spec.versions")
        for v, i in sorted(remaining.items(), key=lambda x: x[1])
    )
    return errs


def validate_custom_resource_definition(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    names = as_dict(spec.get("names"))
    required_name = f"{as_str(names.get('plural'))}.{as_str(spec.get('group'))}"

    def name_fn(name: str, prefix: bool) -> list[str]:
        messages = name_is_dns_subdomain(name, prefix)
        return (
            [*messages, 'must be spec.names.plural+"."+spec.group']
            if name != required_name
            else messages
        )

    if old is None:
        errs = validate_object_meta(obj.get("metadata"), False, name_fn, kube_finalizers=False)
    else:
        errs = validate_object_meta_update(
            obj.get("metadata"), old.get("metadata"), kube_finalizers=False
        )
    group = as_str(spec.get("group"))
    if not group:
        errs.append(required("spec.group"))
    elif is_dns1123_subdomain(group):
        errs.append(invalid("spec.group", group, ",".join(is_dns1123_subdomain(group))))
    elif len(group.split(".")) < 2:
        errs.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = as_str(spec.get("scope"))
    if not scope:
        errs.append(required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(not_supported("spec.scope", scope, ("Cluster", "Namespaced")))
    if spec.get("preserveUnknownFields") is True:
        errs.append(
            invalid(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                "spec.versions[*].schema instead",
            )
        )
    errs.extend(_versions(spec))
    errs.extend(
        required(f"spec.names.{f}")
        for f in ("plural", "singular", "kind", "listKind")
        if not as_str(names.get(f))
    )
    errs.extend(_names(names, "spec.names"))
    errs.extend(_conversion(spec.get("conversion")))
    errs.extend(
        _names(as_dict(as_dict(obj.get("status")).get("acceptedNames")), "status.acceptedNames")
    )
    errs.extend(_stored_versions(obj))
    if old is not None:
        errs.extend(_update(spec, as_dict(old.get("spec")), old))
    return errs


def _update(spec: Obj, old_spec: Obj, old: Obj) -> list[FieldError]:
    conditions = as_list(as_dict(old.get("status")).get("conditions"))
    established = any(
        as_dict(c).get("type") == "Established" and as_dict(c).get("status") == "True"
        for c in conditions
    )
    errs: list[FieldError] = []
    if established:
        errs.extend(
            immutable(as_str(spec.get("scope")), as_str(old_spec.get("scope")), "spec.scope")
        )
        new_kind, old_kind = (
            as_dict(spec.get("names")).get("kind"),
            as_dict(old_spec.get("names")).get("kind"),
        )
        errs.extend(immutable(as_str(new_kind), as_str(old_kind), "spec.names.kind"))
    errs.extend(immutable(as_str(spec.get("group")), as_str(old_spec.get("group")), "spec.group"))
    new_plural, old_plural = (
        as_dict(spec.get("names")).get("plural"),
        as_dict(old_spec.get("names")).get("plural"),
    )
    errs.extend(immutable(as_str(new_plural), as_str(old_plural), "spec.names.plural"))
    return errs
