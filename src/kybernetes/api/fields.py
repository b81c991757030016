"""Field selectors: ``fieldSelector=metadata.name=web,status.phase!=Running``.

A ``FieldSelector`` is an immutable AND of ``field=value`` / ``field!=value`` terms matched
against a flat mapping of field values that the API server builds per kind (``metadata.name``,
``spec.nodeName``, ...); a field missing from the mapping has the value ``""``, as upstream's
``Fields.Get``. Terms keep upstream's order (the raw terms sorted as strings), so ``str()`` is
``k8s.io/apimachinery/pkg/fields``' canonical form, with ``\\``, ``,`` and ``=`` escaped in values.
Errors raise ``FieldSelectorError`` with upstream's messages.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "EVERYTHING",
    "NOTHING",
    "FieldRequirement",
    "FieldSelector",
    "FieldSelectorError",
    "escape_value",
    "one_term_equal",
    "parse",
    "unescape_value",
]


class FieldSelectorError(ValueError):
    """A field selector that does not parse, or names an unsupported field."""


_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\="})


def escape_value(value: str) -> str:
    """Escape ``\\``, ``,`` and ``=`` so ``value`` can stand on the right of a term."""
    return value.translate(_ESCAPES)


def unescape_value(text: str) -> str:
    """Undo ``escape_value``; an unknown escape or a bare ``,``/``=`` is an error."""
    if "\\" not in text and "," not in text and "=" not in text:
        return text
    out: list[str] = []
    in_slash = False
    for ch in text:
        if in_slash:
            if ch not in "\\,=":
                raise FieldSelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch in ",=":
            # Upstream prints the rune as a number here.
            raise FieldSelectorError(
                f"invalid field selector: unescaped character in value: {ord(ch)}"
            )
        else:
            out.append(ch)
    if in_slash:
        raise FieldSelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """``field = value`` (``negated`` false) or ``field != value`` (``negated`` true)."""

    field: str
    value: str
    negated: bool = False

    def matches(self, fields: Mapping[str, str]) -> bool:
        return (fields.get(self.field, "") == self.value) != self.negated

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negated else '='}{escape_value(self.value)}"


Transform = Callable[[str, str], tuple[str, str]]


class FieldSelector:
    """An immutable, hashable AND of field requirements."""

    __slots__ = ("_hash", "_nothing", "_requirements")

    def __init__(self, requirements: Iterable[FieldRequirement] = (), *, _nothing: bool = False):
        self._requirements = tuple(requirements)
        self._nothing = _nothing
        self._hash = hash((self._requirements, _nothing))

    @property
    def requirements(self) -> tuple[FieldRequirement, ...]:
        return self._requirements

    @property
    def is_empty(self) -> bool:
        """True when the selector does not restrict anything (false for NOTHING)."""
        return not self._requirements and not self._nothing

    def matches(self, fields: Mapping[str, str]) -> bool:
        if self._nothing:
            return False
        return all(requirement.matches(fields) for requirement in self._requirements)

    def field_names(self) -> tuple[str, ...]:
        """The fields the selector reads, each once, in term order."""
        return tuple(dict.fromkeys(r.field for r in self._requirements))

    def requires_exact_match(self, field: str) -> str | None:
        """The value an ``=`` term pins ``field`` to, if any (``RequiresExactMatch``)."""
        for requirement in self._requirements:
            if requirement.field == field and not requirement.negated:
                return requirement.value
        return None

    def transform(self, fn: Transform) -> FieldSelector:
        """Rewrite every term with ``fn(field, value) -> (field, value)``.

        A term rewritten to ``("", "")`` is dropped; an exception from ``fn`` propagates. This is
        how the API server renames legacy fields (``spec.host`` to ``spec.nodeName``) and rejects
        unsupported ones.
        """
        if self._nothing:
            return self
        out: list[FieldRequirement] = []
        for requirement in self._requirements:
            field, value = fn(requirement.field, requirement.value)
            if field or value:
                out.append(FieldRequirement(field, value, requirement.negated))
        return FieldSelector(out)

    def restrict_to(
        self, supported: Collection[str], renames: Mapping[str, str] | None = None
    ) -> FieldSelector:
        """Check every field against ``supported`` after applying ``renames``.

        Raises ``FieldSelectorError("field label not supported: <field>")`` for the first
        unsupported field in term order, the message the API server answers with.
        """
        aliases = renames or {}

        def check(field: str, value: str) -> tuple[str, str]:
            field = aliases.get(field, field)
            if field not in supported:
                raise FieldSelectorError(f"field label not supported: {field}")
            return field, value

        return self.transform(check)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self._requirements)

    def __repr__(self) -> str:
        if self._nothing:
            return "FieldSelector(NOTHING)"
        return f"FieldSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return self._nothing == other._nothing and self._requirements == other._requirements

    def __hash__(self) -> int:
        return self._hash


EVERYTHING = FieldSelector()
NOTHING = FieldSelector(_nothing=True)


def one_term_equal(field: str, value: str) -> FieldSelector:
    """The selector ``field=value`` (``OneTermEqualSelector``)."""
    return FieldSelector((FieldRequirement(field, value),))


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped."""
    terms: list[str] = []
    start = 0
    in_slash = False
    for i, ch in enumerate(text):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


_TERM_OPERATORS = ("!=", "==", "=")


def _split_term(term: str) -> tuple[str, str, str] | None:
    """The left side, the first operator and the right side of a term, if it has one."""
    for i in range(len(term)):
        for op in _TERM_OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def parse(text: str) -> FieldSelector:
    """Parse the ``fieldSelector`` syntax (``fields.ParseSelector``); ``""`` gives EVERYTHING."""
    if not text:
        return EVERYTHING
    requirements: list[FieldRequirement] = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        parts = _split_term(term)
        if parts is None:
            raise FieldSelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        lhs, op, rhs = parts
        value = unescape_value(rhs)
        if lhs or value:  # upstream drops a term with neither field nor value
            requirements.append(FieldRequirement(lhs, value, negated=op == "!="))
    return FieldSelector(requirements)
