"""The three PATCH bodies of the Kubernetes API, applied to plain JSON objects as kube-apiserver
1.32 applies them.

- JSON patch (RFC 6902, ``application/json-patch+json``) with the semantics of the library the
  API server uses (evanphx/json-patch v4.12): ``remove`` of a missing member fails, ``replace`` of
  a missing *member* adds it, negative array indices count from the end, ``copy`` is limited to
  3 MiB of copied JSON per patch, at most 10,000 operations.
- JSON merge patch (RFC 7386, ``application/merge-patch+json``): ``null`` deletes, objects merge,
  everything else replaces; nulls inside values that are added are dropped (also inside arrays'
  objects, as upstream does).
- Strategic merge patch (``application/strategic-merge-patch+json``) for built-in kinds, driven by
  the schema's ``x-kubernetes-patch-strategy`` / ``x-kubernetes-patch-merge-key``: merge lists by
  key, primitive merge lists as sets, ``null`` deletes, ``$patch: replace|delete``, ``$retainKeys``,
  ``$deleteFromPrimitiveList/<f>`` and ``$setElementOrder/<f>``, ordered exactly like
  ``k8s.io/apimachinery/pkg/util/strategicpatch`` (items a patch adds to a merge list without a
  ``$setElementOrder`` come first, as upstream). Fields the schema does not describe merge like a
  merge patch (objects merge, lists replace).

Server-side apply (``application/apply-patch+yaml``) lives elsewhere.

Invariants:
- Inputs are never mutated: every public function works on its own deep copy, and the result
  shares no object with the original or the patch.
- ``apply_patch`` fails only with the ``StatusError`` upstream answers, with its wording: 400 for a
  body Go's JSON decoder refuses (Go's message) or a malformed directive, 415 for a strategic
  merge patch without a schema (custom resources), 413 for more than 10,000 operations, the
  generic 422 ``the server rejected our request due to an error in our request`` for a patch that
  does not apply (upstream drops the detail; here it stays on ``__cause__`` for logs), 422 when a
  JSON patch leaves something other than an object, and a reason-less 500 carrying the error text
  where upstream returns a plain Go error (malformed strategic merge patches).
- Bodies are decoded the way the API server's default ``fieldValidation`` (Warn, and Strict)
  decodes them, so messages match that path; unknown or duplicate keys in the body are left to the
  caller's field validation. Numbers keep Go's distinction: ``1`` and ``1.0`` are different merge
  keys and different set members.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeAlias

import orjson

from kybernetes.api.errors import (
    Invalid,
    StatusDetails,
    StatusError,
    go_quote,
    invalid,
    new_bad_request,
    new_invalid,
    new_request_entity_too_large,
    new_unsupported_media_type,
)
from kybernetes.api.schema import FieldSchema, TypeSchema
from kybernetes.util import gofmt

__all__ = [
    "APPLY_PATCH",
    "BUILTIN_PATCH_TYPES",
    "CUSTOM_RESOURCE_PATCH_TYPES",
    "JSON_PATCH",
    "MAX_JSON_PATCH_OPERATIONS",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "Failure",
    "PatchError",
    "apply_patch",
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
]

JSON_PATCH: Final = "application/json-patch+json"
MERGE_PATCH: Final = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"
APPLY_PATCH: Final = "application/apply-patch+yaml"
#: The PATCH media types each kind of resource accepts, in the order upstream lists them in a 415.
BUILTIN_PATCH_TYPES: Final = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
CUSTOM_RESOURCE_PATCH_TYPES: Final = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)

MAX_JSON_PATCH_OPERATIONS: Final = 10_000
# The API server's --json-patch-max-copy-bytes default (evanphx AccumulatedCopySizeLimit).
MAX_JSON_PATCH_COPY_BYTES: Final = 3 * 1024 * 1024
GENERIC_UNPROCESSABLE: Final = "the server rejected our request due to an error in our request"

JSON: TypeAlias = Any
SchemaNode: TypeAlias = TypeSchema | FieldSchema | None


class Failure(enum.Enum):
    """How the API server answers a patch that failed."""

    BAD_REQUEST = 400
    UNPROCESSABLE = 422
    # Upstream returns a plain Go error here, which the server renders as a 500 with no reason.
    INTERNAL = 500


class PatchError(Exception):
    """A patch that cannot be applied; ``str()`` is upstream's error text."""

    def __init__(self, message: str, failure: Failure = Failure.UNPROCESSABLE) -> None:
        super().__init__(message)
        self.failure = failure


def _bad_request(message: str) -> PatchError:
    return PatchError(message, Failure.BAD_REQUEST)


def _internal(message: str) -> PatchError:
    return PatchError(message, Failure.INTERNAL)


# --------------------------------------------------------------------------------------------
# JSON helpers.


def _deep_copy(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _copy(value: JSON) -> JSON:
    """A deep copy of a JSON value; orjson's round trip is several times faster than Python."""
    if not isinstance(value, dict | list):
        return value
    try:
        return orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError, orjson.JSONDecodeError):
        return _deep_copy(value)


def _same(left: JSON, right: JSON) -> bool:
    """Go's ``==`` on two decoded JSON values: equal type and value (``1`` is not ``1.0``)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(v, right[k]) for k, v in left.items())
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return bool(left == right)


def _hash_key(value: JSON) -> Any:
    """A set key with ``_same`` semantics."""
    if type(value) is str:
        return value  # the common case; never equal to the tuples below
    if isinstance(value, dict | list):
        try:
            return (list, orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
        except (TypeError, orjson.JSONEncodeError):
            return (list, repr(value))
    return (type(value), value)


_MISSING: Final = object()


_GO_TYPE = {
    dict: "map[string]interface {}",
    list: "[]interface {}",
    str: "string",
    int: "int64",
    float: "float64",
    bool: "bool",
}


def _go_type(value: JSON) -> str:
    """``reflect.TypeOf(v)`` of a decoded JSON value, as ``%s`` prints it."""
    if value is None:
        return "%!s(<nil>)"
    return _GO_TYPE.get(type(value), type(value).__name__)


def _go_v(value: JSON) -> str:
    """Go's ``%v`` of a decoded JSON value (maps print with sorted keys)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return gofmt.format_v(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_v(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_v(v) for v in value) + "]"
    return str(value)


