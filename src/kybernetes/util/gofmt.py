"""How Go prints a float64, for messages and encodings that must match upstream byte for byte.

``%v`` (error messages, table cells) and ``encoding/json`` use the same shortest round-trip
digits as Python's ``repr`` and differ only in layout: where they switch to exponent form and
how the exponent is written.
"""

from __future__ import annotations

import math


def _digits(value: float) -> tuple[str, int]:
    """The shortest round-tripping digits of ``abs(value)`` (no leading or trailing zeros) and
    the position of the decimal point: ``abs(value) == 0.<digits> * 10**point``."""
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + int(exp_text or "0") - (len(whole + frac) - len(digits))
    return digits.rstrip("0"), point


def _fixed(sign: str, digits: str, point: int) -> str:
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _head(digits: str) -> str:
    return digits[0] + ("." + digits[1:] if len(digits) > 1 else "")


def format_v(value: float) -> str:
    """Go's ``%v`` of a float64: exponent form below 1e-4 and from 1e+06 (``1e+06``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    digits, point = _digits(value)
    sign = "-" if value < 0 else ""
    exp10 = point - 1
    if exp10 < -4 or exp10 >= 6:
        return f"{sign}{_head(digits)}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    return _fixed(sign, digits, point)


def format_json(value: float) -> str:
    """``encoding/json``'s float64: fixed notation unless below 1e-6 or from 1e21 (``1e+21``,
    ``1e-07``)."""
    if value == 0:
        return "0"
    digits, point = _digits(value)
    sign = "-" if value < 0 else ""
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        exp10 = point - 1
        exp_digits = str(abs(exp10)) if exp10 < 0 else f"{exp10:02d}"
        return f"{sign}{_head(digits)}e{'-' if exp10 < 0 else '+'}{exp_digits}"
    return _fixed(sign, digits, point)
