"""Building blocks every per-kind validator shares: field paths, value access, scalar checks.

Objects reach the semantic validators as JSON-shaped dicts that already passed structural
validation, but a validator must never crash on a value of the wrong shape (a registry may call
it on partially checked input), so every read goes through the tolerant accessors here: a
missing or mistyped field reads as Go's zero value.

Field paths are plain strings rendered exactly as ``field.Path.String()`` renders them:
``child`` joins with ``.``, ``index`` and ``key`` append ``[i]`` / ``[key]``, and the empty root
path prints as ``[]`` (upstream's quirk for errors about the whole object).

Each checker returns a list of ``FieldError`` in upstream's order; checkers named after an
upstream helper (``is_valid_port_num`` ...) return message strings like ``util/validation`` does.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Hashable, Mapping
from typing import Any

from kybernetes.api.errors import FieldError, forbidden, invalid, required
from kybernetes.api.quantity import Quantity, QuantityError, parse_quantity
from kybernetes.api.selectors import Selector, SelectorError, from_label_selector
from kybernetes.api.validation.names import (
    empty_error,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    max_len_error,
    memoized_messages,
    regex_error,
)

__all__ = [
    "IMMUTABLE",
    "NEGATIVE",
    "as_bool",
    "as_dict",
    "as_int",
    "as_list",
    "as_str",
    "child",
    "frozen_json",
    "has_chdir_prefix",
    "immutable",
    "inclusive_range_error",
    "index",
    "is_config_map_key",
    "is_env_var_name",
    "is_http_header_name",
    "is_relaxed_env_var_name",
    "is_valid_cidr",
    "is_valid_ip",
    "is_valid_path_segment_name",
    "is_valid_percent",
    "is_valid_port_name",
    "is_valid_port_num",
    "is_wildcard_dns1123_subdomain",
    "key",
    "parse_ip",
    "parse_quantity_or_error",
    "quantity_of",
    "selector_of",
    "semantic_equal",
    "validate_dns1123_label",
    "validate_dns1123_subdomain",
    "validate_label_name",
    "validate_label_selector",
    "validate_labels",
    "validate_nonnegative",
    "validate_qualified_name",
]

#: ``apimachineryvalidation.FieldImmutableErrorMsg``.
IMMUTABLE = "field is immutable"
#: ``apimachineryvalidation.IsNegativeErrorMsg``.
NEGATIVE = "must be greater than or equal to 0"

# --------------------------------------------------------------------------------------------
# Paths.


def child(path: str, *names: str) -> str:
    """``path.Child(names...)``."""
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def index(path: str, i: int) -> str:
    """``path.Index(i)``."""
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    """``path.Key(k)``."""
    return f"{path}[{k}]"


# --------------------------------------------------------------------------------------------
# Tolerant accessors: a missing or mistyped value reads as Go's zero value.


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: object) -> str:
    return value if isinstance(value, str) else ""


def as_int(value: object) -> int | None:
    """An integer, or ``None`` for a missing (nil) or mistyped value."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def as_bool(value: object) -> bool:
    return value is True


def _prune(value: Any) -> Any:
    # Semantic equality treats nil and empty slices/maps alike (apimachinery's forked
    # reflect.DeepEqual), so empty containers and nulls are dropped before comparing.
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def semantic_equal(a: Any, b: Any) -> bool:
    """``apiequality.Semantic.DeepEqual`` over JSON values: a missing value differs from a
    present one at the top (a nil pointer), while nested nulls and empty lists or maps compare
    equal to absent ones. Quantities compare as written; defaulting has already put resource
    lists in canonical form on both sides."""
    if (a is None) != (b is None):
        return False
    if a == b:  # equal values prune to equal values; only unequal ones need the pruning
        return True
    return bool(_prune(a) == _prune(b))


def immutable(new: Any, old: Any, path: str, shown: object | None = None) -> list[FieldError]:
    """``ValidateImmutableField``: ``Invalid value: <new>: field is immutable``."""
    if semantic_equal(new, old):
        return []
    return [invalid(path, new if shown is None else shown, IMMUTABLE)]


# --------------------------------------------------------------------------------------------
# Scalar checks returning messages (k8s.io/apimachinery/pkg/util/validation).


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


_PORT_NAME_CHARSET = re.compile(r"[-a-z0-9]+")
_PORT_NAME_LETTER = re.compile(r"[a-z]")


@memoized_messages
def is_valid_port_name(port: str) -> list[str]:
    """An IANA_SVC_NAME: at most 15 of ``[-a-z0-9]``, one letter at least, no ``--``."""
    errs: list[str] = []
    if len(port.encode()) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARSET.fullmatch(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


_PERCENT_FMT = "[0-9]+%"
_PERCENT_RE = re.compile(_PERCENT_FMT)


def is_valid_percent(text: str) -> list[str]:
    if _PERCENT_RE.fullmatch(text):
        return []
    return [
        regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            _PERCENT_FMT,
            "1%",
            "93%",
        )
    ]


