"""Field selectors, checked against apimachinery's fields/selector_test.go tables.

Every expected string and error message below was also confirmed against apimachinery v0.32.1.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kybernetes.api.fields import (
    EVERYTHING,
    NOTHING,
    FieldRequirement,
    FieldSelectorError,
    escape_value,
    one_term_equal,
    parse,
    unescape_value,
)


# TestSelectorParse and TestSelectorParseWithEscape.
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        pytest.param("", "", id="empty"),
        pytest.param("x=a,y=b,z=c", "x=a,y=b,z=c", id="equalities"),
        pytest.param("x!=a,y=b", "x!=a,y=b", id="not-equals"),
        pytest.param("x==a", "x=a", id="double-equals-prints-single"),
        pytest.param("z=c,x=a", "x=a,z=c", id="sorted-terms"),
        pytest.param("x=", "x=", id="empty-value"),
        pytest.param("x=a,", "x=a", id="trailing-comma"),
        pytest.param(",,x=a", "x=a", id="leading-commas"),
        pytest.param("=", "", id="blank-term-dropped"),
        pytest.param("!=", "", id="blank-negated-term-dropped"),
        pytest.param("=x", "=x", id="empty-field"),
        pytest.param(r"x=a\,b", r"x=a\,b", id="escaped-comma"),
        pytest.param(r"x=a\=b", r"x=a\=b", id="escaped-equals"),
        pytest.param(r"x=a\\b", r"x=a\\b", id="escaped-backslash"),
        pytest.param("x=a!b", "x=a!b", id="bang-in-value"),
        pytest.param("x=!b", "x=!b", id="equals-then-bang"),
        pytest.param("metadata.name=web", "metadata.name=web", id="dotted"),
    ],
)
def test_parse_canonical(text: str, canonical: str) -> None:
    selector = parse(text)
    assert str(selector) == canonical
    assert parse(canonical) == selector


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("x", "invalid selector: 'x'; can't understand 'x'", id="no-operator"),
        pytest.param("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'", id="second-term"),
        pytest.param(
            "x=a=b", "invalid field selector: unescaped character in value: 61", id="bare-equals"
        ),
        pytest.param(
            r"x=a\b", "invalid field selector: invalid escape sequence: \\b", id="bad-escape"
        ),
        pytest.param("x=a\\", "invalid field selector: invalid escape sequence: \\", id="dangling"),
        pytest.param(
            "x==a==b", "invalid field selector: unescaped character in value: 61", id="=="
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(FieldSelectorError) as err:
        parse(text)
    assert str(err.value) == message


FIELDS = {"metadata.name": "web", "spec.nodeName": "", "status.phase": "Running"}


# TestSelectorMatches: a field missing from the set reads as "".
@pytest.mark.parametrize(
    ("text", "matches"),
    [
        pytest.param("", True, id="everything"),
        pytest.param("metadata.name=web", True, id="equals"),
        pytest.param("metadata.name!=web", False, id="not-equals"),
        pytest.param("spec.nodeName=", True, id="empty-value"),
        pytest.param("spec.nodeName!=", False, id="scheduled"),
        pytest.param("other=", True, id="missing-is-empty"),
        pytest.param("metadata.name=web,status.phase!=Running", False, id="conjunction"),
    ],
)
def test_matches(text: str, matches: bool) -> None:
    assert parse(text).matches(FIELDS) is matches


def test_everything_and_nothing() -> None:
    assert EVERYTHING.matches({})
    assert EVERYTHING.is_empty
    assert not NOTHING.matches({})
    assert not NOTHING.is_empty
    assert str(NOTHING) == ""
    assert NOTHING != EVERYTHING
    assert parse("") is EVERYTHING


def test_field_names_and_exact_match() -> None:
    selector = parse("status.phase!=Failed,metadata.name=web,status.phase!=Unknown")
    assert selector.field_names() == ("metadata.name", "status.phase")
    assert selector.requires_exact_match("metadata.name") == "web"
    assert selector.requires_exact_match("status.phase") is None
    assert one_term_equal("spec.nodeName", "n1").requirements == (
        FieldRequirement("spec.nodeName", "n1"),
    )


def test_restrict_to_renames_and_rejects() -> None:
    supported = {"metadata.name", "metadata.namespace", "spec.nodeName"}
    renamed = parse("spec.host=n1").restrict_to(supported, {"spec.host": "spec.nodeName"})
    assert str(renamed) == "spec.nodeName=n1"
    with pytest.raises(FieldSelectorError) as err:
        parse("metadata.name=a,zeta=1,foo=2").restrict_to(supported)
    # Terms are checked in sorted order, as upstream transforms them.
    assert str(err.value) == "field label not supported: foo"


def test_transform_drops_blank_terms() -> None:
    selector = parse("a=1,b=2").transform(lambda f, v: ("", "") if f == "a" else (f, v))
    assert str(selector) == "b=2"
    assert NOTHING.transform(lambda f, v: (f, v)) is NOTHING


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        pytest.param("plain", "plain", id="plain"),
        pytest.param("a,b", r"a\,b", id="comma"),
        pytest.param("a=b", r"a\=b", id="equals"),
        pytest.param("a\\b", r"a\\b", id="backslash"),
        pytest.param(",=\\", r"\,\=\\", id="all"),
    ],
)
def test_escape_round_trip(raw: str, escaped: str) -> None:
    assert escape_value(raw) == escaped
    assert unescape_value(escaped) == raw


# -- properties --------------------------------------------------------------------------

_text = st.text(alphabet=st.sampled_from(list("ab.=,!\\ é")), max_size=10)


@given(_text)
def test_escape_then_unescape_is_identity(value: str) -> None:
    assert unescape_value(escape_value(value)) == value


@given(st.lists(st.tuples(st.sampled_from(["a", "b.c", "x"]), st.booleans(), _text), max_size=4))
def test_string_form_reparses_to_an_equal_selector(terms: list[tuple[str, bool, str]]) -> None:
    text = ",".join(f"{f}{'!=' if neg else '='}{escape_value(v)}" for f, neg, v in terms)
    selector = parse(text)
    assert parse(str(selector)) == selector
    for field, negated, value in terms:
        assert FieldRequirement(field, value, negated) in selector.requirements
