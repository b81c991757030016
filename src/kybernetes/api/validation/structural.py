"""Structural validation and pruning of API objects against their schema definition.

This is the schema half of request decoding: it finds fields the schema does not know
(``fieldValidation=Strict`` rejects them, ``Warn`` reports them, ``Ignore`` drops them), JSON
values of the wrong type, and, when asked, missing required fields. Semantic rules that no
schema expresses (names, label syntax, port ranges, immutability) live in the per-kind
validators; quantity strings are parsed later by the quantity module, so a quantity is only
checked to be a string or a number here.

Objects are JSON-shaped Python data (dict, list, str, int, float, bool, None) as orjson or a
JSON-faithful YAML loader produce them.

Invariants:
- Paths are written as Kubernetes writes them: struct fields and map keys joined with ``.``,
  list indices in brackets (``spec.template.spec.containers[0].image``), and problems come out
  in document order, so ``Problem.message`` matches upstream's wording.
- ``null`` is accepted for every field (Go decodes it as "absent"); ``apiVersion``, ``kind`` and
  ``metadata`` (as ObjectMeta) are always allowed at the top of an object and of an embedded
  resource; fields under ``x-kubernetes-preserve-unknown-fields`` are kept, never reported.
- The walk is iterative (an explicit stack of iterators), so neither deep nesting nor
  10,000-item lists touch Python's recursion limit, and it allocates only for containers it
  enters and for problems it reports; path strings are built only for problems.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from kybernetes.api.schema import (
    OBJECT_META_DEFINITION,
    Descend,
    FieldKind,
    FieldSchema,
    TypeSchema,
    definition,
)

# Upstream stops collecting strict-decoding errors at 100 (sigs.k8s.io/json).
MAX_STRICT_ERRORS: Final = 100


class ProblemKind(enum.Enum):
    UNKNOWN_FIELD = "unknown field"
    INVALID_TYPE = "invalid type"
    REQUIRED = "required value"


def _quote(text: str) -> str:
    # Go's %q for the printable text these paths hold: quotes and backslashes escaped.
    return json.dumps(text, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Problem:
    """One structural problem at a field path.

    ``expected`` is the OpenAPI type wording (``integer``, ``integer,string``) and ``actual``
    the JSON type of the value found (``string``); both are empty for unknown fields.
    """

    kind: ProblemKind
    path: str
    expected: str = ""
    actual: str = ""

    @property
    def message(self) -> str:
        """The problem in Kubernetes' words.

        Unknown field: ``unknown field "spec.foo"`` (one item of a strict decoding error).
        Wrong type: ``spec.replicas: Invalid value: "string": spec.replicas in body must be of
        type integer: "string"`` (the schema validator's wording, as for custom resources).
        Missing required field: ``spec.selector: Required value``.
        """
        if self.kind is ProblemKind.UNKNOWN_FIELD:
            return f"unknown field {_quote(self.path)}"
        if self.kind is ProblemKind.REQUIRED:
            return f"{self.path}: Required value"
        actual = _quote(self.actual)
        return (
            f"{self.path}: Invalid value: {actual}: {self.path} in body must be of type "
            f"{self.expected}: {actual}"
        )

    def __str__(self) -> str:
        return self.message


def strict_decoding_error(problems: list[Problem]) -> str | None:
    """The text upstream puts after ``<Kind> in version "<v>" cannot be handled as a <Kind>: ``
    when strict field validation fails, or None when there is no unknown field:
    ``strict decoding error: unknown field "spec.a", unknown field "spec.b"`` (at most 100)."""
    seen: dict[str, None] = {}
    for problem in problems:
        if problem.kind is ProblemKind.UNKNOWN_FIELD:
            seen.setdefault(problem.message)
            if len(seen) >= MAX_STRICT_ERRORS:
                break
    if not seen:
        return None
    return "strict decoding error: " + ", ".join(seen)


# --- the walk ----------------------------------------------------------------------------------

# A path is a linked list of (parent, segment) pairs, rendered only when a problem needs it.
_Path: TypeAlias = "tuple[_Path, str | int] | None"
# (iterator over (key, value), frame kind, TypeSchema or element FieldSchema, path, flags,
# the container itself for deferred removals)
_Frame: TypeAlias = tuple[Iterator[tuple[Any, Any]], int, Any, _Path, int, Any]

_JSON_TYPE_NAMES: Final[dict[type, str]] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
}

# Frame kinds: a struct's fields, or the items of a list or values of a map (one schema).
_STRUCT: Final = 0
_ELEMENTS: Final = 1
_DESCEND_STRUCT: Final = int(Descend.STRUCT)
_DESCEND_ARRAY: Final = int(Descend.ARRAY)
# Frame flags.
_EMBEDDED: Final = 1  # apiVersion, kind and metadata are allowed here
_PRESERVE: Final = 2  # unknown fields are kept and not reported

_STRING_FIELD: Final = FieldSchema(name="", kind=FieldKind.STRING, type="string")


@functools.cache
def _metadata_field() -> FieldSchema:
    meta = definition(OBJECT_META_DEFINITION)
    return FieldSchema(
        name="metadata",
        kind=FieldKind.STRUCT,
        type="object",
        ref=OBJECT_META_DEFINITION,
        definition=meta,
    )


def render_path(path: _Path) -> str:
    segments: list[str | int] = []
    while path is not None:
        path, segment = path
        segments.append(segment)
    out = ""
    for segment in reversed(segments):
        if isinstance(segment, int):
            out += f"[{segment}]"
        elif out:
            out += "." + segment
        else:
            out = segment
    return out


def _json_type(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _struct_flags(fs: FieldSchema | None, ts: TypeSchema) -> int:
    flags = 0
    if ts.preserve_unknown_fields or (fs is not None and fs.preserve_unknown_fields):
        flags |= _PRESERVE
    if ts.embedded_resource or (fs is not None and fs.embedded_resource):
        flags |= _EMBEDDED
    return flags


class _Walker:
    """One validation or pruning pass over one object."""

    __slots__ = ("check_required", "problems", "prune", "removals", "report_types")

    def __init__(self, *, report_types: bool, check_required: bool, prune: bool) -> None:
        self.report_types = report_types
        self.check_required = check_required
        self.prune = prune
        self.problems: list[Problem] = []
        self.removals: list[tuple[dict[str, Any], str]] = []

    def required(self, obj: dict[str, Any], ts: TypeSchema, path: _Path) -> None:
        for name in ts.required:
            if obj.get(name) is None:
                self.problems.append(Problem(ProblemKind.REQUIRED, render_path((path, name))))

    def wrong_type(self, fs: FieldSchema, value: Any, path: _Path) -> None:
        if self.report_types:
            self.problems.append(
                Problem(
                    ProblemKind.INVALID_TYPE,
                    render_path(path),
                    expected=fs.expected_type,
                    actual=_json_type(value),
                )
            )

    def unknown(self, container: dict[str, Any], key: str, path: _Path) -> None:
        self.problems.append(Problem(ProblemKind.UNKNOWN_FIELD, render_path((path, key))))
        if self.prune:
            self.removals.append((container, key))

    def enter(self, fs: FieldSchema, value: Any, path: _Path) -> _Frame | None:
        """The frame that walks ``value`` (already type-checked), or None if there is nothing
        below it to check."""
        descend = fs.descend
        if descend == _DESCEND_STRUCT:
            target = fs.definition
            if target is None:
                return None
            if self.check_required and target.required:
                self.required(value, target, path)
            if not value:
                return None
            flags = 0
            if (
                fs.preserve_unknown_fields
                or fs.embedded_resource
                or target.preserve_unknown_fields
                or target.embedded_resource
            ):
                flags = _struct_flags(fs, target)
            return (iter(value.items()), _STRUCT, target, path, flags, value)
        if descend == _DESCEND_ARRAY:
            if not value or fs.items is None:
                return None
            return (iter(enumerate(value)), _ELEMENTS, fs.items, path, 0, value)
        values = fs.additional_properties
        if values is None and fs.definition is not None:
            values = fs.definition.additional_properties
        if not value or values is None:
            return None
        return (iter(value.items()), _ELEMENTS, values, path, 0, value)

    def run(self, obj: Any, ts: TypeSchema) -> None:
        if not isinstance(obj, dict):
            self.problems.append(
                Problem(ProblemKind.INVALID_TYPE, "", expected="object", actual=_json_type(obj))
            )
            return
        if self.check_required:
            self.required(obj, ts, None)
        stack: list[_Frame] = [
            (iter(obj.items()), _STRUCT, ts, None, _struct_flags(None, ts) | _EMBEDDED, obj)
        ]
        enter = self.enter
        push = stack.append
        # Each frame kind has its own loop: a struct looks every key up, while list items and
        # map values share one schema, so its checks are hoisted out of the loop.
        while stack:
            items, frame_kind, frame_schema, path, flags, container = stack[-1]
            if frame_kind == _STRUCT:
                lookup = frame_schema.fields.get
                for key, value in items:
                    fs = lookup(key)
                    if fs is None:
                        fs = self.extra_field(frame_schema, key, flags)
                        if fs is None:
                            if not flags & _PRESERVE:
                                self.unknown(container, key, path)
                            continue
                    if value is None:
                        continue
                    accepts = fs.accepts
                    if accepts is not None and type(value) not in accepts:
                        self.wrong_type(fs, value, (path, key))
                        continue
                    if fs.descend:
                        frame = enter(fs, value, (path, key))
                        if frame is not None:
                            push(frame)
                            break
                else:
                    stack.pop()
                continue
            fs = frame_schema
            accepts = fs.accepts
            if not fs.descend:
                if accepts is not None and self.report_types:
                    for key, value in items:
                        if value is not None and type(value) not in accepts:
                            self.wrong_type(fs, value, (path, key))
                stack.pop()
                continue
            for key, value in items:
                if value is None:
                    continue
                if accepts is not None and type(value) not in accepts:
                    self.wrong_type(fs, value, (path, key))
                    continue
                frame = enter(fs, value, (path, key))
                if frame is not None:
                    push(frame)
                    break
            else:
                stack.pop()

    @staticmethod
    def extra_field(ts: TypeSchema, key: str, flags: int) -> FieldSchema | None:
        """The schema of a key that is not a declared property, or None if it is unknown."""
        if ts.additional_properties is not None:
            return ts.additional_properties
        if flags & _EMBEDDED:
            if key == "apiVersion" or key == "kind":
                return _STRING_FIELD
            if key == "metadata":
                return _metadata_field()
        return None

    def apply_removals(self) -> None:
        # Deferred so that no dict changes size while an iterator over it is live.
        for container, key in self.removals:
            container.pop(key, None)


def _resolve(schema_or_name: TypeSchema | str) -> TypeSchema:
    if isinstance(schema_or_name, str):
        return definition(schema_or_name)
    return schema_or_name


def validate(obj: Any, schema: TypeSchema | str, *, check_required: bool = False) -> list[Problem]:
    """Every structural problem of ``obj`` against ``schema`` (a definition or its name), in
    document order: unknown fields, wrong JSON types and, with ``check_required``, missing
    required fields. ``obj`` is not changed."""
    walker = _Walker(report_types=True, check_required=check_required, prune=False)
    walker.run(obj, _resolve(schema))
    return walker.problems


def validate_and_prune(
    obj: Any, schema: TypeSchema | str, *, check_required: bool = False
) -> list[Problem]:
    """Like ``validate``, and also removes the unknown fields it reports (fieldValidation=Warn:
    report them as warnings, store the object without them)."""
    walker = _Walker(report_types=True, check_required=check_required, prune=True)
    walker.run(obj, _resolve(schema))
    walker.apply_removals()
    return walker.problems


def prune(obj: Any, schema: TypeSchema | str) -> list[str]:
    """Remove, in place, every field of ``obj`` that ``schema`` does not know, and return their
    paths (fieldValidation=Ignore). Values of the wrong type are left alone for validation to
    report; fields under ``x-kubernetes-preserve-unknown-fields`` are kept."""
    walker = _Walker(report_types=False, check_required=False, prune=True)
    walker.run(obj, _resolve(schema))
    walker.apply_removals()
    return [p.path for p in walker.problems if p.kind is ProblemKind.UNKNOWN_FIELD]
