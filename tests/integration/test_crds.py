"""Custom resources over real HTTP (in-process API server, memory storage): a CRD is served
the moment its create returns, with its schema, subresources, versions and printer columns,
and deleting it takes its objects with it."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest_asyncio

from kybernetes.testing.apiserver import RunningAPIServer, running_apiserver

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
W = "/apis/example.com/v1/namespaces/default/widgets"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
AGGREGATED = {"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "shortNames": ["wd"],
            "categories": ["all"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.selector",
                    },
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color", "priority": 1},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "x-kubernetes-validations": [
                                    {"rule": "self.size <= 100", "message": "size too big"}
                                ],
                                "properties": {
                                    "size": {"type": "integer", "default": 3},
                                    "replicas": {"type": "integer"},
                                    "color": {"type": "string", "enum": ["red", "blue"]},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "replicas": {"type": "integer"},
                                    "selector": {"type": "string"},
                                },
                            },
                        },
                    }
                },
            },
            {
                "name": "v1beta1",
                "served": True,
                "storage": False,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            },
        ],
    },
}


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    api: RunningAPIServer
    async with (
        running_apiserver() as api,
        aiohttp.ClientSession(base_url=api.url) as session,
    ):
        yield session


async def call(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Any]:
    data = orjson.dumps(body) if body is not None else None
    async with http.request(
        method, path, data=data, headers={"Content-Type": content_type, **(headers or {})}
    ) as resp:
        raw = await resp.read()
        return resp.status, orjson.loads(raw) if raw[:1] in (b"{", b"[") else raw, resp.headers


async def make_crd(http: aiohttp.ClientSession, crd: dict[str, Any] = CRD) -> dict[str, Any]:
    status, body, _ = await call(http, "POST", CRDS, crd)
    assert status == 201, body
    return dict(body)


async def test_crd_is_served_when_its_create_returns(http: aiohttp.ClientSession) -> None:
    created = await make_crd(http)
    conditions = {c["type"]: c for c in created["status"]["conditions"]}
    assert conditions["NamesAccepted"]["reason"] == "NoConflicts"
    assert conditions["Established"]["status"] == "True"
    assert created["status"]["acceptedNames"]["kind"] == "Widget"
    status, body, _ = await call(http, "POST", W, widget("w1", replicas=2))
    assert status == 201, body
    assert body["spec"] == {"replicas": 2, "size": 3}
    assert body["metadata"]["generation"] == 1
    status, body, _ = await call(http, "GET", "/apis/example.com/v1")
    names = [r["name"] for r in body["resources"]]
    assert names == ["widgets", "widgets/scale", "widgets/status"]
    status, body, _ = await call(http, "GET", "/apis", headers=AGGREGATED)
    group = next(i for i in body["items"] if i["metadata"]["name"] == "example.com")
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    resource = group["versions"][0]["resources"][0]
    assert resource["shortNames"] == ["wd"]
    assert resource["categories"] == ["all"]
    status, body, _ = await call(http, "GET", "/openapi/v3")
    assert "apis/example.com/v1" in body["paths"]
    status, doc, _ = await call(http, "GET", "/openapi/v3/apis/example.com/v1")
    assert "com.example.v1.Widget" in doc["components"]["schemas"]


async def test_discovery_etag_changes_with_a_new_crd(http: aiohttp.ClientSession) -> None:
    _, _, before = await call(http, "GET", "/apis", headers=AGGREGATED)
    await make_crd(http)
    status, _, _ = await call(
        http, "GET", "/apis", headers={**AGGREGATED, "If-None-Match": before["ETag"]}
    )
    assert status == 200


async def test_versions_share_objects_in_the_storage_version(
    http: aiohttp.ClientSession,
) -> None:
    await make_crd(http)
    await call(http, "POST", W, widget("w1"))
    status, body, _ = await call(
        http, "GET", "/apis/example.com/v1beta1/namespaces/default/widgets"
    )
    assert status == 200
    assert body["items"][0]["apiVersion"] == "example.com/v1beta1"
    assert body["items"][0]["spec"]["size"] == 3


async def test_schema_errors_pruning_and_field_validation(http: aiohttp.ClientSession) -> None:
    await make_crd(http)
    status, body, _ = await call(http, "POST", W, widget("bad", size="x", color="pink"))
    assert status == 422
    assert body["message"].startswith(
        'Widget.example.com "bad" is invalid: [spec.size: Invalid value: "string": spec.size '
        'in body must be of type integer: "string", spec.color: Unsupported value: "pink"'
    )
    status, body, _ = await call(http, "POST", W, widget("big", size=500))
    assert status == 422
    assert body["message"] == (
        'Widget.example.com "big" is invalid: spec: Invalid value: "object": size too big'
    )
    status, body, headers = await call(http, "POST", W, widget("extra", junk=1))
    assert status == 201
    assert "junk" not in body["spec"]
    assert headers["Warning"] == '299 - "unknown field "spec.junk""'
    status, body, _ = await call(
        http, "POST", W + "?fieldValidation=Strict", widget("strict", junk=1)
    )
    assert status == 400
    assert body["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "spec.junk"'
    )


async def test_status_and_scale_subresources(http: aiohttp.ClientSession) -> None:
    await make_crd(http)
    body = widget("w1", replicas=1)
    body["status"] = {"replicas": 9}
    _, created, _ = await call(http, "POST", W, body)
    assert "status" not in created
    _, patched, _ = await call(
        http,
        "PATCH",
        W + "/w1/status",
        {"status": {"replicas": 1, "selector": "app=w"}, "spec": {"replicas": 5}},
        "application/merge-patch+json",
    )
    assert patched["status"] == {"replicas": 1, "selector": "app=w"}
    assert patched["spec"]["replicas"] == 1
    assert patched["metadata"]["generation"] == 1
    status, scale, _ = await call(
        http, "PATCH", W + "/w1/scale", {"spec": {"replicas": 4}}, "application/merge-patch+json"
    )
    assert status == 200
    assert scale["spec"] == {"replicas": 4}
    assert scale["status"] == {"replicas": 1, "selector": "app=w"}
    _, got, _ = await call(http, "GET", W + "/w1")
    assert got["spec"]["replicas"] == 4
    assert got["metadata"]["generation"] == 2


async def test_patches_and_strategic_merge_refused(http: aiohttp.ClientSession) -> None:
    await make_crd(http)
    await call(http, "POST", W, widget("w1"))
    status, body, _ = await call(
        http, "PATCH", W + "/w1", {"spec": {"color": "red"}}, "application/merge-patch+json"
    )
    assert (status, body["spec"]["color"]) == (200, "red")
    status, body, _ = await call(
        http,
        "PATCH",
        W + "/w1",
        [{"op": "replace", "path": "/spec/size", "value": 7}],
        "application/json-patch+json",
    )
    assert (status, body["spec"]["size"]) == (200, 7)
    status, body, _ = await call(
        http, "PATCH", W + "/w1", {"spec": {"size": 1}}, "application/strategic-merge-patch+json"
    )
    assert status == 415
    assert body["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )
    status, body, _ = await call(
        http,
        "PATCH",
        W + "/w2?fieldManager=test",
        widget("w2", size=2),
        "application/apply-patch+yaml",
    )
    assert status == 201, body
    assert body["metadata"]["managedFields"][0]["manager"] == "test"


async def test_printer_columns_in_tables(http: aiohttp.ClientSession) -> None:
    await make_crd(http)
    await call(http, "POST", W, widget("w1", color="blue"))
    status, table, _ = await call(http, "GET", W, headers=TABLE)
    assert status == 200
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Color"]
    assert table["columnDefinitions"][2]["priority"] == 1
    assert table["rows"][0]["cells"] == ["w1", 3, "blue"]


async def test_field_selectors_and_watch(http: aiohttp.ClientSession) -> None:
    await make_crd(http)
    await call(http, "POST", W, widget("a"))
    await call(http, "POST", W, widget("b"))
    _, body, _ = await call(http, "GET", W + "?fieldSelector=metadata.name%3Db")
    assert [i["metadata"]["name"] for i in body["items"]] == ["b"]
    async with http.get(W + "?watch=true&timeoutSeconds=1") as resp:
        lines = [orjson.loads(line) async for line in resp.content if line.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]


async def test_name_conflict_is_not_accepted(http: aiohttp.ClientSession) -> None:
    await make_crd(http)
    other = copy.deepcopy(CRD)
    other["metadata"]["name"] = "gadgets.example.com"
    other["spec"]["names"] = {"plural": "gadgets", "kind": "Widget", "singular": "gadget"}
    created = await make_crd(http, other)
    conditions = {c["type"]: c for c in created["status"]["conditions"]}
    assert conditions["NamesAccepted"]["status"] == "False"
    # Kind and list kind both clash; as upstream, the last conflict checked is reported.
    assert conditions["NamesAccepted"]["reason"] == "ListKindConflict"
    assert conditions["NamesAccepted"]["message"] == '"WidgetList" is already in use'
    assert conditions["Established"]["reason"] == "NotAccepted"
    status, _, _ = await call(http, "GET", "/apis/example.com/v1/namespaces/default/gadgets")
    assert status == 404


async def test_deleting_the_crd_deletes_its_objects(http: aiohttp.ClientSession) -> None:
    await make_crd(http)
    await call(http, "POST", W, widget("w1"))
    await call(http, "POST", W, widget("w2"))
    status, body, _ = await call(http, "DELETE", CRDS + "/widgets.example.com")
    assert status == 200
    assert body["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    for _ in range(50):
        status, _, _ = await call(http, "GET", CRDS + "/widgets.example.com")
        if status == 404:
            break
        await asyncio.sleep(0.05)
    assert status == 404
    status, _, _ = await call(http, "GET", W)
    assert status == 404
    await make_crd(http)
    _, body, _ = await call(http, "GET", W)
    assert body["items"] == []
