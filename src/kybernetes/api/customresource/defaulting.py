"""Structural defaulting and pruning of custom objects, in place.

Upstream applies both when a custom object is decoded from a request, and defaults again when
it is read from storage (a default added to the CRD later shows up in old objects without a
write). Pruning drops every field the schema does not declare, except under
``x-kubernetes-preserve-unknown-fields``; ``apiVersion``, ``kind`` and ``metadata`` are kept
at the root and in ``x-kubernetes-embedded-resource`` objects.

Invariants:
- Defaults are deep-copied into the object (the schema's values are never shared).
- A value of the wrong type is left alone (validation reports it) and not looked into.
- ``null`` for a non-nullable field with a default becomes the default, as upstream.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.customresource.schema import NO_DEFAULT, Node

_ROOT_KEPT = frozenset({"apiVersion", "kind", "metadata"})


def apply_defaults(node: Node, obj: dict[str, Any]) -> None:
    """Fill in the schema's defaults in custom object ``obj``."""
    if node.has_defaults:
        _object(node, obj, root=True)


def _object(node: Node, value: dict[str, Any], *, root: bool = False) -> None:
    for name, sub in node.properties.items():
        if root and name in _ROOT_KEPT:
            continue
        current = value.get(name)
        if sub.default is not NO_DEFAULT and (
            name not in value or (current is None and not sub.nullable)
        ):
            value[name] = sub.default_copy()
            current = value[name]
        if sub.has_defaults and current is not None:
            _value(sub, current)
    extra = node.additional
    if extra is not None and extra.has_defaults:
        for name, item in value.items():
            if name not in node.properties and item is not None:
                _value(extra, item)


def _value(node: Node, value: Any) -> None:
    if isinstance(value, dict) and (node.type == "object" or node.properties or node.additional):
        _object(node, value)
    elif isinstance(value, list) and node.items is not None and node.items.has_defaults:
        for i, item in enumerate(value):
            if item is None and node.items.default is not NO_DEFAULT:
                value[i] = node.items.default_copy()
            elif item is not None:
                _value(node.items, item)


def prune(node: Node, obj: dict[str, Any]) -> list[str]:
    """Remove undeclared fields from ``obj``; returns their paths (``spec.foo``) in document
    order, for ``fieldValidation=Strict`` errors and ``Warn`` warnings."""
    pruned: list[str] = []
    for name in list(obj):
        if name in _ROOT_KEPT:
            continue
        sub = node.child(name)
        if sub is None:
            if not node.preserve_unknown and not node.additional_any:
                pruned.append(name)
                del obj[name]
            continue
        _prune_value(sub, obj[name], name, pruned)
    return pruned


def _prune_value(node: Node, value: Any, path: str, pruned: list[str]) -> None:
    if isinstance(value, dict):
        if node.type not in ("object", "") or node.int_or_string:
            return
        keep_all = node.preserve_unknown or node.additional_any
        for name in list(value):
            sub = node.child(name)
            if sub is None:
                if keep_all or (node.embedded and name in _ROOT_KEPT):
                    continue
                pruned.append(f"{path}.{name}")
                del value[name]
                continue
            _prune_value(sub, value[name], f"{path}.{name}", pruned)
    elif isinstance(value, list) and node.items is not None and node.type in ("array", ""):
        for i, item in enumerate(value):
            _prune_value(node.items, item, f"{path}[{i}]", pruned)
