"""IntOrString, checked against apimachinery's util/intstr/intstr_test.go tables.

Every expected value and error message below was also confirmed against apimachinery v0.32.1.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kybernetes.api.intstr import (
    IntOrString,
    IntOrStringError,
    int_value,
    parse,
    scaled_value_from_int_or_percent,
    validate,
)


# TestGetScaledValueFromIntOrPercent.
@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        pytest.param(123, 0, False, 123, id="int"),
        pytest.param("90%", 100, True, 90, id="exact-percent"),
        pytest.param("90%", 95, True, 86, id="round-up"),
        pytest.param("90%", 95, False, 85, id="round-down"),
        pytest.param("25%", 10, True, 3, id="quarter-up"),
        pytest.param("25%", 10, False, 2, id="quarter-down"),
        pytest.param("0%", 10, True, 0, id="zero-percent"),
        pytest.param("-10%", 15, True, -1, id="negative-percent-up"),
        pytest.param("-10%", 15, False, -2, id="negative-percent-down"),
        pytest.param("+50%", 3, True, 2, id="plus-sign"),
        pytest.param("200%", 3, False, 6, id="over-100"),
    ],
)
def test_scaled_value(value: IntOrString, total: int, round_up: bool, expected: int) -> None:
    assert scaled_value_from_int_or_percent(value, total, round_up) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "25",
            "invalid value for IntOrString: invalid type: string is not a percentage",
            id="no-percent-sign",
        ),
        pytest.param(
            "abc%",
            'invalid value for IntOrString: invalid value "abc%": strconv.Atoi: parsing "abc": '
            "invalid syntax",
            id="not-a-number",
        ),
        pytest.param(
            "%",
            'invalid value for IntOrString: invalid value "%": strconv.Atoi: parsing "": '
            "invalid syntax",
            id="bare-percent",
        ),
        pytest.param(
            "1.5%",
            'invalid value for IntOrString: invalid value "1.5%": strconv.Atoi: parsing "1.5": '
            "invalid syntax",
            id="fraction",
        ),
        pytest.param(
            "99999999999999999999%",
            'invalid value for IntOrString: invalid value "99999999999999999999%": '
            'strconv.Atoi: parsing "99999999999999999999": value out of range',
            id="out-of-range",
        ),
        pytest.param(None, "nil value for IntOrString", id="nil"),
        pytest.param(
            True,
            "invalid value for IntOrString: invalid type: neither int nor percentage",
            id="bool",
        ),
    ],
)
def test_scaled_value_errors(value: object, message: str) -> None:
    with pytest.raises(IntOrStringError) as err:
        scaled_value_from_int_or_percent(value, 10, True)  # type: ignore[arg-type]
    assert str(err.value) == message


# TestParse: int32 text becomes an int, anything else stays a string.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("80", 80, id="int"),
        pytest.param("-1", -1, id="negative"),
        pytest.param("http", "http", id="name"),
        pytest.param("25%", "25%", id="percent"),
        pytest.param("2147483648", "2147483648", id="over-int32"),
        pytest.param("", "", id="empty"),
    ],
)
def test_parse(text: str, expected: IntOrString) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(5, 5, id="int"),
        pytest.param("7", 7, id="numeric-string"),
        pytest.param("http", 0, id="name"),
    ],
)
def test_int_value(value: IntOrString, expected: int) -> None:
    assert int_value(value) == expected


@pytest.mark.parametrize("value", [8080, "http", "50%", -(2**31), 2**31 - 1])
def test_validate_accepts(value: IntOrString) -> None:
    assert validate(value) == value


@pytest.mark.parametrize("value", [True, 1.5, None, [], 2**31])
def test_validate_rejects(value: object) -> None:
    with pytest.raises(IntOrStringError):
        validate(value)


@given(st.integers(0, 100), st.integers(0, 10_000))
def test_percent_rounding_brackets_the_exact_value(percent: int, total: int) -> None:
    up = scaled_value_from_int_or_percent(f"{percent}%", total, True)
    down = scaled_value_from_int_or_percent(f"{percent}%", total, False)
    exact = percent * total / 100
    assert down <= exact <= up
    assert up - down in (0, 1)