_HTTP_HEADER_FMT = "[-A-Za-z0-9]+"
_HTTP_HEADER_RE = re.compile(_HTTP_HEADER_FMT)


def is_http_header_name(name: str) -> list[str]:
    if _HTTP_HEADER_RE.fullmatch(name):
        return []
    return [
        regex_error(
            "a valid HTTP header must consist of alphanumeric characters or '-'",
            _HTTP_HEADER_FMT,
            "X-Header-Name",
        )
    ]


def has_chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


_ENV_VAR_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_VAR_RE = re.compile(_ENV_VAR_FMT)


def is_env_var_name(name: str) -> list[str]:
    """The strict C-like rule (before RelaxedEnvironmentVariableValidation)."""
    errs: list[str] = []
    if not _ENV_VAR_RE.fullmatch(name):
        errs.append(
            regex_error(
                "a valid environment variable name must consist of alphabetic characters, "
                "digits, '_', '-', or '.', and must not start with a digit",
                _ENV_VAR_FMT,
                "my.env-name",
                "MY_ENV.NAME",
                "MyEnvName1",
            )
        )
    return errs + has_chdir_prefix(name)


# A non-empty run of printable ASCII other than ``=``: the names that pass without a message.
_RELAXED_ENV_VAR_RE = re.compile("[\x20-\x3c\x3e-\x7e]+")


def is_relaxed_env_var_name(name: str) -> list[str]:
    """Printable ASCII other than ``=`` (RelaxedEnvironmentVariableValidation, on in 1.32)."""
    if _RELAXED_ENV_VAR_RE.fullmatch(name):
        return []
    errs: list[str] = []
    if not name:
        errs.append("environment variable name " + empty_error())
    if any(not (0x20 <= ord(ch) <= 0x7E) or ch == "=" for ch in name):
        errs.append(
            "a valid environment variable name must consist only of printable ASCII "
            "characters other than '='"
        )
    return errs


_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_MAP_KEY_RE = re.compile(_CONFIG_MAP_KEY_FMT)


