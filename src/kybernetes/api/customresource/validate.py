"""Validation of a custom object against its compiled schema (``schema.Node``), in upstream's
words: the kube-openapi value validations, ``x-kubernetes-list-type`` uniqueness, embedded
resources, and CEL rules (``cel.py``) with ``oldSelf`` for updates.

Messages are those of upstream's ``kubeOpenAPIResultToFieldErrors``:
``spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer:
"string"``, ``spec.size: Invalid value: 20: spec.size in body should be less than or equal to
10``, ``spec.color: Unsupported value: "pink": supported values: "red", "green"``, ...

Invariants:
- A value of the wrong type is reported once and not looked into further.
- The walk reads the object and never changes it; paths are rendered as Kubernetes renders
  them (``spec.items[0].name``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from kybernetes.api import errors
from kybernetes.api.customresource import cel
from kybernetes.api.customresource.schema import Node, json_type, type_matches
from kybernetes.api.errors import FieldError
from kybernetes.api.validation.gofmt import GoValue
from kybernetes.api.validation.names import name_is_dns_subdomain
from kybernetes.util.gofmt import format_v

_MISSING: Any = object()


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _number_text(value: float) -> str:
    return format_v(value)


def _go_syntax(value: Any) -> str:
    """Go's ``%#v`` of an unstructured value (``[]interface {}{1, "a"}``)."""
    if isinstance(value, dict):
        body = ", ".join(
            f"{orjson.dumps(k).decode()}:{_go_syntax(v)}" for k, v in sorted(value.items())
        )
        return "map[string]interface {}{" + body + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_syntax(v) for v in value) + "}"
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_v(value)
    return orjson.dumps(value).decode() if isinstance(value, str) else str(value)


def _shown(value: Any) -> Any:
    """A bad value as upstream shows it: containers in Go syntax, scalars as they are."""
    return GoValue(_go_syntax(value)) if isinstance(value, dict | list) else value


def _go_map(keys: Mapping[str, Any]) -> str:
    body = ", ".join(
        f"{orjson.dumps(k).decode()}:{orjson.dumps(v).decode()}" for k, v in keys.items()
    )
    return "map[string]interface {}{" + body + "}"


#: Upstream's error types that stop CEL rules from running (``hasBlockingErr``).
_BLOCKING = frozenset(
    {
        errors.ErrorType.NOT_SUPPORTED,
        errors.ErrorType.REQUIRED,
        errors.ErrorType.TOO_LONG,
        errors.ErrorType.TOO_MANY,
        errors.ErrorType.TYPE_INVALID,
    }
)
_NOT_CHECKED = (
    "some validation rules were not checked because the object was invalid; correct the "
    "existing errors to complete validation"
)


