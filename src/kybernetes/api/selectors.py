"""Label selectors: the ``labelSelector`` string syntax and the ``LabelSelector`` object.

A ``Selector`` is an immutable AND of ``Requirement``s kept sorted by key (stable for equal keys),
exactly as ``k8s.io/apimachinery/pkg/labels`` keeps them, so ``str()`` gives upstream's canonical
form and ``parse(str(s)) == s``. Parsing and validation report upstream's messages through
``SelectorError``. Matching is the hot path (it runs on every LIST item), so each requirement
precomputes its value set once.

Two special selectors exist: ``EVERYTHING`` (no requirements; matches every label set) and
``NOTHING`` (what a nil ``LabelSelector`` means; matches no label set). Both print as ``""``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kybernetes.api.errors import (
    FieldError,
    aggregate_message,
    go_quote,
    invalid,
    not_supported,
)
from kybernetes.api.validation.names import is_qualified_name, is_valid_label_value

__all__ = [
    "EVERYTHING",
    "NOTHING",
    "Operator",
    "Requirement",
    "Selector",
    "SelectorError",
    "from_label_selector",
    "from_set",
    "new_requirement",
    "parse",
    "validated_from_set",
]


class SelectorError(ValueError):
    """A label selector that does not parse or validate; the message is upstream's."""


class Operator(StrEnum):
    """``selection.Operator``; the values are upstream's spellings."""

    DOES_NOT_EXIST = "!"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    IN = "in"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    EXISTS = "exists"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_BINARY_OPERATORS = (
    Operator.IN,
    Operator.NOT_IN,
    Operator.EQUALS,
    Operator.DOUBLE_EQUALS,
    Operator.NOT_EQUALS,
    Operator.GREATER_THAN,
    Operator.LESS_THAN,
)
_VALID_OPERATORS = (*_BINARY_OPERATORS, Operator.EXISTS, Operator.DOES_NOT_EXIST)
# Matching codes, precomputed per requirement so the hot loop compares small ints.
_HAS_VALUE, _LACKS_VALUE, _EXISTS, _ABSENT, _GREATER, _LESS = range(6)
_CODES = {
    Operator.IN: _HAS_VALUE,
    Operator.EQUALS: _HAS_VALUE,
    Operator.DOUBLE_EQUALS: _HAS_VALUE,
    Operator.NOT_IN: _LACKS_VALUE,
    Operator.NOT_EQUALS: _LACKS_VALUE,
    Operator.EXISTS: _EXISTS,
    Operator.DOES_NOT_EXIST: _ABSENT,
    Operator.GREATER_THAN: _GREATER,
    Operator.LESS_THAN: _LESS,
}

