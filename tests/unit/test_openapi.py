"""OpenAPI v3 documents (kybernetes.apiserver.openapi), and kubectl reading them for real."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openapi_spec_validator
import orjson
import pytest
from aiohttp import web

from kybernetes.api import resources
from kybernetes.api.tables import table_for_custom_resource, to_table
from kybernetes.apiserver.openapi import (
    OpenAPIV3,
    crd_definition_name,
    custom_group_version,
    group_version_document,
    gv_path,
)

V2_DOCUMENT = Path("/work/shared/k8s-api-1.32/openapi-v2.json")
PATCH_TYPES = {
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
}


@pytest.fixture(scope="module")
def api() -> OpenAPIV3:
    return OpenAPIV3()


def doc(api: OpenAPIV3, path: str) -> dict[str, Any]:
    document = api.document(path)
    assert document is not None, path
    parsed: dict[str, Any] = json.loads(document.body)
    return parsed


def enabled_group_versions() -> set[str]:
    return {gv_path(r.group, r.version) for r in resources.resources() if r.enabled_by_default}


# --- the discovery document --------------------------------------------------------------------


def test_root_lists_every_enabled_group_version(api: OpenAPIV3) -> None:
    root = json.loads(api.root().body)
    paths = set(root["paths"])
    assert enabled_group_versions() <= paths
    assert {"api", "apis", "version", "api/v1", "apis/apps", "apis/apps/v1"} <= paths
    # Only GA versions are enabled by default.
    assert "apis/resource.k8s.io/v1beta1" not in paths
    assert "apis/storagemigration.k8s.io/v1alpha1" not in paths
    for path, entry in root["paths"].items():
        document = api.document(path)
        assert document is not None
        assert entry == {"serverRelativeURL": f"/openapi/v3/{path}?hash={document.hash}"}


def test_hash_is_the_upper_case_sha512_of_the_body(api: OpenAPIV3) -> None:
    document = api.document("apis/apps/v1")
    assert document is not None
    assert document.hash == hashlib.sha512(document.body).hexdigest().upper()
    assert len(document.hash) == 128
    assert document.etag == f'"{document.hash}"'


def test_documents_are_cached_and_stable(api: OpenAPIV3) -> None:
    first = api.document("api/v1")
    assert first is api.document("api/v1")
    assert api.root() is api.root()
    again = OpenAPIV3().document("api/v1")
    assert again is not None
    assert first is not None
    assert again.body == first.body
    assert again.hash == first.hash
    assert api.document("apis/nothing/v1") is None


def test_module_level_builders_match_the_cache(api: OpenAPIV3) -> None:
    built = group_version_document("apps", "v1")
    assert orjson.dumps(built, option=orjson.OPT_SORT_KEYS) == api.document("apis/apps/v1").body  # type: ignore[union-attr]


# --- group-version documents -------------------------------------------------------------------


def test_apps_v1_deployment_patch_lets_kubectl_validate_on_the_server(api: OpenAPIV3) -> None:
    d = doc(api, "apis/apps/v1")
    assert d["openapi"] == "3.0.0"
    assert d["info"] == {"title": "Kubernetes", "version": "v1.32.0"}
    item = d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert set(item) == {"get", "put", "patch", "delete", "parameters"}
    patch = item["patch"]
    assert patch["operationId"] == "patchAppsV1NamespacedDeployment"
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "kind": "Deployment",
        "version": "v1",
    }
    query = {p["name"]: p for p in patch["parameters"]}
    assert set(query) == {"dryRun", "fieldManager", "fieldValidation", "force"}
    assert query["fieldValidation"] == {
        "in": "query",
        "name": "fieldValidation",
        "schema": {"type": "string", "uniqueItems": True},
    }
    assert query["force"]["schema"]["type"] == "boolean"
    body = patch["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) >= PATCH_TYPES
    for media in body["content"].values():
        assert media["schema"] == {
            "$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
        }
    ok = patch["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/io.k8s.api.apps.v1.Deployment"}
    assert patch["responses"]["401"] == {"description": "Unauthorized"}
    # Parameters shared by every operation of the path sit on the path, sorted.
    assert [(p["name"], p["in"]) for p in item["parameters"]] == [
        ("name", "path"),
        ("namespace", "path"),
        ("pretty", "query"),
    ]
    assert all(p.get("required") for p in item["parameters"] if p["in"] == "path")


def test_apps_v1_routes(api: OpenAPIV3) -> None:
    paths = doc(api, "apis/apps/v1")["paths"]
    assert paths["/apis/apps/v1/"]["get"]["operationId"] == "getAppsV1APIResources"
    collection = paths["/apis/apps/v1/namespaces/{namespace}/deployments"]
    assert {m: op["x-kubernetes-action"] for m, op in collection.items() if m != "parameters"} == {
        "get": "list",
        "post": "post",
        "delete": "deletecollection",
    }
    assert collection["delete"]["operationId"] == "deleteAppsV1CollectionNamespacedDeployment"
    listing = collection["get"]["responses"]["200"]["content"]
    assert "application/json;stream=watch" in listing
    all_ns = paths["/apis/apps/v1/deployments"]["get"]
    assert all_ns["operationId"] == "listAppsV1DeploymentForAllNamespaces"
    watch = paths["/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}"]["get"]
    assert (watch["operationId"], watch["x-kubernetes-action"]) == (
        "watchAppsV1NamespacedDeployment",
        "watch",
    )
    scale = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "kind": "Scale",
        "version": "v1",
    }
    assert "io.k8s.api.autoscaling.v1.Scale" in doc(api, "apis/apps/v1")["components"]["schemas"]


def test_core_v1_connect_and_log_routes(api: OpenAPIV3) -> None:
    paths = doc(api, "api/v1")["paths"]
    exec_ = paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"]
    assert set(exec_) == {"get", "post", "parameters"}
    assert exec_["post"]["operationId"] == "connectCoreV1PostNamespacedPodExec"
    assert exec_["post"]["x-kubernetes-action"] == "connect"
    assert {p["name"] for p in exec_["parameters"]} >= {"command", "container", "stdin", "tty"}
    proxy = paths["/api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}"]
    assert set(proxy) - {"parameters"} == {
        "delete",
        "get",
        "head",
        "options",
        "patch",
        "post",
        "put",
    }
    assert proxy["head"]["operationId"] == "connectCoreV1HeadNamespacedPodProxyWithPath"
    log = paths["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"]
    assert log["operationId"] == "readCoreV1NamespacedPodLog"
    assert "text/plain" in log["responses"]["200"]["content"]
    eviction = paths["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]
    # One operation: every parameter is shared, so all of them sit on the path.
    assert "parameters" not in eviction["post"]
    assert {p["name"] for p in eviction["parameters"]} == {
        "dryRun",
        "fieldManager",
        "fieldValidation",
        "name",
        "namespace",
        "pretty",
    }
    delete_pod = paths["/api/v1/namespaces/{namespace}/pods/{name}"]["delete"]
    ok = delete_pod["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Pod"}


def refs_in(node: object) -> set[str]:
    """Every ``$ref`` target (component name) in a JSON tree."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "$ref" and isinstance(value, str):
                    assert value.startswith("#/components/schemas/"), value
                    found.add(value.removeprefix("#/components/schemas/"))
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


