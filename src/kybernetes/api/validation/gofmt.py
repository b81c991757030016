"""Go ``%#v`` renderings of the structured values upstream puts in field-error messages.

When a Kubernetes validator reports a struct, map or slice as the bad value, ``field.Error``
prints it with ``%#v`` (Go syntax), so users see messages such as::

    spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web"},
    MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable

Each helper here returns a ``GoValue``: a string wrapper that ``FieldError`` prints verbatim
(through ``str()``, as a Go ``Stringer``). Invariants: map keys are sorted as Go's ``fmt`` sorts
them, strings are quoted with ``strconv.Quote`` rules, and a missing (nil) map, slice or pointer
prints as Go prints nil (``map[string]string(nil)``, ``(*string)(nil)``). Values upstream shows
as heap addresses (pointers to structs inside structs) cannot be reproduced; they print as
``(*T)(0xc000000000)``-shaped placeholders, documented where used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import go_quote

__all__ = [
    "GoValue",
    "go_int_or_string",
    "go_label_selector",
    "go_pointer_placeholder",
    "go_quantity",
    "go_string_map",
    "go_string_slice",
]


@dataclass(frozen=True, slots=True)
class GoValue:
    """Pre-rendered Go syntax; ``str()`` is what ``%#v`` printed."""

    text: str

    def __str__(self) -> str:
        return self.text


def go_string_map(value: object) -> GoValue:
    """``map[string]string{"a":"1", "b":"2"}`` (nil: ``map[string]string(nil)``)."""
    if not isinstance(value, Mapping):
        return GoValue("map[string]string(nil)")
    body = ", ".join(f"{go_quote(str(k))}:{go_quote(str(value[k]))}" for k in sorted(value))
    return GoValue("map[string]string{" + body + "}")


def go_string_slice(value: object) -> GoValue:
    """``[]string{"a", "b"}`` (nil: ``[]string(nil)``)."""
    if not isinstance(value, list):
        return GoValue("[]string(nil)")
    return GoValue("[]string{" + ", ".join(go_quote(str(v)) for v in value) + "}")


def _requirement(expr: Mapping[str, Any]) -> str:
    values = go_string_slice(expr.get("values")) if "values" in expr else GoValue("[]string(nil)")
    return (
        "v1.LabelSelectorRequirement{"
        f"Key:{go_quote(str(expr.get('key', '')))}, "
        f"Operator:{go_quote(str(expr.get('operator', '')))}, "
        f"Values:{values}}}"
    )


def go_label_selector(selector: object) -> GoValue:
    """A ``metav1.LabelSelector`` as ``%#v`` prints it (a nil selector prints ``<nil>``)."""
    if not isinstance(selector, Mapping):
        return GoValue("<nil>")
    expressions = selector.get("matchExpressions")
    if isinstance(expressions, list):
        exprs = (
            "[]v1.LabelSelectorRequirement{"
            + ", ".join(_requirement(e) for e in expressions if isinstance(e, Mapping))
            + "}"
        )
    else:
        exprs = "[]v1.LabelSelectorRequirement(nil)"
    return GoValue(
        "v1.LabelSelector{"
        f"MatchLabels:{go_string_map(selector.get('matchLabels'))}, "
        f"MatchExpressions:{exprs}}}"
    )


def go_int_or_string(value: object) -> GoValue:
    """``intstr.IntOrString{Type:0, IntVal:1, StrVal:""}`` (strings have ``Type:1``)."""
    if isinstance(value, str):
        return GoValue(f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}")
    number = value if isinstance(value, int) and not isinstance(value, bool) else 0
    return GoValue(f'intstr.IntOrString{{Type:0, IntVal:{number}, StrVal:""}}')


def go_pointer_placeholder(type_name: str, value: object) -> str:
    """A nested pointer field: ``(*T)(nil)``, or an address-shaped stand-in when set."""
    return f"(*{type_name})(nil)" if value is None else f"(*{type_name})(0xc000000000)"


def go_quantity(text: str, mantissa: int, exponent: int, fmt: str) -> GoValue:
    """A ``resource.Quantity`` struct as ``%#v`` prints it (its cached string included)."""
    return GoValue(
        "resource.Quantity{"
        f"i:resource.int64Amount{{value:{mantissa}, scale:{exponent}}}, "
        "d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, "
        f"s:{go_quote(text)}, Format:{go_quote(fmt)}}}"
    )
