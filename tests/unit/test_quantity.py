"""Resource quantities, checked against apimachinery's api/resource/quantity_test.go tables.

Every expected string below was also confirmed against apimachinery v0.32.1 itself.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kybernetes.api.quantity import Format, Quantity, QuantityError, parse_quantity

FORMAT_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
SUFFIX_ERROR = "unable to parse quantity's suffix"
NUMERIC_ERROR = "unable to parse numeric part of quantity"

DEC, BIN, EXP = Format.DECIMAL_SI, Format.BINARY_SI, Format.DECIMAL_EXPONENT


@pytest.mark.parametrize(
    ("text", "printed", "fmt"),
    [
        # Canonical inputs come back unchanged (TestQuantityParse, TestQuantityString).
        pytest.param("0", "0", DEC, id="zero"),
        pytest.param("1", "1", DEC, id="one"),
        pytest.param("100m", "100m", DEC, id="milli"),
        pytest.param("1Ki", "1Ki", BIN, id="Ki"),
        pytest.param("1Gi", "1Gi", BIN, id="Gi"),
        pytest.param("1E", "1E", DEC, id="exa"),
        pytest.param("12E", "12E", DEC, id="12exa"),
        pytest.param("1e3", "1e3", EXP, id="exponent"),
        pytest.param("12e6", "12e6", EXP, id="exponent-12e6"),
        pytest.param("100M", "100M", DEC, id="mega"),
        pytest.param("5n", "5n", DEC, id="nano"),
        pytest.param("4u", "4u", DEC, id="micro"),
        pytest.param("-1", "-1", DEC, id="negative"),
        # Non-canonical inputs are re-emitted canonically (TestQuantityParseEmit).
        pytest.param("1024Mi", "1Gi", BIN, id="1024Mi"),
        pytest.param("1024Ki", "1Mi", BIN, id="1024Ki"),
        pytest.param("1000M", "1G", DEC, id="1000M"),
        pytest.param(".001Ki", "1024m", BIN, id="milli-Ki"),
        pytest.param(".000001Ki", "1024u", DEC, id="micro-Ki"),
        pytest.param(".000000001Ki", "1024n", DEC, id="nano-Ki"),
        pytest.param(".000000000001Ki", "2n", DEC, id="rounds-up-Ki"),
        pytest.param("1.5Gi", "1536Mi", BIN, id="1.5Gi"),
        pytest.param("1000m", "1", DEC, id="1000m"),
        pytest.param("0.5", "500m", DEC, id="half"),
        pytest.param(".5", "500m", DEC, id="bare-fraction"),
        pytest.param("1000", "1k", DEC, id="1000"),
        pytest.param("1.2e3", "1200", EXP, id="1.2e3"),
        pytest.param("1.7E18", "1700e15", EXP, id="1.7E18"),
        pytest.param("8Ki", "8Ki", BIN, id="8Ki"),
        pytest.param("1023Ki", "1023Ki", BIN, id="1023Ki"),
        pytest.param("0.5Ki", "512", BIN, id="half-Ki"),
        pytest.param("100.035Ki", "102435840m", BIN, id="fractional-Ki"),
        pytest.param("-1.5", "-1500m", DEC, id="negative-fraction"),
        # Rounding up to the nearest nano-unit (TestQuantityParse "saturate/round").
        pytest.param("0.0001", "100u", DEC, id="0.0001"),
        pytest.param("3.001n", "4n", DEC, id="3.001n"),
        pytest.param("1.1E-9", "2e-9", EXP, id="1.1E-9"),
        pytest.param("0.0000000001", "1n", DEC, id="sub-nano"),
        pytest.param("0.00000012345", "124n", DEC, id="0.00000012345"),
        pytest.param("-0.0000000001", "-1n", DEC, id="negative-sub-nano"),
        # Binary SI is capped at 2**63-1 (TestQuantityParse "9Ei").
        pytest.param("9Ei", "9223372036854775807", BIN, id="9Ei-capped"),
        # Upstream keeps a fast-path input verbatim even when it is not canonical.
        pytest.param("+1", "+1", DEC, id="explicit-plus"),
        pytest.param("01", "01", DEC, id="leading-zero"),
        pytest.param("1.", "1.", DEC, id="trailing-dot"),
        pytest.param("1.G", "1.G", DEC, id="trailing-dot-suffix"),
        pytest.param("1.001", "1.001", DEC, id="three-decimals"),
        # Odd but accepted inputs.
        pytest.param("m", "0", DEC, id="bare-suffix"),
        pytest.param(".", "0", DEC, id="bare-dot"),
        pytest.param("0Ki", "0", BIN, id="zero-Ki"),
        # Deliberate fix of a 1.32 bug: upstream prints "1" here.
        pytest.param("1000E", "1e21", DEC, id="beyond-exa"),
    ],
)
def test_parse_and_print(text: str, printed: str, fmt: Format) -> None:
    q = parse_quantity(text)
    assert str(q) == printed
    assert q.format is fmt
    assert parse_quantity(printed) == q


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", FORMAT_ERROR, id="empty"),
        pytest.param("1.2.3", FORMAT_ERROR, id="two-dots"),
        pytest.param("1.1.M", FORMAT_ERROR, id="two-dots-suffix"),
        pytest.param("1+1.0M", FORMAT_ERROR, id="plus-inside"),
        pytest.param("aoeu", FORMAT_ERROR, id="letters"),
        pytest.param(" 1", FORMAT_ERROR, id="leading-space"),
        pytest.param("1 ", FORMAT_ERROR, id="trailing-space"),
        pytest.param("1Gii", SUFFIX_ERROR, id="Gii"),
        pytest.param("0.1mi", SUFFIX_ERROR, id="mi"),
        pytest.param(".5i", SUFFIX_ERROR, id="bare-i"),
        pytest.param("-3.01e-", SUFFIX_ERROR, id="dangling-exponent"),
        pytest.param("1e", SUFFIX_ERROR, id="bare-e"),
        pytest.param("e-10", NUMERIC_ERROR, id="no-digits"),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as err:
        parse_quantity(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        pytest.param(3, "3", id="int"),
        pytest.param(0.5, "500m", id="float"),
        pytest.param(1e20, "100e18", id="float-exponent"),
        pytest.param(-2, "-2", id="negative-int"),
    ],
)
def test_json_numbers(value: int | float, printed: str) -> None:
    assert str(parse_quantity(value)) == printed


@pytest.mark.parametrize("value", [True, float("inf"), float("nan")])
def test_json_non_numbers(value: float) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(value)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param("1Gi", "1073741824", id="Gi-bytes"),
        pytest.param("1000m", "1", id="milli-one"),
        pytest.param("1k", "1e3", id="k-exponent"),
        pytest.param("0.5", "500m", id="half"),
        pytest.param("0", "0Ki", id="zeros"),
    ],
)
def test_equal_across_formats(a: str, b: str) -> None:
    qa, qb = parse_quantity(a), parse_quantity(b)
    assert qa == qb
    assert hash(qa) == hash(qb)
    assert qa.cmp(qb) == 0


# TestQuantityCmp.
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param("0", "0", 0, id="zero"),
        pytest.param("100m", "50m", 1, id="greater"),
        pytest.param("50m", "100m", -1, id="less"),
        pytest.param("10000T", "100Gi", 1, id="mixed"),
        pytest.param("-1", "1n", -1, id="signs"),
        pytest.param("-2", "-1", -1, id="negatives"),
        pytest.param("1e2147483646", "1e100", 1, id="huge-exponent"),
    ],
)
def test_ordering(a: str, b: str, expected: int) -> None:
    qa, qb = parse_quantity(a), parse_quantity(b)
    assert qa.cmp(qb) == expected
    assert (qa < qb) is (expected < 0)
    assert (qa <= qb) is (expected <= 0)
    assert (qa > qb) is (expected > 0)
    assert (qa >= qb) is (expected >= 0)


@pytest.mark.parametrize(
    ("a", "b", "total", "difference"),
    [
        pytest.param("1Gi", "512Mi", "1536Mi", "512Mi", id="binary"),
        pytest.param("100m", "900m", "1", "-800m", id="milli"),
        pytest.param("1", "1Ki", "1025", "-1023", id="keeps-left-format"),
        pytest.param("0", "1Ki", "1Ki", "-1Ki", id="zero-takes-right-format"),
        pytest.param("1e3", "1", "1001", "999", id="exponent"),
    ],
)
def test_arithmetic(a: str, b: str, total: str, difference: str) -> None:
    qa, qb = parse_quantity(a), parse_quantity(b)
    assert str(qa + qb) == total
    assert str(qa - qb) == difference


def test_multiply_and_negate() -> None:
    q = parse_quantity("250m")
    assert str(q * 4) == "1"
    assert str(3 * q) == "750m"
    assert str(-q) == "-250m"
    assert abs(-q) == q


@pytest.mark.parametrize(
    ("text", "value", "milli"),
    [
        pytest.param("1", 1, 1000, id="one"),
        pytest.param("100m", 1, 100, id="rounds-up"),
        pytest.param("1.0001", 2, 1001, id="rounds-up-milli"),
        pytest.param("1Gi", 2**30, 2**30 * 1000, id="Gi"),
        pytest.param("-1.5", -2, -1500, id="away-from-zero"),
        pytest.param("1n", 1, 1, id="nano"),
        pytest.param("0", 0, 0, id="zero"),
        # Exact where upstream's int64 wraps.
        pytest.param("12E", 12 * 10**18, 12 * 10**21, id="beyond-int64"),
    ],
)
def test_value_and_milli_value(text: str, value: int, milli: int) -> None:
    q = parse_quantity(text)
    assert q.value() == value
    assert q.milli_value() == milli


def test_constructors() -> None:
    assert str(Quantity(2048, Format.BINARY_SI)) == "2Ki"
    assert str(Quantity.from_milli(1500)) == "1500m"
    assert str(Quantity()) == "0"
    assert Quantity.from_milli(2500).as_fraction() == Fraction(5, 2)


def test_absurd_sizes_are_refused_not_built() -> None:
    huge = parse_quantity("1e2147483646")
    assert str(huge) == "1e2147483646"
    with pytest.raises(OverflowError):
        huge + parse_quantity("1n")
    with pytest.raises(OverflowError):
        huge.value()
    with pytest.raises(QuantityError):
        parse_quantity("1" * 5000 + ".5")


def test_comparison_with_other_types_is_not_supported() -> None:
    q = parse_quantity("1")
    assert q != 1
    with pytest.raises(TypeError):
        _ = q < 1  # type: ignore[operator]


# -- properties --------------------------------------------------------------------------

_digits = st.text(alphabet="0123456789", min_size=1, max_size=12)
_suffix = st.sampled_from(
    [
        *("", "n", "u", "m", "k", "M", "G", "T", "P", "E"),
        *("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"),
        *("e0", "e3", "e-3", "e7", "E-9", "e+12"),
    ]
)
_quantity_text = st.builds(
    lambda sign, whole, frac, suffix: f"{sign}{whole}{'.' + frac if frac else ''}{suffix}",
    st.sampled_from(["", "-", "+"]),
    _digits,
    st.one_of(st.just(""), _digits),
    _suffix,
)
_quantities = _quantity_text.map(parse_quantity)


@given(_quantities)
def test_printed_form_parses_back_to_the_same_value(q: Quantity) -> None:
    again = parse_quantity(str(q))
    assert again == q
    assert parse_quantity(q.canonical()) == q


@given(_quantities)
def test_canonical_form_is_stable(q: Quantity) -> None:
    canonical = q.canonical()
    assert parse_quantity(canonical).canonical() == canonical


@given(_quantities, _quantities, _quantities)
def test_addition_is_commutative_and_associative(a: Quantity, b: Quantity, c: Quantity) -> None:
    assert a + b == b + a
    assert (a + b) + c == a + (b + c)
    assert (a + b) - b == a


@given(_quantities, _quantities)
def test_order_agrees_with_exact_values(a: Quantity, b: Quantity) -> None:
    fa, fb = a.as_fraction(), b.as_fraction()
    assert a.cmp(b) == (fa > fb) - (fa < fb)
    assert (a == b) is (fa == fb)


@given(_quantities)
def test_values_are_on_the_nano_grid(q: Quantity) -> None:
    assert (q.as_fraction() * 10**9).denominator == 1
    assert q.scaled_value(-9) == q.as_fraction() * 10**9
