"""ObjectMeta validation on create and update (``k8s.io/apimachinery/pkg/api/validation``).

``validate_object_meta`` is upstream's ``ValidateObjectMeta``: ``generateName`` and ``name``
through the kind's name function, ``namespace`` required or forbidden by scope, then the checks
every kind shares (generation, labels, annotations and their 256 KiB budget, owner references,
finalizers, managed fields). The core group and the groups built on it (apps, batch, ...) add
``validateKubeFinalizerName`` per finalizer; ``kube_finalizers=False`` leaves it out, as the
apiextensions and aggregator validators do.

Invariant: errors come out in upstream's order for a given input; map-valued fields (labels,
annotations) are walked in sorted key order where Go's order would be random.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from typing import Any

from kybernetes.api.errors import FieldError, forbidden, invalid, required, too_long
from kybernetes.api.validation.common import (
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    immutable,
    index,
    validate_labels,
    validate_nonnegative,
)
from kybernetes.api.validation.gofmt import GoValue
from kybernetes.api.validation.names import is_qualified_name, name_is_dns_label

__all__ = [
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "NameFn",
    "forget_checked_metadata",
    "remember_checked_metadata",
    "validate_annotations",
    "validate_finalizer_name",
    "validate_object_meta",
    "validate_object_meta_update",
    "validate_template_object_meta",
]

#: A kind's name rule: the problems with a name; ``prefix`` is set for ``generateName``.
NameFn = Callable[[str, bool], list[str]]

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
_STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
_FIELD_MANAGER_MAX_LENGTH = 128
_SUBRESOURCE_MAX_LENGTH = 256


def validate_annotations(annotations: object, path: str) -> list[FieldError]:
    """Keys are qualified names (case-insensitively); keys and values total at most 256 KiB."""
    errs: list[FieldError] = []
    mapping = as_dict(annotations)
    total = 0
    for k in sorted(mapping) if len(mapping) > 1 else mapping:
        messages = is_qualified_name(k.lower())
        if messages:
            errs.extend(invalid(path, k, m) for m in messages)
        total += len(k.encode()) + len(as_str(mapping[k]).encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def _gvk(api_version: str, kind: str) -> tuple[str, str, str]:
    """``schema.FromAPIVersionAndKind``: (group, version, kind)."""
    if not api_version or api_version == "/":
        return "", "", kind
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", parts[0], kind
    if len(parts) == 2:
        return parts[0], parts[1], kind
    return "", "", kind


def _owner_reference_value(ref: Mapping[str, Any]) -> GoValue:
    def ptr(name: str) -> str:
        value = ref.get(name)
        return "(*bool)(nil)" if value is None else "(*bool)(0xc000000000)"

    return GoValue(
        "v1.OwnerReference{"
        f'APIVersion:"{as_str(ref.get("apiVersion"))}", Kind:"{as_str(ref.get("kind"))}", '
        f'Name:"{as_str(ref.get("name"))}", UID:"{as_str(ref.get("uid"))}", '
        f"Controller:{ptr('controller')}, BlockOwnerDeletion:{ptr('blockOwnerDeletion')}}}"
    )


def _validate_owner_references(refs: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    first_controller = ""
    for raw in refs:
        ref = as_dict(raw)
        group, version, kind = _gvk(as_str(ref.get("apiVersion")), as_str(ref.get("kind")))
        if not version:
            errs.append(
                invalid(
                    child(path, "apiVersion"),
                    as_str(ref.get("apiVersion")),
                    "version must not be empty",
                )
            )
        if not kind:
            errs.append(invalid(child(path, "kind"), kind, "must not be empty"))
        if not as_str(ref.get("name")):
            errs.append(invalid(child(path, "name"), "", "must not be empty"))
        if not as_str(ref.get("uid")):
            errs.append(invalid(child(path, "uid"), "", "must not be empty"))
        if (group, version, kind) == ("", "v1", "Event"):
            errs.append(
                invalid(
                    path,
                    _owner_reference_value(ref),
                    "/v1, Kind=Event is disallowed from being an owner",
                )
            )
        if as_bool(ref.get("controller")):
            current = f"{kind}/{as_str(ref.get('name'))}"
            if first_controller:
                shown = GoValue(
                    "[]v1.OwnerReference{"
                    + ", ".join(str(_owner_reference_value(as_dict(r))) for r in refs)
                    + "}"
                )
                errs.append(
                    invalid(
                        path,
                        shown,
                        'Only one reference can have Controller set to true. Found "true" in '
                        f"references for {first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return errs


def _validate_finalizers(finalizers: list[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for name in finalizers:
        errs.extend(invalid(path, name, m) for m in is_qualified_name(name))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(
            invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set")
        )
    return errs


def validate_finalizer_name(name: str, path: str) -> list[FieldError]:
    """``validateKubeFinalizerName``: unqualified names must be one of the standard three."""
    if "/" not in name and name not in _STANDARD_FINALIZERS:
        return [
            invalid(
                path, name, "name is neither a standard finalizer name nor is it fully qualified"
            )
        ]
    return []


def _validate_managed_fields(entries: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, raw in enumerate(entries):
        entry = as_dict(raw)
        entry_path = index(path, i)
        operation = as_str(entry.get("operation"))
        if operation not in ("Apply", "Update"):
            errs.append(
                invalid(child(entry_path, "operation"), operation, "must be `Apply` or `Update`")
            )
        fields_type = as_str(entry.get("fieldsType"))
        if fields_type and fields_type != "FieldsV1":
            errs.append(invalid(child(entry_path, "fieldsType"), fields_type, "must be `FieldsV1`"))
        manager = as_str(entry.get("manager"))
        if len(manager.encode()) > _FIELD_MANAGER_MAX_LENGTH:
            errs.append(too_long(child(entry_path, "manager"), _FIELD_MANAGER_MAX_LENGTH))
        if any(not ch.isprintable() for ch in manager):
            errs.append(invalid(child(entry_path, "manager"), manager, "invalid characters"))
        if len(as_str(entry.get("subresource")).encode()) > _SUBRESOURCE_MAX_LENGTH:
            errs.append(too_long(child(entry_path, "subresource"), _SUBRESOURCE_MAX_LENGTH))
    return errs


# Upstream runs the generic metadata checks twice per write (the kind's validator, then
# ``rest.BeforeCreate``/``BeforeUpdate``). While one object is validated (between
# ``remember_checked_metadata`` and ``forget_checked_metadata``; nothing mutates it then) the
# second run reuses the first one's errors for the very same metadata mapping. Entries hold the
# mappings themselves, so an ``id`` cannot be reused by another object while they live.
_Memo = dict[tuple[Any, ...], tuple[tuple[object, ...], list[FieldError]]]
_CHECKED: ContextVar[_Memo | None] = ContextVar("_CHECKED", default=None)


def remember_checked_metadata() -> Token[_Memo | None]:
    """Start reusing metadata check results; pass the token to ``forget_checked_metadata``."""
    return _CHECKED.set({})


def forget_checked_metadata(token: Token[_Memo | None]) -> None:
    _CHECKED.reset(token)


def _common(meta: Mapping[str, Any], namespaced: bool, path: str) -> list[FieldError]:
    """``validateObjectMetaAccessorWithOptsCommon``."""
    memo = _CHECKED.get()
    if memo is None:
        return _common_checks(meta, namespaced, path)
    token = ("common", id(meta), namespaced, path)
    hit = memo.get(token)
    if hit is not None and hit[0][0] is meta:
        return list(hit[1])
    errs = _common_checks(meta, namespaced, path)
    memo[token] = ((meta,), list(errs))
    return errs


def _common_checks(meta: Mapping[str, Any], namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    namespace = as_str(meta.get("namespace"))
    if namespaced:
        if not namespace:
            errs.append(required(child(path, "namespace")))
        else:
            errs.extend(
                invalid(child(path, "namespace"), namespace, m)
                for m in name_is_dns_label(namespace)
            )
    elif namespace:
        errs.append(forbidden(child(path, "namespace"), "not allowed on this type"))
    generation = as_int(meta.get("generation"))
    if generation is not None and generation < 0:
        errs.extend(validate_nonnegative(generation, child(path, "generation")))
    # The map and list checks report nothing for an empty or absent value: skip them (and
    # their paths) then.
    if meta.get("labels"):
        errs.extend(validate_labels(meta.get("labels"), child(path, "labels")))
    if meta.get("annotations"):
        errs.extend(validate_annotations(meta.get("annotations"), child(path, "annotations")))
    if meta.get("ownerReferences"):
        errs.extend(
            _validate_owner_references(
                as_list(meta.get("ownerReferences")), child(path, "ownerReferences")
            )
        )
    if meta.get("finalizers"):
        finalizers = [as_str(f) for f in as_list(meta.get("finalizers"))]
        errs.extend(_validate_finalizers(finalizers, child(path, "finalizers")))
    if meta.get("managedFields"):
        errs.extend(
            _validate_managed_fields(
                as_list(meta.get("managedFields")), child(path, "managedFields")
            )
        )
    return errs


def _kube_finalizers(meta: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, name in enumerate(as_list(meta.get("finalizers"))):
        errs.extend(validate_finalizer_name(as_str(name), index(child(path, "finalizers"), i)))
    return errs


def validate_object_meta(
    meta: object,
    namespaced: bool,
    name_fn: NameFn,
    path: str = "metadata",
    *,
    kube_finalizers: bool = True,
) -> list[FieldError]:
    """``ValidateObjectMeta`` (with core's finalizer-name rule unless ``kube_finalizers=False``)."""
    m = as_dict(meta)
    errs: list[FieldError] = []
    generate_name = as_str(m.get("generateName"))
    if generate_name:
        errs.extend(
            invalid(child(path, "generateName"), generate_name, msg)
            for msg in name_fn(generate_name, True)
        )
    name = as_str(m.get("name"))
    if not name:
        errs.append(required(child(path, "name"), "name or generateName is required"))
    else:
        errs.extend(invalid(child(path, "name"), name, msg) for msg in name_fn(name, False))
    errs.extend(_common(m, namespaced, path))
    if kube_finalizers:
        errs.extend(_kube_finalizers(m, path))
    return errs


def validate_object_meta_update(
    new: object, old: object, path: str = "metadata", *, kube_finalizers: bool = True
) -> list[FieldError]:
    """``ValidateObjectMetaUpdate``: identity fields are immutable, no new finalizers on a
    deleting object, a resourceVersion is present and generation never goes backwards."""
    n, o = as_dict(new), as_dict(old)
    memo = _CHECKED.get()
    if memo is None:
        errs = _update_checks(n, o, path)
    else:
        token = ("update", id(n), id(o), path)
        hit = memo.get(token)
        if hit is not None and hit[0][0] is n and hit[0][1] is o:
            errs = list(hit[1])
        else:
            errs = _update_checks(n, o, path)
            memo[token] = ((n, o), list(errs))
    if kube_finalizers:
        errs.extend(_kube_finalizers(n, path))
    return errs


def _update_checks(n: Mapping[str, Any], o: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if o.get("deletionTimestamp"):
        added = sorted(
            {as_str(f) for f in as_list(n.get("finalizers"))}
            - {as_str(f) for f in as_list(o.get("finalizers"))}
        )
        if added:
            listed = "[]string{" + ", ".join(f'"{f}"' for f in added) + "}"
            errs.append(
                forbidden(
                    child(path, "finalizers"),
                    "no new finalizers can be added if the object is being deleted, found new "
                    f"finalizers {listed}",
                )
            )
    if not as_str(n.get("resourceVersion")):
        errs.append(invalid(child(path, "resourceVersion"), "", "must be specified for an update"))
    new_generation = as_int(n.get("generation")) or 0
    if new_generation < (as_int(o.get("generation")) or 0):
        errs.append(invalid(child(path, "generation"), new_generation, "must not be decremented"))
    for field in ("name", "namespace", "uid", "creationTimestamp"):
        errs.extend(immutable(as_str(n.get(field)), as_str(o.get(field)), child(path, field)))
    errs.extend(
        immutable(
            n.get("deletionTimestamp"), o.get("deletionTimestamp"), child(path, "deletionTimestamp")
        )
    )
    errs.extend(
        immutable(
            n.get("deletionGracePeriodSeconds"),
            o.get("deletionGracePeriodSeconds"),
            child(path, "deletionGracePeriodSeconds"),
        )
    )
    errs.extend(validate_labels(n.get("labels"), child(path, "labels")))
    errs.extend(validate_annotations(n.get("annotations"), child(path, "annotations")))
    errs.extend(
        _validate_owner_references(
            as_list(n.get("ownerReferences")), child(path, "ownerReferences")
        )
    )
    finalizers = [as_str(f) for f in as_list(n.get("finalizers"))]
    errs.extend(_validate_finalizers(finalizers, child(path, "finalizers")))
    errs.extend(
        _validate_managed_fields(as_list(n.get("managedFields")), child(path, "managedFields"))
    )
    return errs


def validate_template_object_meta(meta: object, path: str) -> list[FieldError]:
    """``ValidateTemplateObjectMeta``: only labels and annotations may be set."""
    m = as_dict(meta)
    errs = validate_annotations(m.get("annotations"), child(path, "annotations"))
    errs.extend(validate_labels(m.get("labels"), child(path, "labels")))
    for field in sorted(m):
        if field not in ("labels", "annotations") and m[field] not in (None, "", {}, [], 0):
            errs.append(forbidden(child(path, field), "cannot be set"))
    return errs