@pytest.mark.parametrize("path", ["api/v1", "apis/apps/v1", "apis/batch/v1", "version", "apis"])
def test_every_ref_resolves_and_nothing_unused_is_published(api: OpenAPIV3, path: str) -> None:
    d = doc(api, path)
    schemas = d["components"]["schemas"]
    reachable: set[str] = set()
    todo = list(refs_in(d["paths"]))
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        assert name in schemas, name
        reachable.add(name)
        todo.extend(refs_in(schemas[name]))
    assert reachable == set(schemas)


def test_schema_extensions(api: OpenAPIV3) -> None:
    schemas = doc(api, "apis/apps/v1")["components"]["schemas"]
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    strategy = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    # A $ref with siblings is wrapped in allOf, as OpenAPI 3.0 ignores siblings of $ref.
    assert strategy == {
        "allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}],
        "x-kubernetes-patch-strategy": "retainKeys",
    }
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    selector = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]
    assert selector["x-kubernetes-map-type"] == "atomic"
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    }
    assert schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"] == {
        "oneOf": [{"type": "string"}, {"type": "number"}]
    }
    assert (
        doc(api, "apis/apps/v1")["components"]["securitySchemes"]["BearerToken"]["in"] == "header"
    )


def test_json_schema_props_property_named_ref_is_not_a_reference(api: OpenAPIV3) -> None:
    schemas = doc(api, "apis/apiextensions.k8s.io/v1")["components"]["schemas"]
    props = schemas["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"]
    assert props["properties"]["$ref"] == {"type": "string"}