def _go_s(value: JSON) -> str:
    """Go's ``%s`` of an ``interface{}`` holding a decoded JSON value."""
    if isinstance(value, str | dict | list):
        return _go_v(value)
    if value is None:
        return "%!s(<nil>)"
    return f"%!s({_go_type(value)}={_go_v(value)})"


# --------------------------------------------------------------------------------------------
# Decoding request bodies with Go's error messages.

_WS: Final = frozenset(b" \t\r\n")
_DIGITS: Final = frozenset(b"0123456789")
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")
_EOF: Final = "unexpected end of JSON input"


class _SyntaxError(Exception):
    pass


def _quote_char(byte: int) -> str:
    """``quoteChar`` of Go's JSON scanner."""
    if byte == ord("'"):
        return "'\\''"
    if byte == ord('"'):
        return "'\"'"
    return "'" + go_quote(chr(byte))[1:-1] + "'"


class _Scanner:
    """Finds the first syntax error the way Go's ``encoding/json`` scanner reports it.

    At the end of the input Go feeds the scanner one space, so a number or literal cut short is
    reported as an invalid ``' '``, anything else as ``unexpected end of JSON input``.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.i = 0

    def fail(self, context: str) -> _SyntaxError:
        byte = self.data[self.i] if self.i < len(self.data) else ord(" ")
        return _SyntaxError(f"invalid character {_quote_char(byte)} {context}")

    def peek(self, *, eof_is_space: bool = False) -> int:
        if self.i < len(self.data):
            return self.data[self.i]
        if eof_is_space:
            return ord(" ")
        raise _SyntaxError(_EOF)

    def skip_ws(self) -> None:
        data, i = self.data, self.i
        while i < len(data) and data[i] in _WS:
            i += 1
        self.i = i

    def check(self) -> str | None:
        try:
            self.scan()
        except _SyntaxError as exc:
            return str(exc)
        return None

    def scan(self) -> None:
        stack: list[bool] = []  # True for an object
        expect_value = True
        while True:
            self.skip_ws()
            if expect_value:
                c = self.peek()
                if c == ord("{") or c == ord("["):
                    self.i += 1
                    self.skip_ws()
                    close = ord("}") if c == ord("{") else ord("]")
                    if self.peek() == close:
                        self.i += 1
                        expect_value = False
                        continue
                    stack.append(c == ord("{"))
                    if c == ord("{"):
                        self.key()
                    continue
                self.scalar()
                expect_value = False
                continue
            if not stack:
                if self.i < len(self.data):
                    raise self.fail("after top-level value")
                return
            c = self.peek()
            if stack[-1]:
                if c == ord(","):
                    self.i += 1
                    self.skip_ws()
                    self.key()
                    expect_value = True
                elif c == ord("}"):
                    self.i += 1
                    stack.pop()
                else:
                    raise self.fail("after object key:value pair")
            elif c == ord(","):
                self.i += 1
                expect_value = True
            elif c == ord("]"):
                self.i += 1
                stack.pop()
            else:
                raise self.fail("after array element")

    def key(self) -> None:
        if self.peek() != ord('"'):
            raise self.fail("looking for beginning of object key string")
        self.i += 1
        self.string()
        self.skip_ws()
        if self.peek() != ord(":"):
            raise self.fail("after object key")
        self.i += 1

    def scalar(self) -> None:
        c = self.data[self.i]
        if c == ord('"'):
            self.i += 1
            self.string()
        elif c == ord("-") or c in _DIGITS:
            self.number()
        elif c in b"tfn":
            word = {ord("t"): "true", ord("f"): "false", ord("n"): "null"}[c]
            self.i += 1
            for expected in word[1:]:
                if self.peek(eof_is_space=True) != ord(expected):
                    raise self.fail(f"in literal {word} (expecting {_quote_char(ord(expected))})")
                self.i += 1
        else:
            raise self.fail("looking for beginning of value")

    def string(self) -> None:
        data = self.data
        while True:
            c = self.peek()
            if c == ord('"'):
                self.i += 1
                return
            if c == ord("\\"):
                self.i += 1
                e = self.peek(eof_is_space=True)
                if e == ord("u"):
                    self.i += 1
                    for _ in range(4):
                        if self.peek(eof_is_space=True) not in _HEX:
                            raise self.fail("in \\u hexadecimal character escape")
                        self.i += 1
                elif e in b'"\\/bfnrt':
                    self.i += 1
                else:
                    raise self.fail("in string escape code")
            elif c < 0x20:
                raise self.fail("in string literal")
            else:
                self.i += 1
                # Skip the plain run quickly.
                while self.i < len(data) and data[self.i] not in b'"\\' and data[self.i] >= 0x20:
                    self.i += 1

    def digits(self) -> None:
        while self.i < len(self.data) and self.data[self.i] in _DIGITS:
            self.i += 1

    def number(self) -> None:
        if self.data[self.i] == ord("-"):
            self.i += 1
            if self.peek(eof_is_space=True) not in _DIGITS:
                raise self.fail("in numeric literal")
        if self.data[self.i] == ord("0"):
            self.i += 1
        else:
            self.digits()
        if self.i < len(self.data) and self.data[self.i] == ord("."):
            self.i += 1
            if self.peek(eof_is_space=True) not in _DIGITS:
                raise self.fail("after decimal point in numeric literal")
            self.digits()
        if self.i < len(self.data) and self.data[self.i] in b"eE":
            self.i += 1
            if self.peek(eof_is_space=True) in b"+-":
                self.i += 1
            if self.peek(eof_is_space=True) not in _DIGITS:
                raise self.fail("in exponent of numeric literal")
            self.digits()


def _loads(body: bytes) -> JSON:
    """Parse a body as Go's decoder does: its syntax errors, big integers as floats."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        message = _Scanner(body).check()
        if message is not None:
            raise _bad_request(message) from exc
    # Valid for Go but not for orjson: invalid UTF-8 or lone surrogates (Go substitutes U+FFFD).
    try:
        value = json.loads(
            body.decode("utf-8", "replace"), parse_int=_go_int, parse_float=_go_float64
        )
    except PatchError:
        raise
    except (ValueError, RecursionError) as exc:
        raise _bad_request(str(exc)) from exc
    return _replace_surrogates(value)


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _replace_surrogates(value: JSON) -> JSON:
    """Lone surrogate escapes (``"\\ud800"``) decode to U+FFFD in Go."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    return value


def _go_int(text: str) -> int | float:
    value = int(text)
    return value if -(2**63) <= value < 2**63 else _go_float64(text)


def _go_float64(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _bad_request(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return value


_JSON_KIND = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    type(None): "null",
}


def _json_kind(value: JSON) -> str:
    return "bool" if isinstance(value, bool) else _JSON_KIND[type(value)]


def _type_error(value: JSON, go_type: str) -> PatchError:
    return _bad_request(
        f"json: cannot unmarshal {_json_kind(value)} into Go value of type {go_type}"
    )


def _decode_object(body: bytes) -> dict[str, JSON] | None:
    """Decode into a Go ``map[string]interface{}``; ``null`` is None."""
    value = _loads(body)
    if value is not None and not isinstance(value, dict):
        raise _type_error(value, "map[string]interface {}")
    return value


_OP_FIELDS: Final = ("op", "path", "from")


def _decode_operations(body: bytes) -> list[JSON]:
    """Decode a JSON patch as the API server's strict pass does (into ``[]jsonPatchOp``)."""
    value = _loads(body)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _type_error(value, "[]handlers.jsonPatchOp")
    for op in value:
        if op is None:
            continue
        if not isinstance(op, dict):
            raise _type_error(op, "handlers.jsonPatchOp")
        for name, field_value in op.items():
            if name in _OP_FIELDS and field_value is not None and not isinstance(field_value, str):
                raise _bad_request(
                    f"json: cannot unmarshal {_json_kind(field_value)} into Go struct field "
                    f"jsonPatchOp.{name} of type string"
                )
    return value


