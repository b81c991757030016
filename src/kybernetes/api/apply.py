"""Server-side apply and ``metadata.managedFields``, as pure functions over dict objects.

``apply`` merges an applied configuration into the live object the way
``application/apply-patch+yaml`` does upstream (k8s.io/apimachinery ``managedfields`` over
sigs.k8s.io/structured-merge-diff): lists merge by their map keys, atomic lists and maps are
replaced, fields the manager applied before and omits now are removed unless someone else owns
them, and a field another manager owns with a different value is a 409 conflict unless forced.
``record_update`` records who changed what on every other write (create, update, patch).

Invariants:

- Inputs are never mutated. ``apply`` returns a fresh object; ``record_update`` copies the root
  and ``metadata`` only and shares the rest with ``new``.
- A manager is identified as upstream does: name, operation, subresource, and for ``Update``
  entries the API version; one entry per identity. Entries are written sorted as upstream sorts
  them (operation, time in seconds, manager, apiVersion, subresource), keys in
  ``ManagedFieldsEntry`` order (manager, operation, apiVersion, time, fieldsType, fieldsV1,
  subresource).
- Identity and bookkeeping fields (``apiVersion``, ``kind``, ``metadata.name``/``namespace``/
  ``uid``/``resourceVersion``/``generation``/``creationTimestamp``/``selfLink``/
  ``managedFields``) are never owned by the writing manager.
- A manager's time moves only when its write changed the object; an ``Update`` entry is made
  only for a write that changed something; entries with no fields left are dropped; at most ten
  ``Update`` entries are kept (the oldest fold into ``ancient-changes``).
- Comparisons see an object the way Go sees the typed object: a struct field that is never a
  pointer (``spec``, ``template``, ``strategy``, ...) or a required collection exists even when
  the dict omits it, so a new ``spec.strategy.rollingUpdate`` is owned as a whole (``"."``) but
  ``spec`` is not.
- An untracked create (no old object, no managers) takes a fast path, ``_created_fields``, that
  writes the ``fieldsV1`` document in one walk; it must give exactly what the general path
  (``_record`` over the field sets) gives, which the tests check on real objects.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, TypeAlias

import orjson

from kybernetes.api import errors
from kybernetes.api.fieldset import (
    EMPTY,
    FieldSet,
    FieldSetError,
    Node,
    Path,
    SetBuilder,
    Shape,
    element_string,
    ensure_named_fields,
    fields_of,
    go_json,
    item_element,
    path_string,
    root_node,
    sort_elements,
)
from kybernetes.api.meta import parse_time
from kybernetes.api.schema import FieldKind, TypeSchema

__all__ = [
    "APPLY",
    "LAST_APPLIED_ANNOTATION",
    "UPDATE",
    "apply",
    "manager_from_user_agent",
    "record_update",
    "reset_fields",
]

APPLY: Final = "Apply"
UPDATE: Final = "Update"
LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"
FIELD_MANAGER_MAX_LENGTH: Final = 128
MAX_UPDATE_MANAGERS: Final = 10
_BEFORE_FIRST_APPLY: Final = "before-first-apply"
_ANCIENT_CHANGES: Final = "ancient-changes"
_ANNOTATIONS_SIZE_LIMIT: Final = 256 * 1024
# Only kubectl's own server-side apply upgrades from, and keeps up, the client-side annotation.
_KUBECTL: Final = "kubectl"

# Never owned by the manager that writes them (upstream's stripMetaManager).
_STRIPPED: Final = FieldSet.from_paths(
    [("f:apiVersion",), ("f:kind",), ("f:metadata",)]
    + [
        ("f:metadata", "f:" + name)
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    ]
)

# Struct fields that are not pointers in the Go types, so a Go object always has them (besides
# metadata/spec/status of every kind and the required fields, which the schema tells).
_NOT_POINTERS: Final[Mapping[str, frozenset[str]]] = {
    "io.k8s.api.core.v1.PodTemplateSpec": frozenset({"metadata", "spec"}),
    "io.k8s.api.batch.v1.JobTemplateSpec": frozenset({"metadata", "spec"}),
    "io.k8s.api.apps.v1.DeploymentSpec": frozenset({"strategy", "template"}),
    "io.k8s.api.apps.v1.ReplicaSetSpec": frozenset({"template"}),
    "io.k8s.api.apps.v1.StatefulSetSpec": frozenset({"template", "updateStrategy"}),
    "io.k8s.api.apps.v1.DaemonSetSpec": frozenset({"template", "updateStrategy"}),
    "io.k8s.api.batch.v1.JobSpec": frozenset({"template"}),
    "io.k8s.api.batch.v1.CronJobSpec": frozenset({"jobTemplate"}),
    "io.k8s.api.core.v1.Container": frozenset({"resources"}),
    "io.k8s.api.core.v1.EphemeralContainer": frozenset({"resources"}),
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec": frozenset({"resources"}),
    "io.k8s.api.core.v1.ServiceStatus": frozenset({"loadBalancer"}),
    "io.k8s.api.networking.v1.IngressStatus": frozenset({"loadBalancer"}),
    "io.k8s.api.networking.v1.NetworkPolicySpec": frozenset({"podSelector"}),
    "io.k8s.api.rbac.v1.RoleBinding": frozenset({"roleRef"}),
    "io.k8s.api.rbac.v1.ClusterRoleBinding": frozenset({"roleRef"}),
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec": frozenset({"scaleTargetRef"}),
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec": frozenset({"scaleTargetRef"}),
    "io.k8s.api.core.v1.Event": frozenset({"involvedObject", "source"}),
    "io.k8s.api.events.v1.Event": frozenset({"regarding", "deprecatedSource"}),
    "io.k8s.api.core.v1.NodeStatus": frozenset({"daemonEndpoints", "nodeInfo"}),
    "io.k8s.api.core.v1.NodeDaemonEndpoints": frozenset({"kubeletEndpoint"}),
    "io.k8s.api.discovery.v1.Endpoint": frozenset({"conditions"}),
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec": (
        frozenset({"names"})
    ),
}

# (manager, operation, apiVersion for Update entries, subresource)
_Id: TypeAlias = tuple[str, str, str, str]
_CURRENT_OPERATION: Final[_Id] = ("current-operation", UPDATE, "", "")


class _Absent:
    """A field that is not there (as opposed to one that is ``null``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Final = _Absent()


@dataclass(frozen=True, slots=True)
class _Owned:
    fields: FieldSet
    api_version: str
    applied: bool


class _Conflicts(Exception):
    def __init__(self, conflicts: dict[_Id, FieldSet]) -> None:
        super().__init__("apply conflicts")
        self.conflicts = conflicts


# --------------------------------------------------------------------------------------------
# Public API.


def apply(
    live: Mapping[str, Any] | None,
    applied: Mapping[str, Any],
    manager: str,
    *,
    force: bool,
    api_version: str,
    schema: TypeSchema | None,
    now: str,
    kind: str | None = None,
    subresource: str = "",
    ignored: FieldSet | None = None,
) -> dict[str, Any]:
    """Apply ``applied`` (the decoded apply patch) as ``manager`` to ``live`` (None: the object
    does not exist yet) and return the new object with ``metadata.managedFields`` updated.

    ``kind`` defaults to the kind of ``schema``; ``ignored`` is the set of fields the write
    resets (upstream's reset fields, see ``reset_fields``): neither owned nor conflicting.
    Raises ``BadRequest`` for a patch of the wrong type or carrying managedFields, a 500 Status
    for a patch the schema cannot type (``field not declared in schema``, duplicate keys) and
    ``Conflict`` (409, causes of type ``FieldManagerConflict``) for conflicts without ``force``.
    """
    node = root_node(schema)
    _check_type(applied, api_version, kind or _kind_of(schema, api_version, live))
    applied_meta = applied.get("metadata")
    if isinstance(applied_meta, Mapping) and isinstance(applied_meta.get("managedFields"), list):
        raise errors.new_bad_request("metadata.managedFields must be nil")
    problems: list[str] = []
    _validate(applied, node, "", problems)
    if problems:
        raise errors.StatusError(
            f"failed to create typed patch object ({_describe(applied)}): {_joined(problems)}"
        )
    config = _copy(applied)
    live_obj: dict[str, Any] = _copy(live) if live is not None else {}
    live_meta = live_obj.get("metadata")
    entries = live_meta.pop("managedFields", None) if isinstance(live_meta, dict) else None
    try:
        managers, times = _decode(entries)
    except FieldSetError as exc:
        raise errors.StatusError(f"failed to decode managed fields: {exc}") from None
    if not managers and live is not None:
        # An object nobody tracked yet: what is there belongs to "before-first-apply".
        first: _Id = (_BEFORE_FIRST_APPLY, UPDATE, api_version, subresource)
        managers = _record({}, live_obj, managers, times, first, api_version, node, now, ignored)
        _cap_update_managers(managers, times)
    config_set = fields_of(config, node)
    if ignored is not None:
        config_set = config_set.recursive_difference(ignored)
    me: _Id = (manager or "unknown", APPLY, "", subresource)

    def attempt(forced: bool) -> tuple[dict[str, Any], dict[_Id, _Owned], dict[_Id, str | None]]:
        return _apply_once(
            live_obj,
            config,
            config_set,
            managers,
            times,
            me,
            forced,
            api_version,
            node,
            now,
            ignored,
        )

    try:
        result, owners, stamps = attempt(force)
    except _Conflicts as clash:
        remaining = clash.conflicts
        if manager == _KUBECTL and live is not None:
            # Upgrading from client-side apply: a conflict on a field whose live value is still
            # the one the last-applied annotation holds was the user's own; take it.
            allowed = _allowed_by_last_applied(live_obj, api_version, node)
            if allowed is not None:
                left = {i: s.difference(allowed) for i, s in remaining.items()}
                remaining = {i: s for i, s in left.items() if not s.is_empty()}
        if remaining:
            raise _conflict_error(remaining) from None
        result, owners, stamps = attempt(True)
    if manager == _KUBECTL:
        _sync_last_applied(result, applied)
    _strip_nulls(result)
    _store(result, owners, stamps)
    return result


def record_update(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    manager: str,
    *,
    api_version: str,
    schema: TypeSchema | None,
    now: str,
    subresource: str = "",
    ignored: FieldSet | None = None,
) -> dict[str, Any]:
    """Record a non-apply write (``operation: Update``): the fields that changed from ``old``
    (None on create) to ``new`` become ``manager``'s and leave every other manager.

    ``new`` is the object about to be stored (after defaulting, before status is reset); the
    managedFields it carries are taken as the client's edit of them, ``[]`` or ``[{}]`` clears
    them, and an existing object that has none stays untracked, as upstream.
    """
    node = root_node(schema)
    out = dict(new)
    out_meta = dict(out.get("metadata") or {})
    out["metadata"] = out_meta
    requested = out_meta.pop("managedFields", _ABSENT)
    old_obj: dict[str, Any] = {}
    old_entries: Any = None
    if old is not None:
        old_obj = dict(old)
        old_meta = dict(old_obj.get("metadata") or {})
        old_entries = old_meta.pop("managedFields", None)
        old_obj["metadata"] = old_meta
    if subresource:
        managers, times = _decode_or_empty(old_entries)
    elif _is_reset(requested):
        managers, times = {}, {}
    else:
        managers, times = _decode_or_empty(None if requested is _ABSENT else requested)
        if not managers:
            managers, times = _decode_or_empty(old_entries)
    if not managers and old is not None and (old.get("metadata") or {}).get("uid"):
        return out  # an existing object nobody tracks stays untracked
    me: _Id = (manager or "unknown", UPDATE, api_version, subresource)
    if old is None and not managers:
        # A create nobody tracks yet: everything the object sets is the writer's, written
        # straight from one walk (what _record makes of it, without the sets).
        fields_v1 = _created_fields(out, node, ignored)
        if fields_v1:
            out_meta["managedFields"] = [_entry(me, False, api_version, now, fields_v1)]
        return out
    managers = _record(old_obj, out, managers, times, me, api_version, node, now, ignored)
    _cap_update_managers(managers, times)
    _store(out, managers, times)
    return out


# Called for every write without ?fieldManager=, and a client sends the same User-Agent on
# every request: the walk over its characters is done once per distinct value.
@functools.lru_cache(maxsize=256)
def manager_from_user_agent(user_agent: str) -> str:
    """The default field manager of a request without ``?fieldManager=``: the User-Agent up to
    its first ``/``, printable characters only, at most 128 bytes (``kubectl/v1.32.4 (...)`` ->
    ``kubectl``)."""
    out: list[str] = []
    size = 0
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable():
            continue
        width = len(ch.encode("utf-8", "surrogatepass"))
        if size + width > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
        size += width
    return "".join(out)


def reset_fields(subresource: str, *, has_status: bool) -> FieldSet | None:
    """The fields a write through ``subresource`` resets, for ``ignored``: ``status`` on the main
    resource of a kind with a status subresource, ``spec`` through ``/status``."""
    if subresource == "status":
        return FieldSet.from_paths([("f:spec",)])
    if not subresource and has_status:
        return FieldSet.from_paths([("f:status",)])
    return None


# --------------------------------------------------------------------------------------------
# Apply and update, in upstream's layers.


def _apply_once(
    live: dict[str, Any],
    config: dict[str, Any],
    config_set: FieldSet,
    managers: dict[_Id, _Owned],
    times: dict[_Id, str | None],
    me: _Id,
    force: bool,
    api_version: str,
    node: Node,
    now: str,
    ignored: FieldSet | None,
) -> tuple[dict[str, Any], dict[_Id, _Owned], dict[_Id, str | None]]:
    times = dict(times)
    last = managers.get(me)
    managers = {**managers, me: _Owned(config_set, api_version, True)}
    merged = _merge(live, config, node)
    if not isinstance(merged, dict):  # pragma: no cover - both roots are dicts
        merged = {}
    merged = _prune(merged, managers, last, node)
    managers = _update_managers(live, merged, managers, me, force, node, ignored)[0]
    mine = managers.get(me)
    if mine is not None:
        kept = mine.fields.difference(_STRIPPED)
        if kept.is_empty():
            del managers[me]
        else:
            managers[me] = replace(mine, fields=kept)
    if _equal(live, merged):
        return live, managers, times  # a no-op: the object and the applier's time stay
    times[me] = now
    return merged, managers, times


def _record(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    managers: dict[_Id, _Owned],
    times: dict[_Id, str | None],
    me: _Id,
    api_version: str,
    node: Node,
    now: str,
    ignored: FieldSet | None,
) -> dict[_Id, _Owned]:
    """An ``Update`` by ``me``: changed fields leave their owners and join ``me``'s set (updates
    ``times`` in place, returns the new managers)."""
    managers, (added, modified, _) = _update_managers(
        old, new, managers, _CURRENT_OPERATION, True, node, ignored
    )
    changed = modified.union(added).difference(_STRIPPED)
    if not changed.is_empty():
        previous = managers.get(me)
        if previous is not None:
            changed = changed.union(previous.fields)
        managers[me] = _Owned(changed, api_version, False)
        times[me] = now
    return managers


def _update_managers(
    old: Any,
    new: Any,
    managers: Mapping[_Id, _Owned],
    writer: _Id,
    force: bool,
    node: Node,
    ignored: FieldSet | None,
) -> tuple[dict[_Id, _Owned], tuple[FieldSet, FieldSet, FieldSet]]:
    """Take what changed between ``old`` and ``new`` away from every manager but ``writer``;
    ``_Conflicts`` when someone else owns a changed field and ``force`` is off."""
    added, modified, removed = _compare(old, new, node)
    if ignored is not None:
        added = added.recursive_difference(ignored)
        modified = modified.recursive_difference(ignored)
        removed = removed.recursive_difference(ignored)
    touched = modified.union(added)
    conflicts: dict[_Id, FieldSet] = {}
    for ident, owned in managers.items():
        if ident != writer:
            clash = owned.fields.intersection(touched)
            if not clash.is_empty():
                conflicts[ident] = clash
    if conflicts and not force:
        raise _Conflicts(conflicts)
    out: dict[_Id, _Owned] = {}
    for ident, owned in managers.items():
        fields = owned.fields
        if ident != writer:
            if ident in conflicts:
                fields = fields.difference(conflicts[ident])
            fields = fields.difference(removed)
        if not fields.is_empty():
            out[ident] = owned if fields is owned.fields else replace(owned, fields=fields)
    return out, (added, modified, removed)


def _prune(
    merged: dict[str, Any], managers: Mapping[_Id, _Owned], last: _Owned | None, node: Node
) -> dict[str, Any]:
    """Remove what the applier applied last time and not now, unless anyone still owns it
    (including below it); what it never applied stays even when nobody owns it."""
    if last is None or last.fields.is_empty():
        return merged
    last_named = ensure_named_fields(last.fields, node)
    pruned = _remove(merged, last_named, node)
    owned = EMPTY
    for entry in managers.values():
        owned = owned.union(entry.fields)
    merged_set = ensure_named_fields(fields_of(merged, node), node)
    keep = ensure_named_fields(fields_of(pruned, node), node).union(
        ensure_named_fields(owned, node)
    )
    pruned = _remove(merged, merged_set.difference(keep), node)
    pruned_set = ensure_named_fields(fields_of(pruned, node), node)
    result = _remove(merged, merged_set.difference(pruned_set).intersection(last_named), node)
    return result if isinstance(result, dict) else {}


def _allowed_by_last_applied(
    live: Mapping[str, Any], api_version: str, node: Node
) -> FieldSet | None:
    """The fields of the client-side last-applied configuration whose live value is unchanged
    since (None when there is no usable annotation)."""
    meta = live.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    text = annotations.get(LAST_APPLIED_ANNOTATION) if isinstance(annotations, Mapping) else None
    if not isinstance(text, str) or not text:
        return None
    try:
        last = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return None
    problems: list[str] = []
    _validate(last, node, "", problems)
    if problems:
        return None
    added, modified, removed = _compare(last, live, node)
    return fields_of(last, node).difference(modified).difference(added).difference(removed)


def _sync_last_applied(result: dict[str, Any], applied: Mapping[str, Any]) -> None:
    """kubectl's server-side apply keeps an existing last-applied annotation current."""
    meta = result.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or not isinstance(annotations, dict):
        return
    if not annotations.get(LAST_APPLIED_ANNOTATION):
        return
    config = dict(applied)
    config_meta = config.get("metadata")
    if isinstance(config_meta, Mapping) and isinstance(config_meta.get("annotations"), Mapping):
        config_annotations = dict(config_meta["annotations"])
        config_annotations.pop(LAST_APPLIED_ANNOTATION, None)
        config["metadata"] = {**config_meta, "annotations": config_annotations}
    annotations = dict(annotations)
    # Encoded as Go's json.Encoder writes it: sorted keys, a trailing newline.
    annotations[LAST_APPLIED_ANNOTATION] = go_json(config) + "\n"
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > _ANNOTATIONS_SIZE_LIMIT:
        del annotations[LAST_APPLIED_ANNOTATION]
    meta["annotations"] = annotations


# --------------------------------------------------------------------------------------------
# managedFields entries.


def _decode(entries: Any) -> tuple[dict[_Id, _Owned], dict[_Id, str | None]]:
    managers: dict[_Id, _Owned] = {}
    times: dict[_Id, str | None] = {}
    if entries is None:
        return managers, times
    if not isinstance(entries, list):
        raise FieldSetError("managedFields must be a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise FieldSetError(f"managed fields entry {i} is not an object")
        operation = entry.get("operation") or ""
        if operation not in (APPLY, UPDATE):
            raise FieldSetError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion") or ""
        if not api_version:
            raise FieldSetError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType") or ""
        if not fields_type:
            raise FieldSetError(f"missing fieldsType in managed fields entry {i}")
        if fields_type != "FieldsV1":
            raise FieldSetError(
                f"invalid fieldsType {errors.go_quote(str(fields_type))} in managed fields "
                f"entry {i}"
            )
        raw = entry.get("fieldsV1")
        try:
            fields = EMPTY if raw is None else FieldSet.from_fields_v1(raw)
        except FieldSetError as exc:
            raise FieldSetError(
                f"error decoding versioned set: error decoding set: {exc}"
            ) from None
        ident: _Id = (
            str(entry.get("manager") or ""),
            operation,
            str(api_version) if operation == UPDATE else "",
            str(entry.get("subresource") or ""),
        )
        managers[ident] = _Owned(fields, str(api_version), operation == APPLY)
        time = entry.get("time")
        times[ident] = time if isinstance(time, str) else None
    return managers, times


def _decode_or_empty(entries: Any) -> tuple[dict[_Id, _Owned], dict[_Id, str | None]]:
    try:
        return _decode(entries)
    except FieldSetError:
        return {}, {}


def _is_reset(requested: Any) -> bool:
    """``managedFields: []`` or ``[{}]`` in a write clears the tracking."""
    if not isinstance(requested, list):
        return False
    if not requested:
        return True
    only = requested[0]
    return len(requested) == 1 and isinstance(only, Mapping) and not any(only.values())


def _seconds(time: str | None) -> int:
    if not time:
        return 0
    try:
        return int(parse_time(time).timestamp())
    except ValueError:
        return 0


def _identity_json(ident: _Id) -> str:
    """The manager identifier upstream keys its map with (a JSON ManagedFieldsEntry)."""
    manager, operation, api_version, subresource = ident
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version}
    entry["subresource"] = subresource
    return "{" + ",".join(f'"{k}":{go_json(v)}' for k, v in entry.items() if v) + "}"


def _store(
    obj: dict[str, Any], managers: Mapping[_Id, _Owned], times: Mapping[_Id, str | None]
) -> None:
    entries = [
        _entry(
            ident, owned.applied, owned.api_version, times.get(ident), owned.fields.to_fields_v1()
        )
        for ident, owned in managers.items()
    ]
    entries.sort(
        key=lambda e: (
            e["operation"],
            _seconds(e.get("time")),
            e.get("manager", ""),
            e.get("apiVersion", ""),
            e.get("subresource", ""),
        )
    )
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


def _entry(
    ident: _Id, applied: bool, api_version: str, time: str | None, fields_v1: dict[str, Any]
) -> dict[str, Any]:
    """One managedFields entry, keys in ``ManagedFieldsEntry`` order."""
    manager, operation, _, subresource = ident
    entry: dict[str, Any] = {}
    if manager:
        entry["manager"] = manager
    entry["operation"] = APPLY if applied else operation
    if api_version:
        entry["apiVersion"] = api_version
    if time:
        entry["time"] = time
    entry["fieldsType"] = "FieldsV1"
    entry["fieldsV1"] = fields_v1
    if subresource:
        entry["subresource"] = subresource
    return entry


def _cap_update_managers(managers: dict[_Id, _Owned], times: dict[_Id, str | None]) -> None:
    """Fold the oldest ``Update`` entries into one ``ancient-changes`` entry per API version
    until at most ten remain."""
    updaters = [ident for ident, owned in managers.items() if not owned.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda i: (_seconds(times.get(i)), _identity_json(i)))
    first_of_version: dict[str, _Id] = {}
    count = len(updaters)
    for ident in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        owned = managers[ident]
        version = owned.api_version
        bucket: _Id = (_ANCIENT_CHANGES, UPDATE, version, "")
        if version not in first_of_version:
            first_of_version[version] = ident
            continue
        if ident == bucket:
            continue
        if bucket not in managers:
            managers[bucket] = managers.pop(first_of_version[version])
        managers[bucket] = replace(owned, fields=owned.fields.union(managers[bucket].fields))
        del managers[ident]
        count -= 1
        times[bucket] = times.get(ident)


def _print_manager(ident: _Id) -> str:
    manager, operation, api_version, subresource = ident
    text = errors.go_quote(manager)
    if subresource:
        text += f" with subresource {errors.go_quote(subresource)}"
    if operation == UPDATE:
        text += f" using {api_version}"
    return text


def _conflict_error(conflicts: Mapping[_Id, FieldSet]) -> errors.Conflict:
    ordered = sorted(conflicts, key=_identity_json)
    found = [(ident, path) for ident in ordered for path in conflicts[ident].paths()]
    causes = tuple(
        errors.StatusCause(
            type="FieldManagerConflict",
            message=f"conflict with {_print_manager(ident)}",
            field=path_string(path),
        )
        for ident, path in found
    )
    if len(found) == 1:
        ident, path = found[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {_print_manager(ident)}: "
            f"{path_string(path)}"
        )
    else:
        lines: list[str] = []
        for ident in ordered:
            lines.append(f"conflicts with {_print_manager(ident)}:")
            lines.extend(f"- {path_string(p)}" for p in conflicts[ident].paths())
        message = f"Apply failed with {len(found)} conflicts: " + "\n".join(lines)
    return errors.Conflict(message, details=errors.StatusDetails(causes=causes))


# --------------------------------------------------------------------------------------------
# Checks on the applied configuration.


def _group_version_kind(obj: Mapping[str, Any]) -> str:
    """``GroupVersionKind.String()``: ``apps/v1, Kind=Deployment``, ``/v1, Kind=Pod``."""
    api_version = obj.get("apiVersion")
    api_version = api_version if isinstance(api_version, str) else ""
    kind = obj.get("kind")
    kind = kind if isinstance(kind, str) else ""
    group, _, version = api_version.rpartition("/")
    if api_version.count("/") > 1:
        group = version = ""
    return f"{group}/{version}, Kind={kind}"


def _kind_of(
    schema: TypeSchema | None, api_version: str, live: Mapping[str, Any] | None
) -> str | None:
    if schema is not None:
        for gvk in schema.gvks:
            if gvk.api_version == api_version:
                return gvk.kind
    if live is not None and isinstance(live.get("kind"), str):
        return str(live["kind"])
    return None


def _check_type(applied: Mapping[str, Any], api_version: str, kind: str | None) -> None:
    if applied.get("apiVersion") != api_version or (
        kind is not None and applied.get("kind") != kind
    ):
        raise errors.new_bad_request(f"invalid object type: {_group_version_kind(applied)}")


def _describe(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    namespace = meta.get("namespace") or ""
    name = meta.get("name") or ""
    return f"{namespace}/{name}; {_group_version_kind(obj)}"


def _joined(problems: list[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    return "errors:\n" + "\n".join("  " + p for p in problems)


def _problem(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message


def _validate(value: Any, node: Node, path: str, problems: list[str]) -> None:
    """What upstream's typed conversion of an apply patch refuses: undeclared fields, list
    items without their keys, duplicate keys."""
    if value is None:
        return
    node = node.effective(value)
    if node.shape is Shape.LIST:
        item_node = node.item()
        if node.atomic:
            for i, item in enumerate(value):
                _validate(item, item_node, f"{path}[{i}]", problems)
            return
        seen: set[str] = set()
        for i, item in enumerate(value):
            try:
                pe = item_element(node, item)
            except FieldSetError as exc:
                problems.append(_problem(path, f"element {i}: {exc}"))
                return
            if pe in seen:
                problems.append(_problem(path, f"duplicate entries for key {element_string(pe)}"))
            seen.add(pe)
            _validate(item, item_node, path + element_string(pe), problems)
        return
    if node.shape not in (Shape.STRUCT, Shape.MAP):
        return
    for key, child in value.items():
        if node.shape is Shape.STRUCT and not node.open and not node.declares(key):
            problems.append(f"{path}.{key}: field not declared in schema")
            return
        _validate(child, node.child(key), f"{path}.{key}", problems)


# --------------------------------------------------------------------------------------------
# Walks over two objects: compare, merge, remove.


@functools.lru_cache(maxsize=1024)
def _always_there(definition: TypeSchema) -> Mapping[str, Any]:
    """The fields a Go object of this type has even when unset, with their zero value: ``{}``
    for a struct, null for a list or map."""
    names = set(definition.required) | _NOT_POINTERS.get(definition.name, frozenset())
    if definition.gvks:
        names |= {"metadata", "spec", "status"}
    zero: dict[str, Any] = {}
    for name in names:
        fs = definition.fields.get(name)
        if fs is None:
            continue
        if fs.kind is FieldKind.STRUCT:
            zero[name] = {}
        elif fs.kind in (FieldKind.MAP, FieldKind.ARRAY):
            zero[name] = None
    return zero


def _shape(node: Node, lhs: Any, rhs: Any) -> Node | None:
    """The node both sides share, or None when they disagree (then the place is one leaf)."""
    left = node.effective(lhs) if lhs is not _ABSENT and lhs is not None else None
    right = node.effective(rhs) if rhs is not _ABSENT and rhs is not None else None
    if left is not None and right is not None:
        if left.shape is not right.shape or left.atomic != right.atomic:
            return None
        return right
    chosen = right or left
    if chosen is None:
        return None
    return chosen


def _compare(old: Any, new: Any, node: Node) -> tuple[FieldSet, FieldSet, FieldSet]:
    """What ``new`` added, modified and removed relative to ``old`` (upstream's ``Compare``)."""
    added, modified, removed = SetBuilder(), SetBuilder(), SetBuilder()
    _cmp(old, new, node, (), (added, modified, removed))
    return added.build(), modified.build(), removed.build()


def _cmp(
    lhs: Any, rhs: Any, node: Node, path: Path, out: tuple[SetBuilder, SetBuilder, SetBuilder]
) -> None:
    if type(lhs) is type(rhs) and type(rhs) in (dict, list) and _same(lhs, rhs):
        return  # equal values: nothing was added, modified or removed below here
    added, _, removed = out
    shared = _shape(node, lhs, rhs)
    if shared is None or shared.shape is Shape.SCALAR or shared.atomic:
        _cmp_leaf(lhs, rhs, path, out)
        return
    if shared.shape is Shape.LIST:
        if not _cmp_list(lhs, rhs, shared, path, out):
            _cmp_leaf(lhs, rhs, path, out)
            return
    else:
        left = lhs if isinstance(lhs, dict) else None
        right = rhs if isinstance(rhs, dict) else None
        if not left and not right:
            _cmp_leaf(lhs, rhs, path, out)
            return
        zero = (
            _always_there(shared.definition)
            if shared.shape is Shape.STRUCT and shared.definition is not None
            else {}
        )
        keys = dict.fromkeys(left or ())
        keys.update(dict.fromkeys(right or ()))
        if left is None or right is None:
            # One side is a new or gone struct: it has its zero fields too, as in Go.
            keys.update(dict.fromkeys(zero))
        for key in keys:
            lv = left.get(key, _ABSENT) if left is not None else _ABSENT
            rv = right.get(key, _ABSENT) if right is not None else _ABSENT
            if key in zero:
                if lv is _ABSENT and left is not None:
                    lv = zero[key]
                if rv is _ABSENT and right is not None:
                    rv = zero[key]
            if lv is _ABSENT and rv is _ABSENT:
                continue
            if (lv is None and rv is None) or (
                type(lv) is type(rv) and type(lv) in _PLAIN_SCALARS and lv == rv
            ):
                continue  # the same string, integer, boolean or null: nothing changed
            _cmp(lv, rv, shared.child(key), (*path, "f:" + key), out)
    if lhs is _ABSENT:
        added.insert(path)
    elif rhs is _ABSENT:
        removed.insert(path)


def _created_fields(new: Mapping[str, Any], node: Node, ignored: FieldSet | None) -> dict[str, Any]:
    """The ``fieldsV1`` of what creating ``new`` changed, less ``ignored`` (with what is below)
    and the stripped identity fields: what ``_record({}, new, ...)`` makes of an untracked
    create, written in one walk without building sets (``_cmp`` with an empty left side).

    The walk writes each level in upstream's order as it goes. Below the places that
    ``ignored`` and the stripped fields name, where nothing is left out, ``_new_place`` takes
    over: everything there is new, so each collection is ``{".": {}, ...}`` and each other
    value ``{}``."""
    below, _ = _grown({}, new, node, ignored, _STRIPPED)
    return below or {}


def _grown(
    lhs: Any, rhs: Any, node: Node, ignored: FieldSet | None, stripped: FieldSet | None
) -> tuple[dict[str, Any] | None, bool]:
    """``_cmp(lhs, rhs)`` where ``lhs`` is a zero value (``{}`` or null) and ``rhs`` is present:
    (the ``fieldsV1`` of what changed below this place, None when nothing; whether the place
    itself changed). ``ignored`` and ``stripped`` are those sets below this place."""
    shared = _shape(node, lhs, rhs)
    if shared is None or shared.shape is Shape.SCALAR or shared.atomic:
        return None, not _equal(lhs, rhs)
    if shared.shape is Shape.LIST:
        # The left list is always empty: every item is new.
        items = _new_items(rhs, shared, ignored, stripped) if isinstance(rhs, list) else None
        if items is None:
            return None, not _equal(lhs, rhs)
        return items or None, False
    right = rhs if isinstance(rhs, dict) else None
    if not right:
        return None, not _equal(lhs, rhs)  # both sides empty (lhs is never a full dict)
    zero = _zero_fields(shared) if isinstance(lhs, dict) else {}
    below: dict[str, Any] = {}
    for key, value in right.items():
        pe = "f:" + key
        if ignored is not None and pe in ignored.members:
            continue
        if key in zero:
            fields, changed = _grown(
                zero[key],
                value,
                shared.child(key),
                ignored.children.get(pe) if ignored is not None else None,
                stripped.children.get(pe) if stripped is not None else None,
            )
            _place(below, pe, fields, changed, stripped)
        else:
            _new_child(below, pe, value, shared, key, ignored, stripped)
    # (A null lhs is the zero value of a map, never of a struct: no zero fields to add.)
    return (dict(sorted(below.items())) if below else None), False


def _zero_fields(node: Node) -> Mapping[str, Any]:
    if node.shape is Shape.STRUCT and node.definition is not None:
        return _always_there(node.definition)
    return {}


def _new_child(
    below: dict[str, Any],
    pe: str,
    value: Any,
    parent: Node,
    name: str,
    ignored: FieldSet | None,
    stripped: FieldSet | None,
) -> None:
    """Write field ``name`` of ``parent``, new with ``value``, into ``below`` as ``pe``.
    ``ignored`` and ``stripped`` are those sets at the parent (``pe`` is not ignored)."""
    ignored_below = ignored.children.get(pe) if ignored is not None else None
    stripped_below = stripped.children.get(pe) if stripped is not None else None
    collection = value and isinstance(value, dict | list)
    if (
        ignored_below is None
        and stripped_below is None
        and (stripped is None or pe not in stripped.members)
    ):
        below[pe] = _new_place(value, parent.child(name)) if collection else {}
        return
    fields = None
    if collection:
        fields = _new_fields(value, parent.child(name), ignored_below, stripped_below)
    _place(below, pe, fields, True, stripped)


def _new_place(value: dict[str, Any] | list[Any], node: Node) -> dict[str, Any]:
    """The ``fieldsV1`` of a place that is new with ``value``, a non-empty collection, where
    nothing is ignored or stripped: ``{}`` when the place is one leaf, otherwise ``"."`` and
    everything below it (``_cmp(_ABSENT, value)``)."""
    shape = node.shape
    if shape is Shape.DEDUCED:
        node = node.effective(value)
        shape = node.shape
    if node.atomic:
        return {}
    if shape is Shape.LIST:
        return _new_list_place(value, node) if isinstance(value, list) else {}
    if shape is Shape.SCALAR or not isinstance(value, dict):
        return {}  # what node.effective() makes a leaf
    names: list[str] = sorted(value)
    if node.definition is not None and shape is Shape.STRUCT:
        # A new struct has its zero fields too, as in Go: each one leaf.
        missing = [name for name in _always_there(node.definition) if name not in value]
        if missing:
            names = sorted(names + missing)
    out: dict[str, Any] = {".": {}}
    for name in names:
        child = value.get(name)
        if child and isinstance(child, dict | list):
            out["f:" + name] = _new_place(child, node.child(name))
        else:
            out["f:" + name] = {}
    return out


def _new_list_place(items: list[Any], node: Node) -> dict[str, Any]:
    """``_new_place`` for a granular list: each item by its element, a duplicated item as a
    whole; one leaf when an item has no element."""
    try:
        elements = [item_element(node, item) for item in items]
    except FieldSetError:
        return {}
    unique: dict[str, Any] = {}
    duplicated: set[str] = set()
    for pe, item in zip(elements, items, strict=True):
        if pe in unique:
            duplicated.add(pe)
        unique[pe] = item
    item_node = node.item()
    out: dict[str, Any] = {".": {}}
    for pe in sort_elements(unique):
        item = unique[pe]
        if pe not in duplicated and item and isinstance(item, dict | list):
            out[pe] = _new_place(item, item_node)
        else:
            out[pe] = {}
    return out


def _new_fields(
    value: dict[str, Any] | list[Any],
    node: Node,
    ignored: FieldSet | None,
    stripped: FieldSet | None,
) -> dict[str, Any] | None:
    """The ``fieldsV1`` below a place that is new with ``value``, a non-empty collection (the
    place itself is added, and everything below it): ``_cmp(_ABSENT, value)``, less
    ``ignored`` and ``stripped`` (those sets below the place)."""
    shape = node.shape
    if shape is Shape.DEDUCED:
        node = node.effective(value)
        shape = node.shape
    if node.atomic:
        return None
    if shape is Shape.LIST:
        items = _new_items(value, node, ignored, stripped) if isinstance(value, list) else None
        return items or None
    if shape is Shape.SCALAR or not isinstance(value, dict):
        return None  # what node.effective() makes a leaf
    below: dict[str, Any] = {}
    for name, child in value.items():
        pe = "f:" + name
        if ignored is None or pe not in ignored.members:
            _new_child(below, pe, child, node, name, ignored, stripped)
    for name in _zero_fields(node):
        # A new struct has its zero fields too, as in Go: each one leaf.
        pe = "f:" + name
        if name not in value and (ignored is None or pe not in ignored.members):
            _place(below, pe, None, True, stripped)
    return dict(sorted(below.items())) if below else None


def _new_items(
    items: list[Any], node: Node, ignored: FieldSet | None, stripped: FieldSet | None
) -> dict[str, Any] | None:
    """The ``fieldsV1`` below a granular list whose items are all new, less ``ignored`` and
    ``stripped``; None when the list is one leaf (it is empty or an item has no element)."""
    if not items:
        return None
    try:
        elements = [item_element(node, item) for item in items]
    except FieldSetError:
        return None
    counts: dict[str, int] = {}
    for pe in elements:
        counts[pe] = counts.get(pe, 0) + 1
    item_node = node.item()
    below: dict[str, Any] = {}
    for pe, item in zip(elements, items, strict=True):
        if ignored is not None and pe in ignored.members:
            continue
        if counts[pe] > 1 or not item or not isinstance(item, dict | list):
            _place(below, pe, None, True, stripped)  # a duplicated item is owned as a whole
            continue
        ignored_below = ignored.children.get(pe) if ignored is not None else None
        stripped_below = stripped.children.get(pe) if stripped is not None else None
        _place(
            below, pe, _new_fields(item, item_node, ignored_below, stripped_below), True, stripped
        )
    return {pe: below[pe] for pe in sort_elements(below)}


def _place(
    below: dict[str, Any],
    pe: str,
    fields: dict[str, Any] | None,
    changed: bool,
    stripped: FieldSet | None,
) -> None:
    """Write child ``pe`` into ``below``: ``{}`` when only it changed, its fields when only
    they did, both (``"."`` first) when both."""
    if changed and stripped is not None and pe in stripped.members:
        changed = False
    if fields is None:
        if changed:
            below[pe] = {}
    elif changed:
        below[pe] = {".": {}, **fields}
    else:
        below[pe] = fields


# Scalars whose == is _equal's (floats are not: NaN).
_PLAIN_SCALARS: Final = frozenset({str, int, bool})


def _cmp_leaf(
    lhs: Any, rhs: Any, path: Path, out: tuple[SetBuilder, SetBuilder, SetBuilder]
) -> None:
    added, modified, removed = out
    if lhs is _ABSENT:
        added.insert(path)
    elif rhs is _ABSENT:
        removed.insert(path)
    elif not _equal(lhs, rhs):
        modified.insert(path)


def _cmp_list(
    lhs: Any, rhs: Any, node: Node, path: Path, out: tuple[SetBuilder, SetBuilder, SetBuilder]
) -> bool:
    """Compare two associative lists item by item; False when they are empty or an item has
    no key (the caller compares them as one leaf)."""
    added, modified, removed = out
    left = lhs if isinstance(lhs, list) else []
    right = rhs if isinstance(rhs, list) else []
    if not left and not right:
        return False
    try:
        groups: dict[str, tuple[list[Any], list[Any]]] = {}
        for item in left:
            groups.setdefault(item_element(node, item), ([], []))[0].append(item)
        for item in right:
            groups.setdefault(item_element(node, item), ([], []))[1].append(item)
    except FieldSetError:
        return False
    item_node = node.item()
    for pe, (before, after) in groups.items():
        item_path = (*path, pe)
        if len(before) <= 1 and len(after) <= 1:
            lv = before[0] if before else _ABSENT
            rv = after[0] if after else _ABSENT
            _cmp(lv, rv, item_node, item_path, out)
        elif len(before) >= 2 and len(after) >= 2:
            # Duplicated before and after: the duplicates compare as one atomic value.
            if len(before) != len(after) or not all(map(_equal, before, after)):
                modified.insert(item_path)
        elif len(before) >= 2:
            if after:
                _cmp(_ABSENT, after[0], item_node, item_path, out)
            removed.insert(item_path)
        else:
            if before:
                _cmp(before[0], _ABSENT, item_node, item_path, out)
            added.insert(item_path)
    return True


def _same(a: dict[str, Any] | list[Any], b: dict[str, Any] | list[Any]) -> bool:
    """``_equal(a, b)``, proved in C where it can be: True only when it holds; False when the
    values differ or the quick proof does not apply (the caller then walks them)."""
    if a != b:
        return False  # Python's == holds wherever _equal does
    # == also holds for True and 1, which _equal tells apart, as JSON does.
    try:
        encoded = orjson.dumps(a)
        if a is not b and encoded != orjson.dumps(b):
            return False
    except TypeError:
        return False
    # And == holds for one NaN object on both sides, which _equal calls unequal. orjson writes
    # NaN as null; a decoded copy has None there, which equals no NaN.
    return b"null" not in encoded or orjson.loads(encoded) == b


def _equal(a: Any, b: Any) -> bool:
    """JSON equality as Go's ``value.Equals``: numbers by value, booleans apart from numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return False
        return all(_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(map(_equal, a, b))
    return type(a) is type(b) and bool(a == b)


def _merge(lhs: Any, rhs: Any, node: Node) -> Any:
    """``rhs`` (the applied config) merged into ``lhs`` (the live object)."""
    if rhs is _ABSENT:
        return lhs
    if lhs is _ABSENT:
        return rhs
    shared = _shape(node, lhs, rhs)
    if shared is None or shared.shape is Shape.SCALAR or shared.atomic:
        return rhs
    if shared.shape is Shape.LIST:
        return _merge_list(lhs, rhs, shared)
    left = lhs if isinstance(lhs, dict) else None
    right = rhs if isinstance(rhs, dict) else None
    if not left and not right:
        return rhs
    out: dict[str, Any] = {}
    for key, value in (left or {}).items():
        out[key] = _merge(value, right.get(key, _ABSENT) if right else _ABSENT, shared.child(key))
    for key, value in (right or {}).items():
        if key not in out:
            out[key] = value
    return out


def _merge_list(lhs: Any, rhs: Any, node: Node) -> Any:
    """Merge two associative lists by item key: the applied order wins for the items it has,
    live-only items keep their place among them (upstream's interleaving)."""
    left = lhs if isinstance(lhs, list) else []
    right = rhs if isinstance(rhs, list) else []
    if not left and not right:
        return rhs
    try:
        right_pes = [item_element(node, item) for item in right]
        left_pes = [item_element(node, item) for item in left]
    except FieldSetError:
        return rhs
    right_items = dict(zip(right_pes, right, strict=True))
    left_items: dict[str, Any] = {}
    for pe, item in zip(left_pes, left, strict=True):
        # A live duplicate merges as if it were null.
        left_items[pe] = None if pe in left_items else item
    shared = [pe for pe in right_pes if pe in left_items]
    shared.reverse()
    next_shared = shared.pop() if shared else None
    done: set[str] = set()
    item_node = node.item()
    out: list[Any] = []
    li = ri = 0
    while li < len(left) or ri < len(right):
        if li < len(left) and ri < len(right):
            pe = left_pes[li]
            if pe == right_pes[ri]:
                done.add(pe)
                out.append(_merge(left_items[pe], right_items[pe], item_node))
                li += 1
                ri += 1
                next_shared = shared.pop() if shared else None
                continue
            if pe in right_items and next_shared is not None and next_shared != pe:
                li += 1  # a shared item, placed when the applied list reaches it
                continue
        if li < len(left):
            pe = left_pes[li]
            if pe not in right_items:
                out.append(left[li])
                li += 1
                continue
            if pe in done:
                li += 1
        if ri < len(right):
            pe = right_pes[ri]
            done.add(pe)
            out.append(_merge(left_items.get(pe, _ABSENT), right_items[pe], item_node))
            ri += 1
            if next_shared == pe:
                next_shared = shared.pop() if shared else None
    return out


def _remove(value: Any, drop: FieldSet, node: Node) -> Any:
    """``value`` without the members of ``drop`` (each with everything below it). A map or
    list left empty becomes null, as upstream's ``RemoveItems`` leaves it."""
    if drop.is_empty():
        return value
    node = node.effective(value)
    if node.shape is Shape.SCALAR:
        return value
    if node.shape is Shape.LIST:
        if not isinstance(value, list) or not value or node.atomic:
            return None
        item_node = node.item()
        items: list[Any] = []
        for item in value:
            try:
                pe = item_element(node, item)
            except FieldSetError:
                items.append(item)
                continue
            if pe in drop.members:
                continue
            below = drop.children.get(pe)
            items.append(item if below is None else _remove(item, below, item_node))
        return items or None
    if not isinstance(value, dict) or not value or node.atomic:
        return None
    out: dict[str, Any] = {}
    for key, child in value.items():
        pe = "f:" + key
        if pe in drop.members:
            continue
        below = drop.children.get(pe)
        out[key] = child if below is None else _remove(child, below, node.child(key))
    return out or None


# --------------------------------------------------------------------------------------------
# Small helpers.


def _copy(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A private deep copy (orjson's round trip is several times faster than deepcopy)."""
    try:
        copied = orjson.loads(orjson.dumps(obj))
    except TypeError:
        copied = copy.deepcopy(dict(obj))
    return copied if isinstance(copied, dict) else {}


def _strip_nulls(value: Any) -> None:
    """Drop null map values in place: a null in an applied config unsets the field, as the Go
    types do when they decode it."""
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for child in value.values():
            _strip_nulls(child)
    elif isinstance(value, list):
        for child in value:
            _strip_nulls(child)
