"""Admission webhooks against a real HTTPS webhook server with its own CA.

Each test starts an in-process API server and a webhook server on 127.0.0.1, stores webhook
configurations through the API, and checks what a client sees and what the webhook received.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio

from kybernetes.api import errors
from kybernetes.client.resource import (
    CONFIGMAPS,
    ENDPOINTSLICES,
    NAMESPACES,
    PODS,
    SECRETS,
    SERVICES,
    Resource,
)
from kybernetes.client.rest import Client
from kybernetes.testing.apiserver import RunningAPIServer, running_apiserver
from kybernetes.testing.webhooks import (
    WebhookServer,
    allow,
    deny,
    json_patch,
    slow,
    webhook_server,
)

MUTATING = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "mutatingwebhookconfigurations",
    "MutatingWebhookConfiguration",
    False,
)
VALIDATING = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "validatingwebhookconfigurations",
    "ValidatingWebhookConfiguration",
    False,
)

HANDLERS = {
    "/allow": allow(),
    "/warn": allow(warnings=["configmaps are watched", "really"]),
    "/deny": deny("no configmaps today", code=403, reason="Forbidden"),
    "/deny-silently": deny(),
    "/label": json_patch([{"op": "add", "path": "/metadata/labels", "value": {"injected": "1"}}]),
    "/label-b": json_patch([{"op": "add", "path": "/metadata/annotations", "value": {"b": "1"}}]),
    "/slow": slow(3),
}


@pytest_asyncio.fixture
async def hooks(tmp_path: Path) -> AsyncIterator[WebhookServer]:
    async with webhook_server(tmp_path, HANDLERS) as server:
        yield server


@pytest_asyncio.fixture
async def api() -> AsyncIterator[RunningAPIServer]:
    async with running_apiserver() as running:
        yield running


@pytest_asyncio.fixture
async def client(api: RunningAPIServer) -> AsyncIterator[Client]:
    async with Client(api.url) as c:
        yield c


def webhook(
    server: WebhookServer,
    name: str,
    path: str,
    *,
    operations: Sequence[str] = ("CREATE",),
    resources: Sequence[str] = ("configmaps",),
    groups: Sequence[str] = ("",),
    **extra: Any,
) -> dict[str, Any]:
    hook: dict[str, Any] = {
        "name": name,
        "clientConfig": {"url": server.url(path), "caBundle": server.ca_bundle},
        "rules": [
            {
                "operations": list(operations),
                "apiGroups": list(groups),
                "apiVersions": ["*"],
                "resources": list(resources),
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    hook.update(extra)
    return hook


async def configure(
    client: Client, resource: Resource, name: str, *webhooks: Mapping[str, Any]
) -> dict[str, Any]:
    return await client.create(resource, {"metadata": {"name": name}, "webhooks": list(webhooks)})


def configmap(name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    return {"metadata": meta, "data": {"k": "v"}}


async def test_denial_with_a_message_is_the_webhooks_status(
    client: Client, hooks: WebhookServer
) -> None:
    await configure(client, VALIDATING, "deny", webhook(hooks, "deny.example.com", "/deny"))
    with pytest.raises(errors.Forbidden) as refused:
        await client.create(CONFIGMAPS, configmap("c"), "default")
    status = refused.value.to_status()
    assert status["code"] == 403
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        'admission webhook "deny.example.com" denied the request: no configmaps today'
    )
    with pytest.raises(errors.NotFound):
        await client.get(CONFIGMAPS, "c", "default")


async def test_denial_without_a_status_is_a_400_without_explanation(
    client: Client, hooks: WebhookServer
) -> None:
    await configure(
        client, VALIDATING, "deny", webhook(hooks, "quiet.example.com", "/deny-silently")
    )
    with pytest.raises(errors.BadRequest) as refused:
        await client.create(CONFIGMAPS, configmap("c"), "default")
    assert refused.value.code == 400
    assert str(refused.value) == (
        'admission webhook "quiet.example.com" denied the request without explanation'
    )


async def test_mutating_webhook_patches_the_object_it_is_sent(
    client: Client, hooks: WebhookServer
) -> None:
    await configure(client, MUTATING, "label", webhook(hooks, "label.example.com", "/label"))
    created = await client.create(CONFIGMAPS, configmap("c"), "default", field_manager="tester")
    assert created["metadata"]["labels"] == {"injected": "1"}
    stored = await client.get(CONFIGMAPS, "c", "default")
    assert stored["metadata"]["labels"] == {"injected": "1"}
    (request,) = hooks.requests["/label"]
    assert request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert request["requestKind"] == request["kind"]
    assert request["requestResource"] == request["resource"]
    assert "subResource" not in request
    assert (request["name"], request["namespace"], request["operation"]) == (
        "c",
        "default",
        "CREATE",
    )
    assert request["userInfo"] == {}
    assert request["object"]["data"] == {"k": "v"}
    assert request["object"]["apiVersion"] == "v1"
    assert "uid" not in request["object"]["metadata"]
    assert request["oldObject"] is None
    assert request["dryRun"] is False
    assert request["options"] == {
        "kind": "CreateOptions",
        "apiVersion": "meta.k8s.io/v1",
        "fieldManager": "tester",
    }


async def test_reinvocation_if_needed_calls_an_earlier_webhook_again(
    client: Client, hooks: WebhookServer
) -> None:
    await configure(
        client,
        MUTATING,
        "both",
        webhook(hooks, "a.example.com", "/label", reinvocationPolicy="IfNeeded"),
        webhook(hooks, "b.example.com", "/label-b"),
    )
    created = await client.create(CONFIGMAPS, configmap("c"), "default")
    assert created["metadata"]["labels"] == {"injected": "1"}
    assert created["metadata"]["annotations"] == {"b": "1"}
    first, second = hooks.requests["/label"]
    assert "annotations" not in first["object"]["metadata"]
    assert second["object"]["metadata"]["annotations"] == {"b": "1"}
    assert len(hooks.requests["/label-b"]) == 1


async def test_timeout_fails_closed_with_upstreams_message(
    client: Client, hooks: WebhookServer
) -> None:
    hook = webhook(hooks, "slow.example.com", "/slow", timeoutSeconds=1)
    await configure(client, VALIDATING, "slow", hook)
    with pytest.raises(errors.InternalError) as failed:
        await client.create(CONFIGMAPS, configmap("c"), "default")
    assert failed.value.code == 500
    assert str(failed.value) == (
        'Internal error occurred: failed calling webhook "slow.example.com": failed to call '
        f'webhook: Post "{hooks.url("/slow")}?timeout=1s": context deadline exceeded'
    )


async def test_timeout_with_failure_policy_ignore_lets_the_request_in(
    client: Client, hooks: WebhookServer
) -> None:
    hook = webhook(hooks, "slow.example.com", "/slow", timeoutSeconds=1, failurePolicy="Ignore")
    await configure(client, VALIDATING, "slow", hook)
    created = await client.create(CONFIGMAPS, configmap("c"), "default")
    assert created["metadata"]["name"] == "c"


async def test_unreachable_webhook_is_a_failed_call(client: Client, hooks: WebhookServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    hook = webhook(hooks, "gone.example.com", "/allow")
    hook["clientConfig"]["url"] = f"https://127.0.0.1:{port}/allow"
    await configure(client, VALIDATING, "gone", hook)
    with pytest.raises(errors.InternalError) as failed:
        await client.create(CONFIGMAPS, configmap("c"), "default")
    assert str(failed.value) == (
        'Internal error occurred: failed calling webhook "gone.example.com": failed to call '
        f'webhook: Post "https://127.0.0.1:{port}/allow?timeout=10s": dial tcp '
        f"127.0.0.1:{port}: connect: connection refused"
    )


async def test_untrusted_certificate_is_a_failed_call(client: Client, hooks: WebhookServer) -> None:
    hook = webhook(hooks, "untrusted.example.com", "/allow")
    del hook["clientConfig"]["caBundle"]
    await configure(client, VALIDATING, "untrusted", hook)
    with pytest.raises(errors.InternalError) as failed:
        await client.create(CONFIGMAPS, configmap("c"), "default")
    assert str(failed.value).endswith(
        "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    )


async def test_namespace_selector_matches_namespace_labels(
    client: Client, hooks: WebhookServer
) -> None:
    await client.create(NAMESPACES, {"metadata": {"name": "guarded", "labels": {"hooks": "on"}}})
    await client.create(NAMESPACES, {"metadata": {"name": "open"}})
    selector = {"matchLabels": {"hooks": "on"}}
    await configure(
        client,
        VALIDATING,
        "deny",
        webhook(hooks, "deny.example.com", "/deny", namespaceSelector=selector),
    )
    with pytest.raises(errors.Forbidden):
        await client.create(CONFIGMAPS, configmap("c"), "guarded")
    await client.create(CONFIGMAPS, configmap("c"), "open")


async def test_namespace_selector_by_metadata_name_label(
    client: Client, hooks: WebhookServer
) -> None:
    selector = {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["kube-system"]}
        ]
    }
    await configure(
        client,
        VALIDATING,
        "deny",
        webhook(hooks, "deny.example.com", "/deny", namespaceSelector=selector),
    )
    with pytest.raises(errors.Forbidden):
        await client.create(CONFIGMAPS, configmap("c"), "kube-system")
    await client.create(CONFIGMAPS, configmap("c"), "default")


async def test_cluster_scoped_objects_ignore_the_namespace_selector(
    client: Client, hooks: WebhookServer
) -> None:
    hook = webhook(
        hooks,
        "deny.example.com",
        "/deny",
        resources=["namespaces"],
        namespaceSelector={"matchLabels": {"hooks": "on"}},
    )
    await configure(client, VALIDATING, "deny", hook)
    # A Namespace is matched by its own labels.
    with pytest.raises(errors.Forbidden):
        await client.create(NAMESPACES, {"metadata": {"name": "x", "labels": {"hooks": "on"}}})
    await client.create(NAMESPACES, {"metadata": {"name": "y"}})


async def test_object_selector_matches_new_or_old_labels(
    client: Client, hooks: WebhookServer
) -> None:
    await client.create(CONFIGMAPS, configmap("old", {"guard": "yes"}), "default")
    hook = webhook(
        hooks,
        "deny.example.com",
        "/deny",
        operations=["CREATE", "UPDATE"],
        objectSelector={"matchLabels": {"guard": "yes"}},
    )
    await configure(client, VALIDATING, "deny", hook)
    with pytest.raises(errors.Forbidden):
        await client.create(CONFIGMAPS, configmap("new", {"guard": "yes"}), "default")
    await client.create(CONFIGMAPS, configmap("plain"), "default")
    # Removing the label is still judged: the old object matches.
    with pytest.raises(errors.Forbidden):
        await client.patch(CONFIGMAPS, "old", {"metadata": {"labels": {"guard": None}}}, "default")


async def test_rules_select_operations_and_resources(client: Client, hooks: WebhookServer) -> None:
    await configure(
        client,
        VALIDATING,
        "deny",
        webhook(hooks, "deny.example.com", "/deny", operations=["UPDATE"]),
    )
    created = await client.create(CONFIGMAPS, configmap("c"), "default")
    await client.create(SECRETS, {"metadata": {"name": "s"}}, "default")
    created["data"] = {"k": "changed"}
    with pytest.raises(errors.Forbidden):
        await client.update(CONFIGMAPS, created)
    secret = await client.get(SECRETS, "s", "default")
    secret["stringData"] = {"a": "b"}
    await client.update(SECRETS, secret)


async def test_subresource_rules_match_pods_status(client: Client, hooks: WebhookServer) -> None:
    await configure(
        client,
        VALIDATING,
        "status",
        webhook(
            hooks, "status.example.com", "/deny", operations=["UPDATE"], resources=["pods/status"]
        ),
        webhook(hooks, "record.example.com", "/allow", operations=["*"], resources=["pods/*"]),
    )
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    created = await client.create(PODS, pod, "default")  # "pods/status" does not name pods
    created["status"] = {"phase": "Running"}
    with pytest.raises(errors.Forbidden):
        await client.update_status(PODS, created)
    # As upstream's matcher, "pods/*" also names the pods themselves ("*" matches no subresource).
    create, request = hooks.requests["/allow"]
    assert (create["operation"], "subResource" in create) == ("CREATE", False)
    assert request["subResource"] == "status"
    assert request["requestSubResource"] == "status"
    assert request["kind"]["kind"] == "Pod"
    assert request["object"]["status"]["phase"] == "Running"


async def store_unvalidated(api: RunningAPIServer, resource: Resource, obj: dict[str, Any]) -> None:
    """Store a configuration v1 validation refuses (as one written through v1beta1 long ago)."""
    store = api.server.stores[(resource.group, resource.plural)]
    await store.storage.create(store.key("", obj["metadata"]["name"]), orjson.dumps(obj))
    await store.sync()


async def test_dry_run_needs_side_effect_free_webhooks(
    api: RunningAPIServer, client: Client, hooks: WebhookServer
) -> None:
    await configure(client, VALIDATING, "safe", webhook(hooks, "safe.example.com", "/allow"))
    await client.create(CONFIGMAPS, configmap("c"), "default", dry_run=True)
    (request,) = hooks.requests["/allow"]
    assert request["dryRun"] is True
    assert request["options"]["dryRun"] == ["All"]
    unsafe = webhook(hooks, "unsafe.example.com", "/allow", sideEffects="Unknown")
    await store_unvalidated(
        api,
        VALIDATING,
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "unsafe"},
            "webhooks": [unsafe],
        },
    )
    with pytest.raises(errors.BadRequest) as refused:
        await client.create(CONFIGMAPS, configmap("c"), "default", dry_run=True)
    assert str(refused.value) == 'admission webhook "unsafe.example.com" does not support dry run'
    # Without dry run the same webhook is called as usual.
    await client.create(CONFIGMAPS, configmap("c"), "default")


async def test_update_carries_the_old_object(client: Client, hooks: WebhookServer) -> None:
    created = await client.create(CONFIGMAPS, configmap("c"), "default")
    await configure(
        client,
        VALIDATING,
        "record",
        webhook(hooks, "record.example.com", "/allow", operations=["UPDATE"]),
    )
    created["data"] = {"k": "new"}
    await client.update(CONFIGMAPS, created)
    (request,) = hooks.requests["/allow"]
    assert request["operation"] == "UPDATE"
    assert request["object"]["data"] == {"k": "new"}
    assert request["oldObject"]["data"] == {"k": "v"}
    assert request["oldObject"]["metadata"]["uid"] == created["metadata"]["uid"]
    assert request["options"] == {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"}


async def test_delete_is_judged_on_the_old_object(client: Client, hooks: WebhookServer) -> None:
    await client.create(CONFIGMAPS, configmap("kept", {"keep": "yes"}), "default")
    await client.create(CONFIGMAPS, configmap("gone"), "default")
    await configure(
        client,
        VALIDATING,
        "delete",
        webhook(
            hooks,
            "keep.example.com",
            "/deny",
            operations=["DELETE"],
            objectSelector={"matchLabels": {"keep": "yes"}},
        ),
        webhook(hooks, "record.example.com", "/allow", operations=["DELETE"]),
    )
    with pytest.raises(errors.Forbidden):
        await client.delete(CONFIGMAPS, "kept", "default")
    await client.get(CONFIGMAPS, "kept", "default")
    await client.delete(CONFIGMAPS, "gone", "default", propagation_policy="Background")
    recorded = [r for r in hooks.requests["/allow"] if r.get("name") == "gone"]
    request = recorded[-1]
    assert request["operation"] == "DELETE"
    assert request["object"] is None
    assert request["oldObject"]["metadata"]["name"] == "gone"
    assert request["options"] == {
        "kind": "DeleteOptions",
        "apiVersion": "meta.k8s.io/v1",
        "propagationPolicy": "Background",
    }


async def test_warnings_come_back_as_warning_headers(
    api: RunningAPIServer, client: Client, hooks: WebhookServer
) -> None:
    await configure(client, VALIDATING, "warn", webhook(hooks, "warn.example.com", "/warn"))
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{api.url}/api/v1/namespaces/default/configmaps", json=configmap("c")
        ) as response,
    ):
        assert response.status == 201
        assert response.headers.getall("Warning") == [
            '299 - "configmaps are watched"',
            '299 - "really"',
        ]


async def test_match_conditions_decide_with_cel(client: Client, hooks: WebhookServer) -> None:
    hook = webhook(
        hooks,
        "deny.example.com",
        "/deny",
        matchConditions=[{"name": "not-exempt", "expression": "object.metadata.name != 'free'"}],
    )
    await configure(client, VALIDATING, "deny", hook)
    await client.create(CONFIGMAPS, configmap("free"), "default")
    with pytest.raises(errors.Forbidden):
        await client.create(CONFIGMAPS, configmap("other"), "default")


async def test_configurations_are_never_sent_to_webhooks(
    client: Client, hooks: WebhookServer
) -> None:
    everything = webhook(
        hooks,
        "deny.example.com",
        "/deny",
        operations=["*"],
        groups=["*"],
        resources=["*/*"],
    )
    await configure(client, VALIDATING, "deny-all", everything)
    # The broken configuration can still be removed.
    await client.delete(VALIDATING, "deny-all")
    await client.create(CONFIGMAPS, configmap("c"), "default")


async def test_configurations_are_validated_as_upstream(
    client: Client, hooks: WebhookServer
) -> None:
    bad = webhook(hooks, "short.name", "/allow", sideEffects="Unknown", timeoutSeconds=31)
    bad["clientConfig"]["url"] = "http://127.0.0.1/x?y=1"
    with pytest.raises(errors.Invalid) as refused:
        await configure(client, VALIDATING, "bad", bad)
    assert str(refused.value) == (
        'ValidatingWebhookConfiguration.admissionregistration.k8s.io "bad" is invalid: ['
        'webhooks[0].name: Invalid value: "short.name": should be a domain with at least three '
        'segments separated by dots, webhooks[0].sideEffects: Unsupported value: "Unknown": '
        'supported values: "None", "NoneOnDryRun", webhooks[0].timeoutSeconds: Invalid value: '
        "31: the timeout value must be between 1 and 30 seconds, webhooks[0].clientConfig.url: "
        "Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: "
        'https://host[/path], webhooks[0].clientConfig.url: Invalid value: "y=1": query '
        "parameters are not permitted in the URL]"
    )


async def test_configurations_get_upstreams_defaults(client: Client, hooks: WebhookServer) -> None:
    stored = await configure(client, MUTATING, "m", webhook(hooks, "m.example.com", "/allow"))
    (hook,) = stored["webhooks"]
    assert hook["failurePolicy"] == "Fail"
    assert hook["matchPolicy"] == "Equivalent"
    assert hook["namespaceSelector"] == {}
    assert hook["objectSelector"] == {}
    assert hook["timeoutSeconds"] == 10
    assert hook["reinvocationPolicy"] == "Never"
    assert hook["rules"][0]["scope"] == "*"


GADGETS = Resource("example.com", "v2", "gadgets", "Gadget", True)


def gadget_crd() -> dict[str, Any]:
    schema = {
        "openAPIV3Schema": {
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
        }
    }
    return {
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": schema},
                {"name": "v2", "served": True, "storage": False, "schema": schema},
            ],
        },
    }


async def test_custom_resources_are_sent_to_webhooks_in_the_matched_version(
    client: Client, hooks: WebhookServer
) -> None:
    crds = Resource(
        "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
    )
    await client.create(crds, gadget_crd())
    hook = webhook(
        hooks, "label.example.com", "/label", groups=["example.com"], resources=["gadgets"]
    )
    hook["rules"][0]["apiVersions"] = ["v1"]
    await configure(client, MUTATING, "label", hook)
    gadget = {"metadata": {"name": "g"}, "spec": {"size": 1}}
    created = await client.create(GADGETS, gadget, "default")
    assert created["apiVersion"] == "example.com/v2"
    assert created["metadata"]["labels"] == {"injected": "1"}
    (request,) = hooks.requests["/label"]
    # matchPolicy Equivalent: the v1 rule matches a v2 request; the webhook sees v1.
    assert request["kind"] == {"group": "example.com", "version": "v1", "kind": "Gadget"}
    assert request["requestKind"] == {"group": "example.com", "version": "v2", "kind": "Gadget"}
    assert request["object"]["apiVersion"] == "example.com/v1"
    await configure(
        client,
        VALIDATING,
        "deny",
        webhook(hooks, "deny.example.com", "/deny", groups=["example.com"], resources=["*"]),
    )
    with pytest.raises(errors.Forbidden) as refused:
        await client.create(GADGETS, {"metadata": {"name": "h"}, "spec": {}}, "default")
    assert "denied the request: no configmaps today" in str(refused.value)


async def test_service_reference_reaches_a_ready_endpoint(tmp_path: Path, client: Client) -> None:
    async with webhook_server(tmp_path, HANDLERS, hosts=["hooks.default.svc"]) as server:
        await client.create(
            SERVICES,
            {"metadata": {"name": "hooks"}, "spec": {"ports": [{"port": 443, "targetPort": 8443}]}},
            "default",
        )
        await client.create(
            ENDPOINTSLICES,
            {
                "metadata": {"name": "hooks-1", "labels": {"kubernetes.io/service-name": "hooks"}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
                "ports": [{"name": "", "port": server.port, "protocol": "TCP"}],
            },
            "default",
        )
        hook = webhook(server, "svc.example.com", "/deny")
        hook["clientConfig"] = {
            "service": {"namespace": "default", "name": "hooks", "path": "/deny"},
            "caBundle": server.ca_bundle,
        }
        await configure(client, VALIDATING, "svc", hook)
        with pytest.raises(errors.Forbidden):
            await client.create(CONFIGMAPS, configmap("c"), "default")
        assert len(server.requests["/deny"]) == 1
