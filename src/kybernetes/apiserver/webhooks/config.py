"""Admission webhook configurations, parsed into ``Webhook`` values once per stored version.

A MutatingWebhookConfiguration or ValidatingWebhookConfiguration (admissionregistration.k8s.io/v1)
holds a list of webhooks. Each becomes one immutable ``Webhook`` with upstream's v1 defaults for
whatever the stored object leaves out (failurePolicy Fail, matchPolicy Equivalent, empty
selectors, timeoutSeconds 10, reinvocationPolicy Never, rule scope ``*``, service port 443).

Invariants: ``Configurations.webhooks()`` returns the webhooks of every configuration, the
configurations sorted by name and the webhooks in their stored order (upstream's order); a
configuration is parsed again only when its resourceVersion changes; parsing never raises — a
webhook whose selector does not parse carries the error and fails every request it would be
asked about, as upstream's matcher does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from kybernetes.api import selectors
from kybernetes.api.selectors import Selector

DEFAULT_TIMEOUT_SECONDS: Final = 10
MAX_TIMEOUT_SECONDS: Final = 30
#: Side effect classes that make a webhook safe to call for a dry-run request.
DRY_RUN_SAFE: Final = frozenset({"None", "NoneOnDryRun"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``RuleWithOperations``; resources are split into (resource, subresource)."""

    operations: frozenset[str]
    groups: tuple[str, ...]
    versions: tuple[str, ...]
    resources: tuple[tuple[str, str], ...]
    scope: str = "*"


@dataclass(frozen=True, slots=True)
class ServiceReference:
    namespace: str
    name: str
    path: str = ""
    port: int = 443


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Where a webhook listens: a URL, or a Service in the cluster; and whom to trust."""

    url: str = ""
    service: ServiceReference | None = None
    ca_bundle: bytes = b""


@dataclass(frozen=True, slots=True)
class Webhook:
    """One webhook of one configuration, with defaults applied."""

    configuration: str
    name: str
    mutating: bool
    rules: tuple[Rule, ...]
    namespace_selector: Selector
    object_selector: Selector
    client: ClientConfig
    failure_policy: str = "Fail"
    match_policy: str = "Equivalent"
    side_effects: str = ""
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    reinvoke_if_needed: bool = False
    review_versions: tuple[str, ...] = ("v1",)
    #: (name, CEL expression) pairs, all of which must hold for the webhook to be called.
    match_conditions: tuple[tuple[str, str], ...] = ()
    #: Why the webhook's configuration cannot be used (a selector that does not parse).
    error: str = ""

    @property
    def uid(self) -> str:
        """Unique among webhooks of one kind: names are unique within a configuration."""
        return f"{self.configuration}/{self.name}"


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def _split_resource(text: str) -> tuple[str, str]:
    resource, _, sub = text.partition("/")
    return resource, sub


def _rule(raw: Mapping[str, Any]) -> Rule:
    scope = raw.get("scope")
    return Rule(
        operations=frozenset(_strings(raw.get("operations"))),
        groups=_strings(raw.get("apiGroups")),
        versions=_strings(raw.get("apiVersions")),
        resources=tuple(_split_resource(r) for r in _strings(raw.get("resources"))),
        scope=scope if isinstance(scope, str) and scope else "*",
    )


def _client_config(raw: object) -> ClientConfig:
    if not isinstance(raw, Mapping):
        return ClientConfig()
    bundle = b""
    encoded = raw.get("caBundle")
    if isinstance(encoded, str) and encoded:
        try:
            bundle = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            bundle = encoded.encode()
    service = None
    ref = raw.get("service")
    if isinstance(ref, Mapping):
        port = ref.get("port")
        service = ServiceReference(
            namespace=str(ref.get("namespace") or ""),
            name=str(ref.get("name") or ""),
            path=str(ref.get("path") or ""),
            port=port if isinstance(port, int) and not isinstance(port, bool) else 443,
        )
    url = raw.get("url")
    return ClientConfig(url=url if isinstance(url, str) else "", service=service, ca_bundle=bundle)


def _selector(raw: object) -> tuple[Selector, str]:
    if raw is None:
        return selectors.EVERYTHING, ""
    if not isinstance(raw, Mapping):
        return selectors.NOTHING, "the selector must be a LabelSelector object"
    try:
        return selectors.from_label_selector(raw), ""
    except ValueError as exc:
        return selectors.NOTHING, str(exc)


def _timeout(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return min(raw, MAX_TIMEOUT_SECONDS)
    return DEFAULT_TIMEOUT_SECONDS


def _conditions(raw: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        (str(c.get("name") or ""), str(c.get("expression") or ""))
        for c in raw
        if isinstance(c, Mapping)
    )


def parse_webhook(configuration: str, raw: Mapping[str, Any], *, mutating: bool) -> Webhook:
    """One entry of ``webhooks``, with upstream's v1 defaults."""
    namespace_selector, ns_error = _selector(raw.get("namespaceSelector"))
    object_selector, obj_error = _selector(raw.get("objectSelector"))
    rules = raw.get("rules")
    return Webhook(
        configuration=configuration,
        name=str(raw.get("name") or ""),
        mutating=mutating,
        rules=tuple(_rule(r) for r in rules if isinstance(r, Mapping))
        if isinstance(rules, list)
        else (),
        namespace_selector=namespace_selector,
        object_selector=object_selector,
        client=_client_config(raw.get("clientConfig")),
        failure_policy=str(raw.get("failurePolicy") or "Fail"),
        match_policy=str(raw.get("matchPolicy") or "Equivalent"),
        side_effects=str(raw.get("sideEffects") or ""),
        timeout_seconds=_timeout(raw.get("timeoutSeconds")),
        reinvoke_if_needed=mutating and raw.get("reinvocationPolicy") == "IfNeeded",
        review_versions=_strings(raw.get("admissionReviewVersions")) or ("v1",),
        match_conditions=_conditions(raw.get("matchConditions")),
        error=ns_error or obj_error,
    )