# --------------------------------------------------------------------------------------------
# JSON patch (RFC 6902) with evanphx/json-patch v4 semantics.

_INDEX: Final = re.compile(r"[+-]?[0-9]+")
_POINTER_ESCAPE: Final = re.compile(r"~[01]")


def _unescape(token: str) -> str:
    if "~" not in token:
        return token
    return _POINTER_ESCAPE.sub(lambda m: "/" if m.group() == "~1" else "~", token)


def _atoi(key: str) -> int:
    """Go's ``strconv.Atoi``: an optional sign, decimal digits, int64 range."""
    if not _INDEX.fullmatch(key):
        raise PatchError(f"strconv.Atoi: parsing {go_quote(key)}: invalid syntax")
    value = int(key)
    if not -(2**63) <= value < 2**63:
        raise PatchError(f"strconv.Atoi: parsing {go_quote(key)}: value out of range")
    return value


def _bad_index(index: int) -> PatchError:
    return PatchError(f"Unable to access invalid index: {index}: invalid index referenced")


def _list_index(items: list[JSON], key: str) -> int:
    """The position ``key`` names in ``items`` (negative counts from the end); it must exist."""
    index = _atoi(key)
    if index < 0:
        if index < -len(items):
            raise _bad_index(index)
        index += len(items)
    if index >= len(items):
        raise _bad_index(index)
    return index


def _get(container: dict[str, JSON] | list[JSON], key: str) -> JSON:
    """A member (None when missing: objects never fail here) or an element (must exist)."""
    if isinstance(container, dict):
        return container.get(key)
    return container[_list_index(container, key)]


def _add(container: dict[str, JSON] | list[JSON], key: str, value: JSON) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    try:
        index = _atoi(key)
    except PatchError as exc:
        raise PatchError(f"value was not a proper array index: '{key}': {exc}") from None
    size = len(container) + 1
    if index >= size:
        raise _bad_index(index)
    if index < 0:
        if index < -size:
            raise _bad_index(index)
        index += size
    container.insert(index, value)


def _remove(container: dict[str, JSON] | list[JSON], key: str) -> JSON:
    if isinstance(container, dict):
        if key not in container:
            raise PatchError(f"Unable to remove nonexistent key: {key}: missing value")
        return container.pop(key)
    return container.pop(_list_index(container, key))


def _find(document: JSON, path: str) -> tuple[dict[str, JSON] | list[JSON], str] | None:
    """The container holding the last token of ``path`` and that token, or None.

    Like evanphx v4, the text before the first ``/`` is ignored (``a/b`` means ``/b``) and a path
    without ``/`` names nothing.
    """
    tokens = path.split("/")
    if len(tokens) < 2:
        return None
    node: JSON = document
    for token in tokens[1:-1]:
        try:
            node = _get(node, _unescape(token))
        except PatchError:
            return None
        if not isinstance(node, dict | list):
            return None
    return node, _unescape(tokens[-1])


def _string_field(op: Mapping[str, JSON], name: str, action: str) -> str:
    value = op.get(name)
    if not isinstance(value, str):
        raise PatchError(f"{action} operation failed to decode {name}: missing value")
    return value