class _Validator:
    """One pass: the schema's value validations, or (``rules``) its CEL rules only."""

    __slots__ = ("errs", "rules_only")

    def __init__(self, *, rules_only: bool = False) -> None:
        self.errs: list[FieldError] = []
        self.rules_only = rules_only

    def invalid(self, path: str, value: Any, detail: str) -> None:
        self.errs.append(errors.invalid(path, _shown(value), f"{path} in body {detail}"))

    def walk(self, node: Node, value: Any, path: str, old: Any) -> None:
        if self.rules_only:
            if node.has_rules and value is not None and type_matches(node, value):
                if isinstance(value, dict):
                    self.object(node, value, path, old)
                elif isinstance(value, list):
                    self.array(node, value, path, old)
                if node.rules:
                    self.rules(node, value, path, old)
            return
        if value is None:
            if not node.nullable and (node.type or node.int_or_string):
                expected = "integer,string" if node.int_or_string else node.type
                self.errs.append(
                    errors.type_invalid(
                        path, "null", f'{path} in body must be of type {expected}: "null"'
                    )
                )
            return
        if not type_matches(node, value):
            expected = "integer,string" if node.int_or_string else node.type
            actual = json_type(value)
            self.errs.append(
                errors.type_invalid(
                    path, actual, f'{path} in body must be of type {expected}: "{actual}"'
                )
            )
            return
        self.values(node, value, path)
        if isinstance(value, dict):
            self.object(node, value, path, old)
        elif isinstance(value, list):
            self.array(node, value, path, old)

    def values(self, node: Node, value: Any, path: str) -> None:
        """The value validations of one node (and its allOf/anyOf/oneOf/not)."""
        if node.enum is not None and value not in node.enum:
            shown = [v if isinstance(v, str) else orjson.dumps(v).decode() for v in node.enum]
            self.errs.append(errors.not_supported(path, value, shown))
        if isinstance(value, str):
            self.string(node, value, path)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self.number(node, value, path)
        elif isinstance(value, list):
            if node.max_items is not None and len(value) > node.max_items:
                self.errs.append(errors.too_many(path, len(value), node.max_items))
            if node.min_items is not None and len(value) < node.min_items:
                self.invalid(path, value, f"should have at least {node.min_items} items")
            if node.unique_items and len({orjson.dumps(v) for v in value}) != len(value):
                self.invalid(path, value, "shouldn't contain duplicates")
        elif isinstance(value, dict):
            if node.max_properties is not None and len(value) > node.max_properties:
                self.invalid(path, value, f"should have at most {node.max_properties} properties")
            if node.min_properties is not None and len(value) < node.min_properties:
                self.invalid(path, value, f"should have at least {node.min_properties} properties")
        for sub in node.all_of:
            self.composite(sub, value, path)
        if node.any_of and not any(self.passes(sub, value, path) for sub in node.any_of):
            self.invalid(path, value, "must validate at least one schema (anyOf)")
        if node.one_of and sum(self.passes(sub, value, path) for sub in node.one_of) != 1:
            self.invalid(path, value, "must validate one and only one schema (oneOf)")
        if node.not_ is not None and self.passes(node.not_, value, path):
            self.invalid(path, value, "must not validate the schema (not)")

    def composite(self, node: Node, value: Any, path: str) -> None:
        if type_matches(node, value):
            self.values(node, value, path)
            if isinstance(value, dict):
                for name in node.required:
                    if name not in value:
                        self.errs.append(errors.required(_child(path, name), ""))
                for name, sub in node.properties.items():
                    if name in value and value[name] is not None:
                        self.composite(sub, value[name], _child(path, name))

    def passes(self, node: Node, value: Any, path: str) -> bool:
        probe = _Validator()
        probe.composite(node, value, path)
        return not probe.errs

    def string(self, node: Node, value: str, path: str) -> None:
        if node.max_length is not None and len(value) > node.max_length:
            self.errs.append(errors.too_long(path, node.max_length))
        if node.min_length is not None and len(value) < node.min_length:
            self.invalid(path, value, f"should be at least {node.min_length} chars long")
        if node.pattern is not None and node.pattern.search(value) is None:
            self.invalid(path, value, f"should match '{node.pattern_text}'")

    def number(self, node: Node, value: float, path: str) -> None:
        if node.maximum is not None:
            if node.exclusive_maximum and value >= node.maximum:
                self.invalid(path, value, f"should be less than {_number_text(node.maximum)}")
            elif value > node.maximum:
                self.invalid(
                    path, value, f"should be less than or equal to {_number_text(node.maximum)}"
                )
        if node.minimum is not None:
            if node.exclusive_minimum and value <= node.minimum:
                self.invalid(path, value, f"should be greater than {_number_text(node.minimum)}")
            elif value < node.minimum:
                self.invalid(
                    path,
                    value,
                    f"should be greater than or equal to {_number_text(node.minimum)}",
                )
        if node.multiple_of and (value / node.multiple_of) % 1 != 0:
            self.invalid(path, value, f"should be a multiple of {_number_text(node.multiple_of)}")

    def object(self, node: Node, value: dict[str, Any], path: str, old: Any) -> None:
        if not self.rules_only:
            for name in node.required:
                if name not in value:
                    self.errs.append(errors.required(_child(path, name), ""))
            if node.embedded:
                self.embedded(value, path)
        old_map = old if isinstance(old, dict) else None
        if node.properties:
            for name, sub in node.properties.items():
                if name in value:
                    prior = old_map.get(name, _MISSING) if old_map is not None else _MISSING
                    self.walk(sub, value[name], _child(path, name), prior)
        if node.additional is not None:
            for name, item in value.items():
                if name not in node.properties:
                    prior = old_map.get(name, _MISSING) if old_map is not None else _MISSING
                    self.walk(node.additional, item, _child(path, name), prior)

    def embedded(self, value: dict[str, Any], path: str) -> None:
        for name in ("apiVersion", "kind"):
            if not value.get(name):
                self.errs.append(errors.required(_child(path, name), "must not be empty"))
        meta = value.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"]:
            for message in name_is_dns_subdomain(meta["name"], False):
                self.errs.append(
                    errors.invalid(_child(_child(path, "metadata"), "name"), meta["name"], message)
                )

    def array(self, node: Node, value: list[Any], path: str, old: Any) -> None:
        if self.rules_only:
            pass
        elif node.list_type == "set":
            seen: set[bytes] = set()
            for i, item in enumerate(value):
                key = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
                if key in seen:
                    self.errs.append(errors.duplicate(f"{path}[{i}]", item))
                seen.add(key)
        elif node.list_type == "map" and node.list_map_keys:
            keys_seen: set[bytes] = set()
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    continue
                keys = {k: item.get(k) for k in node.list_map_keys}
                key = orjson.dumps(keys, option=orjson.OPT_SORT_KEYS)
                if key in keys_seen:
                    self.errs.append(errors.duplicate(f"{path}[{i}]", GoValue(_go_map(keys))))
                keys_seen.add(key)
        if node.items is None:
            return
        old_items = _correlate(node, old)
        for i, item in enumerate(value):
            prior = _MISSING
            if old_items is not None and isinstance(item, dict):
                prior = old_items.get(_map_key(node, item), _MISSING)
            self.walk(node.items, item, f"{path}[{i}]", prior)

    def rules(self, node: Node, value: Any, path: str, old: Any) -> None:
        has_old = old is not _MISSING and old is not None
        for rule in node.rules:
            message = cel.evaluate(rule, value, old if has_old else None, has_old=has_old)
            if not message:
                continue
            at = path
            if rule.field_path:
                at = _child(path, rule.field_path.lstrip("."))
            if rule.reason == "FieldValueForbidden":
                self.errs.append(errors.forbidden(at, message))
            elif rule.reason == "FieldValueRequired":
                self.errs.append(errors.required(at, message))
            elif rule.reason == "FieldValueDuplicate":
                self.errs.append(
                    errors.FieldError(errors.ErrorType.DUPLICATE, at, json_type(value), message)
                )
            else:
                self.errs.append(errors.invalid(at, json_type(value), message))


