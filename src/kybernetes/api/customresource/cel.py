"""CEL validation rules of custom resources (``x-kubernetes-validations``), evaluated with the
``common-expression-language`` package (Rust bindings; ``cel`` module).

Chosen over the pure-Python ``cel-python`` (``celpy``) after measuring both on this machine: a
compiled rule evaluates in about 6-9 us here against about 160-500 us with ``celpy``, and both
lack the same Kubernetes extension libraries. Of those, the common string and list functions
are registered here in Python (``lowerAscii``, ``upperAscii``, ``trim``, ``split``, ``join``,
``replace``, ``indexOf``, ``lastIndexOf``, ``isSorted``, ``sum``, ``min``, ``max``); not
supported: ``quantity``, ``url``, ``ip``/``cidr``, ``format``, regex ``find``/``findAll``,
``optional`` types, and upstream's cost estimation and compile-time type checking (a rule that
parses is accepted; a type error shows when it runs).

Invariants:
- A rule is compiled once, when its CRD is served; evaluation never parses.
- Transition rules (those naming ``oldSelf``) run only on updates where the old value exists,
  as upstream; other rules run on every write.
- Evaluation never raises: a failed or erroring rule becomes a message for a field error.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import cel

_OLD_SELF: Final = re.compile(r"\boldSelf\b")
_REASONS: Final = frozenset(
    {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}
)


def _index_of(receiver: Any, needle: Any, *start: int) -> int:
    if isinstance(receiver, str):
        return receiver.find(str(needle), *start)
    try:
        return list(receiver).index(needle)
    except ValueError:
        return -1


def _last_index_of(receiver: Any, needle: Any) -> int:
    if isinstance(receiver, str):
        return receiver.rfind(str(needle))
    items = list(receiver)
    for i in range(len(items) - 1, -1, -1):
        if items[i] == needle:
            return i
    return -1


def _split(text: str, sep: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    return text.split(sep, limit - 1) if limit > 0 else text.split(sep)


def _replace(text: str, old: str, new: str, limit: int = -1) -> str:
    return text.replace(old, new, limit)


def _is_sorted(items: list[Any]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(items))


#: Kubernetes' CEL extension functions that are cheap to provide in Python.
EXTENSIONS: Final[Mapping[str, Callable[..., Any]]] = {
    "lowerAscii": lambda s: s.lower(),
    "upperAscii": lambda s: s.upper(),
    "trim": lambda s: s.strip(),
    "split": _split,
    "join": lambda items, sep="": sep.join(items),
    "replace": _replace,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "isSorted": _is_sorted,
    "sum": lambda items: sum(items),
    "min": lambda items: min(items),
    "max": lambda items: max(items),
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled ``x-kubernetes-validations`` entry."""

    rule: str
    program: Any
    message: str = ""
    message_expression: Any = None
    field_path: str = ""
    reason: str = "FieldValueInvalid"
    transition: bool = False

    @property
    def failure_message(self) -> str:
        """What upstream says when the rule is false and no message evaluates."""
        return self.message or f"failed rule: {self.rule}"


class RuleCompileError(ValueError):
    """A rule that does not parse; ``index`` is its position in the list."""

    def __init__(self, index: int, rule: str, detail: str) -> None:
        super().__init__(f"compilation failed: {detail}")
        self.index = index
        self.rule = rule


def compile_rules(raw: Iterable[Any]) -> tuple[Rule, ...]:
    rules = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("rule"), str):
            continue
        text = entry["rule"]
        try:
            program = cel.compile(text)
            expression = entry.get("messageExpression")
            message_program = cel.compile(expression) if isinstance(expression, str) else None
        except (ValueError, RuntimeError) as exc:
            raise RuleCompileError(i, text, str(exc).splitlines()[0]) from None
        reason = str(entry.get("reason") or "FieldValueInvalid")
        rules.append(
            Rule(
                rule=text,
                program=program,
                message=str(entry.get("message") or ""),
                message_expression=message_program,
                field_path=str(entry.get("fieldPath") or ""),
                reason=reason if reason in _REASONS else "FieldValueInvalid",
                transition=bool(_OLD_SELF.search(text)),
            )
        )
    return tuple(rules)


def _context(self_value: Any, old_value: Any, transition: bool) -> Any:
    context = cel.Context()
    for name, fn in EXTENSIONS.items():
        context.add_function(name, fn)
    context.add_variable("self", self_value)
    if transition:
        context.add_variable("oldSelf", old_value)
    return context


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no such key: {exc.args[0] if exc.args else ''}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def evaluate(rule: Rule, self_value: Any, old_value: Any = None, *, has_old: bool = False) -> str:
    """The failure message of ``rule`` on ``self_value`` ("" when it holds or does not apply)."""
    if rule.transition and not has_old:
        return ""
    context = _context(self_value, old_value, rule.transition)
    try:
        result = rule.program.execute(context)
    except Exception as exc:  # the library raises KeyError, TypeError, ValueError, RuntimeError
        return f"{rule.failure_message}: {_describe(exc)}"
    if result is True:
        return ""
    if result is not False:
        return f"{rule.failure_message}: rule did not evaluate to a boolean"
    if rule.message_expression is not None:
        try:
            text = rule.message_expression.execute(context)
        except Exception:  # upstream falls back to the static message, as here
            text = None
        if isinstance(text, str) and text.strip():
            return text
    return rule.failure_message
