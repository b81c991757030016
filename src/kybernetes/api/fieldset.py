"""Field sets: the ``FieldsV1`` format of ``metadata.managedFields`` and the schema walk that
builds a set from an object (sigs.k8s.io/structured-merge-diff's ``fieldpath`` and
``ToFieldSet``, rebuilt over plain dicts).

A *path element* is one step into an object, kept as its ``FieldsV1`` key string:
``f:<name>`` (a struct field or map key), ``k:<json>`` (a list-map item by its keys),
``v:<json>`` (an item of a ``set`` list) or ``i:<n>`` (a list index). A *path* is a tuple of
them. A ``FieldSet`` is a trie of paths: the elements that are themselves in the set
(``members``) and, per element, the set below it (``children``).

Invariants:

- An element string is canonical, so string equality is element equality: ``k:`` keys are
  sorted by name, JSON values are written the way Go writes them (integral floats as integers,
  ``<``/``>``/``&`` escaped), ``i:`` as a plain integer.
- A ``FieldSet`` is immutable and never holds an empty child set; every operation returns a new
  set with the semantics of upstream's ``Set`` (``difference`` removes members only, a removed
  parent does not remove its children; ``recursive_difference`` removes whole subtrees).
- ``to_fields_v1`` writes upstream's exact layout: elements in upstream's order (field names,
  then keys, values, indices), an element that is both a member and a parent as
  ``{".": {}, ...children}``, a member alone as ``{}``. ``from_fields_v1`` reads any order and
  ignores element kinds it does not know, as upstream does.
- A set keeps the JSON of the document it wrote (``to_fields_v1`` hands out a fresh copy), and
  ``from_fields_v1`` finds a recently written or read set by its document's JSON (a bounded
  cache): a write mostly decodes the managedFields the previous write encoded.
- ``to_field_set`` inserts exactly what upstream's ``ToFieldSet`` inserts: scalars, atomic
  lists and maps, list items, map entries that are not declared struct fields, and declared
  fields whose value is ``null`` or ``{}``.
"""

from __future__ import annotations

import enum
import functools
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from kybernetes.api.errors import go_quote
from kybernetes.api.schema import FieldKind, FieldSchema, TypeSchema, object_meta
from kybernetes.util import gofmt

__all__ = [
    "EMPTY",
    "FieldSet",
    "FieldSetError",
    "Node",
    "Path",
    "SetBuilder",
    "Shape",
    "canonical_element",
    "compare_elements",
    "element_string",
    "ensure_named_fields",
    "field_element",
    "fields_of",
    "go_json",
    "index_element",
    "item_element",
    "key_element",
    "node_for",
    "parse_element",
    "path_string",
    "root_node",
    "sort_elements",
    "to_field_set",
    "value_element",
]

Path = tuple[str, ...]


class FieldSetError(ValueError):
    """A ``FieldsV1`` document or a path element that does not parse."""


# --------------------------------------------------------------------------------------------
# Go's JSON encoding (encoding/json and json-iterator in its standard-library mode).

_HTML_ESCAPES: Final = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


@functools.lru_cache(maxsize=65536)
def _go_string(text: str) -> str:
    out = ['"']
    for ch in text:
        escaped = _HTML_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(value: Any) -> str:
    """Compact JSON as Go encodes an unstructured value: map keys sorted, HTML characters
    escaped, integral floats without a fraction."""
    if type(value) is str:
        return _go_string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return gofmt.format_json(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, Mapping):
        items = sorted(value.items())
        return "{" + ",".join([_go_string(k) + ":" + go_json(v) for k, v in items]) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


# --------------------------------------------------------------------------------------------
# Path elements.


def field_element(name: str) -> str:
    return "f:" + name


def key_element(keys: Mapping[str, Any]) -> str:
    """``k:{"name":"web"}``: a list-map item by its key fields (written sorted by name)."""
    return "k:" + go_json(keys)


def value_element(value: Any) -> str:
    return "v:" + go_json(value)


def index_element(index: int) -> str:
    return f"i:{index}"


# Element kinds in upstream's order: field names sort before keys, values and indices.
_KIND_ORDER: Final = {"f": 0, "k": 1, "v": 2, "i": 3}


