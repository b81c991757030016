"""``IntOrString`` values (``k8s.io/apimachinery/pkg/util/intstr``): ``3`` or ``"25%"``.

On the wire an IntOrString is a JSON integer (an int32) or a JSON string; in Python it is an
``int`` or a ``str`` and nothing else (``bool`` is rejected although it subclasses ``int``). The
helpers reproduce upstream's arithmetic and error messages, including its float rounding of
percentages.
"""

from __future__ import annotations

import math
import re

from kybernetes.api.errors import go_quote

__all__ = [
    "IntOrString",
    "IntOrStringError",
    "int_value",
    "parse",
    "scaled_value_from_int_or_percent",
    "validate",
]

IntOrString = int | str

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")


class IntOrStringError(ValueError):
    """An IntOrString that is malformed or cannot be used the way it was asked to."""


def validate(value: object) -> IntOrString:
    """Check a decoded JSON value is an int32 or a string, and return it."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if _INT32_MIN <= value <= _INT32_MAX:
            return value
        raise IntOrStringError(f"value {value} overflows int32")
    raise IntOrStringError(
        f"IntOrString must be an integer or a string, not {type(value).__name__}"
    )


def parse(text: str) -> IntOrString:
    """``intstr.Parse``: the int32 ``text`` spells, else ``text`` itself."""
    if _INTEGER_RE.fullmatch(text):
        number = int(text)
        if _INT32_MIN <= number <= _INT32_MAX:
            return number
    return text


def _atoi(text: str) -> int:
    """``strconv.Atoi`` with its error wording."""
    if not _INTEGER_RE.fullmatch(text):
        raise IntOrStringError(f"strconv.Atoi: parsing {go_quote(text)}: invalid syntax")
    number = int(text)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise IntOrStringError(f"strconv.Atoi: parsing {go_quote(text)}: value out of range")
    return number


def int_value(value: IntOrString) -> int:
    """``IntValue()``: the integer, or the string read as an integer (0 when it is not one)."""
    if isinstance(value, int):
        return value
    try:
        return _atoi(value)
    except IntOrStringError:
        return 0


def scaled_value_from_int_or_percent(value: IntOrString | None, total: int, round_up: bool) -> int:
    """``GetScaledValueFromIntOrPercent``: an int as is, or ``"N%"`` of ``total``.

    Percentages round up or down as ``round_up`` says (``"25%"`` of 10 is 3 rounded up, 2
    down). A string without a trailing ``%`` is an error, like upstream.
    """
    if value is None:
        raise IntOrStringError("nil value for IntOrString")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise IntOrStringError(
            "invalid value for IntOrString: invalid type: neither int nor percentage"
        )
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise IntOrStringError(
            "invalid value for IntOrString: invalid type: string is not a percentage"
        )
    try:
        percent = _atoi(value[:-1])
    except IntOrStringError as err:
        raise IntOrStringError(
            f"invalid value for IntOrString: invalid value {go_quote(value)}: {err}"
        ) from None
    # Upstream computes in float64; doing the same keeps results identical at the edges.
    scaled = float(percent) * float(total) / 100
    return int(math.ceil(scaled) if round_up else math.floor(scaled))