def _map_key(node: Node, item: Mapping[str, Any]) -> bytes:
    return orjson.dumps([item.get(k) for k in node.list_map_keys])


def _correlate(node: Node, old: Any) -> dict[bytes, Any] | None:
    """Old items by map key, for transition rules under ``x-kubernetes-list-type: map``."""
    if node.list_type != "map" or not node.list_map_keys or not isinstance(old, list):
        return None
    if node.items is None or not node.items.has_rules:
        return None
    return {_map_key(node, item): item for item in old if isinstance(item, dict)}


def validate(
    node: Node, obj: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[FieldError]:
    """Every schema error of custom object ``obj`` (``old`` on updates, for ``oldSelf``).

    ``apiVersion``, ``kind`` and ``metadata`` are not the schema's business (the registry
    validates metadata as for every object).
    """
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    old_body: Any = _MISSING
    if old is not None:
        old_body = {k: v for k, v in old.items() if k not in ("apiVersion", "kind", "metadata")}
    schema = _Validator()
    for name in node.required:
        if name not in body and name not in ("apiVersion", "kind", "metadata"):
            schema.errs.append(errors.required(name, ""))
    _walk_root(schema, node, body, old_body)
    if not node.has_rules:
        return schema.errs
    if any(e.type in _BLOCKING for e in schema.errs):
        return [*schema.errs, errors.invalid("", None, _NOT_CHECKED)]
    rules = _Validator(rules_only=True)
    _walk_root(rules, node, body, old_body)
    if node.rules:
        rules.rules(node, obj, "", old if old is not None else _MISSING)
    return [*schema.errs, *rules.errs]


def _walk_root(validator: _Validator, node: Node, body: dict[str, Any], old_body: Any) -> None:
    for name, value in body.items():
        sub = node.child(name)
        if sub is None:
            continue
        prior = old_body.get(name, _MISSING) if old_body is not _MISSING else _MISSING
        validator.walk(sub, value, name, prior)