def test_routes_match_the_published_1_32_document() -> None:
    """Every path, operation id, action, GVK, tag, parameter, body and response of the real
    1.32 API (its OpenAPI v2 document) is reproduced by the v3 documents."""
    v2 = json.loads(V2_DOCUMENT.read_bytes())
    shared = v2["parameters"]

    def resolve(p: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in p:
            resolved: dict[str, Any] = shared[p["$ref"].rsplit("/", 1)[-1]]
            return resolved
        return p

    every = OpenAPIV3(resources.resources())
    mine: dict[str, Any] = {}
    for path in every.paths():
        mine.update(doc(every, path)["paths"])
    theirs = {
        k: v
        for k, v in v2["paths"].items()
        if not k.startswith(("/logs", "/openid", "/.well-known"))
    }
    assert set(mine) == set(theirs)
    for path, item in theirs.items():
        ours = mine[path]
        assert set(ours) == set(item), path
        common = sorted((resolve(p)["name"], resolve(p)["in"]) for p in item.get("parameters", []))
        assert sorted((p["name"], p["in"]) for p in ours.get("parameters", [])) == common, path
        for method, op in item.items():
            if method == "parameters":
                continue
            mine_op = ours[method]
            for key in (
                "operationId",
                "x-kubernetes-action",
                "x-kubernetes-group-version-kind",
                "tags",
            ):
                assert mine_op.get(key) == op.get(key), (path, method, key)
            params = [resolve(p) for p in op.get("parameters", [])]
            expected = sorted((p["name"], p["in"], p["type"]) for p in params if p["in"] != "body")
            got = sorted(
                (p["name"], p["in"], p["schema"]["type"]) for p in mine_op.get("parameters", [])
            )
            assert got == expected, (path, method)
            bodies = [p for p in params if p["in"] == "body"]
            if bodies:
                assert sorted(mine_op["requestBody"]["content"]) == sorted(op["consumes"]), path
                assert bool(mine_op["requestBody"].get("required")) == bool(
                    bodies[0].get("required")
                )
            else:
                assert "requestBody" not in mine_op, (path, method)
            assert set(mine_op["responses"]) == set(op["responses"]), (path, method)
            for code, response in op["responses"].items():
                if code == "401":
                    continue
                content = mine_op["responses"][code]["content"]
                assert sorted(content) == sorted(op["produces"]), (path, method, code)
                want = response["schema"].get("$ref", "").rsplit("/", 1)[-1]
                for media in content.values():
                    got_ref = media["schema"].get("$ref", "").rsplit("/", 1)[-1]
                    assert got_ref == want, (path, method, code)


def test_valid_openapi_3(api: OpenAPIV3) -> None:
    openapi_spec_validator.validate(doc(api, "apis/apps/v1"))


# --- custom resources --------------------------------------------------------------------------

WIDGET_CRD: dict[str, Any] = {
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
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.size",
                        "statusReplicasPath": ".status.size",
                    },
                },
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer"},
                                    "port": {"x-kubernetes-int-or-string": True},
                                },
                            },
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            },
            {"name": "v2", "served": False, "storage": False},
        ],
    },
}


