"""A CRD version's ``openAPIV3Schema`` compiled once into a tree of ``Node``s.

Every request for a custom resource walks this tree (validation, defaulting, pruning, CEL
rules), so the raw JSON schema is read exactly once, when the CRD is served: patterns are
compiled, numbers converted, CEL rules compiled (``cel.py``), and each node knows whether
anything below it has a default or a rule, so walks skip subtrees with nothing to do.

Invariants:
- A ``Node`` is immutable after ``compile_schema`` returns and shared by every request.
- Only the structural part of a schema shapes the tree (``type``, ``properties``, ``items``,
  ``additionalProperties``, the ``x-kubernetes-*`` extensions); ``allOf``/``anyOf``/``oneOf``/
  ``not`` hold value validations only (structural schemas forbid types in them), so they are
  compiled as nodes that are used for value checks, never for pruning or defaulting.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from kybernetes.api.customresource.cel import Rule, compile_rules

#: A default that is not there (``None`` is a valid default for nullable fields).
NO_DEFAULT: Final = object()


@dataclass(slots=True, eq=False)
class Node:
    """One schema node; ``type`` is ``""`` for an untyped node (int-or-string, preserve)."""

    type: str = ""
    format: str = ""
    nullable: bool = False
    properties: dict[str, Node] = field(default_factory=dict)
    items: Node | None = None
    additional: Node | None = None
    #: ``additionalProperties: true`` (or no properties at all with preserve-unknown-fields).
    additional_any: bool = False
    required: tuple[str, ...] = ()
    enum: tuple[Any, ...] | None = None
    pattern: re.Pattern[str] | None = None
    pattern_text: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    multiple_of: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    min_properties: int | None = None
    max_properties: int | None = None
    unique_items: bool = False
    default: Any = NO_DEFAULT
    preserve_unknown: bool = False
    int_or_string: bool = False
    embedded: bool = False
    list_type: str = ""
    list_map_keys: tuple[str, ...] = ()
    all_of: tuple[Node, ...] = ()
    any_of: tuple[Node, ...] = ()
    one_of: tuple[Node, ...] = ()
    not_: Node | None = None
    rules: tuple[Rule, ...] = ()
    #: Something at or below this node has a default.
    has_defaults: bool = False
    #: Something at or below this node has a CEL rule.
    has_rules: bool = False

    def child(self, key: str) -> Node | None:
        """The schema of property ``key`` (a declared property or the map value schema)."""
        found = self.properties.get(key)
        return found if found is not None else self.additional

    def default_copy(self) -> Any:
        return copy.deepcopy(self.default)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def compile_schema(raw: Mapping[str, Any], *, root: bool = True) -> Node:
    """Compile ``raw`` (an ``openAPIV3Schema``); raises ``ValueError`` for a bad pattern or a
    CEL rule that does not compile (the CRD's validation reports those first)."""
    node = Node(
        type=str(raw.get("type") or ""),
        format=str(raw.get("format") or ""),
        nullable=raw.get("nullable") is True,
        required=tuple(str(r) for r in raw.get("required") or ()),
        minimum=_number(raw.get("minimum")),
        maximum=_number(raw.get("maximum")),
        exclusive_minimum=raw.get("exclusiveMinimum") is True,
        exclusive_maximum=raw.get("exclusiveMaximum") is True,
        multiple_of=_number(raw.get("multipleOf")),
        min_length=_count(raw.get("minLength")),
        max_length=_count(raw.get("maxLength")),
        min_items=_count(raw.get("minItems")),
        max_items=_count(raw.get("maxItems")),
        min_properties=_count(raw.get("minProperties")),
        max_properties=_count(raw.get("maxProperties")),
        unique_items=raw.get("uniqueItems") is True,
        preserve_unknown=raw.get("x-kubernetes-preserve-unknown-fields") is True,
        int_or_string=raw.get("x-kubernetes-int-or-string") is True,
        embedded=raw.get("x-kubernetes-embedded-resource") is True,
        list_type=str(raw.get("x-kubernetes-list-type") or ""),
        list_map_keys=tuple(str(k) for k in raw.get("x-kubernetes-list-map-keys") or ()),
    )
    if isinstance(raw.get("enum"), list):
        node.enum = tuple(raw["enum"])
    pattern = raw.get("pattern")
    if isinstance(pattern, str):
        node.pattern_text = pattern
        node.pattern = re.compile(pattern)
    if "default" in raw:
        node.default = raw["default"]
    for name, sub in (raw.get("properties") or {}).items():
        if isinstance(sub, Mapping):
            node.properties[str(name)] = compile_schema(sub, root=False)
    items = raw.get("items")
    if isinstance(items, Mapping):
        node.items = compile_schema(items, root=False)
    extra = raw.get("additionalProperties")
    if isinstance(extra, Mapping):
        node.additional = compile_schema(extra, root=False)
    elif extra is True:
        node.additional_any = True
    node.all_of = tuple(compile_schema(s, root=False) for s in raw.get("allOf") or ())
    node.any_of = tuple(compile_schema(s, root=False) for s in raw.get("anyOf") or ())
    node.one_of = tuple(compile_schema(s, root=False) for s in raw.get("oneOf") or ())
    if isinstance(raw.get("not"), Mapping):
        node.not_ = compile_schema(raw["not"], root=False)
    node.rules = compile_rules(raw.get("x-kubernetes-validations") or ())
    children = [*node.properties.values(), node.items, node.additional]
    below = [c for c in children if c is not None]
    node.has_defaults = node.default is not NO_DEFAULT or any(c.has_defaults for c in below)
    node.has_rules = bool(node.rules) or any(c.has_rules for c in below)
    if root:
        # apiVersion, kind and metadata are always part of a custom object; the handler checks
        # metadata against ObjectMeta itself.
        node.embedded = False
    return node


def json_type(value: object) -> str:
    """The OpenAPI type name of a JSON value (``"null"`` for None), as upstream reports it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def type_matches(node: Node, value: object) -> bool:
    """Whether ``value`` has the node's type (untyped nodes take anything)."""
    if node.int_or_string:
        return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    kind = node.type
    if not kind:
        return True
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True
