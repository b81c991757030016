"""Label selectors, checked against apimachinery's labels/selector_test.go tables.

Every expected string and error message below was also confirmed against apimachinery v0.32.1.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kybernetes.api import selectors
from kybernetes.api.selectors import (
    EVERYTHING,
    NOTHING,
    Operator,
    Requirement,
    SelectorError,
    from_label_selector,
    from_set,
    new_requirement,
    parse,
    validated_from_set,
)

VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
KEY_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
QUALIFIED_MSG = (
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
    "subdomain prefix and '/' (e.g. 'example.com/MyName')"
)


# TestSelectorParse's good strings, TestSetSelectorParser and TestToString.
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        pytest.param("", "", id="empty"),
        pytest.param("x=a,y=b,z=c", "x=a,y=b,z=c", id="equalities"),
        pytest.param("x!=a,y=b", "x!=a,y=b", id="not-equals"),
        pytest.param("x=", "x=", id="empty-value"),
        pytest.param("x= ,z= ", "x=,z=", id="empty-values-spaces"),
        pytest.param("!x", "!x", id="does-not-exist"),
        pytest.param("x>1,z<5", "x>1,z<5", id="gt-lt"),
        pytest.param("a==b", "a==b", id="double-equals-kept"),
        pytest.param("b=1,a=2", "a=2,b=1", id="sorted-by-key"),
        pytest.param("a=2,a=1", "a=2,a=1", id="stable-for-same-key"),
        pytest.param("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()", id="sets"),
        pytest.param("a in (c,b,a)", "a in (a,b,c)", id="values-sorted"),
        pytest.param("a in (x,x)", "a in (x)", id="values-deduplicated"),
        pytest.param("a in (,)", "a in ()", id="only-commas"),
        pytest.param("a in (in)", "a in (in)", id="keyword-as-value"),
        pytest.param("in in (notin)", "in in (notin)", id="keywords-as-key-and-value"),
        pytest.param(" a = b ", "a=b", id="whitespace"),
        pytest.param("\ta\n", "a", id="tab-newline"),
        pytest.param("k8s.io/app=web", "k8s.io/app=web", id="prefixed-key"),
    ],
)
def test_parse_canonical(text: str, canonical: str) -> None:
    selector = parse(text)
    assert str(selector) == canonical
    assert parse(canonical) == selector


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "x=a||y=b",
            'unable to parse requirement: values[0][x]: Invalid value: "a||y": ' + VALUE_MSG,
            id="or-operator",
        ),
        pytest.param("x==a==b", "found '==', expected: ',' or 'end of string'", id="chained"),
        pytest.param("!x=a", "found '=', expected: ',' or 'end of string'", id="not-with-value"),
        pytest.param(
            "x<a",
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' "
            "operators, the value must be an integer",
            id="lt-not-integer",
        ),
        pytest.param(
            "a b",
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
            id="missing-operator",
        ),
        pytest.param(",a", "found ',', expected: !, identifier, or 'end of string'", id="lead"),
        pytest.param("a,", "found '', expected: identifier after ','", id="trailing-comma"),
        pytest.param("a in b", "unable to parse requirement: found 'b' expected: '('", id="no-("),
        pytest.param(
            "a in (b", "unable to parse requirement: found '', expected: ',' or ')'", id="no-)"
        ),
        pytest.param(
            "a in (b c)",
            "unable to parse requirement: found 'c', expected: ',' or ')'",
            id="space-in-set",
        ),
        pytest.param("!", "unable to parse requirement: found '', expected: identifier", id="!"),
        pytest.param(
            "a=(", "unable to parse requirement: found '(', expected: identifier", id="paren"
        ),
        pytest.param(
            "(a)", "found '(', expected: !, identifier, or 'end of string'", id="leading-paren"
        ),
        pytest.param(
            "x/y/z",
            'unable to parse requirement: <nil>: Invalid value: "x/y/z": ' + QUALIFIED_MSG,
            id="bad-key",
        ),
        pytest.param(
            "a=" + "x" * 64,
            f'unable to parse requirement: values[0][a]: Invalid value: "{"x" * 64}": '
            "must be no more than 63 characters",
            id="long-value",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        parse(text)
    assert str(err.value) == message


# "-3" is a valid label value only on the labels side; a selector value must start alphanumeric.
LABELS = {"a": "1", "b": "x", "n": "-3", "w": "web"}


# TestSelectorMatches and TestRequirementSelectorMatching.
@pytest.mark.parametrize(
    ("text", "matches"),
    [
        pytest.param("", True, id="everything"),
        pytest.param("a=1", True, id="equals"),
        pytest.param("a==1", True, id="double-equals"),
        pytest.param("a=2", False, id="equals-other"),
        pytest.param("a!=2", True, id="not-equals"),
        pytest.param("zz!=2", True, id="not-equals-missing"),
        pytest.param("zz=", False, id="empty-value-needs-key"),
        pytest.param("a in (1,2)", True, id="in"),
        pytest.param("zz notin (1)", True, id="notin-missing"),
        pytest.param("b notin (x)", False, id="notin"),
        pytest.param("a", True, id="exists"),
        pytest.param("!a", False, id="does-not-exist"),
        pytest.param("!zz", True, id="does-not-exist-missing"),
        pytest.param("a>0", True, id="gt"),
        pytest.param("a<1", False, id="lt-equal"),
        pytest.param("n<0", True, id="lt-negative-label"),
        pytest.param("b>0", False, id="gt-non-integer-label"),
        pytest.param("zz>0", False, id="gt-missing"),
        pytest.param("a=1,w=web,!zz", True, id="conjunction"),
        pytest.param("a=1,w=db", False, id="conjunction-fails"),
    ],
)
def test_matches(text: str, matches: bool) -> None:
    assert parse(text).matches(LABELS) is matches


def test_everything_and_nothing() -> None:
    assert EVERYTHING.matches({})
    assert EVERYTHING.matches(LABELS)
    assert EVERYTHING.is_empty
    assert str(EVERYTHING) == ""
    assert not NOTHING.matches({})
    assert not NOTHING.matches(LABELS)
    assert not NOTHING.is_empty
    assert NOTHING.is_nothing
    assert str(NOTHING) == ""
    assert NOTHING != EVERYTHING
    assert parse("") == EVERYTHING
    assert NOTHING.add(Requirement("a", Operator.EXISTS)) is NOTHING


def test_add_keeps_selectors_immutable() -> None:
    base = parse("b=1")
    extended = base.add(new_requirement("a", "in", ["x"]))
    assert str(base) == "b=1"
    assert str(extended) == "a in (x),b=1"
    assert len({base, extended, parse("b=1")}) == 2
    with pytest.raises(AttributeError):
        base.foo = 1  # type: ignore[attr-defined]


# TestRequiresExactMatch.
@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        pytest.param("a=1", "a", "1", id="equals"),
        pytest.param("a==1", "a", "1", id="double-equals"),
        pytest.param("a in (1)", "a", "1", id="in-one"),
        pytest.param("a in (1,2)", "a", None, id="in-two"),
        pytest.param("a!=1", "a", None, id="not-equals"),
        pytest.param("b=1", "a", None, id="other-key"),
    ],
)
def test_requires_exact_match(text: str, key: str, value: str | None) -> None:
    assert parse(text).requires_exact_match(key) == value


# TestRequirementConstructor.
@pytest.mark.parametrize(
    ("key", "op", "values", "message"),
    [
        pytest.param(
            "x1",
            "in",
            [],
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set "
            "can't be empty",
            id="in-empty",
        ),
        pytest.param(
            "x1",
            "=",
            ["a", "b"],
            'values: Invalid value: []string{"a", "b"}: exact-match compatibility requires one '
            "single value",
            id="equals-two",
        ),
        pytest.param(
            "x1",
            "exists",
            ["a"],
            'values: Invalid value: []string{"a"}: values set must be empty for exists and '
            "does not exist",
            id="exists-with-value",
        ),
        pytest.param(
            "x1",
            "gt",
            ["1", "2"],
            "values: Invalid value: []string{\"1\", \"2\"}: for 'Gt', 'Lt' operators, exactly "
            "one value is required",
            id="gt-two",
        ),
        pytest.param(
            "x1",
            "foo",
            ["a"],
            'operator: Unsupported value: "foo": supported values: "in", "notin", "=", "==", '
            '"!=", "gt", "lt", "exists", "!"',
            id="unknown-operator",
        ),
        pytest.param(
            "-x",
            "in",
            ["@", "ok"],
            f'[key: Invalid value: "-x": {KEY_MSG}, values[0][-x]: Invalid value: "@": '
            f"{VALUE_MSG}]",
            id="several-errors",
        ),
        pytest.param(
            "x" * 64,
            "exists",
            [],
            f'key: Invalid value: "{"x" * 64}": name part must be no more than 63 characters',
            id="long-key",
        ),
    ],
)
def test_new_requirement_errors(key: str, op: str, values: list[str], message: str) -> None:
    with pytest.raises(SelectorError) as err:
        new_requirement(key, op, values)
    assert str(err.value) == message


def test_new_requirement_path_prefix() -> None:
    with pytest.raises(SelectorError) as err:
        new_requirement("a", "in", [], path="spec.selector")
    assert str(err.value).startswith("spec.selector.values: Invalid value: []string(nil): ")


def test_requirement_keeps_values_in_given_order() -> None:
    requirement = new_requirement("a", Operator.IN, ["z", "y", "z"])
    assert requirement.values == ("z", "y", "z")
    assert str(requirement) == "a in (y,z,z)"


# metav1.LabelSelectorAsSelector (helpers_test.go TestLabelSelectorAsSelector).
@pytest.mark.parametrize(
    ("label_selector", "canonical"),
    [
        pytest.param({}, "", id="empty"),
        pytest.param({"matchLabels": {}, "matchExpressions": []}, "", id="empty-parts"),
        pytest.param({"matchLabels": {"foo": "bar", "baz": "qux"}}, "baz=qux,foo=bar", id="labels"),
        pytest.param(
            {
                "matchLabels": {"foo": "bar"},
                "matchExpressions": [
                    {"key": "baz", "operator": "In", "values": ["qux", "norf"]},
                    {"key": "a", "operator": "NotIn", "values": ["x"]},
                    {"key": "e", "operator": "Exists"},
                    {"key": "d", "operator": "DoesNotExist", "values": []},
                ],
            },
            "a notin (x),baz in (norf,qux),!d,e,foo=bar",
            id="expressions",
        ),
    ],
)
def test_from_label_selector(label_selector: dict[str, Any], canonical: str) -> None:
    selector = from_label_selector(label_selector)
    assert str(selector) == canonical
    assert selector.is_empty is (canonical == "")


def test_from_label_selector_none_selects_nothing() -> None:
    assert from_label_selector(None) is NOTHING


@pytest.mark.parametrize(
    ("label_selector", "message"),
    [
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]},
            '"Equals" is not a valid label selector operator',
            id="bad-operator",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "values": ["x"]}]},
            '"" is not a valid label selector operator',
            id="missing-operator",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "In"}]},
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set "
            "can't be empty",
            id="in-without-values",
        ),
        pytest.param(
            {"matchLabels": {"a": "b c"}},
            f'values[0][a]: Invalid value: "b c": {VALUE_MSG}',
            id="bad-label-value",
        ),
        pytest.param(
            {"matchLabels": ["a"]},
            "matchLabels must be a map and matchExpressions a list",
            id="malformed",
        ),
    ],
)
def test_from_label_selector_errors(label_selector: dict[str, Any], message: str) -> None:
    with pytest.raises(SelectorError) as err:
        from_label_selector(label_selector)
    assert str(err.value) == message


def test_from_set() -> None:
    assert str(from_set({"b": "2", "a": "1"})) == "a=1,b=2"
    assert from_set({}) == EVERYTHING
    assert from_set({"a": "b c"}).matches({"a": "b c"})  # not validated, like upstream
    with pytest.raises(SelectorError):
        validated_from_set({"a": "b c"})
    assert str(validated_from_set({"b": "2", "a": "1"})) == "a=1,b=2"


def test_operator_spellings() -> None:
    assert [op.value for op in Operator] == [
        "!",
        "=",
        "==",
        "in",
        "!=",
        "notin",
        "exists",
        "gt",
        "lt",
    ]
    assert selectors.Operator("notin") is Operator.NOT_IN


# -- properties --------------------------------------------------------------------------

_key = st.sampled_from(["a", "b", "app", "k8s.io/name", "in", "notin", "x-1"])
_value = st.sampled_from(["", "1", "2", "web", "in", "a.b"])
_term = st.one_of(
    st.builds(lambda k, op, v: f"{k}{op}{v}", _key, st.sampled_from(["=", "==", "!="]), _value),
    st.builds(lambda k: f"{k}>3", _key),
    st.builds(lambda k: f"!{k}", _key),
    _key,
    st.builds(
        lambda k, op, vs: f"{k} {op} ({','.join(vs)})",
        _key,
        st.sampled_from(["in", "notin"]),
        st.lists(_value, max_size=3),
    ),
)
_selector_text = st.lists(_term, max_size=5).map(",".join)
_labels = st.dictionaries(_key, _value, max_size=4)


@given(_selector_text, _labels)
def test_string_form_reparses_to_an_equal_selector(text: str, labels: dict[str, str]) -> None:
    try:
        selector = parse(text)
    except SelectorError:
        assume(False)  # e.g. "a in (,,)", which upstream rejects too
    again = parse(str(selector))
    assert again == selector
    assert hash(again) == hash(selector)
    assert again.matches(labels) is selector.matches(labels)


@given(_selector_text, _labels)
def test_match_is_conjunction_of_requirements(text: str, labels: dict[str, str]) -> None:
    try:
        selector = parse(text)
    except SelectorError:
        assume(False)
    assert selector.matches(labels) is all(r.matches(labels) for r in selector.requirements)