@functools.lru_cache(maxsize=65536)
def parse_element(element: str) -> tuple[str, Any]:
    """Split an element into its kind and content: a field name, the key fields as a tuple of
    ``(name, value)`` pairs, a JSON value, or an index. Raises ``FieldSetError``."""
    if len(element) < 2:
        raise FieldSetError(f"key must be 2 characters long: {element!r}")
    if element[1] != ":":
        raise FieldSetError(f"missing colon: {element}")
    kind, body = element[0], element[2:]
    if kind == "f":
        return kind, body
    if kind == "i":
        try:
            return kind, int(body)
        except ValueError:
            raise FieldSetError(f"invalid index in {element!r}") from None
    if kind not in ("k", "v"):
        raise FieldSetError(f"unknown path element type: {element!r}")
    try:
        content = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FieldSetError(f"invalid JSON in {element!r}: {exc}") from None
    if kind == "v":
        return kind, content
    if not isinstance(content, dict):
        raise FieldSetError(f"a key element must hold an object: {element!r}")
    return kind, tuple(sorted(content.items()))


def canonical_element(element: str) -> str:
    """The canonical spelling of an element read from a ``FieldsV1`` document."""
    kind, content = parse_element(element)
    if kind == "k":
        return key_element(dict(content))
    if kind == "v":
        return value_element(content)
    if kind == "i":
        return index_element(content)
    return element


def _value_rank(value: Any) -> int:
    # value.Compare's order: numbers, strings, booleans, lists, maps, null.
    if isinstance(value, bool):
        return 2
    if isinstance(value, int | float):
        return 0
    if isinstance(value, str):
        return 1
    if isinstance(value, list | tuple):
        return 3
    if isinstance(value, Mapping):
        return 4
    return 5


def _compare_values(a: Any, b: Any) -> int:
    ra, rb = _value_rank(a), _value_rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra in (0, 1, 2):
        return int(a > b) - int(a < b)
    if ra == 3:
        for x, y in zip(a, b, strict=False):
            c = _compare_values(x, y)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    if ra == 4:
        for i, key in enumerate(sorted(set(a) | set(b))):
            if i == len(a):
                return -1
            if i == len(b):
                return 1
            if key not in a:
                return 1
            if key not in b:
                return -1
            c = _compare_values(a[key], b[key])
            if c:
                return c
        return 0
    return 0


def compare_elements(a: str, b: str) -> int:
    """Upstream's ``PathElement.Compare``: -1, 0 or 1."""
    if a == b:
        return 0
    ka, ca = parse_element(a)
    kb, cb = parse_element(b)
    if ka != kb:
        return -1 if _KIND_ORDER[ka] < _KIND_ORDER[kb] else 1
    if ka == "k":
        for (na, va), (nb, vb) in zip(ca, cb, strict=False):
            if na != nb:
                return -1 if na < nb else 1
            c = _compare_values(va, vb)
            if c:
                return c
        return (len(ca) > len(cb)) - (len(ca) < len(cb))
    if ka == "v":
        return _compare_values(ca, cb)
    return int(ca > cb) - int(ca < cb)


_element_order = functools.cmp_to_key(compare_elements)


def sort_elements(elements: Iterable[str]) -> list[str]:
    """``elements`` in upstream's order. Field names (``f:``) alone, the usual case, order as
    plain strings; anything else goes through ``compare_elements``."""
    ordered = sorted(elements)
    # As strings, "f:" sorts before the other kinds: all are fields when both ends are.
    if not ordered or (ordered[0].startswith("f:") and ordered[-1].startswith("f:")):
        return ordered
    return sorted(ordered, key=_element_order)


