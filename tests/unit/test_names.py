"""Name and label syntax checks (tables from apimachinery util/validation/validation_test.go)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kybernetes.api.validation import names

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


# TestIsDNS1123Label's good and bad lists (a sample).
@pytest.mark.parametrize(
    "value", ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a", "a" * 63]
)
def test_dns1123_label_accepts(value: str) -> None:
    assert names.is_dns1123_label(value) == []


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        pytest.param("", [LABEL_MSG], id="empty"),
        pytest.param("A", [LABEL_MSG], id="upper"),
        pytest.param("-", [LABEL_MSG], id="dash"),
        pytest.param("a-", [LABEL_MSG], id="trailing-dash"),
        pytest.param("a_b", [LABEL_MSG], id="underscore"),
        pytest.param("a.b", ["must not contain dots"], id="dots"),
        pytest.param("a\n", [LABEL_MSG], id="trailing-newline"),
        pytest.param("a" * 64, ["must be no more than 63 characters"], id="too-long"),
    ],
)
def test_dns1123_label_rejects(value: str, errors: list[str]) -> None:
    assert names.is_dns1123_label(value) == errors


@pytest.mark.parametrize(
    "value", ["a", "a.b.c.d.e", "aaa.bbb.ccc", "a1.a-1", "1.2.3.4", "a" * 253, "0.a"]
)
def test_dns1123_subdomain_accepts(value: str) -> None:
    assert names.is_dns1123_subdomain(value) == []


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        pytest.param("", [SUBDOMAIN_MSG], id="empty"),
        pytest.param("a..b", [SUBDOMAIN_MSG], id="double-dot"),
        pytest.param(".a", [SUBDOMAIN_MSG], id="leading-dot"),
        pytest.param("Bad_Name", [SUBDOMAIN_MSG], id="upper-underscore"),
        pytest.param("a" * 254, ["must be no more than 253 characters"], id="too-long"),
        pytest.param("A" * 254, ["must be no more than 253 characters", SUBDOMAIN_MSG], id="both"),
    ],
)
def test_dns1123_subdomain_rejects(value: str, errors: list[str]) -> None:
    assert names.is_dns1123_subdomain(value) == errors


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        pytest.param("abc-123", [], id="ok"),
        pytest.param("1abc", [DNS1035_MSG], id="leading-digit"),
        pytest.param("a.b", [DNS1035_MSG], id="dot"),
        pytest.param("a" * 64, ["must be no more than 63 characters"], id="too-long"),
    ],
)
def test_dns1035_label(value: str, errors: list[str]) -> None:
    assert names.is_dns1035_label(value) == errors


# TestIsQualifiedName's good list.
@pytest.mark.parametrize(
    "value",
    [
        "simple",
        "now-with-dashes",
        "1-starts-with-num",
        "1234",
        "simple/simple",
        "now-with-dashes/simple",
        "now-with-dashes/now-with-dashes",
        "now.with.dots/simple",
        "now-with.dashes-and.dots/simple",
        "1-num.2-num/3-num",
        "1234/5678",
        "1.2.3.4/5678",
        "Uppercase_Is_OK_123",
        "example.com/Uppercase_Is_OK_123",
        "requests.storage-foo",
        "a" * 63,
        "a" * 253 + "/" + "b" * 63,
    ],
)
def test_qualified_name_accepts(value: str) -> None:
    assert names.is_qualified_name(value) == []


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        pytest.param("", ["name part must be non-empty", NAME_PART_MSG], id="empty"),
        pytest.param("nospecialchars%^=@", [NAME_PART_MSG], id="special"),
        pytest.param(
            "example.com/", ["name part must be non-empty", NAME_PART_MSG], id="empty-name"
        ),
        pytest.param("/simple", ["prefix part must be non-empty"], id="empty-prefix"),
        pytest.param(
            "Bad/name",
            ["prefix part " + SUBDOMAIN_MSG],
            id="bad-prefix",
        ),
        pytest.param(
            "a" * 64,
            ["name part must be no more than 63 characters"],
            id="too-long",
        ),
        pytest.param(
            "a/b/c",
            [
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
                "must start and end with an alphanumeric character (e.g. 'MyName',  or "
                "'my.name',  or '123-abc', regex used for validation is "
                "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
                "prefix and '/' (e.g. 'example.com/MyName')"
            ],
            id="two-slashes",
        ),
    ],
)
def test_qualified_name_rejects(value: str, errors: list[str]) -> None:
    assert names.is_qualified_name(value) == errors


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        pytest.param("", [], id="empty-ok"),
        pytest.param("my_value", [], id="underscore-ok"),
        pytest.param("-x", [LABEL_VALUE_MSG], id="leading-dash"),
        pytest.param("a b", [LABEL_VALUE_MSG], id="space"),
        pytest.param("é", [LABEL_VALUE_MSG], id="non-ascii"),
        pytest.param("x" * 64, ["must be no more than 63 characters"], id="too-long"),
        # Go counts bytes: 32 two-byte characters are 64 bytes.
        pytest.param("é" * 32, ["must be no more than 63 characters", LABEL_VALUE_MSG], id="bytes"),
    ],
)
def test_label_value(value: str, errors: list[str]) -> None:
    assert names.is_valid_label_value(value) == errors


@pytest.mark.parametrize(
    ("check", "name", "prefix", "ok"),
    [
        pytest.param(names.name_is_dns_subdomain, "web-", True, True, id="subdomain-prefix"),
        pytest.param(names.name_is_dns_subdomain, "web-", False, False, id="subdomain-name"),
        pytest.param(names.name_is_dns_label, "ns-", True, True, id="label-prefix"),
        pytest.param(names.name_is_dns1035_label, "svc-", True, True, id="1035-prefix"),
        pytest.param(names.name_is_dns1035_label, "1svc", False, False, id="1035-digit"),
    ],
)
def test_name_validators(
    check: Callable[[str, bool], list[str]], name: str, prefix: bool, ok: bool
) -> None:
    assert (check(name, prefix) == []) is ok


def test_regex_error_without_examples() -> None:
    assert names.regex_error("bad", "x+") == "bad (regex used for validation is 'x+')"


_label = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)
_qname = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", fullmatch=True)


@given(_label)
def test_generated_labels_are_labels_and_subdomains(value: str) -> None:
    assert names.is_dns1123_label(value) == []
    assert names.is_dns1123_subdomain(value) == []
    assert names.is_valid_label_value(value) == []


@given(st.lists(_label, min_size=1, max_size=4).map(".".join), _qname)
def test_generated_qualified_names(prefix: str, name: str) -> None:
    assert names.is_qualified_name(name) == []
    if len(prefix) <= 253:
        assert names.is_qualified_name(f"{prefix}/{name}") == []
