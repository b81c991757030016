"""Webhook matching, AdmissionReview parsing and refusal wording, without any I/O."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from kybernetes.api import errors
from kybernetes.apiserver.webhooks.attributes import Attributes
from kybernetes.apiserver.webhooks.config import Configurations, parse_webhook
from kybernetes.apiserver.webhooks.dispatcher import denied
from kybernetes.apiserver.webhooks.matching import (
    match_rules,
    namespace_matches,
    object_matches,
)
from kybernetes.apiserver.webhooks.review import InvalidResponse, parse


def hook(**raw: Any) -> Any:
    base: dict[str, Any] = {
        "name": "w.example.com",
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
            }
        ],
    }
    base.update(raw)
    return parse_webhook("config", base, mutating=False)


def attrs(**fields: Any) -> Attributes:
    base: dict[str, Any] = {
        "operation": "CREATE",
        "group": "",
        "version": "v1",
        "resource": "pods",
        "kind": "Pod",
        "namespace": "default",
        "name": "p",
    }
    base.update(fields)
    return Attributes(**base)


def rules(resources: list[str], operations: list[str] | None = None, scope: str = "*") -> Any:
    return hook(
        rules=[
            {
                "operations": operations or ["*"],
                "apiGroups": ["*"],
                "apiVersions": ["*"],
                "resources": resources,
                "scope": scope,
            }
        ]
    )


@pytest.mark.parametrize(
    ("resources", "subresource", "matches"),
    [
        (["pods"], "", True),
        (["pods"], "status", False),
        (["pods/status"], "status", True),
        (["pods/status"], "", False),
        (["pods/*"], "status", True),
        (["pods/*"], "", True),  # upstream: "*" also matches the empty subresource
        (["*"], "", True),
        (["*"], "status", False),
        (["*/status"], "status", True),
        (["*/*"], "binding", True),
        (["services"], "", False),
    ],
)
def test_resources_and_subresources(resources: list[str], subresource: str, matches: bool) -> None:
    found = match_rules(rules(resources), attrs(subresource=subresource))
    assert (found is not None) is matches


def test_operations() -> None:
    update_only = rules(["pods"], ["UPDATE"])
    assert match_rules(update_only, attrs()) is None
    assert match_rules(update_only, attrs(operation="UPDATE")) is not None


@pytest.mark.parametrize(
    ("scope", "namespace", "resource", "matches"),
    [
        ("Namespaced", "default", "pods", True),
        ("Namespaced", "", "nodes", False),
        ("Cluster", "", "nodes", True),
        ("Cluster", "default", "pods", False),
        ("Cluster", "team", "namespaces", True),  # a Namespace counts as cluster-scoped
        ("Namespaced", "team", "namespaces", False),
    ],
)
def test_scope(scope: str, namespace: str, resource: str, matches: bool) -> None:
    found = match_rules(rules(["*"], scope=scope), attrs(namespace=namespace, resource=resource))
    assert (found is not None) is matches


def test_equivalent_versions_match_only_with_match_policy_equivalent() -> None:
    rule = {
        "operations": ["*"],
        "apiGroups": ["apps"],
        "apiVersions": ["v1"],
        "resources": ["deployments"],
    }
    v1_only = hook(rules=[rule])
    request = attrs(group="apps", version="v2", resource="deployments", kind="Deployment")

    def equivalents(group: str, resource: str) -> list[tuple[str, str]]:
        return [("v1", "Deployment"), ("v2", "Deployment")]

    found = match_rules(v1_only, request, equivalents)
    assert found is not None
    assert (found.version, found.kind) == ("v1", "Deployment")
    exact = hook(rules=[rule], matchPolicy="Exact")
    assert match_rules(exact, request, equivalents) is None


def test_namespace_selector() -> None:
    selected = hook(namespaceSelector={"matchLabels": {"env": "prod"}})
    labels = {"default": {"env": "prod"}, "dev": {}}
    assert namespace_matches(selected, attrs(), None, labels.get)
    assert not namespace_matches(selected, attrs(namespace="dev"), None, labels.get)
    # Cluster-scoped objects are never exempted.
    assert namespace_matches(selected, attrs(namespace="", resource="nodes"), None, labels.get)
    # A namespace being created is judged by its own labels.
    ns = attrs(namespace="", resource="namespaces", name="new")
    assert namespace_matches(selected, ns, {"metadata": {"labels": {"env": "prod"}}}, labels.get)
    with pytest.raises(errors.NotFound):
        namespace_matches(selected, attrs(namespace="missing"), None, labels.get)


def test_object_selector_reads_new_or_old_labels() -> None:
    selected = hook(objectSelector={"matchLabels": {"a": "b"}})
    labelled = {"metadata": {"labels": {"a": "b"}}}
    plain: dict[str, Any] = {"metadata": {}}
    assert object_matches(selected, labelled, None)
    assert object_matches(selected, plain, labelled)
    assert not object_matches(selected, plain, plain)
    assert not object_matches(selected, None, None)
    assert object_matches(hook(), None, None)


def test_defaults_and_timeout_cap() -> None:
    parsed = hook(timeoutSeconds=99)
    assert (parsed.failure_policy, parsed.match_policy, parsed.timeout_seconds) == (
        "Fail",
        "Equivalent",
        30,
    )
    assert hook().timeout_seconds == 10


def test_configurations_are_ordered_by_name_and_reparsed_on_change() -> None:
    stored = [
        {"metadata": {"name": "b", "resourceVersion": "1"}, "webhooks": [{"name": "b1.x.y"}]},
        {
            "metadata": {"name": "a", "resourceVersion": "2"},
            "webhooks": [{"name": "a1.x.y"}, {"name": "a2.x.y"}],
        },
    ]
    configurations = Configurations(lambda: stored, mutating=True)
    first = configurations.webhooks()
    assert [h.name for h in first] == ["a1.x.y", "a2.x.y", "b1.x.y"]
    assert configurations.webhooks() is first
    stored[0] = {"metadata": {"name": "b", "resourceVersion": "3"}, "webhooks": []}
    assert [h.name for h in configurations.webhooks()] == ["a1.x.y", "a2.x.y"]


def review(response: dict[str, Any], **top: Any) -> bytes:
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
    body.update(top)
    return orjson.dumps(body)


def refusal(body: bytes, *, mutating: bool = False) -> str:
    with pytest.raises(InvalidResponse) as refused:
        parse(body, "u", mutating=mutating)
    return str(refused.value)


def test_parse_checks_what_upstream_checks() -> None:
    ok = parse(review({"uid": "u", "allowed": True, "warnings": ["w"]}), "u", mutating=False)
    assert ok.allowed
    assert ok.warnings == ("w",)
    assert refusal(review({"uid": "v", "allowed": True})) == 'expected response.uid="u", got "v"'
    assert refusal(review({"uid": "u"}, apiVersion="admission.k8s.io/v1beta1")) == (
        "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, "
        "got admission.k8s.io/v1beta1, Kind=AdmissionReview"
    )
    patch = base64.b64encode(b"[]").decode()
    assert refusal(review({"uid": "u", "allowed": True, "patch": patch}), mutating=True) == (
        "webhook returned response.patch but not response.patchType"
    )
    with_type = {"uid": "u", "allowed": True, "patch": patch, "patchType": "JSONPatch"}
    assert refusal(review(with_type)) == "validating webhook may not return response.patch"
    assert refusal(orjson.dumps({"apiVersion": "admission.k8s.io/v1"})) == (
        "webhook response was absent"
    )


def test_refusals_read_as_upstreams_to_status_err() -> None:
    webhook = hook()
    silent = denied(webhook, None)
    assert (silent.code, silent.reason, str(silent)) == (
        400,
        "",
        'admission webhook "w.example.com" denied the request without explanation',
    )
    explained = denied(webhook, {"code": 403, "reason": "Forbidden", "message": "no"})
    assert isinstance(explained, errors.Forbidden)
    assert str(explained) == 'admission webhook "w.example.com" denied the request: no'
    by_reason = denied(webhook, {"code": 200, "reason": "Because"})
    assert (by_reason.code, str(by_reason)) == (
        400,
        'admission webhook "w.example.com" denied the request: Because',
    )