_INT64_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _parse_int64(text: str) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``, or None where Go reports an error."""
    if not _INT64_RE.fullmatch(text):
        return None
    number = int(text)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


class _NilStringSlice:
    """How Go prints a nil ``[]string`` as a bad value (a selector built with no values)."""

    def __str__(self) -> str:
        return "[]string(nil)"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key <operator> values`` term. Construct through ``new_requirement`` to validate.

    ``values`` keeps the order given (upstream keeps it too); ``str()`` sorts them.
    """

    key: str
    operator: Operator
    values: tuple[str, ...] = ()
    _plan: tuple[int, str, frozenset[str], int | None] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        bound = _parse_int64(self.values[0]) if len(self.values) == 1 else None
        plan = (_CODES[self.operator], self.key, frozenset(self.values), bound)
        object.__setattr__(self, "_plan", plan)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement (``Requirement.Matches``)."""
        return _plan_matches((self._plan,), labels)

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        joined = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op is Operator.IN or op is Operator.NOT_IN:
            return f"{self.key} {op.value} ({joined})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{joined}"


def _plan_matches(
    plan: tuple[tuple[int, str, frozenset[str], int | None], ...], labels: Mapping[str, str]
) -> bool:
    """Whether ``labels`` satisfy every precomputed requirement (upstream's match rules)."""
    get = labels.get
    for code, key, values, bound in plan:
        value = get(key)
        if code == _HAS_VALUE:
            if value is None or value not in values:
                return False
        elif code == _LACKS_VALUE:
            if value is not None and value in values:
                return False
        elif code == _EXISTS:
            if value is None:
                return False
        elif code == _ABSENT:
            if value is not None:
                return False
        else:
            # Gt/Lt: both the label and the bound must be 64-bit integers.
            number = None if value is None else _parse_int64(value)
            if number is None or bound is None:
                return False
            if not (number > bound if code == _GREATER else number < bound):
                return False
    return True


def _child(path: str | None, name: str) -> str:
    return name if not path else f"{path}.{name}"


def _key_error(key: str, path: str) -> FieldError | None:
    errs = is_qualified_name(key)
    return invalid(path, key, "; ".join(errs)) if errs else None


def new_requirement(
    key: str, operator: Operator | str, values: Iterable[str] = (), *, path: str | None = None
) -> Requirement:
    """Build a validated requirement (``labels.NewRequirement``).

    ``path`` prefixes the field paths in error messages. Raises ``SelectorError`` with every
    problem found, joined as upstream aggregates them.
    """
    vals = tuple(values)
    errs: list[FieldError] = []
    key_err = _key_error(key, _child(path, "key"))
    if key_err is not None:
        errs.append(key_err)
    values_path = _child(path, "values")
    shown: object = list(vals) if vals else _NilStringSlice()
    op: Operator | None = None
    if operator in _VALID_OPERATORS:
        op = Operator(operator)
    else:
        errs.append(not_supported(_child(path, "operator"), str(operator), _VALID_OPERATORS))
    if op in (Operator.IN, Operator.NOT_IN) and not vals:
        errs.append(
            invalid(values_path, shown, "for 'in', 'notin' operators, values set can't be empty")
        )
    elif op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS) and len(vals) != 1:
        errs.append(
            invalid(values_path, shown, "exact-match compatibility requires one single value")
        )
    elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and vals:
        errs.append(
            invalid(values_path, shown, "values set must be empty for exists and does not exist")
        )
    elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if len(vals) != 1:
            errs.append(
                invalid(
                    values_path, shown, "for 'Gt', 'Lt' operators, exactly one value is required"
                )
            )
        errs.extend(
            invalid(
                f"{values_path}[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer"
            )
            for i, v in enumerate(vals)
            if _parse_int64(v) is None
        )
    for i, v in enumerate(vals):
        value_errs = is_valid_label_value(v)
        if value_errs:
            errs.append(invalid(f"{values_path}[{i}][{key}]", v, "; ".join(value_errs)))
    if errs or op is None:
        raise SelectorError(aggregate_message(errs))
    return Requirement(key, op, vals)


