"""The Kubernetes API schema at run time, loaded from the data that tools/gen_schema.py writes.

``api/data/schema.json`` holds every definition of the Kubernetes OpenAPI document (fields,
types, refs, list/map/patch metadata, required fields, group-version-kinds) and the table of
built-in resources. This module turns it into frozen, slotted objects once per process, lazily,
and answers lookups from dictionaries.

Invariants:
- The data is loaded at most once (``functools.cache``); every later call is a dict lookup.
- Every ``$ref`` is resolved to its ``TypeSchema`` object at load time, so walkers (validation,
  pruning, strategic merge patch) never look names up per field; the graph may be cyclic
  (``JSONSchemaProps`` refers to itself).
- Each ``FieldSchema`` knows its wire ``kind`` and the Python types its JSON value may have, so a
  validator checks a value with one set lookup.
"""

from __future__ import annotations

import enum
import functools
import gzip
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final, TypeAlias

import orjson

QUANTITY_DEFINITION: Final = "io.k8s.apimachinery.pkg.api.resource.Quantity"
OBJECT_META_DEFINITION: Final = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
DATA_FORMAT: Final = 1

# ``type`` is also a field name below; this alias keeps the builtin reachable in annotations.
PyType: TypeAlias = type


class SchemaDataError(Exception):
    """The packaged schema data is missing or malformed (rerun tools/gen_schema.py)."""