def is_config_map_key(k: str) -> list[str]:
    errs: list[str] = []
    if len(k.encode()) > 253:
        errs.append(max_len_error(253))
    if not _CONFIG_MAP_KEY_RE.fullmatch(k):
        errs.append(
            regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_MAP_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    return errs + has_chdir_prefix(k)


_SUBDOMAIN_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_WILDCARD_FMT = r"\*\." + _SUBDOMAIN_FMT
_WILDCARD_RE = re.compile(_WILDCARD_FMT)


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs: list[str] = []
    if len(value.encode()) > 253:
        errs.append(max_len_error(253))
    if not _WILDCARD_RE.fullmatch(value):
        errs.append(
            regex_error(
                "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                "subdomain, which must consist of lower case alphanumeric characters, '-' or "
                "'.' and end with an alphanumeric character",
                _WILDCARD_FMT,
                "*.example.com",
            )
        )
    return errs


def is_valid_path_segment_name(name: str) -> list[str]:
    """``path.IsValidPathSegmentName``: names that can sit in a URL path segment."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


# --------------------------------------------------------------------------------------------
# IP addresses, parsed like Go's netutils.ParseIPSloppy (IPv4 parts may have leading zeros).


@functools.lru_cache(maxsize=4096)  # addresses are immutable; the same few recur
def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if "%" in text or not text:
        return None
    if ":" not in text:
        parts = text.split(".")
        if len(parts) != 4 or not all(p.isdigit() and p.isascii() and len(p) <= 3 for p in parts):
            return None
        octets = [int(p) for p in parts]
        if any(o > 255 for o in octets):
            return None
        return ipaddress.IPv4Address(bytes(octets))
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        return None


def is_valid_ip(path: str, value: str) -> list[FieldError]:
    if parse_ip(value) is None:
        return [
            invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
        ]
    return []


def _parse_cidr(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    address, sep, bits = value.partition("/")
    ip = parse_ip(address)
    if ip is None or not sep or not bits.isdigit() or not bits.isascii():
        return None
    prefix = int(bits)
    if prefix > ip.max_prefixlen:
        return None
    return ipaddress.ip_network(f"{ip}/{prefix}", strict=False)


def is_valid_cidr(path: str, value: str) -> list[FieldError]:
    if _parse_cidr(value) is None:
        return [
            invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")
        ]
    return []


# --------------------------------------------------------------------------------------------
# Field-error producing checks.


def validate_nonnegative(value: int | None, path: str) -> list[FieldError]:
    """``ValidateNonnegativeField``; a nil value is skipped."""
    if value is not None and value < 0:
        return [invalid(path, value, NEGATIVE)]
    return []


def validate_dns1123_label(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in is_dns1123_label(value)]


def validate_dns1123_subdomain(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in is_dns1123_subdomain(value)]


def validate_qualified_name(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in is_qualified_name(value)]


def validate_label_name(name: str, path: str) -> list[FieldError]:
    """``ValidateLabelName``."""
    return [invalid(path, name, m) for m in is_qualified_name(name)]


def validate_labels(labels: object, path: str) -> list[FieldError]:
    """``ValidateLabels``: every key a qualified name, every value a label value.

    Go walks the map in random order; keys are taken sorted so the output is stable.
    """
    errs: list[FieldError] = []
    mapping = as_dict(labels)
    for k in sorted(mapping) if len(mapping) > 1 else mapping:
        messages = is_qualified_name(k)
        if messages:
            errs.extend(invalid(path, k, m) for m in messages)
        value = as_str(mapping[k])
        messages = is_valid_label_value(value)
        if messages:
            errs.extend(invalid(path, value, m) for m in messages)
    return errs


def validate_label_selector(
    selector: object, path: str, *, allow_invalid_values: bool = False
) -> list[FieldError]:
    """``ValidateLabelSelector`` for a ``LabelSelector`` object; ``None`` is valid."""
    if not isinstance(selector, Mapping):
        return []
    errs = validate_labels(selector.get("matchLabels"), child(path, "matchLabels"))
    for i, expr in enumerate(as_list(selector.get("matchExpressions"))):
        errs.extend(
            _validate_requirement(
                as_dict(expr), index(child(path, "matchExpressions"), i), allow_invalid_values
            )
        )
    return errs


def _validate_requirement(
    expr: Mapping[str, Any], path: str, allow_invalid: bool
) -> list[FieldError]:
    errs: list[FieldError] = []
    operator = as_str(expr.get("operator"))
    values = [as_str(v) for v in as_list(expr.get("values"))]
    if operator in ("In", "NotIn"):
        if not values:
            errs.append(
                required(
                    child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'"
                )
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            errs.append(
                forbidden(
                    child(path, "values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
    else:
        errs.append(invalid(child(path, "operator"), operator, "not a valid selector operator"))
    errs.extend(validate_label_name(as_str(expr.get("key")), child(path, "key")))
    if not allow_invalid:
        for i, value in enumerate(values):
            errs.extend(
                invalid(index(child(path, "values"), i), value, m)
                for m in is_valid_label_value(value)
            )
    return errs


def _convert_selector(selector: Mapping[str, Any] | None) -> Selector | None:
    try:
        return from_label_selector(selector)
    except SelectorError:
        return None


def frozen_json(value: object) -> Hashable:
    """A hashable image of a JSON value: equal images mean equal values of the very same types
    (``1``, ``1.0`` and ``True`` stay apart). Raises ``TypeError`` for a value that has none
    (and ``RecursionError`` for one nested too deep)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return (kind, value)
    # Containers are tagged with their exact type too: the accessors treat a dict and another
    # mapping with the same items differently (``as_dict``).
    if isinstance(value, (dict, Mapping)):  # dict first: the common case skips the ABC check
        return (kind, tuple([(frozen_json(k), frozen_json(v)) for k, v in value.items()]))
    if isinstance(value, list):
        return (kind, tuple([frozen_json(v) for v in value]))
    if kind is float:  # by text: -0.0 and 0.0 print apart, and a NaN equals its image
        return (float, repr(value))
    hash(value)
    return (kind, value)


# Converted selectors by the frozen selector object: ``Selector`` is immutable, conversion is
# a pure function of the object, and the same selectors are converted on every write.
_SELECTORS: dict[Hashable, Selector | None] = {}


def selector_of(selector: object) -> Selector | None:
    """``metav1.LabelSelectorAsSelector``; ``None`` when the selector does not convert."""
    if not isinstance(selector, Mapping):
        return _convert_selector(None)
    try:
        token = frozen_json(selector)
    except (TypeError, RecursionError):
        return _convert_selector(selector)
    if token in _SELECTORS:
        return _SELECTORS[token]
    converted = _convert_selector(selector)
    if len(_SELECTORS) < 1024:
        _SELECTORS[token] = converted
    return converted


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Quantity | str:
    try:
        return parse_quantity(text)
    except (QuantityError, ValueError, OverflowError) as exc:
        return str(exc)


def parse_quantity_or_error(value: str | int | float) -> Quantity | str:
    """``parse_quantity(value)``, or the message of the error it raises. Quantities are
    immutable, so a parsed string is remembered: the same few are read on every write."""
    if type(value) is str:
        return _parse_text(value)
    try:
        return parse_quantity(value)
    except (QuantityError, ValueError, OverflowError) as exc:
        return str(exc)


def quantity_of(value: object) -> Quantity | None:
    """A parsed quantity, or ``None`` for a missing or malformed one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    q = parse_quantity_or_error(value)
    return q if isinstance(q, Quantity) else None