class Selector:
    """An immutable, hashable AND of requirements sorted by key."""

    __slots__ = ("_hash", "_nothing", "_plan", "_requirements")

    def __init__(self, requirements: Iterable[Requirement] = (), *, _nothing: bool = False):
        self._requirements: tuple[Requirement, ...] = tuple(
            sorted(requirements, key=lambda r: r.key)
        )
        self._plan = tuple(r._plan for r in self._requirements)
        self._nothing = _nothing
        self._hash = hash((self._requirements, _nothing))

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        return self._requirements

    @property
    def is_empty(self) -> bool:
        """True when the selector does not restrict anything (``Empty()``; false for NOTHING)."""
        return not self._requirements and not self._nothing

    @property
    def is_nothing(self) -> bool:
        return self._nothing

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every requirement holds for ``labels``."""
        return not self._nothing and _plan_matches(self._plan, labels)

    def add(self, *requirements: Requirement) -> Selector:
        """A new selector with ``requirements`` added (NOTHING stays NOTHING)."""
        if self._nothing:
            return self
        return Selector((*self._requirements, *requirements))

    def requires_exact_match(self, key: str) -> str | None:
        """The single value ``key`` must have, if the first requirement on ``key`` pins one."""
        for requirement in self._requirements:
            if requirement.key == key:
                if _CODES[requirement.operator] == _HAS_VALUE and len(requirement.values) == 1:
                    return requirement.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self._requirements)

    def __repr__(self) -> str:
        if self._nothing:
            return "Selector(NOTHING)"
        return f"Selector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selector):
            return NotImplemented
        return self._nothing == other._nothing and self._requirements == other._requirements

    def __hash__(self) -> int:
        return self._hash


EVERYTHING = Selector()
NOTHING = Selector(_nothing=True)


# --------------------------------------------------------------------------------------------
# The string syntax: a lexer and a recursive-descent parser with upstream's error messages.

_EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _IDENT, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(13)

_TOKENS = {
    ")": _CLOSE,
    ",": _COMMA,
    "!": _NOT,
    "==": _DEQ,
    "=": _EQ,
    ">": _GT,
    "in": _IN,
    "<": _LT,
    "!=": _NEQ,
    "notin": _NOTIN,
    "(": _OPEN,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_END = "\0"  # Go's lexer reads a NUL byte as "end of input"; so does this one.

_OPERATOR_TOKENS = {
    _IN: Operator.IN,
    _EQ: Operator.EQUALS,
    _DEQ: Operator.DOUBLE_EQUALS,
    _GT: Operator.GREATER_THAN,
    _LT: Operator.LESS_THAN,
    _NOTIN: Operator.NOT_IN,
    _NEQ: Operator.NOT_EQUALS,
}
_EXPECTED_OPERATORS = ", ".join(op.value for op in _BINARY_OPERATORS)


def _lex(text: str) -> list[tuple[int, str]]:
    """Split ``text`` into (token, literal) pairs ending with the end-of-string token.

    Like upstream's byte lexer, a NUL character ends a word and, where a token would start,
    ends the input.
    """
    items: list[tuple[int, str]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end or text[pos] == _END:
            items.append((_EOS, ""))
            return items
        if text[pos] in _SPECIAL:
            # The longest run of special characters that still spells a token.
            literal = text[pos]
            pos += 1
            while pos < end and text[pos] in _SPECIAL and literal + text[pos] in _TOKENS:
                literal += text[pos]
                pos += 1
            if pos < end and text[pos] == _END:
                pos += 1
            items.append((_TOKENS[literal], literal))
            continue
        start = pos
        while pos < end and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            if text[pos] == _END:
                break
            pos += 1
        word = text[start:pos]
        if pos < end and text[pos] == _END:
            pos += 1
        items.append((_TOKENS.get(word, _IDENT), word))


class _Parser:
    def __init__(self, text: str, path: str | None) -> None:
        self._items = _lex(text)
        self._pos = 0
        self._path = path

    def _lookahead(self, values: bool) -> tuple[int, str]:
        token, literal = self._items[self._pos]
        if values and token in (_IN, _NOTIN):
            token = _IDENT
        return token, literal

    def _consume(self, values: bool) -> tuple[int, str]:
        item = self._lookahead(values)
        self._pos += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token, literal = self._lookahead(True)
            if token == _EOS:
                return requirements
            if token not in (_IDENT, _NOT):
                raise SelectorError(
                    f"found '{literal}', expected: !, identifier, or 'end of string'"
                )
            try:
                requirements.append(self._requirement())
            except SelectorError as err:
                raise SelectorError(f"unable to parse requirement: {err}") from None
            token, literal = self._consume(True)
            if token == _EOS:
                return requirements
            if token != _COMMA:
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            token, literal = self._lookahead(True)
            if token not in (_IDENT, _NOT):
                raise SelectorError(f"found '{literal}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        key, operator = self._key_and_inferred_operator()
        if operator is not None:
            return new_requirement(key, operator, (), path=self._path)
        token, literal = self._consume(False)
        op = _OPERATOR_TOKENS.get(token)
        if op is None:
            raise SelectorError(f"found '{literal}', expected: {_EXPECTED_OPERATORS}")
        values = self._values() if op in (Operator.IN, Operator.NOT_IN) else self._exact_value()
        return new_requirement(key, op, sorted(values), path=self._path)

    def _key_and_inferred_operator(self) -> tuple[str, Operator | None]:
        operator: Operator | None = None
        token, literal = self._consume(True)
        if token == _NOT:
            operator = Operator.DOES_NOT_EXIST
            token, literal = self._consume(True)
        if token != _IDENT:
            raise SelectorError(f"found '{literal}', expected: identifier")
        key_err = _key_error(literal, "<nil>" if self._path is None else self._path)
        if key_err is not None:
            raise SelectorError(str(key_err))
        if operator is None and self._lookahead(True)[0] in (_EOS, _COMMA):
            operator = Operator.EXISTS
        return literal, operator

    def _values(self) -> set[str]:
        token, literal = self._consume(True)
        if token != _OPEN:
            raise SelectorError(f"found '{literal}' expected: '('")
        token, literal = self._lookahead(True)
        if token == _CLOSE:
            self._consume(True)
            return {""}
        if token not in (_IDENT, _COMMA):
            raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self._identifiers()
        if self._consume(True)[0] != _CLOSE:
            raise SelectorError(f"found '{literal}', expected: ')'")
        return values

    def _identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            token, literal = self._consume(True)
            if token == _IDENT:
                values.add(literal)
                next_token, next_literal = self._lookahead(True)
                if next_token == _CLOSE:
                    return values
                if next_token != _COMMA:
                    raise SelectorError(f"found '{next_literal}', expected: ',' or ')'")
            elif token == _COMMA:
                # Empty entries (leading, trailing or doubled commas) stand for "".
                if not values:
                    values.add("")
                next_token, _ = self._lookahead(True)
                if next_token == _CLOSE:
                    values.add("")
                    return values
                if next_token == _COMMA:
                    self._consume(True)
                    values.add("")
            else:
                raise SelectorError(f"found '{literal}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        if self._lookahead(True)[0] in (_EOS, _COMMA):
            return {""}
        token, literal = self._consume(True)
        if token != _IDENT:
            raise SelectorError(f"found '{literal}', expected: identifier")
        return {literal}


def parse(text: str, *, path: str | None = None) -> Selector:
    """Parse the ``labelSelector`` syntax (``labels.Parse``); ``""`` gives EVERYTHING."""
    return Selector(_Parser(text, path).parse())


# --------------------------------------------------------------------------------------------
# Building selectors from label sets and LabelSelector objects.


def from_set(labels: Mapping[str, str]) -> Selector:
    """``key=value`` for every label, unvalidated (``SelectorFromSet``); empty gives EVERYTHING."""
    return Selector(Requirement(k, Operator.EQUALS, (v,)) for k, v in labels.items())


def validated_from_set(labels: Mapping[str, str]) -> Selector:
    """Like ``from_set`` but validates keys and values (``ValidatedSelectorFromSet``)."""
    return Selector(new_requirement(k, Operator.EQUALS, (v,)) for k, v in sorted(labels.items()))


_EXPRESSION_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def _strings(value: object, what: str) -> Sequence[str]:
    if value is None:
        return ()
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return value
    raise SelectorError(f"{what} must be a list of strings")


def from_label_selector(selector: Mapping[str, Any] | None) -> Selector:
    """Convert a ``LabelSelector`` object (``metav1.LabelSelectorAsSelector``).

    ``None`` (a nil selector) selects NOTHING; an empty one selects EVERYTHING. ``matchLabels`` are
    checked in key order, so the first error reported is deterministic (Go's map order is not).
    """
    if selector is None:
        return NOTHING
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping) or not isinstance(expressions, list):
        raise SelectorError("matchLabels must be a map and matchExpressions a list")
    if not match_labels and not expressions:
        return EVERYTHING
    requirements: list[Requirement] = []
    for key in sorted(match_labels):
        value = match_labels[key]
        if not isinstance(key, str) or not isinstance(value, str):
            raise SelectorError("matchLabels must map strings to strings")
        requirements.append(new_requirement(key, Operator.EQUALS, (value,)))
    for expression in expressions:
        if not isinstance(expression, Mapping):
            raise SelectorError("matchExpressions items must be objects")
        raw_operator = expression.get("operator", "")
        operator = (
            _EXPRESSION_OPERATORS.get(raw_operator) if isinstance(raw_operator, str) else None
        )
        if operator is None:
            raise SelectorError(
                f"{go_quote(str(raw_operator))} is not a valid label selector operator"
            )
        key = expression.get("key", "")
        if not isinstance(key, str):
            raise SelectorError("matchExpressions key must be a string")
        values = _strings(expression.get("values"), "matchExpressions values")
        requirements.append(new_requirement(key, operator, values))
    return Selector(requirements)
