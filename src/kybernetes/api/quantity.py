"""Resource quantities (``k8s.io/apimachinery/pkg/api/resource``): ``100m``, ``1Gi``, ``12e6``.

A ``Quantity`` is an exact decimal ``mantissa * 10**exponent`` plus the ``Format`` it was written
in. Invariants:

- Every value is a whole number of nano-units: parsing rounds up (away from zero) to ``1e-9``
  exactly as upstream does, and sums, differences and integer multiples stay on that grid.
- The mantissa carries no trailing decimal zeros, so equal values have one representation:
  equality, hashing and ordering are by value (``1Gi == 1073741824``, ``1000m == 1``) and ignore
  the format.
- ``str()`` is what Kubernetes serialises. A freshly parsed string that upstream's fast path
  deems canonical is kept verbatim (upstream caches it, so ``"+1"`` and ``"1.001"`` come back
  unchanged); anything else is printed in canonical form: the largest suffix that loses nothing,
  binary SI only for exact integers of magnitude at least 1024, decimal SI otherwise, or a decimal
  exponent when written that way.

Deliberate differences from apimachinery 1.32, all for values no cluster uses:

- A value past the largest suffix keeps its magnitude: decimal SI above ``999E`` prints with a
  decimal exponent (``1000E`` -> ``1e21``) and binary SI from ``1024Ei`` in plain decimal digits;
  1.32 drops the suffix and prints ``1``, a bug fixed upstream since.
- ``value()`` and ``milli_value()`` return exact integers instead of wrapping past int64, and
  round away from zero for negative values on every path.
- Numbers whose digits or results need more than ``MAX_DIGITS`` decimal digits are refused
  (``QuantityError`` when parsing, ``OverflowError`` in arithmetic) instead of being built.
"""

from __future__ import annotations

import re
from enum import StrEnum
from fractions import Fraction

__all__ = [
    "MAX_DIGITS",
    "Format",
    "Quantity",
    "QuantityError",
    "parse_quantity",
]

#: Largest number of decimal digits a quantity may need (Python's default int/str limit).
MAX_DIGITS = 4300

_INT64_MAX = 2**63 - 1
_NANO = -9


class QuantityError(ValueError):
    """A string that is not a quantity; the message is upstream's."""


_SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_ERR_FORMAT = f"quantities must match the regular expression '{_SPLIT_RE}'"
_ERR_NUMERIC = "unable to parse numeric part of quantity"
_ERR_SUFFIX = "unable to parse quantity's suffix"


class Format(StrEnum):
    """How a quantity was written, and so how it is printed."""

    DECIMAL_EXPONENT = "DecimalExponent"
    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"


_DECIMAL_SUFFIXES = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {e: s for s, e in _BINARY_SUFFIXES.items()}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")
_EXPONENT_RE = re.compile(r"[eE][+-]?[0-9]+")


def _pow10(exponent: int) -> int:
    """``10**exponent`` for a non-negative exponent, typed as the integer it is."""
    power: int = 10**exponent
    return power


def _strip_tens(mantissa: int, exponent: int) -> tuple[int, int]:
    """Move trailing decimal zeros of ``mantissa`` into ``exponent`` (zero becomes ``(0, 0)``)."""
    if mantissa == 0:
        return 0, 0
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    return mantissa, exponent