def parse_configuration(obj: Mapping[str, Any], *, mutating: bool) -> tuple[Webhook, ...]:
    name = str((obj.get("metadata") or {}).get("name") or "")
    hooks = obj.get("webhooks")
    if not isinstance(hooks, list):
        return ()
    return tuple(parse_webhook(name, h, mutating=mutating) for h in hooks if isinstance(h, Mapping))


class Configurations:
    """The webhooks of one kind of configuration, read from a source of stored objects.

    ``source`` returns the configurations as stored now (the watch cache's objects); each is
    parsed once per resourceVersion and forgotten when it is gone.
    """

    def __init__(
        self, source: Callable[[], Iterable[Mapping[str, Any]]], *, mutating: bool
    ) -> None:
        self._source = source
        self._mutating = mutating
        self._parsed: dict[str, tuple[str, tuple[Webhook, ...]]] = {}
        self._all: tuple[Webhook, ...] = ()
        self._versions: tuple[tuple[str, str], ...] = ()

    def webhooks(self) -> tuple[Webhook, ...]:
        current: list[tuple[str, str, Mapping[str, Any]]] = []
        for obj in self._source():
            meta = obj.get("metadata") or {}
            current.append((str(meta.get("name") or ""), str(meta.get("resourceVersion")), obj))
        if not current and not self._versions:
            return self._all  # none then, none now (asked on every write: the common case)
        versions = tuple(sorted((name, rv) for name, rv, _ in current))
        if versions == self._versions:
            return self._all
        parsed: dict[str, tuple[str, tuple[Webhook, ...]]] = {}
        for name, rv, obj in current:
            known = self._parsed.get(name)
            if known is None or known[0] != rv:
                known = (rv, parse_configuration(obj, mutating=self._mutating))
            parsed[name] = known
        self._parsed = parsed
        self._versions = versions
        self._all = tuple(hook for name in sorted(parsed) for hook in parsed[name][1])
        return self._all
