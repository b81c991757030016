"""admissionregistration.k8s.io: MutatingWebhookConfiguration and ValidatingWebhookConfiguration.

Upstream's v1 rules, with its field paths and messages: webhook names are fully qualified
(three dot-separated segments) and unique within a configuration; every rule names operations,
API groups, versions and resources (``*`` alone, ``x/*`` and ``*/x`` not mixed with what they
cover) and a known scope; failurePolicy, matchPolicy and reinvocationPolicy take their known
values; sideEffects must be ``None`` or ``NoneOnDryRun`` (an update may keep ``Unknown`` or
``Some`` only where the stored configuration already had them); timeoutSeconds is 1 to 30;
admissionReviewVersions name ``v1`` or ``v1beta1``; the clientConfig has exactly one of an
``https`` URL (no user, query or fragment) or a Service reference; selectors are valid label
selectors. CEL match conditions are checked when they are evaluated, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from kybernetes.api.errors import (
    FieldError,
    duplicate,
    invalid,
    not_supported,
    required,
)
from kybernetes.api.validation.common import (
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    index,
    is_valid_port_num,
    validate_label_selector,
)
from kybernetes.api.validation.names import (
    is_dns1035_label,
    is_dns1123_subdomain,
    name_is_dns_subdomain,
)
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update

__all__ = ["validate_mutating_configuration", "validate_validating_configuration"]

_FAILURE_POLICIES: Final = ("Fail", "Ignore")
_MATCH_POLICIES: Final = ("Equivalent", "Exact")
_NO_SIDE_EFFECTS: Final = ("None", "NoneOnDryRun")
_SIDE_EFFECTS: Final = ("None", "NoneOnDryRun", "Some", "Unknown")
_OPERATIONS: Final = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
_REINVOCATION: Final = ("IfNeeded", "Never")
_SCOPES: Final = ("*", "Cluster", "Namespaced")
_REVIEW_VERSIONS: Final = ("v1", "v1beta1")
_URL_FORM: Final = "; desired format: https://host[/path]"


def _fully_qualified(name: str, path: str) -> list[FieldError]:
    if not name:
        return [required(path)]
    messages = is_dns1123_subdomain(name)
    if messages:
        return [invalid(path, name, ",".join(messages))]
    if len(name.split(".")) < 3:
        return [
            invalid(path, name, "should be a domain with at least three segments separated by dots")
        ]
    return []


def _wildcard_mixed(values: list[Any], path: str, what: str) -> list[FieldError]:
    if len(values) > 1 and "*" in values:
        return [invalid(path, values, f"if '*' is present, must not specify other {what}")]
    return []


def _resources(resources: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not resources:
        errs.append(required(path))
    wildcard_subs: set[str] = set()
    wildcard_resources: set[str] = set()
    double = single = plain = False
    for i, text in enumerate(as_str(r) for r in resources):
        if not text:
            errs.append(required(index(path, i)))
            continue
        double = double or text == "*/*"
        single = single or text == "*"
        resource, slash, sub = text.partition("/")
        if not slash:
            plain = text != "*"
            continue
        if resource in wildcard_subs:
            errs.append(
                invalid(
                    index(path, i), text, f"if '{resource}/*' is present, must not specify {text}"
                )
            )
        if sub in wildcard_resources:
            errs.append(
                invalid(index(path, i), text, f"if '*/{sub}' is present, must not specify {text}")
            )
        if sub == "*":
            wildcard_subs.add(resource)
        if resource == "*":
            wildcard_resources.add(sub)
    if len(resources) > 1 and double:
        errs.append(
            invalid(path, resources, "if '*/*' is present, must not specify other resources")
        )
    if single and plain:
        errs.append(
            invalid(
                path,
                resources,
                "if '*' is present, must not specify other resources without subresources",
            )
        )
    return errs


def _rule(rule: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    operations = as_list(rule.get("operations"))
    if not operations:
        errs.append(required(child(path, "operations")))
    errs += _wildcard_mixed(operations, child(path, "operations"), "operations")
    for i, operation in enumerate(operations):
        if operation not in _OPERATIONS:
            errs.append(not_supported(index(child(path, "operations"), i), operation, _OPERATIONS))
    groups = as_list(rule.get("apiGroups"))
    if not groups:
        errs.append(required(child(path, "apiGroups")))
    errs += _wildcard_mixed(groups, child(path, "apiGroups"), "API groups")
    versions = as_list(rule.get("apiVersions"))
    if not versions:
        errs.append(required(child(path, "apiVersions")))
    errs += _wildcard_mixed(versions, child(path, "apiVersions"), "API versions")
    errs += [
        required(index(child(path, "apiVersions"), i)) for i, v in enumerate(versions) if not v
    ]
    errs += _resources(as_list(rule.get("resources")), child(path, "resources"))
    scope = rule.get("scope")
    if scope is not None and scope not in _SCOPES:
        errs.append(not_supported(child(path, "scope"), scope, _SCOPES))
    return errs


def _url(url: str, path: str) -> list[FieldError]:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return [required(path, f"url must be a valid URL: {exc}{_URL_FORM}")]
    errs: list[FieldError] = []
    if parts.scheme != "https":
        errs.append(
            invalid(path, parts.scheme, f"'https' is the only allowed URL scheme{_URL_FORM}")
        )
    if not parts.hostname:
        errs.append(invalid(path, parts.netloc, f"host must be specified{_URL_FORM}"))
    if parts.username is not None:
        errs.append(invalid(path, parts.username, "user information is not permitted in the URL"))
    if parts.fragment:
        errs.append(invalid(path, parts.fragment, "fragments are not permitted in the URL"))
    if parts.query:
        errs.append(invalid(path, parts.query, "query parameters are not permitted in the URL"))
    return errs


def _service(service: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not as_str(service.get("name")):
        errs.append(required(child(path, "name"), "service name is required"))
    if not as_str(service.get("namespace")):
        errs.append(required(child(path, "namespace"), "service namespace is required"))
    port = as_int(service.get("port"))
    if port is not None and (messages := is_valid_port_num(port)):
        errs.append(invalid(child(path, "port"), port, "port is not valid: " + ", ".join(messages)))
    url_path = as_str(service.get("path"))
    if url_path and url_path != "/" and not url_path.startswith("/"):
        errs.append(invalid(child(path, "path"), url_path, "must start with a '/'"))
    return errs


def _review_versions(versions: list[Any], path: str) -> list[FieldError]:
    if not versions:
        return [required(path, f"must specify one of {', '.join(_REVIEW_VERSIONS)}")]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, version in enumerate(as_str(v) for v in versions):
        if version in seen:
            errs.append(invalid(index(path, i), version, "duplicate version"))
            continue
        seen.add(version)
        errs += [invalid(index(path, i), version, m) for m in is_dns1035_label(version)]
    if not seen & set(_REVIEW_VERSIONS):
        errs.append(
            invalid(path, versions, f"must include at least one of {', '.join(_REVIEW_VERSIONS)}")
        )
    return errs


def _webhook(
    hook: Mapping[str, Any], path: str, *, mutating: bool, side_effects: tuple[str, ...]
) -> list[FieldError]:
    errs = _fully_qualified(as_str(hook.get("name")), child(path, "name"))
    for i, rule in enumerate(as_list(hook.get("rules"))):
        errs += _rule(as_dict(rule), index(child(path, "rules"), i))
    for field, allowed in (("failurePolicy", _FAILURE_POLICIES), ("matchPolicy", _MATCH_POLICIES)):
        value = hook.get(field)
        if value is not None and value not in allowed:
            errs.append(not_supported(child(path, field), value, allowed))
    effects = hook.get("sideEffects")
    if effects is None:
        errs.append(
            required(child(path, "sideEffects"), f"must specify one of {', '.join(side_effects)}")
        )
    elif effects not in side_effects:
        errs.append(not_supported(child(path, "sideEffects"), effects, side_effects))
    timeout = hook.get("timeoutSeconds")
    if isinstance(timeout, int) and not 1 <= timeout <= 30:
        errs.append(
            invalid(
                child(path, "timeoutSeconds"),
                timeout,
                "the timeout value must be between 1 and 30 seconds",
            )
        )
    for selector in ("namespaceSelector", "objectSelector"):
        errs += validate_label_selector(hook.get(selector), child(path, selector))
    reinvocation = hook.get("reinvocationPolicy")
    if mutating and reinvocation is not None and reinvocation not in _REINVOCATION:
        errs.append(not_supported(child(path, "reinvocationPolicy"), reinvocation, _REINVOCATION))
    client = as_dict(hook.get("clientConfig"))
    url, service = client.get("url"), client.get("service")
    config_path = child(path, "clientConfig")
    if (url is None) == (service is None):
        errs.append(required(config_path, "exactly one of url or service is required"))
    elif url is not None:
        errs += _url(as_str(url), child(config_path, "url"))
    else:
        errs += _service(as_dict(service), child(config_path, "service"))
    return errs


def _had_side_effects(old: Mapping[str, Any] | None) -> bool:
    if old is None:
        return False
    return any(
        as_dict(h).get("sideEffects") not in _NO_SIDE_EFFECTS for h in as_list(old.get("webhooks"))
    )


def _configuration(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None, *, mutating: bool
) -> list[FieldError]:
    if old is None:
        errs = validate_object_meta(obj.get("metadata"), False, name_is_dns_subdomain)
    else:
        errs = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    side_effects = _SIDE_EFFECTS if _had_side_effects(old) else _NO_SIDE_EFFECTS
    names: set[str] = set()
    for i, raw in enumerate(as_list(obj.get("webhooks"))):
        hook = as_dict(raw)
        path = index("webhooks", i)
        errs += _webhook(hook, path, mutating=mutating, side_effects=side_effects)
        errs += _review_versions(
            as_list(hook.get("admissionReviewVersions")), child(path, "admissionReviewVersions")
        )
        name = as_str(hook.get("name"))
        if name and name in names:
            errs.append(duplicate(child(path, "name"), name))
        names.add(name)
    return errs


def validate_mutating_configuration(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[FieldError]:
    return _configuration(obj, old, mutating=True)


def validate_validating_configuration(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[FieldError]:
    return _configuration(obj, old, mutating=False)