def test_custom_group_version_from_crds() -> None:
    schemas, infos = custom_group_version([WIDGET_CRD], "example.com", "v1")
    name = crd_definition_name("example.com", "v1", "Widget")
    assert name == "com.example.v1.Widget"
    assert set(schemas) == {"com.example.v1.Widget", "com.example.v1.WidgetList"}
    widget = schemas[name]
    assert widget["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}
    ]
    assert set(widget["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    [info] = infos
    assert (info.plural, info.kind, info.namespaced, info.short_names) == (
        "widgets",
        "Widget",
        True,
        ("wd",),
    )
    assert [s.name for s in info.subresources] == ["scale", "status"]
    assert custom_group_version([WIDGET_CRD], "example.com", "v2") == ({}, [])
    assert custom_group_version([WIDGET_CRD], "other.io", "v1") == ({}, [])


def test_set_and_remove_custom_group_version_changes_the_root_hash() -> None:
    api = OpenAPIV3()
    before = api.root()
    schemas, infos = custom_group_version([WIDGET_CRD], "example.com", "v1")
    published = api.set_custom_group_version("example.com", "v1", schemas, infos)
    assert published is not None
    after = api.root()
    assert after.hash != before.hash
    root = json.loads(after.body)
    assert root["paths"]["apis/example.com/v1"]["serverRelativeURL"] == published.url
    d = json.loads(published.body)
    patch = d["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "example.com",
        "kind": "Widget",
        "version": "v1",
    }
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    status = d["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status"]
    assert set(status) >= {"get", "put", "patch"}
    component = d["components"]["schemas"]["com.example.v1.Widget"]
    assert component["properties"]["metadata"] == {
        "$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in d["components"]["schemas"]
    assert "io.k8s.api.autoscaling.v1.Scale" in d["components"]["schemas"]
    # Changing the CRD changes the document's hash; built-in documents are untouched.
    apps = api.document("apis/apps/v1")
    changed = json.loads(json.dumps(WIDGET_CRD))
    changed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "color"
    ] = {"type": "string"}
    replaced = api.set_custom_group_version(
        "example.com", "v1", *custom_group_version([changed], "example.com", "v1")
    )
    assert replaced is not None
    assert replaced.hash != published.hash
    assert api.document("apis/apps/v1") is apps
    assert api.remove_custom_group_version("example.com", "v1") is True
    assert api.remove_custom_group_version("example.com", "v1") is False
    assert api.document("apis/example.com/v1") is None
    assert api.root().hash == before.hash


def test_custom_resources_must_belong_to_the_group_version() -> None:
    _, infos = custom_group_version([WIDGET_CRD], "example.com", "v1")
    with pytest.raises(ValueError, match=r"example\.com/v2"):
        OpenAPIV3().set_custom_group_version("example.com", "v2", {}, infos)


# --- HTTP semantics ----------------------------------------------------------------------------


def test_serve(api: OpenAPIV3) -> None:
    root = api.serve("")
    assert (root.status, root.headers["Content-Type"]) == (200, "application/json")
    assert api.serve("/", if_none_match=root.headers["Etag"]).status == 304
    document = api.document("apis/apps/v1")
    assert document is not None
    now = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    hit = api.serve("apis/apps/v1", hash=document.hash, accept="application/json", now=now)
    assert hit.status == 200
    assert hit.body == document.body
    assert hit.headers["Cache-Control"] == "public, immutable"
    assert hit.headers["Expires"] == "Sun, 01 Jun 2025 12:00:00 GMT"
    assert hit.headers["Etag"] == document.etag
    stale = api.serve("apis/apps/v1", hash="0" * 128)
    assert (stale.status, stale.headers["Location"]) == (301, document.url)
    plain = api.serve("apis/apps/v1")
    assert plain.status == 200
    assert "Cache-Control" not in plain.headers
    assert api.serve("apis/apps/v1", if_none_match=document.etag).status == 304
    assert (
        api.serve(
            "apis/apps/v1", accept="application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
        ).status
        == 406
    )
    assert api.serve("apis/apps/v1", accept="application/*;q=0.5").status == 200
    assert api.serve("apis/nope/v1").status == 404


# --- kubectl, for real -------------------------------------------------------------------------

NOW = datetime.now(UTC)


def _json(obj: object) -> web.Response:
    return web.Response(body=orjson.dumps(obj), headers={"Content-Type": "application/json"})


def _fake_objects() -> dict[tuple[str, str], list[dict[str, Any]]]:
    created = (NOW - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = {"namespace": "default", "creationTimestamp": created}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", **meta},
        "spec": {"containers": [{"name": "web"}], "nodeName": "node-1"},
        "status": {
            "phase": "Running",
            "podIPs": [{"ip": "10.42.0.5"}],
            "containerStatuses": [
                {"name": "web", "ready": True, "restartCount": 0, "state": {"running": {}}}
            ],
        },
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", **meta},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {}},
        "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1},
    }
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", **meta},
        "spec": {"size": 3},
    }
    return {
        ("", "pods"): [pod],
        ("apps", "deployments"): [deployment],
        ("example.com", "widgets"): [widget],
    }


@pytest.fixture
async def fake_apiserver(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """A loopback HTTP server with discovery, OpenAPI v3 and Table lists; kubectl's env."""
    api = OpenAPIV3()
    custom_schemas, custom = custom_group_version([WIDGET_CRD], "example.com", "v1")
    api.set_custom_group_version("example.com", "v1", custom_schemas, custom)
    enabled = [r for r in resources.resources() if r.enabled_by_default] + custom
    objects = _fake_objects()

    async def version(_: web.Request) -> web.Response:
        return _json(
            {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"}
        )

    async def legacy(_: web.Request) -> web.Response:
        return _json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})

    async def groups(_: web.Request) -> web.Response:
        items = []
        for group in [*resources.groups(), "example.com"]:
            known = resources.versions(group) or ("v1",)
            versions = [
                v for v in known if any(r.group == group and r.version == v for r in enabled)
            ]
            if group and versions:
                gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
                items.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
        return _json({"kind": "APIGroupList", "apiVersion": "v1", "groups": items})

    async def resource_list(request: web.Request) -> web.Response:
        group, version = request.match_info.get("group", ""), request.match_info["version"]
        listed = [
            {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
                "shortNames": list(r.short_names),
            }
            for r in enabled
            if r.group == group and r.version == version
        ]
        gv = f"{group}/{version}" if group else version
        return _json({"kind": "APIResourceList", "groupVersion": gv, "resources": listed})

    async def listing(request: web.Request) -> web.Response:
        group = request.match_info.get("group", "")
        plural = request.match_info["plural"]
        items = objects.get((group, plural), [])
        if group == "example.com":
            version = WIDGET_CRD["spec"]["versions"][0]
            return _json(table_for_custom_resource(version, items, NOW))
        info = resources.get(group, request.match_info["version"], plural)
        if info is None:
            raise web.HTTPNotFound()
        return _json(to_table(info, items, now=NOW, list_meta={"resourceVersion": "9"}))

    async def openapi(request: web.Request) -> web.Response:
        answer = api.serve(
            request.match_info.get("path", ""),
            hash=request.query.get("hash"),
            accept=request.headers.get("Accept"),
            if_none_match=request.headers.get("If-None-Match"),
        )
        return web.Response(status=answer.status, headers=dict(answer.headers), body=answer.body)

    app = web.Application()
    app.router.add_get("/version", version)
    app.router.add_get("/api", legacy)
    app.router.add_get("/apis", groups)
    app.router.add_get("/api/{version}", resource_list)
    app.router.add_get("/apis/{group}/{version}", resource_list)
    app.router.add_get("/api/{version}/namespaces/{namespace}/{plural}", listing)
    app.router.add_get("/apis/{group}/{version}/namespaces/{namespace}/{plural}", listing)
    app.router.add_get("/openapi/v3", openapi)
    app.router.add_get("/openapi/v3/{path:.+}", openapi)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]\n"
        "current-context: x\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "KUBECONFIG": str(kubeconfig)}
    try:
        yield env
    finally:
        await runner.cleanup()