def _go_value_string(value: Any) -> str:
    """``value.ToString``: what a key or set value looks like in a path string."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return gofmt.format_v(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_go_value_string(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "".join(f"{k}={_go_value_string(v)}" for k, v in value.items())
    return str(value)


def element_string(element: str) -> str:
    """``PathElement.String``: ``.name``, ``[name="web"]``, ``[="a"]`` or ``[0]``."""
    kind, content = parse_element(element)
    if kind == "f":
        return "." + str(content)
    if kind == "k":
        return "[" + ",".join(f"{n}={_go_value_string(v)}" for n, v in content) + "]"
    if kind == "v":
        return f"[={_go_value_string(content)}]"
    return f"[{content}]"


def path_string(path: Sequence[str]) -> str:
    """``.spec.containers[name="web"].image``: how conflicts name a field."""
    return "".join(element_string(pe) for pe in path)


# --------------------------------------------------------------------------------------------
# The set.


class FieldSet:
    """An immutable set of paths, stored as a trie (upstream's ``fieldpath.Set``)."""

    __slots__ = ("_children", "_json", "_members")

    _members: frozenset[str]
    _children: Mapping[str, FieldSet]
    # The set's FieldsV1 document as JSON, once written (the set never changes).
    _json: bytes | None

    def __init__(
        self, members: Iterable[str] = (), children: Mapping[str, FieldSet] | None = None
    ) -> None:
        self._members = frozenset(members)
        self._children = {k: v for k, v in (children or {}).items() if not v.is_empty()}
        self._json = None

    @classmethod
    def _of(cls, members: frozenset[str], children: dict[str, FieldSet]) -> FieldSet:
        """A set from parts that already keep the invariants (no empty child)."""
        out = object.__new__(cls)
        out._members = members
        out._children = children
        out._json = None
        return out

    @classmethod
    def from_paths(cls, paths: Iterable[Sequence[str]]) -> FieldSet:
        builder = SetBuilder()
        for path in paths:
            builder.insert(path)
        return builder.build()

    @property
    def members(self) -> frozenset[str]:
        return self._members

    @property
    def children(self) -> Mapping[str, FieldSet]:
        return self._children

    def is_empty(self) -> bool:
        # Children are never empty (constructor invariant).
        return not self._members and not self._children

    def __len__(self) -> int:
        return len(self._members) + sum(len(c) for c in self._children.values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self._members == other._members and self._children == other._children

    def __repr__(self) -> str:
        return f"FieldSet({[path_string(p) for p in self.paths()]!r})"

    def has(self, path: Sequence[str]) -> bool:
        """Whether ``path`` itself is a member (not merely a prefix of one)."""
        if not path:
            return False
        node: FieldSet | None = self
        for pe in path[:-1]:
            node = node._children.get(pe) if node is not None else None
            if node is None:
                return False
        return node is not None and path[-1] in node._members

    def with_prefix(self, element: str) -> FieldSet:
        return self._children.get(element, EMPTY)

    def union(self, other: FieldSet) -> FieldSet:
        if other.is_empty():
            return self
        if self.is_empty():
            return other
        children = dict(self._children)
        for pe, child in other._children.items():
            mine = children.get(pe)
            children[pe] = child if mine is None else mine.union(child)
        return FieldSet(self._members | other._members, children)

    def intersection(self, other: FieldSet) -> FieldSet:
        children = {
            pe: child.intersection(other._children[pe])
            for pe, child in self._children.items()
            if pe in other._children
        }
        return FieldSet(self._members & other._members, children)

    def difference(self, other: FieldSet) -> FieldSet:
        """Members of ``other`` leave; a member of ``other`` does not take its subtree."""
        if other.is_empty():
            return self
        children = {
            pe: child.difference(other._children[pe]) if pe in other._children else child
            for pe, child in self._children.items()
        }
        return FieldSet(self._members - other._members, children)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like ``difference``, but a member of ``other`` also removes everything below it."""
        if other.is_empty():
            return self
        children = {}
        for pe, child in self._children.items():
            if pe in other._members:
                continue
            below = other._children.get(pe)
            children[pe] = child if below is None else child.recursive_difference(below)
        return FieldSet(self._members - other._members, children)

    def paths(self, prefix: Path = ()) -> Iterator[Path]:
        """Every member path: this level's members (sorted), then each child's, as upstream's
        ``Set.Iterate``."""
        for pe in sorted(self._members, key=_element_order):
            yield (*prefix, pe)
        for pe in sorted(self._children, key=_element_order):
            yield from self._children[pe].paths((*prefix, pe))

    def leaves(self) -> FieldSet:
        """The members that have no children."""
        return FieldSet(
            self._members - self._children.keys(),
            {pe: child.leaves() for pe, child in self._children.items()},
        )

    # ----- FieldsV1 ---------------------------------------------------------------------

    def to_fields_v1(self) -> dict[str, Any]:
        """The ``fieldsV1`` object of a managedFields entry, keys in upstream's order (a fresh
        dict each time)."""
        encoded = self._json
        if encoded is not None:
            copied: dict[str, Any] = orjson.loads(encoded)
            return copied
        out = self._emit(False)
        self._json = encoded = orjson.dumps(out)
        _remember(encoded, self)  # the next write reads this document back
        return out

    def _emit(self, include_self: bool) -> dict[str, Any]:
        out: dict[str, Any] = {".": {}} if include_self else {}
        members = self._members
        children = self._children
        if not children:
            for pe in sort_elements(members):
                out[pe] = {}
            return out
        for pe in sort_elements(members.union(children)):
            child = children.get(pe)
            out[pe] = {} if child is None else child._emit(pe in members)
        return out

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_fields_v1())

    @classmethod
    def from_fields_v1(cls, data: Any) -> FieldSet:
        """Read a ``fieldsV1`` object; ``FieldSetError`` when it is not one."""
        if not isinstance(data, Mapping):
            raise FieldSetError(f"fieldsV1 must be an object, not {type(data).__name__}")
        try:
            key: bytes | None = orjson.dumps(data, option=_PLAIN_JSON)
        except TypeError:
            key = None  # not plain JSON: read it as it is
        if key is not None:
            known = _DECODED.get(key)
            if known is not None:
                _DECODED.move_to_end(key)
                return known
        children, _ = _read_fields_v1(data)
        result = children if children is not None else EMPTY
        if key is not None:
            _remember(key, result)
        return result

    @classmethod
    def from_json(cls, raw: bytes | str) -> FieldSet:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise FieldSetError(f"fieldsV1 is not valid JSON: {exc}") from None
        return cls.from_fields_v1(data)


def _read_fields_v1(data: Mapping[str, Any]) -> tuple[FieldSet | None, bool]:
    """The set below one ``FieldsV1`` object and whether its element is itself a member (it is
    when it says ``"."`` or has nothing below it)."""
    is_member = False
    members: set[str] = set()
    children: dict[str, FieldSet] = {}
    for key, value in data.items():
        if key == ".":
            is_member = True
            continue
        if key.startswith("f:"):
            element = key  # a field name is already canonical
        elif len(key) >= 2 and key[1] == ":" and key[0] not in _KIND_ORDER:
            continue  # an element kind from the future: dropped, as upstream drops it
        else:
            element = _canonical_key(key)
        if type(value) is not dict and not isinstance(value, Mapping):
            raise FieldSetError(f"the value of {key!r} must be an object")
        if not value:
            members.add(element)  # a member with nothing below it
            continue
        below, child_is_member = _read_fields_v1(value)
        if child_is_member:
            members.add(element)
        if below is not None:
            existing = children.get(element)
            children[element] = below if existing is None else existing.union(below)
    if not members and not children:
        return None, True
    return FieldSet._of(frozenset(members), children), is_member


_canonical_key = functools.lru_cache(maxsize=65536)(canonical_element)

# Sets by their FieldsV1 JSON, most recent last: every write decodes the managedFields the
# previous write encoded, mostly unchanged. Sets are immutable, so one can be handed out twice.
_DECODED: Final[OrderedDict[bytes, FieldSet]] = OrderedDict()
_DECODED_MAX: Final = 512
# Anything but plain dicts, lists, strings, numbers, booleans and null fails to encode.
_PLAIN_JSON: Final = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _remember(encoded: bytes, fields: FieldSet) -> None:
    _DECODED[encoded] = fields
    _DECODED.move_to_end(encoded)
    while len(_DECODED) > _DECODED_MAX:
        _DECODED.popitem(last=False)


EMPTY: Final = FieldSet()


class SetBuilder:
    """A mutable trie that builds a ``FieldSet`` path by path."""

    __slots__ = ("_children", "_members")

    def __init__(self) -> None:
        self._members: set[str] = set()
        self._children: dict[str, SetBuilder] = {}

    def insert(self, path: Sequence[str]) -> None:
        if not path:
            return
        node = self
        for pe in path[:-1]:
            child = node._children.get(pe)
            if child is None:
                child = node._children[pe] = SetBuilder()
            node = child
        node._members.add(path[-1])

    def build(self) -> FieldSet:
        return FieldSet(self._members, {pe: c.build() for pe, c in self._children.items()})


# --------------------------------------------------------------------------------------------
# What the schema says about a value (upstream's schema atoms, derived from the OpenAPI data).


class Shape(enum.Enum):
    SCALAR = "scalar"
    STRUCT = "struct"
    MAP = "map"
    LIST = "list"
    # No schema: a map is a granular map of deduced values, a list is atomic.
    DEDUCED = "deduced"


# Key fields that the 1.32 OpenAPI v3 document defaults (the v2 data here carries no
# defaults): an item that omits one is keyed as if it had the default.
_KEY_DEFAULTS: Final[Mapping[tuple[str, str], Any]] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
}


@dataclass(frozen=True, slots=True)
class Node:
    """How a walker treats the value at one place in an object."""

    shape: Shape
    atomic: bool = False
    # Declared struct fields (STRUCT; for DEDUCED, the fields every object has).
    fields: Mapping[str, FieldSchema] = field(default_factory=dict)
    # MAP values and LIST items; None means deduced.
    element: FieldSchema | None = None
    # STRUCT: keys it does not declare are kept (x-kubernetes-preserve-unknown-fields).
    open: bool = False
    # LIST: the list-map keys; a granular list without keys is a set.
    keys: tuple[str, ...] = ()
    definition: TypeSchema | None = None
    # The nodes of declared fields, filled as they are asked for.
    _declared: dict[str, Node] = field(default_factory=dict, compare=False, repr=False)

    def child(self, name: str) -> Node:
        """The node of map entry or struct field ``name``."""
        known = self._declared.get(name)
        if known is not None:
            return known
        declared = self.fields.get(name)
        if declared is not None:
            known = self._declared[name] = node_for(declared)
            return known
        if self.shape is Shape.MAP and self.element is not None:
            return node_for(self.element)
        return DEDUCED

    def item(self) -> Node:
        """The node of a list item."""
        return node_for(self.element) if self.element is not None else DEDUCED

    def declares(self, name: str) -> bool:
        return name in self.fields

    def effective(self, value: Any) -> Node:
        """The node that applies to ``value``: a deduced value takes the shape it has, and a
        value of the wrong kind is a leaf."""
        shape = self.shape
        if shape is Shape.DEDUCED:
            if isinstance(value, dict):
                return Node(Shape.MAP, fields=self.fields) if self.fields else DEDUCED_MAP
            if isinstance(value, list):
                return ATOMIC_LIST
            return SCALAR
        if value is None or shape is Shape.SCALAR:
            return self
        if shape in (Shape.STRUCT, Shape.MAP) and not isinstance(value, dict):
            return SCALAR
        if shape is Shape.LIST and not isinstance(value, list):
            return SCALAR
        return self


SCALAR: Final = Node(Shape.SCALAR)
DEDUCED: Final = Node(Shape.DEDUCED)
ATOMIC_LIST: Final = Node(Shape.LIST, atomic=True)
DEDUCED_MAP: Final = Node(Shape.MAP)


@functools.lru_cache(maxsize=16384)
def node_for(fs: FieldSchema) -> Node:
    """The node of a property, array item or map value (upstream's OpenAPI-to-schema rules:
    ``x-kubernetes-list-type`` first, then ``patch-strategy: merge`` with or without a merge
    key, otherwise atomic; ``x-kubernetes-map-type: atomic`` on the property or its type)."""
    kind = fs.kind
    if kind is FieldKind.STRUCT:
        d = fs.definition
        if d is None:
            return DEDUCED
        return Node(
            Shape.STRUCT,
            atomic=(fs.map_type or d.map_type) == "atomic",
            fields=d.fields,
            open=fs.preserve_unknown_fields or d.preserve_unknown_fields,
            definition=d,
        )
    if kind is FieldKind.MAP:
        d = fs.definition
        element = fs.additional_properties or (d.additional_properties if d else None)
        map_type = fs.map_type or (d.map_type if d else None)
        return Node(Shape.MAP, atomic=map_type == "atomic", element=element)
    if kind is FieldKind.ARRAY:
        list_type = fs.list_type
        keys: tuple[str, ...] = ()
        if list_type is None and fs.patch_strategy and "merge" in fs.patch_strategy.split(","):
            list_type = "map" if fs.patch_merge_key else "set"
        if list_type == "map":
            keys = fs.list_map_keys or ((fs.patch_merge_key,) if fs.patch_merge_key else ())
            if not keys:
                list_type = "atomic"
        if list_type in ("map", "set"):
            return Node(Shape.LIST, element=fs.items, keys=keys)
        return Node(Shape.LIST, atomic=True, element=fs.items)
    if kind in (FieldKind.FREE_OBJECT, FieldKind.ANY):
        return DEDUCED
    return SCALAR


@functools.cache
def _deduced_root() -> Node:
    # Every object, even one without a schema, has typed metadata (CRDs get ObjectMeta).
    fields = {
        "apiVersion": FieldSchema("apiVersion", FieldKind.STRING, "string"),
        "kind": FieldSchema("kind", FieldKind.STRING, "string"),
        "metadata": FieldSchema("metadata", FieldKind.STRUCT, "object", definition=object_meta()),
    }
    return Node(Shape.DEDUCED, fields=fields)


@functools.lru_cache(maxsize=1024)
def root_node(schema: TypeSchema | None) -> Node:
    """The node of a whole object of type ``schema`` (None: a custom resource without one)."""
    if schema is None:
        return _deduced_root()
    if schema.kind is not FieldKind.STRUCT:
        return DEDUCED
    return Node(
        Shape.STRUCT,
        atomic=schema.map_type == "atomic",
        fields=schema.fields,
        open=schema.preserve_unknown_fields,
        definition=schema,
    )


def item_element(node: Node, item: Any) -> str:
    """The path element of a list item of an associative list ``node``; ``FieldSetError`` with
    upstream's words when the item cannot have one."""
    if len(node.keys) == 1 and isinstance(item, dict) and node.keys[0] in item:
        name = node.keys[0]  # the usual list map: one key, which the item has
        return "k:{" + _go_string(name) + ":" + go_json(item[name]) + "}"
    if node.keys:
        if item is None:
            raise FieldSetError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise FieldSetError("associative list with keys may not have non-map elements")
        definition = node.element.definition if node.element is not None else None
        keys: dict[str, Any] = {}
        for name in node.keys:
            if name in item:
                keys[name] = item[name]
                continue
            default = _KEY_DEFAULTS.get((definition.name, name)) if definition else None
            if default is None:
                raise FieldSetError(
                    f"associative list with keys has an element that omits key field "
                    f"{go_quote(name)} (and doesn't have default value)"
                )
            keys[name] = default
        return key_element(keys)
    if isinstance(item, dict):
        raise FieldSetError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise FieldSetError("not supported: associative list with lists as elements")
    if item is None:
        raise FieldSetError("associative list without keys has an element that's an explicit null")
    return value_element(item)


# --------------------------------------------------------------------------------------------
# Sets from objects.


def to_field_set(obj: Any, schema: TypeSchema | None) -> FieldSet:
    """Every field ``obj`` sets, as upstream's ``TypedValue.ToFieldSet``."""
    return fields_of(obj, root_node(schema))


def fields_of(value: Any, node: Node) -> FieldSet:
    """``to_field_set`` for a value whose node is already known."""
    builder = SetBuilder()
    _collect(value, node, (), builder)
    return builder.build()


def _collect(value: Any, node: Node, path: Path, out: SetBuilder) -> None:
    node = node.effective(value)
    shape = node.shape
    if shape is Shape.SCALAR or node.atomic:
        out.insert(path)
        return
    if shape is Shape.LIST:
        if not isinstance(value, list):
            return
        _collect_items(value, node, path, out)
        return
    if not isinstance(value, dict):
        return
    for key, child in value.items():
        child_path = (*path, "f:" + key)
        _collect(child, node.child(key), child_path, out)
        if child is None or child == {} or not node.declares(key):
            out.insert(child_path)


def _collect_items(items: list[Any], node: Node, path: Path, out: SetBuilder) -> None:
    elements: list[str | None] = []
    seen: set[str] = set()
    duplicates: set[str] = set()
    for item in items:
        try:
            pe: str | None = item_element(node, item)
        except FieldSetError:
            pe = None  # the config was validated; a live object may still hold junk
        elements.append(pe)
        if pe is None:
            continue
        if pe in seen:
            duplicates.add(pe)
        seen.add(pe)
    # A duplicated item is owned as a whole: its element, nothing below it.
    for pe in duplicates:
        out.insert((*path, pe))
    item_node = node.item()
    for item, pe in zip(items, elements, strict=True):
        if pe is None or pe in duplicates:
            continue
        item_path = (*path, pe)
        _collect(item, item_node, item_path, out)
        out.insert(item_path)


def ensure_named_fields(fields: FieldSet, node: Node) -> FieldSet:
    """``fields`` plus, as members, every declared struct field that has something below it
    (upstream's ``EnsureNamedFieldsAreMembers``): owning ``spec.replicas`` owns ``spec``."""
    if not fields.children:
        return fields
    members = set(fields.members)
    children: dict[str, FieldSet] = {}
    for pe, below in fields.children.items():
        if pe.startswith("f:"):
            name = pe[2:]
            if node.shape in (Shape.STRUCT, Shape.DEDUCED, Shape.MAP) and node.declares(name):
                members.add(pe)
            child = node.child(name) if node.shape is not Shape.LIST else DEDUCED
        elif pe.startswith("k:") and node.shape is Shape.LIST:
            child = node.item()
        else:
            child = DEDUCED
        children[pe] = ensure_named_fields(below, child)
    return FieldSet(members, children)
