"""Which webhooks a request concerns: rules, scope, namespace and object selectors.

This is upstream's ``rules.Matcher`` and ``namespace``/``object`` matchers as pure functions:

* a rule matches when its operations, API groups, API versions, resources and scope all do;
  ``*`` matches anything, ``pods/*`` every subresource of pods, ``*/status`` the status of
  everything, and a plain ``pods`` only the pods themselves (no subresource);
* ``scope: Namespaced`` matches requests inside a namespace, ``Cluster`` requests outside any
  (a Namespace object counts as cluster-scoped);
* ``namespaceSelector`` is matched against the labels of the request's namespace (a Namespace's
  own labels when it is the object created or updated); cluster-scoped objects always match;
* ``objectSelector`` is matched against the new object's labels or the old object's;
* with ``matchPolicy: Equivalent`` a request that no rule names exactly still matches through
  another served version of the same group and resource, and the webhook then sees the object
  in that version.

Invariant: matching has no side effects and reads cluster state only through the
``NamespaceLabels`` function it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.apiserver.webhooks.attributes import Attributes
from kybernetes.apiserver.webhooks.config import Rule, Webhook

#: Requests for these are never sent to webhooks, so that a broken webhook can be removed.
EXEMPT: Final = frozenset(
    {
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
        ("admissionregistration.k8s.io", "mutatingadmissionpolicies"),
        ("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"),
    }
)

#: A namespace's labels by name, or None when there is no such namespace.
NamespaceLabels = Callable[[str], Mapping[str, str] | None]
#: The other served versions of a group and resource, as (version, kind) pairs.
Equivalents = Callable[[str, str], Sequence[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class Invocation:
    """A webhook to call, and the version of the resource it is to see the request in."""

    webhook: Webhook
    group: str
    version: str
    resource: str
    kind: str


def is_exempt(attrs: Attributes) -> bool:
    return (attrs.group, attrs.resource) in EXEMPT


def _any(items: Sequence[str], wanted: str) -> bool:
    return "*" in items or wanted in items


def _scope_matches(scope: str, attrs: Attributes) -> bool:
    if scope == "*":
        return True
    is_namespace = attrs.group == "" and attrs.resource == "namespaces"
    if scope == "Namespaced":
        return not is_namespace and attrs.namespace != ""
    if scope == "Cluster":
        return is_namespace or attrs.namespace == ""
    return False


def rule_matches(rule: Rule, attrs: Attributes, version: str) -> bool:
    """Upstream's ``rules.Matcher.Matches`` for ``attrs`` addressed in ``version``."""
    if "*" not in rule.operations and attrs.operation not in rule.operations:
        return False
    if not _any(rule.groups, attrs.group) or not _any(rule.versions, version):
        return False
    if not _scope_matches(rule.scope, attrs):
        return False
    return any(
        (res in ("*", attrs.resource)) and (sub in ("*", attrs.subresource))
        for res, sub in rule.resources
    )


def match_rules(
    webhook: Webhook, attrs: Attributes, equivalents: Equivalents | None = None
) -> Invocation | None:
    """The invocation of ``webhook`` for ``attrs``, or None when no rule names the request."""
    if any(rule_matches(rule, attrs, attrs.version) for rule in webhook.rules):
        return Invocation(webhook, attrs.group, attrs.version, attrs.resource, attrs.kind)
    if webhook.match_policy != "Equivalent" or equivalents is None:
        return None
    for version, kind in equivalents(attrs.group, attrs.resource):
        if version == attrs.version:
            continue
        if any(rule_matches(rule, attrs, version) for rule in webhook.rules):
            return Invocation(webhook, attrs.group, version, attrs.resource, kind)
    return None


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, str]:
    if obj is None:
        return {}
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def namespace_matches(
    webhook: Webhook,
    attrs: Attributes,
    obj: Mapping[str, Any] | None,
    namespace_labels: NamespaceLabels,
) -> bool:
    """Upstream's ``MatchNamespaceSelector``; 404 when the request's namespace is unknown."""
    is_namespace = attrs.group == "" and attrs.resource == "namespaces"
    if not attrs.namespace and not is_namespace:
        return True  # cluster-scoped objects are never exempted by a namespace selector
    selector = webhook.namespace_selector
    if selector.is_empty:
        return True
    if is_namespace and not attrs.subresource and attrs.operation in ("CREATE", "UPDATE"):
        return selector.matches(_labels(obj))
    labels = namespace_labels(attrs.namespace)
    if labels is None:
        raise errors.new_not_found("namespaces", attrs.namespace)
    return selector.matches(labels)


def object_matches(
    webhook: Webhook, obj: Mapping[str, Any] | None, old: Mapping[str, Any] | None
) -> bool:
    """Upstream's ``MatchObjectSelector``: the new object's labels, or else the old one's."""
    selector = webhook.object_selector
    if selector.is_empty:
        return True
    return (obj is not None and selector.matches(_labels(obj))) or (
        old is not None and selector.matches(_labels(old))
    )