class _JSONPatch:
    """Applies operations to a document it owns, in place."""

    def __init__(self, document: JSON) -> None:
        if not isinstance(document, dict | list):
            raise PatchError(f"cannot apply a JSON patch to a {_json_kind(document)}")
        self.document: JSON = document
        self.copied = 0

    def apply(self, op: JSON) -> None:
        kind = op.get("op") if isinstance(op, dict) else None
        handler = self._HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise PatchError(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")
        handler(self, op)

    def target(self, path: str, action: str, what: str = "path") -> tuple[Any, str]:
        found = _find(self.document, path)
        if found is None:
            raise PatchError(
                f"{action} operation does not apply: doc is missing {what}: {go_quote(path)}: "
                "missing value"
            )
        return found

    def add(self, op: Mapping[str, JSON]) -> None:
        path = _string_field(op, "path", "add")
        container, key = self.target(path, "add")
        try:
            _add(container, key, op.get("value"))
        except PatchError as exc:
            raise PatchError(f"error in add for path: '{path}': {exc}") from None

    def remove(self, op: Mapping[str, JSON]) -> None:
        path = _string_field(op, "path", "remove")
        container, key = self.target(path, "remove")
        try:
            _remove(container, key)
        except PatchError as exc:
            raise PatchError(f"error in remove for path: '{path}': {exc}") from None

    def replace(self, op: Mapping[str, JSON]) -> None:
        path = _string_field(op, "path", "replace")
        value = op.get("value")
        if path == "":
            # v4 replaces the whole document only with an object or array; any other value is a
            # silent no-op there (its error is wrapped from a nil error).
            if isinstance(value, dict | list):
                self.document = value
            return
        container, key = self.target(path, "replace")
        try:
            _get(container, key)
        except PatchError:
            raise PatchError(
                f"replace operation does not apply: doc is missing key: {path}: missing value"
            ) from None
        if isinstance(container, dict):
            # A missing member is added: v4's object lookup never fails.
            container[key] = value
        else:
            container[_list_index(container, key)] = value

    def move(self, op: Mapping[str, JSON]) -> None:
        source = _string_field(op, "from", "move")
        container, key = self.target(source, "move", "from path")
        try:
            value = _get(container, key)
            _remove(container, key)
        except PatchError as exc:
            raise PatchError(f"error in move for path: '{key}': {exc}") from None
        path = _string_field(op, "path", "move")
        container, key = self.target(path, "move", "destination path")
        try:
            _add(container, key, value)
        except PatchError as exc:
            raise PatchError(f"error in move for path: '{path}': {exc}") from None

    def copy(self, op: Mapping[str, JSON]) -> None:
        source = _string_field(op, "from", "copy")
        container, key = self.target(source, "copy", "from path")
        try:
            value = _get(container, key)  # a missing member copies as null
        except PatchError as exc:
            raise PatchError(f"error in copy for from: '{source}': {exc}") from None
        path = _string_field(op, "path", "copy")
        container, key = self.target(path, "copy", "destination path")
        if value is not None:
            self.copied += len(orjson.dumps(value))
            if self.copied > MAX_JSON_PATCH_COPY_BYTES:
                raise PatchError(
                    "Unable to complete the copy, the accumulated size increase of copy is "
                    f"{self.copied}, exceeding the limit {MAX_JSON_PATCH_COPY_BYTES}"
                )
        try:
            _add(container, key, _copy(value))
        except PatchError as exc:
            raise PatchError(f"error while adding value during copy: {exc}") from None

    def test(self, op: Mapping[str, JSON]) -> None:
        path = _string_field(op, "path", "test")
        expected = op.get("value")
        if path == "":
            actual = self.document
        else:
            found = _find(self.document, path)
            if found is None:
                raise PatchError(
                    f"test operation does not apply: is missing path: {path}: missing value"
                )
            try:
                actual = _get(*found)
            except PatchError as exc:
                raise PatchError(f"error in test for path: '{path}': {exc}") from None
        # Go compares the JSON texts: 1 is not 1.0; a missing member equals null.
        if not _same(actual, expected):
            raise PatchError(f"testing value {path} failed: test failed")

    _HANDLERS: Final[Mapping[str, Callable[[_JSONPatch, Mapping[str, JSON]], None]]] = {
        "add": add,
        "remove": remove,
        "replace": replace,
        "move": move,
        "copy": copy,
        "test": test,
    }


def json_patch(document: JSON, operations: Sequence[JSON]) -> JSON:
    """Apply RFC 6902 ``operations`` to ``document`` and return the new document.

    Raises ``PatchError`` (upstream's text) when an operation fails; nothing is applied then.
    """
    patcher = _JSONPatch(_copy(document))
    for op in _copy(list(operations)):
        patcher.apply(op)
    return patcher.document


# --------------------------------------------------------------------------------------------
# JSON merge patch (RFC 7386) with evanphx/json-patch v4 semantics.


def _prune_nulls(value: JSON) -> JSON:
    """Drop null members of objects, also inside arrays (whose null elements stay)."""
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value]
    return value