async def kubectl(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "kubectl",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = out.decode()
    assert process.returncode == 0, text
    return text


@pytest.mark.slow
async def test_kubectl_explain_reads_the_documents(fake_apiserver: dict[str, str]) -> None:
    out = await kubectl(fake_apiserver, "explain", "deployment.spec.strategy")
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    assert "GROUP:      apps" in lines
    assert "KIND:       Deployment" in lines
    assert "VERSION:    v1" in lines
    assert "FIELD: strategy <DeploymentStrategy>" in lines
    assert "rollingUpdate\t<RollingUpdateDeployment>" in lines
    assert "type\t<string>" in lines
    out = await kubectl(fake_apiserver, "explain", "deploy.spec.strategy.rollingUpdate.maxSurge")
    assert "FIELD: maxSurge <IntOrString>" in out
    out = await kubectl(fake_apiserver, "explain", "pods.spec.containers.resources.limits")
    assert "FIELD: limits <map[string]Quantity>" in out
    out = await kubectl(fake_apiserver, "explain", "widgets.spec")
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    assert "GROUP:      example.com" in lines
    assert "KIND:       Widget" in lines
    assert "size\t<integer>" in lines


@pytest.mark.slow
async def test_kubectl_validates_on_the_server_without_openapi_v2(
    fake_apiserver: dict[str, str], tmp_path: Path
) -> None:
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec:\n  selector: {matchLabels: {app: web}}\n"
        "  template:\n    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: c, image: nginx}]}\n"
    )
    # Strict validation needs a PATCH with fieldValidation in v3; otherwise kubectl would
    # fetch /openapi/v2 (absent here) and fail.
    out = await kubectl(
        fake_apiserver, "create", "-f", str(manifest), "--dry-run=client", "-o", "name"
    )
    assert out.strip() == "deployment.apps/web"


@pytest.mark.slow
async def test_kubectl_get_renders_tables(fake_apiserver: dict[str, str]) -> None:
    def words(text: str) -> list[str]:
        return [" ".join(line.split()) for line in text.splitlines()]

    out = await kubectl(fake_apiserver, "get", "pods")
    assert words(out) == ["NAME READY STATUS RESTARTS AGE", "web-1 1/1 Running 0 5m"]
    out = await kubectl(fake_apiserver, "get", "pods", "-o", "wide")
    assert words(out) == [
        "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES",
        "web-1 1/1 Running 0 5m 10.42.0.5 node-1 <none> <none>",
    ]
    out = await kubectl(fake_apiserver, "get", "deploy")
    assert words(out) == ["NAME READY UP-TO-DATE AVAILABLE AGE", "web 1/2 2 1 5m"]
    out = await kubectl(fake_apiserver, "get", "widgets")
    assert words(out) == ["NAME SIZE AGE", "w1 3 5m"]