def _digit_count(number: int) -> int:
    """Decimal digits of ``abs(number)``, without converting it to a string."""
    number = abs(number)
    estimate = max(1, (number.bit_length() * 30103) // 100000)  # floor(bits * log10(2))
    if number >= _pow10(estimate):
        estimate += 1
    return estimate


class Quantity:
    """An immutable, hashable, ordered resource quantity. Build with ``parse_quantity``."""

    __slots__ = ("_exponent", "_mantissa", "_text", "format")

    _mantissa: int
    _exponent: int
    _text: str | None
    format: Format

    def __init__(self, value: int = 0, format: Format = Format.DECIMAL_SI) -> None:
        """The integer ``value`` in ``format`` (``resource.NewQuantity``)."""
        self._mantissa, self._exponent = _strip_tens(value, 0)
        self.format = format
        self._text = None

    @classmethod
    def _make(
        cls, mantissa: int, exponent: int, format: Format, text: str | None = None
    ) -> Quantity:
        q = cls.__new__(cls)
        q._mantissa, q._exponent = _strip_tens(mantissa, exponent)
        q.format = format
        q._text = text
        return q

    @classmethod
    def from_milli(cls, milli: int, format: Format = Format.DECIMAL_SI) -> Quantity:
        """``milli / 1000`` in ``format`` (``resource.NewMilliQuantity``)."""
        return cls._make(milli, -3, format)

    # -- value access -----------------------------------------------------------------------

    def sign(self) -> int:
        return (self._mantissa > 0) - (self._mantissa < 0)

    def is_zero(self) -> bool:
        return self._mantissa == 0

    def as_fraction(self) -> Fraction:
        """The exact value."""
        if self._exponent >= 0:
            return Fraction(self._mantissa * _pow10(self._exponent))
        return Fraction(self._mantissa, _pow10(-self._exponent))

    def scaled_value(self, scale: int) -> int:
        """The value in units of ``10**scale``, rounded away from zero (``ScaledValue``)."""
        shift = self._exponent - scale
        if shift >= 0:
            if _digit_count(self._mantissa) + shift > MAX_DIGITS:
                raise OverflowError("quantity is too large to convert to an integer")
            return self._mantissa * _pow10(shift)
        if -shift > _digit_count(self._mantissa):
            return self.sign()  # a non-zero magnitude below one unit rounds to one unit
        magnitude, remainder = divmod(abs(self._mantissa), _pow10(-shift))
        if remainder:
            magnitude += 1
        return magnitude * self.sign()

    def value(self) -> int:
        """The value rounded up to a whole number, away from zero (``Value()``)."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """The value in thousandths, rounded up away from zero (``MilliValue()``)."""
        return self.scaled_value(-3)

    # -- arithmetic -------------------------------------------------------------------------

    def _aligned(self, other: Quantity) -> tuple[int, int, int]:
        """Both mantissas over the smaller exponent, and that exponent."""
        low = min(self._exponent, other._exponent)
        digits = max(
            _digit_count(self._mantissa) + self._exponent - low,
            _digit_count(other._mantissa) + other._exponent - low,
        )
        if digits > MAX_DIGITS:
            raise OverflowError("quantity arithmetic needs more than MAX_DIGITS digits")
        return (
            self._mantissa * _pow10(self._exponent - low),
            other._mantissa * _pow10(other._exponent - low),
            low,
        )

    def __add__(self, other: Quantity) -> Quantity:
        """The sum; a zero left side takes the right side's format, as upstream ``Add``."""
        if not isinstance(other, Quantity):
            return NotImplemented
        a, b, exponent = self._aligned(other)
        return Quantity._make(a + b, exponent, other.format if a == 0 else self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        """The difference; a zero left side takes the right side's format, as upstream ``Sub``."""
        if not isinstance(other, Quantity):
            return NotImplemented
        a, b, exponent = self._aligned(other)
        return Quantity._make(a - b, exponent, other.format if a == 0 else self.format)

    def __mul__(self, factor: int) -> Quantity:
        """The quantity times an integer (``Mul``)."""
        if not isinstance(factor, int) or isinstance(factor, bool):
            return NotImplemented
        return Quantity._make(self._mantissa * factor, self._exponent, self.format)

    __rmul__ = __mul__

    def __neg__(self) -> Quantity:
        return Quantity._make(-self._mantissa, self._exponent, self.format)

    def __abs__(self) -> Quantity:
        return self if self._mantissa >= 0 else -self

    # -- comparison -------------------------------------------------------------------------

    def cmp(self, other: Quantity) -> int:
        """-1, 0 or 1 as ``self`` is less than, equal to or greater than ``other``."""
        sa, sb = self.sign(), other.sign()
        if sa != sb or sa == 0:
            return (sa > sb) - (sa < sb)
        # Same non-zero sign: compare magnitudes by their number of integer digits first, so
        # wildly different exponents never get expanded.
        size_a = _digit_count(self._mantissa) + self._exponent
        size_b = _digit_count(other._mantissa) + other._exponent
        if size_a != size_b:
            return sa if size_a > size_b else -sa
        # Equal integer-digit counts bound the expansion by the mantissas' own lengths.
        low = min(self._exponent, other._exponent)
        a = self._mantissa * _pow10(self._exponent - low)
        b = other._mantissa * _pow10(other._exponent - low)
        return (a > b) - (a < b)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._mantissa == other._mantissa and self._exponent == other._exponent

    def __hash__(self) -> int:
        return hash((self._mantissa, self._exponent))

    def __lt__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.cmp(other) < 0

    def __le__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.cmp(other) <= 0

    def __gt__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.cmp(other) > 0

    def __ge__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.cmp(other) >= 0

    # -- printing ---------------------------------------------------------------------------

    def canonical(self) -> str:
        """The canonical form (``CanonicalizeBytes``), ignoring any remembered input string."""
        mantissa, exponent = self._mantissa, self._exponent
        if mantissa == 0:
            return "0"
        if self.format is Format.BINARY_SI and exponent >= 0:
            binary = self._binary_form(mantissa * _pow10(exponent))
            if binary is not None:
                return binary
        while exponent % 3:
            mantissa *= 10
            exponent -= 1
        if self.format is not Format.DECIMAL_EXPONENT:
            decimal_suffix = _DECIMAL_BY_EXPONENT.get(exponent)
            if decimal_suffix is not None:
                return f"{mantissa}{decimal_suffix}"
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)

    @staticmethod
    def _binary_form(whole: int) -> str | None:
        """``whole`` with the largest binary suffix, if it is large enough and one fits."""
        if abs(whole) < 1024:
            return None
        power = 0
        while whole % 1024 == 0:
            whole //= 1024
            power += 10
        if power == 0:
            return str(whole)
        suffix = _BINARY_BY_EXPONENT.get(power)
        return None if suffix is None else f"{whole}{suffix}"

    def __str__(self) -> str:
        return self._text if self._text is not None else self.canonical()

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"


def _split(text: str) -> tuple[bool, str, str, str, bool]:
    """Upstream's hand-written scanner: (positive, num, denom, suffix, has_digits).

    ``num`` has leading zeros removed and is ``"0"`` when empty; ``denom`` is the fraction's
    digits. Raises ``QuantityError`` where the scanner reports a malformed string.
    """
    end = len(text)
    pos = 0
    positive = True
    if end and text[0] in "+-":
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    has_digits = any(ch in _DIGITS for ch in text[:suffix_start])
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(_ERR_FORMAT)
    return positive, num, denom, text[suffix_start:], has_digits


def _interpret(suffix: str) -> tuple[int, int, Format]:
    """(base, exponent, format) for a suffix, or ``QuantityError``."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], Format.BINARY_SI
    if _EXPONENT_RE.fullmatch(suffix):
        exponent = int(suffix[1:])
        if -(2**63) <= exponent < 2**63:
            # Upstream stores the exponent in an int32, wrapping larger ones.
            return 10, (exponent + 2**31) % 2**32 - 2**31, Format.DECIMAL_EXPONENT
    raise QuantityError(_ERR_SUFFIX)


def _fast_path(num: str, denom: str, base: int, exponent: int) -> bool:
    """Whether upstream parses this into its int64 representation without rounding."""
    if base == 2:
        return not denom and 15 - len(num) - (exponent * 3) // 10 - 1 >= 0
    return 18 - len(num) - len(denom) >= 0 and exponent - len(denom) >= _NANO


def _keeps_text(num: str, denom: str, base: int, exponent: int) -> bool:
    """Whether upstream remembers the input as its canonical string (fast path only)."""
    shifted = num + denom
    if base == 2:
        return int(shifted) & 7 != 0
    return (exponent - len(denom)) % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


def _round_to_nano(mantissa: int, exponent: int) -> tuple[int, int]:
    """Round a non-negative value up to a whole number of nano-units."""
    if exponent >= _NANO or mantissa == 0:
        return mantissa, exponent
    shift = _NANO - exponent
    if shift > _digit_count(mantissa):
        return 1, _NANO
    whole, remainder = divmod(mantissa, _pow10(shift))
    return whole + (1 if remainder else 0), _NANO


def _exceeds_int64(mantissa: int, exponent: int) -> bool:
    if exponent < 0:
        return mantissa > _INT64_MAX * _pow10(-exponent)
    return _digit_count(mantissa) + exponent > 19 or mantissa * _pow10(exponent) > _INT64_MAX


def parse_quantity(value: str | int | float) -> Quantity:
    """Parse a quantity string, or a JSON number (``resource.ParseQuantity``).

    Like upstream, no surrounding whitespace is accepted; the error messages are upstream's.
    """
    if isinstance(value, bool):
        raise QuantityError(_ERR_FORMAT)
    text = value if isinstance(value, str) else repr(value)
    if not text:
        raise QuantityError(_ERR_FORMAT)
    if text == "0":
        return Quantity._make(0, 0, Format.DECIMAL_SI, "0")
    positive, num, denom, suffix, has_digits = _split(text)
    base, exponent, fmt = _interpret(suffix)
    fast = _fast_path(num, denom, base, exponent)
    if not fast and not has_digits:
        raise QuantityError(_ERR_NUMERIC)
    digits = (num + denom).lstrip("0")
    significant = digits.rstrip("0")
    if len(significant) > MAX_DIGITS:
        raise QuantityError(_ERR_NUMERIC)
    mantissa = int(significant or "0")
    scale = len(digits) - len(significant) - len(denom)
    if base == 2:
        mantissa <<= exponent
    else:
        scale += exponent
    mantissa, scale = _round_to_nano(mantissa, scale)
    if fmt is Format.BINARY_SI:
        if _exceeds_int64(mantissa, scale):
            mantissa, scale = _INT64_MAX, 0  # upstream caps binary quantities at 2**63-1
        elif mantissa and scale < 0 and mantissa < _pow10(-scale):
            fmt = Format.DECIMAL_SI  # a fraction of one is not printed in binary SI
    kept = text if fast and _keeps_text(num, denom, base, exponent) else None
    return Quantity._make(mantissa if positive else -mantissa, scale, fmt, kept)