def _merge_into(target: dict[str, JSON], patch: Mapping[str, JSON]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
            continue
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _merge_into(current, value)
        elif isinstance(current, dict):
            target[key] = value  # a non-object replacing an object is taken as is (upstream)
        else:
            target[key] = _prune_nulls(value)


def merge_patch(target: JSON, patch: JSON) -> JSON:
    """Apply the RFC 7386 merge ``patch`` to ``target`` and return the result.

    A patch that is not an object replaces the target (RFC 7386); the API server refuses such a
    patch earlier (``apply_patch``).
    """
    if not isinstance(patch, dict):
        return _copy(patch)
    result: dict[str, JSON] = _copy(target) if isinstance(target, dict) else {}
    _merge_into(result, _copy(patch))
    return result


# --------------------------------------------------------------------------------------------
# Strategic merge patch.

_DIRECTIVE: Final = "$patch"
_RETAIN_KEYS: Final = "$retainKeys"
_DELETE_FROM_PRIMITIVE_LIST: Final = "$deleteFromPrimitiveList"
_SET_ELEMENT_ORDER: Final = "$setElementOrder"

# The sentinel errors upstream answers with 400 (mergepatch package).
_ERR_PRIMITIVE_LIST: Final = "invalid patch format of primitive list"
_ERR_RETAIN_KEYS: Final = "invalid patch format of retainKeys"
_ERR_SET_ELEMENT_ORDER: Final = "invalid patch format of setElementOrder list"


def _field(node: SchemaNode, key: str) -> FieldSchema | None:
    """The schema of member ``key`` of an object described by ``node`` (None: unknown)."""
    if node is None:
        return None
    if isinstance(node, FieldSchema):
        if node.definition is not None:
            node = node.definition
        else:
            return node.additional_properties
    found = node.fields.get(key)
    return found if found is not None else node.additional_properties


def _strategy(field: FieldSchema | None) -> str:
    """The field's patch strategy other than ``retainKeys`` (which only matters to diffing)."""
    if field is None or not field.patch_strategy:
        return ""
    strategies = field.patch_strategy.split(",")
    others = [s for s in strategies if s != "retainKeys"]
    if len(strategies) > 2 or (len(strategies) == 2 and len(others) != 1):
        raise _internal(f"unexpected patch strategy: [{' '.join(strategies)}]")
    return others[0] if others else ""


def _merge_key(field: FieldSchema | None) -> str:
    return (field.patch_merge_key or "") if field is not None else ""


def _no_merge_key(item: Mapping[str, JSON], merge_key: str) -> PatchError:
    return _internal(f"map: {_go_v(item)} does not contain declared merge key: {merge_key}")


def _bad_arg_type(expected: str, actual: JSON) -> PatchError:
    return _internal(f"expected a {expected}, but received a {_go_type(actual)}")


def _bad_patch_type(directive: JSON, item: Mapping[str, JSON]) -> PatchError:
    return _internal(f"unknown patch type: {_go_s(directive)} in map: {_go_v(item)}")


def _extract_key(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise _bad_request(
            _ERR_PRIMITIVE_LIST if prefix == _DELETE_FROM_PRIMITIVE_LIST else _ERR_SET_ELEMENT_ORDER
        )
    return rest


def _discard_nulls(value: JSON) -> None:
    """Remove null members of objects, recursively, in place."""
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for v in value.values():
            _discard_nulls(v)
    elif isinstance(value, list):
        for v in value:
            _discard_nulls(v)


def _remove_directives(value: JSON) -> tuple[JSON, bool]:
    """Drop every object carrying ``$patch``; False when ``value`` itself is one."""
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return None, False
        out: dict[str, JSON] = {}
        for key, item in value.items():
            cleaned, keep = _remove_directives(item)
            if keep:
                out[key] = cleaned
        return out, True
    if isinstance(value, list):
        kept = (_remove_directives(v) for v in value)
        return [v for v, keep in kept if keep], True
    return value, True


def _element_type(*lists: Sequence[JSON]) -> type:
    """The one type of every element; lists of lists are refused."""
    found: type | None = None
    for items in lists:
        for item in items:
            kind = type(item)
            if found is None:
                if kind is list:
                    raise PatchError("lists of lists are not supported")
                found = kind
            elif kind is not found:
                rendered = "[" + " ".join(_go_v(list(x)) for x in lists) + "]"
                raise _internal(f"list element types are not identical: {rendered}")
    if found is None:
        raise _internal("no elements in any of the given slices")
    if found is type(None):
        raise _internal("list elements must not be null")
    return found


def _key_positions(items: Sequence[JSON], merge_key: str) -> tuple[dict[Any, int], int]:
    """Where each merge key value first occurs among ``items`` (upstream's
    ``findMapInSliceBasedOnKeyValue``: items without the key never match), and the position of
    the first element that is not a map (-1 if none), at which upstream's scan fails."""
    first: dict[Any, int] = {}
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            return first, position
        if merge_key in item:
            first.setdefault(_hash_key(item[merge_key]), position)
    return first, -1


def _lookup(positions: tuple[dict[Any, int], int], value: JSON) -> int:
    first, bad = positions
    found = first.get(_hash_key(value), -1)
    if found < 0 and bad >= 0:
        raise _internal(f"value for key {bad} is not a map")
    return found


def _find_by_key(items: Sequence[JSON], merge_key: str, value: JSON) -> int:
    return _lookup(_key_positions(items, merge_key), value)


class _Order:
    """Positions in an ordering list, as upstream's ``index`` finds them: by merge key value for
    lists of maps (a missing key or a non-map reads as null), by value for primitives."""

    __slots__ = ("first", "is_map", "merge_key")

    def __init__(self, order: Sequence[JSON], merge_key: str, is_map: bool) -> None:
        self.merge_key = merge_key
        self.is_map = is_map
        self.first: dict[Any, int] = {}
        for position, item in enumerate(order):
            self.first.setdefault(_hash_key(self.value(item)), position)

    def value(self, item: JSON) -> JSON:
        if not self.is_map:
            return item
        return item.get(self.merge_key) if isinstance(item, dict) else None

    def index(self, item: JSON) -> int:
        return self.first.get(_hash_key(self.value(item)), -1)


def _sort_by(items: list[JSON], order: Sequence[JSON], merge_key: str, is_map: bool) -> list[JSON]:
    """Stable sort by position in ``order``, with upstream's comparator.

    Upstream's ``less`` answers true whenever either item is missing from ``order``; when every
    item is present that is an ordinary stable sort, otherwise Go's insertion sort is replayed.
    """
    where = _Order(order, merge_key, is_map)
    positions = [where.index(item) for item in items]
    if all(p >= 0 for p in positions):
        ranked = sorted(range(len(items)), key=positions.__getitem__)
        return [items[i] for i in ranked]
    pairs = list(zip(positions, items, strict=True))
    for i in range(1, len(pairs)):
        j = i
        while j > 0 and (pairs[j][0] < 0 or pairs[j - 1][0] < 0 or pairs[j][0] < pairs[j - 1][0]):
            pairs[j], pairs[j - 1] = pairs[j - 1], pairs[j]
            j -= 1
    return [item for _, item in pairs]


def _normalize_order(
    items: list[JSON], order: Sequence[JSON], merge_key: str, is_map: bool
) -> list[JSON]:
    deleted: list[JSON] = []
    if is_map:
        for item in (*items, *order):
            if not isinstance(item, dict):
                raise _bad_arg_type("map[string]interface {}", item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
        deleted = [i for i in items if i.get(_DIRECTIVE) == "delete"]
        items = [i for i in items if i.get(_DIRECTIVE) != "delete"]
    return _sort_by(items, order, merge_key, is_map) + deleted


def _order_elements(
    patch_items: list[JSON],
    server_only: list[JSON],
    patch_order: Sequence[JSON],
    server_order: Sequence[JSON],
    merge_key: str,
    is_map: bool,
) -> list[JSON]:
    """Sort the patch's items by ``patch_order`` and the others by ``server_order``, then weave
    the others in: one goes before a patch item only when both are in ``server_order`` and it
    comes first there."""
    right = _normalize_order(patch_items, patch_order, merge_key, is_map)
    left = _normalize_order(server_only, server_order, merge_key, is_map)
    where = _Order(server_order, merge_key, is_map)
    out: list[JSON] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
        elif i >= len(left):
            out.append(right[j])
            j += 1
        else:
            li, ri = where.index(left[i]), where.index(right[j])
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _go_capacity(length: int) -> int:
    """The capacity of a Go slice grown by appending ``length`` elements one at a time."""
    return 1 << (length - 1).bit_length() if length else 0


def _union(original: list[JSON], patch: list[JSON]) -> tuple[list[JSON], list[JSON]]:
    """Upstream's set union of two primitive lists, and the original list as it reads after.

    Upstream appends the patch to the original and removes duplicates by swapping the last
    element into each duplicate's place. When the original's backing array has room for the
    patch (its capacity as grown by the decoder's appends), that happens in place and the caller
    then orders server-only items by the scrambled array: replayed here, since it changes the
    result when the original holds duplicates.
    """
    buffer = original + patch
    last = len(buffer) - 1
    i = 0
    while i < last:
        j = i + 1
        while j <= last:
            if _same(buffer[i], buffer[j]):
                buffer[j] = buffer[last]
                last -= 1
                j -= 1
            j += 1
        i += 1
    in_place = len(original) > 0 and len(buffer) <= _go_capacity(len(original))
    return buffer[: last + 1], buffer[: len(original)] if in_place else original


def _partition(
    merged: Sequence[JSON], by: Sequence[JSON], merge_key: str
) -> tuple[list[JSON], list[JSON]]:
    """Split ``merged`` into the items present in ``by`` and the rest, keeping order."""
    inside: list[JSON] = []
    outside: list[JSON] = []
    if not merge_key:
        present = {_hash_key(v) for v in by}
        for item in merged:
            (inside if _hash_key(item) in present else outside).append(item)
        return inside, outside
    positions = _key_positions(by, merge_key)
    for item in merged:
        if not isinstance(item, dict):
            raise _bad_arg_type("map[string]interface {}", item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        found = _lookup(positions, item[merge_key]) >= 0
        (inside if found else outside).append(item)
    return inside, outside


class _StrategicMerge:
    """The strategic merge of one patch; mutates the original and patch it is given."""

    def merge_map(
        self, original: dict[str, JSON] | None, patch: dict[str, JSON], node: SchemaNode
    ) -> dict[str, JSON]:
        """Merge ``patch`` into ``original`` (upstream's ``mergeMap``): a ``$patch`` directive
        wins; then ``$retainKeys``, then the ``$setElementOrder`` lists, then each field."""
        if _DIRECTIVE in patch:
            directive = patch[_DIRECTIVE]
            if directive == "replace":
                del patch[_DIRECTIVE]
                return patch
            if directive == "delete":
                return {}
            raise _bad_patch_type(directive, patch)
        if original is None:
            original = {}
        self.retain_keys(original, patch)
        self.set_element_order(original, patch, node)
        for key, value in patch.items():
            is_delete_list = key.startswith(_DELETE_FROM_PRIMITIVE_LIST)
            if is_delete_list:
                key = _extract_key(key, _DELETE_FROM_PRIMITIVE_LIST)
            if value is None:
                original.pop(key, None)
                continue
            if key not in original or type(original[key]) is not type(value):
                if not is_delete_list:
                    _discard_nulls(value)
                    cleaned, keep = _remove_directives(value)
                    if keep:
                        original[key] = cleaned
                    else:
                        original.pop(key, None)
                continue
            current = original[key]
            if isinstance(current, dict):
                field = _field(node, key)
                if _strategy(field) == "replace":
                    original[key] = value
                else:
                    original[key] = self.merge_map(current, value, field)
            elif isinstance(current, list):
                field = _field(node, key)
                original[key] = self.merge_list_field(current, value, field, is_delete_list)
            else:
                original[key] = value
        return original

    def merge_list_field(
        self,
        original: list[JSON],
        patch: list[JSON],
        field: FieldSchema | None,
        is_delete_list: bool,
        view: list[JSON] | None = None,
    ) -> list[JSON]:
        if _strategy(field) == "merge" or is_delete_list:
            items = field.items if field is not None else None
            return self.merge_list(original, patch, items, _merge_key(field), is_delete_list, view)
        return patch

    def merge_list(
        self,
        original: list[JSON],
        patch: list[JSON],
        items: FieldSchema | None,
        merge_key: str,
        is_delete_list: bool,
        view: list[JSON] | None = None,
    ) -> list[JSON]:
        """Merge two lists of a merge-strategy field.

        ``view``, when given, starts as a copy of ``original`` and ends as what upstream's caller
        sees of its original list afterwards: Go deletes and appends in the original's backing
        array, and ``$setElementOrder`` then orders server-only items by that array.
        """
        if not original and not patch:
            return original
        is_map = _element_type(original, patch) is dict
        if not is_map:
            if is_delete_list:
                doomed = {_hash_key(v) for v in patch}
                return [v for v in original if _hash_key(v) not in doomed]
            merged, server_order = _union(original, patch)
            if view is not None:
                view[:] = server_order
        else:
            if not merge_key:
                raise _internal(f"cannot merge lists without merge key for {_kind_name(items)}")
            original, patch, shared = self.special_elements(original, patch, merge_key, view)
            merged = list(original)
            first, _ = _key_positions(merged, merge_key)
            for item in patch:
                if merge_key not in item:
                    raise _no_merge_key(item, merge_key)
                key = _hash_key(item[merge_key])
                position = first.get(key, -1)
                if position >= 0:
                    merged[position] = self.merge_map(merged[position], item, items)
                    if _hash_key(merged[position].get(merge_key, _MISSING)) != key:
                        first, _ = _key_positions(merged, merge_key)  # a null merge key deleted
                    continue
                if shared and view is not None and len(merged) < len(view):
                    view[len(merged)] = item
                first.setdefault(key, len(merged))
                merged.append(item)
            server_order = original
        inside, outside = _partition(merged, patch, merge_key)
        return _order_elements(inside, outside, patch, server_order, merge_key, is_map)

    def special_elements(
        self,
        original: list[JSON],
        patch: list[JSON],
        merge_key: str,
        view: list[JSON] | None,
    ) -> tuple[list[JSON], list[JSON], bool]:
        """Apply the ``$patch`` items of a list of maps.

        Returns the remaining original items, the plain patch items, and whether the result still
        shares Go's backing array with the caller's list (not after ``$patch: replace``).
        """
        plain: list[JSON] = []
        replace = False
        for item in patch:
            if _DIRECTIVE not in item:
                plain.append(item)
                continue
            directive = item[_DIRECTIVE]
            if directive == "delete":
                if merge_key not in item:
                    raise _no_merge_key(item, merge_key)
                doomed = item[merge_key]
                while True:
                    position = _find_by_key(original, merge_key, doomed)
                    if position < 0:
                        break
                    original = original[:position] + original[position + 1 :]
                    if view is not None:
                        # Go shifts the tail left in place; the last slot keeps its old value.
                        view[: len(original)] = original
            elif directive == "replace":
                replace = True
            elif directive == "merge":
                raise _internal("merging lists cannot yet be specified in the patch")
            else:
                raise _bad_patch_type(directive, item)
        if replace:
            return plain, [], False
        return original, plain, True

    def retain_keys(self, original: dict[str, JSON], patch: dict[str, JSON]) -> None:
        if _RETAIN_KEYS not in patch:
            return
        retained = patch.pop(_RETAIN_KEYS)
        if not isinstance(retained, list):
            raise _bad_request(_ERR_RETAIN_KEYS)
        keep = {k for k in retained if isinstance(k, str)}
        for key, value in patch.items():
            if value is None or key.startswith((_DELETE_FROM_PRIMITIVE_LIST, _SET_ELEMENT_ORDER)):
                continue
            if key not in keep:
                raise _bad_request(_ERR_RETAIN_KEYS)
        for key in [k for k in original if k not in keep]:
            del original[key]

    def set_element_order(
        self, original: dict[str, JSON], patch: dict[str, JSON], node: SchemaNode
    ) -> None:
        """Merge each list named by a ``$setElementOrder/<f>`` and order it as upstream does:
        listed items in the directive's order, the server's other items woven in."""
        for directive in [k for k in patch if k.startswith(_SET_ELEMENT_ORDER)]:
            order = patch.pop(directive)
            if not isinstance(order, list):
                raise _bad_arg_type("[]interface {}", order)
            key = _extract_key(directive, _SET_ELEMENT_ORDER)
            has_original, has_patch = key in original, key in patch
            current, wanted = original.get(key), patch.get(key)
            if has_original and not isinstance(current, list):
                raise _bad_arg_type("[]interface {}", current)
            if has_patch and not isinstance(wanted, list):
                raise _bad_arg_type("[]interface {}", wanted)
            current_list: list[JSON] = current if isinstance(current, list) else []
            wanted_list: list[JSON] = wanted if isinstance(wanted, list) else []
            field = _field(node, key)
            merge_key = _merge_key(field)
            _check_element_order(wanted_list, order, merge_key)
            server_order = current_list
            if has_original and has_patch:
                server_order = list(current_list)
                merged = self.merge_list_field(
                    current_list, wanted_list, field, False, view=server_order
                )
            elif has_original:
                merged = current_list
            elif has_patch:
                merged, _ = _remove_directives(wanted_list)
            else:
                continue
            inside, outside = _partition(merged, order, merge_key)
            is_map = _element_type(current_list, wanted_list) is dict
            original[key] = _order_elements(inside, outside, order, server_order, merge_key, is_map)
            patch.pop(key, None)


def _kind_name(items: FieldSchema | None) -> str:
    """What upstream calls the element type in one message (Go's reflect kind)."""
    if items is None:
        return "interface"
    return {"struct": "struct", "string": "string", "integer": "int64", "number": "float64"}.get(
        items.kind.value, items.kind.value
    )


def _check_element_order(patch_list: list[JSON], order: list[JSON], merge_key: str) -> None:
    """Every patch item must appear in ``$setElementOrder``, in the same relative order."""
    if not order or not patch_list:
        return
    if merge_key:
        for item in patch_list:
            if not isinstance(item, dict):
                raise _bad_arg_type("map[string]interface {}", item)
        items = [i for i in patch_list if i.get(_DIRECTIVE) != "delete"]
    else:
        items = patch_list
    p = s = 0
    while p < len(items) and s < len(order):
        item = items[p]
        if isinstance(item, dict) and _DIRECTIVE in item:
            p += 1
            continue
        if _merge_key_equal(item, order[s], merge_key):
            p += 1
        s += 1
    if p < len(items) and s >= len(order):
        raise _internal(
            f"The order in patch list:\n{_go_v(patch_list)}\n doesn't match "
            f"{_SET_ELEMENT_ORDER} list:\n{_go_v(order)}\n"
        )


def _merge_key_equal(left: JSON, right: JSON, merge_key: str) -> bool:
    if not merge_key:
        return _same(left, right)
    for side in (left, right):
        if not isinstance(side, dict):
            raise _bad_arg_type("map[string]interface {}", side)
        if merge_key not in side:
            raise _no_merge_key(side, merge_key)
    return _same(left[merge_key], right[merge_key])


def strategic_merge_patch(
    original: Mapping[str, JSON], patch: Mapping[str, JSON] | None, schema: SchemaNode
) -> dict[str, JSON]:
    """Apply a strategic merge ``patch`` to ``original``; ``schema`` describes ``original``
    (a definition such as ``io.k8s.api.core.v1.Pod``; None merges without metadata).

    Raises ``PatchError`` whose ``failure`` says how the API server answers.
    """
    own_original: dict[str, JSON] = _copy(dict(original))
    own_patch: dict[str, JSON] = _copy(dict(patch)) if patch is not None else {}
    return _StrategicMerge().merge_map(own_original, own_patch, schema)


# --------------------------------------------------------------------------------------------
# The dispatcher the PATCH handler calls.

# What the json serializer says when the patched document is not an object.
_NOT_AN_OBJECT: Final = (
    "couldn't get version/kind; json parse error: json: cannot unmarshal KIND into Go value of "
    'type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
    'Kind string "json:\\"kind,omitempty\\"" }'
)


def _status(error: PatchError, *, prefix: str = "") -> StatusError:
    if error.failure is Failure.BAD_REQUEST:
        return new_bad_request(prefix + str(error))
    if error.failure is Failure.UNPROCESSABLE:
        return Invalid(GENERIC_UNPROCESSABLE, details=StatusDetails())
    return StatusError(str(error), code=500, reason="")


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def apply_patch(
    content_type: str,
    original: Mapping[str, JSON],
    patch_body: bytes,
    type_schema: TypeSchema | None,
) -> dict[str, JSON]:
    """Apply a PATCH request body to ``original`` as the API server does; returns a new object.

    ``type_schema`` is the definition of a built-in kind, or None for a custom resource (which
    refuses strategic merge patches with 415). Errors are ``StatusError``s with upstream's codes
    and messages; a failed patch keeps its detail on ``__cause__``.
    """
    media_type = _media_type(content_type)
    if media_type == APPLY_PATCH:
        raise ValueError("server-side apply bodies are not handled by apply_patch")
    accepted = BUILTIN_PATCH_TYPES if type_schema is not None else CUSTOM_RESOURCE_PATCH_TYPES
    if media_type not in accepted:
        raise new_unsupported_media_type(accepted)
    try:
        if media_type == JSON_PATCH:
            return _apply_json_patch(original, patch_body)
        if media_type == MERGE_PATCH:
            return _apply_merge_patch(original, patch_body)
        return _apply_strategic_merge_patch(original, patch_body, type_schema)
    except PatchError as exc:
        prefix = "error decoding patch: " if media_type != STRATEGIC_MERGE_PATCH else ""
        raise _status(exc, prefix=prefix) from exc


def _apply_json_patch(original: Mapping[str, JSON], body: bytes) -> dict[str, JSON]:
    operations = _decode_operations(body)
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise new_request_entity_too_large(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
            f"got {len(operations)}"
        )
    try:
        patcher = _JSONPatch(_copy(dict(original)))
        for op in operations:
            patcher.apply(op)
    except PatchError as exc:
        raise _status(exc) from exc
    result = patcher.document
    if not isinstance(result, dict):
        rendered = orjson.dumps(result, option=orjson.OPT_SORT_KEYS).decode()
        raise _not_an_object(rendered, _json_kind(result))
    return result


def _not_an_object(rendered: str, kind: str) -> Invalid:
    return new_invalid(
        "", "", [invalid("patch", rendered, _NOT_AN_OBJECT.replace("KIND", kind, 1))]
    )


def _apply_merge_patch(original: Mapping[str, JSON], body: bytes) -> dict[str, JSON]:
    patch = _decode_object(body)
    if patch is None:
        raise new_bad_request("Invalid JSON Patch")
    result: dict[str, JSON] = _copy(dict(original))
    _merge_into(result, patch)
    return result


def _apply_strategic_merge_patch(
    original: Mapping[str, JSON], body: bytes, schema: TypeSchema | None
) -> dict[str, JSON]:
    patch = _decode_object(body) or {}
    try:
        return _StrategicMerge().merge_map(_copy(dict(original)), patch, schema)
    except PatchError as exc:
        raise _status(exc) from exc