class FieldKind(enum.Enum):
    """What a JSON value must look like on the wire."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    # An object with declared properties (a Go struct).
    STRUCT = "struct"
    # An object whose values all share one schema (a Go map).
    MAP = "map"
    ARRAY = "array"
    # An object whose content the schema does not describe (RawExtension, FieldsV1).
    FREE_OBJECT = "free-object"
    # A string or a number: resource.Quantity.
    QUANTITY = "quantity"
    # An integer or a string: intstr.IntOrString, x-kubernetes-int-or-string.
    INT_OR_STRING = "int-or-string"
    # Anything at all (apiextensions JSON, schemas without a type).
    ANY = "any"


# The Python types (as orjson and PyYAML produce them) that each kind admits. bool is not an
# int here: ``type(True) is bool``, and Go refuses ``true`` for an int32.
_ACCEPTS: Final[Mapping[FieldKind, frozenset[PyType] | None]] = {
    FieldKind.STRING: frozenset({str}),
    FieldKind.INTEGER: frozenset({int}),
    FieldKind.NUMBER: frozenset({int, float}),
    FieldKind.BOOLEAN: frozenset({bool}),
    FieldKind.STRUCT: frozenset({dict}),
    FieldKind.MAP: frozenset({dict}),
    FieldKind.ARRAY: frozenset({list}),
    FieldKind.FREE_OBJECT: frozenset({dict}),
    FieldKind.QUANTITY: frozenset({str, int, float}),
    FieldKind.INT_OR_STRING: frozenset({int, str}),
    FieldKind.ANY: None,
}


class Descend(enum.IntEnum):
    """How a walker goes into a value: not at all, as a struct, a list or a map. Plain ints
    so that the hot loop of validation tests one attribute instead of comparing kinds."""

    NO = 0
    STRUCT = 1
    ARRAY = 2
    MAP = 3


_DESCEND: Final[Mapping[FieldKind, Descend]] = {
    FieldKind.STRUCT: Descend.STRUCT,
    FieldKind.ARRAY: Descend.ARRAY,
    FieldKind.MAP: Descend.MAP,
}

# How problems name the expected type, in OpenAPI words.
EXPECTED_TYPE: Final[Mapping[FieldKind, str]] = {
    FieldKind.STRING: "string",
    FieldKind.INTEGER: "integer",
    FieldKind.NUMBER: "number",
    FieldKind.BOOLEAN: "boolean",
    FieldKind.STRUCT: "object",
    FieldKind.MAP: "object",
    FieldKind.ARRAY: "array",
    FieldKind.FREE_OBJECT: "object",
    FieldKind.QUANTITY: "number,string",
    FieldKind.INT_OR_STRING: "integer,string",
    FieldKind.ANY: "",
}


@dataclass(frozen=True, slots=True)
class GroupVersionKind:
    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass(frozen=True, slots=True, eq=False)
class FieldSchema:
    """The schema of one property, array item or map value.

    ``definition`` is the resolved ``$ref`` target; for STRUCT fields it holds the properties.
    Identity equality (``eq=False``): schemas form a cyclic graph and are compared by object.
    """

    name: str
    kind: FieldKind
    type: str | None = None
    format: str | None = None
    ref: str | None = None
    # Excluded from repr: the schema graph is cyclic (JSONSchemaProps refers to itself).
    definition: TypeSchema | None = field(default=None, repr=False)
    items: FieldSchema | None = None
    additional_properties: FieldSchema | None = None
    list_type: str | None = None
    list_map_keys: tuple[str, ...] = ()
    patch_strategy: str | None = None
    patch_merge_key: str | None = None
    map_type: str | None = None
    preserve_unknown_fields: bool = False
    int_or_string: bool = False
    embedded_resource: bool = False
    enum: tuple[Any, ...] | None = None
    # Derived from ``kind`` (never passed in): the Python types a JSON value of this field may
    # have (None admits anything), and whether a walker descends into the value.
    accepts: frozenset[PyType] | None = field(init=False, repr=False)
    descend: Descend = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "accepts", _ACCEPTS[self.kind])
        object.__setattr__(self, "descend", _DESCEND.get(self.kind, Descend.NO))

    @property
    def expected_type(self) -> str:
        """The OpenAPI wording of what this field accepts (``integer``, ``integer,string``)."""
        return EXPECTED_TYPE[self.kind]


@dataclass(frozen=True, slots=True, eq=False)
class TypeSchema:
    """One definition of the document, e.g. ``io.k8s.api.core.v1.Pod``.

    ``fields`` is filled while the schema loads (refs may point back at this object) and is
    read-only afterwards by convention; it is typed as a ``Mapping`` for that reason.
    """

    name: str
    kind: FieldKind
    type: str | None
    format: str | None
    fields: Mapping[str, FieldSchema] = field(repr=False)
    required: tuple[str, ...]
    gvks: tuple[GroupVersionKind, ...]
    map_type: str | None = None
    preserve_unknown_fields: bool = False
    embedded_resource: bool = False
    unions: tuple[Mapping[str, Any], ...] = ()
    additional_properties: FieldSchema | None = None

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True, slots=True)
class Schema:
    """The whole loaded schema: definitions by name and by group-version-kind."""

    definitions: Mapping[str, TypeSchema]
    by_gvk: Mapping[GroupVersionKind, TypeSchema]
    resources: tuple[Mapping[str, Any], ...]
    info: Mapping[str, Any]


# --- loading -----------------------------------------------------------------------------------


def _read_data(name: str) -> bytes:
    base = resources.files("kybernetes.api").joinpath("data")
    plain = base.joinpath(name)
    if plain.is_file():
        return plain.read_bytes()
    zipped = base.joinpath(name + ".gz")
    if zipped.is_file():
        return gzip.decompress(zipped.read_bytes())
    raise SchemaDataError(f"kybernetes/api/data/{name} is missing; run tools/gen_schema.py")


def _own_kind(raw: Mapping[str, Any]) -> FieldKind:
    """The wire kind of a definition or an inline schema without a $ref."""
    fmt = raw.get("format")
    if fmt == "quantity":
        return FieldKind.QUANTITY
    if fmt == "int-or-string" or raw.get("x-kubernetes-int-or-string"):
        return FieldKind.INT_OR_STRING
    json_type = raw.get("type")
    if json_type == "object":
        if raw.get("properties"):
            return FieldKind.STRUCT
        extra = raw.get("additionalProperties")
        if isinstance(extra, dict):
            return FieldKind.MAP
        return FieldKind.FREE_OBJECT
    if json_type == "array":
        return FieldKind.ARRAY
    return _SCALAR_KINDS.get(json_type, FieldKind.ANY)


_SCALAR_KINDS: Final[Mapping[Any, FieldKind]] = {
    "string": FieldKind.STRING,
    "integer": FieldKind.INTEGER,
    "number": FieldKind.NUMBER,
    "boolean": FieldKind.BOOLEAN,
}
_PLAIN_KEYS: Final = frozenset({"type", "format"})


class _Loader:
    def __init__(self, raw_definitions: Mapping[str, Any]) -> None:
        self.raw = raw_definitions
        # Phase one: every definition exists (with empty fields) before any ref is resolved.
        self.types: dict[str, TypeSchema] = {
            name: self._shell(name, raw) for name, raw in raw_definitions.items()
        }

    def _shell(self, name: str, raw: Mapping[str, Any]) -> TypeSchema:
        gvks = tuple(
            GroupVersionKind(g["group"], g["version"], g["kind"])
            for g in raw.get("x-kubernetes-group-version-kind", ())
        )
        return TypeSchema(
            name=name,
            kind=_own_kind(raw),
            type=raw.get("type"),
            format=raw.get("format"),
            fields={},
            required=tuple(raw.get("required", ())),
            gvks=gvks,
            map_type=raw.get("x-kubernetes-map-type"),
            preserve_unknown_fields=bool(raw.get("x-kubernetes-preserve-unknown-fields")),
            embedded_resource=bool(raw.get("x-kubernetes-embedded-resource")),
            unions=tuple(raw.get("x-kubernetes-unions", ())),
        )

    def load(self) -> dict[str, TypeSchema]:
        # Phase two: fill the fields, resolving refs to the shells created above.
        for name, raw in self.raw.items():
            ts = self.types[name]
            fields = ts.fields
            if not isinstance(fields, dict):  # pragma: no cover - shells always hold a dict
                raise SchemaDataError(f"{name}: fields already frozen")
            for pname, praw in raw.get("properties", {}).items():
                fields[pname] = self.field(pname, praw)
            extra = raw.get("additionalProperties")
            if isinstance(extra, dict):
                # Tying the knot on a frozen object: done once, here, before anyone can see it.
                object.__setattr__(ts, "additional_properties", self.field("", extra))
        return self.types

    def field(self, name: str, raw: Mapping[str, Any]) -> FieldSchema:
        if raw.keys() <= _PLAIN_KEYS:
            # Most properties are a bare type (and format); skip the long tail of lookups.
            kind = _own_kind(raw)
            return FieldSchema(name, kind, raw.get("type"), raw.get("format"))
        ref = raw.get("$ref")
        target: TypeSchema | None = None
        if ref is not None:
            target = self.types.get(ref)
            if target is None:
                raise SchemaDataError(f"dangling $ref {ref!r}")
            kind = target.kind
            # A property may widen its target to int-or-string (CRD-style schemas).
            if raw.get("x-kubernetes-int-or-string"):
                kind = FieldKind.INT_OR_STRING
        else:
            kind = _own_kind(raw)
        items_raw = raw.get("items")
        extra_raw = raw.get("additionalProperties")
        enum_raw = raw.get("enum")
        return FieldSchema(
            name=name,
            kind=kind,
            type=raw.get("type") if target is None else target.type,
            format=raw.get("format") if target is None else target.format,
            ref=ref,
            definition=target,
            items=self.field("", items_raw) if isinstance(items_raw, dict) else None,
            additional_properties=(
                self.field("", extra_raw) if isinstance(extra_raw, dict) else None
            ),
            list_type=raw.get("x-kubernetes-list-type"),
            list_map_keys=tuple(raw.get("x-kubernetes-list-map-keys", ())),
            patch_strategy=raw.get("x-kubernetes-patch-strategy"),
            patch_merge_key=raw.get("x-kubernetes-patch-merge-key"),
            map_type=raw.get("x-kubernetes-map-type"),
            preserve_unknown_fields=bool(raw.get("x-kubernetes-preserve-unknown-fields")),
            int_or_string=kind is FieldKind.INT_OR_STRING,
            embedded_resource=bool(raw.get("x-kubernetes-embedded-resource")),
            enum=tuple(enum_raw) if isinstance(enum_raw, list) else None,
        )


@functools.cache
def schema() -> Schema:
    """The schema of the Kubernetes release the data was generated from (loaded once)."""
    try:
        data = orjson.loads(_read_data("schema.json"))
    except orjson.JSONDecodeError as exc:
        raise SchemaDataError(f"schema.json is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != DATA_FORMAT:
        raise SchemaDataError("schema.json has an unexpected format; rerun tools/gen_schema.py")
    definitions = _Loader(data["definitions"]).load()
    by_gvk: dict[GroupVersionKind, TypeSchema] = {}
    # Sorted so that a group-version-kind claimed twice always maps to the same definition.
    for name in sorted(definitions):
        for gvk in definitions[name].gvks:
            by_gvk.setdefault(gvk, definitions[name])
    return Schema(
        definitions=definitions,
        by_gvk=by_gvk,
        resources=tuple(data.get("resources", ())),
        info=data.get("info", {}),
    )


def definition(name: str) -> TypeSchema:
    """The definition called ``name`` (``io.k8s.api.core.v1.Pod``); KeyError if unknown."""
    try:
        return schema().definitions[name]
    except KeyError:
        raise KeyError(f"no definition named {name!r}") from None


def find_definition(name: str) -> TypeSchema | None:
    return schema().definitions.get(name)


def definition_for_kind(group: str, version: str, kind: str) -> TypeSchema | None:
    """The definition that serves ``group/version, Kind=kind`` (core group is ``""``)."""
    return schema().by_gvk.get(GroupVersionKind(group, version, kind))


def object_meta() -> TypeSchema:
    return definition(OBJECT_META_DEFINITION)


# --- protobuf ----------------------------------------------------------------------------------

_PROTO_SCALARS: Final = frozenset(
    {
        "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
        "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ProtobufField:
    """One field of a protobuf message as ``generated.proto`` declares it.

    ``message`` is the fully qualified message type of a message-typed field (no leading dot);
    map fields have ``map_key``/``map_value`` instead (the value qualified when it is a message).
    """

    name: str
    number: int
    type: str
    label: str
    message: str | None = None
    map_key: str | None = None
    map_value: str | None = None

    @property
    def repeated(self) -> bool:
        return self.label == "repeated"


@dataclass(frozen=True, slots=True)
class ProtobufMessage:
    name: str
    fields: Mapping[str, ProtobufField]
    by_number: Mapping[int, ProtobufField]


def _qualify(type_name: str, package: str) -> str | None:
    """Resolve a protobuf type reference as written in the table; None for scalars."""
    if type_name in _PROTO_SCALARS:
        return None
    if type_name.startswith("."):
        return type_name[1:]
    return f"{package}.{type_name}"


@functools.cache
def protobuf_fields() -> Mapping[str, ProtobufMessage]:
    """Every protobuf message of the API by full name (``k8s.io.api.core.v1.Pod``), loaded once."""
    try:
        raw = orjson.loads(_read_data("protobuf-fields.json"))
    except orjson.JSONDecodeError as exc:
        raise SchemaDataError(f"protobuf-fields.json is not valid JSON: {exc}") from exc
    messages: dict[str, ProtobufMessage] = {}
    for message_name, raw_fields in raw.items():
        package = message_name.rsplit(".", 1)[0]
        by_name: dict[str, ProtobufField] = {}
        for field_name, spec in raw_fields.items():
            type_name: str = spec["type"]
            message = map_key = map_value = None
            if type_name.startswith("map<") and type_name.endswith(">"):
                key_type, _, value_type = type_name[4:-1].partition(",")
                map_key = key_type.strip()
                value_type = value_type.strip()
                map_value = _qualify(value_type, package) or value_type
            else:
                message = _qualify(type_name, package)
            by_name[field_name] = ProtobufField(
                name=field_name,
                number=int(spec["number"]),
                type=type_name,
                label=spec.get("label", ""),
                message=message,
                map_key=map_key,
                map_value=map_value,
            )
        messages[message_name] = ProtobufMessage(
            name=message_name,
            fields=by_name,
            by_number={f.number: f for f in by_name.values()},
        )
    return messages


def protobuf_message_for(definition_name: str) -> ProtobufMessage | None:
    """The protobuf message of an OpenAPI definition (``io.k8s.api.core.v1.Pod`` ->
    ``k8s.io.api.core.v1.Pod``), or None when the type has no protobuf form in the table."""
    if not definition_name.startswith("io.k8s."):
        return None
    proto_name = "k8s.io." + definition_name[len("io.k8s.") :].replace("-", "_")
    return protobuf_fields().get(proto_name)
