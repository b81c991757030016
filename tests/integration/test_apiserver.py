"""The API server's REST semantics over real HTTP (in-process server, memory storage)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest_asyncio

from kybernetes.testing.apiserver import RunningAPIServer, running_apiserver

JSON = {"Content-Type": "application/json"}


@pytest_asyncio.fixture
async def api() -> AsyncIterator[RunningAPIServer]:
    async with running_apiserver() as running:
        yield running


@pytest_asyncio.fixture
async def http(api: RunningAPIServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=api.url) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None, **kw: Any
) -> tuple[int, Any]:
    data: Any = orjson.dumps(body) if body is not None and not isinstance(body, bytes) else body
    if isinstance(data, bytes) and len(data) > 1024 * 1024:
        data = io.BytesIO(data)
    headers = kw.pop("headers", JSON)
    async with http.request(method, path, data=data, headers=headers, **kw) as resp:
        raw = await resp.read()
        if raw[:1] in (b"{", b"["):
            assert resp.headers["Content-Type"] == "application/json"
        return resp.status, orjson.loads(raw) if raw and raw[:1] in b"{[" else raw


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


CM = "/api/v1/namespaces/default/configmaps"


async def test_version_and_health(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", "/version")
    assert status == 200
    assert body["major"] == "1"
    assert body["minor"] == "32"
    status, body = await call(http, "GET", "/readyz")
    assert (status, body) == (200, b"ok")


async def test_default_namespaces_exist(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", "/api/v1/namespaces")
    assert status == 200
    names = [item["metadata"]["name"] for item in body["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert body["items"][0]["status"]["phase"] == "Active"


async def test_crud_of_a_configmap(http: aiohttp.ClientSession) -> None:
    status, created = await call(http, "POST", CM, configmap("one", a="1"))
    assert status == 201
    meta = created["metadata"]
    assert meta["namespace"] == "default"
    assert meta["uid"]
    assert meta["creationTimestamp"].endswith("Z")
    rv = meta["resourceVersion"]
    status, got = await call(http, "GET", f"{CM}/one")
    assert status == 200
    assert got["data"] == {"a": "1"}
    assert got["metadata"]["resourceVersion"] == rv

    status, err = await call(http, "POST", CM, configmap("one"))
    assert status == 409
    assert err["reason"] == "AlreadyExists"
    assert err["message"] == 'configmaps "one" already exists'

    got["data"]["a"] = "2"
    status, updated = await call(http, "PUT", f"{CM}/one", got)
    assert status == 200
    assert updated["metadata"]["resourceVersion"] != rv
    status, err = await call(http, "PUT", f"{CM}/one", got)  # stale resourceVersion
    assert status == 409
    assert err["reason"] == "Conflict"
    assert "the object has been modified" in err["message"]

    status, deleted = await call(http, "DELETE", f"{CM}/one")
    assert status == 200
    assert deleted["status"] == "Success"
    assert deleted["details"]["name"] == "one"
    status, err = await call(http, "GET", f"{CM}/one")
    assert status == 404
    assert err["message"] == 'configmaps "one" not found'


async def test_generate_name(http: aiohttp.ClientSession) -> None:
    body = {"metadata": {"generateName": "cm-"}, "data": {}}
    status, created = await call(http, "POST", CM, body)
    assert status == 201
    assert created["metadata"]["name"].startswith("cm-")
    assert len(created["metadata"]["name"]) == 8


async def test_list_selectors_and_pages(http: aiohttp.ClientSession) -> None:
    for i in range(7):
        cm = configmap(f"cm{i}")
        cm["metadata"]["labels"] = {"parity": "even" if i % 2 == 0 else "odd"}
        assert (await call(http, "POST", CM, cm))[0] == 201
    status, body = await call(http, "GET", CM, params={"labelSelector": "parity=even"})
    assert [i["metadata"]["name"] for i in body["items"]] == ["cm0", "cm2", "cm4", "cm6"]
    status, body = await call(http, "GET", CM, params={"fieldSelector": "metadata.name=cm3"})
    assert [i["metadata"]["name"] for i in body["items"]] == ["cm3"]
    status, err = await call(http, "GET", CM, params={"fieldSelector": "spec.nope=1"})
    assert status == 400
    assert err["message"] == "field label not supported: spec.nope"
    status, first = await call(http, "GET", CM, params={"limit": "3"})
    assert [i["metadata"]["name"] for i in first["items"]] == ["cm0", "cm1", "cm2"]
    assert first["metadata"]["remainingItemCount"] == 4
    token = first["metadata"]["continue"]
    await call(http, "DELETE", f"{CM}/cm3")  # later pages still show the first page's snapshot
    status, second = await call(http, "GET", CM, params={"limit": "3", "continue": token})
    assert [i["metadata"]["name"] for i in second["items"]] == ["cm3", "cm4", "cm5"]
    status, third = await call(
        http, "GET", CM, params={"limit": "3", "continue": second["metadata"]["continue"]}
    )
    assert [i["metadata"]["name"] for i in third["items"]] == ["cm6"]
    assert "continue" not in third["metadata"]


async def test_bad_input_gets_a_status_and_changes_nothing(http: aiohttp.ClientSession) -> None:
    status, err = await call(http, "POST", CM, b"{not json")
    assert status == 400
    assert err["kind"] == "Status"
    bad = configmap("x")
    bad["metadata"]["namespace"] = "other"
    status, err = await call(http, "POST", CM, bad)
    assert status == 400
    assert "does not match the namespace" in err["message"]
    bad = configmap("x")
    bad["dataa"] = {}
    status, err = await call(http, "POST", CM, bad, params={"fieldValidation": "Strict"})
    assert status == 400
    assert 'unknown field "dataa"' in err["message"]
    status, err = await call(http, "POST", CM, configmap("Bad_Name"))
    assert status == 422
    assert err["reason"] == "Invalid"
    assert err["details"]["causes"][0]["field"] == "metadata.name"
    status, err = await call(http, "POST", CM, b"{" + b'"a":"' + b"x" * (4 * 1024 * 1024) + b'"}')
    assert status == 413
    status, body = await call(http, "GET", CM)
    assert body["items"] == []


async def test_watch_sees_existing_then_live_changes(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", CM, configmap("before"))
    async with http.get(CM, params={"watch": "True"}) as resp:
        assert resp.status == 200
        first = orjson.loads(await resp.content.readline())
        assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "before")
        await call(http, "POST", CM, configmap("after"))
        second = orjson.loads(await resp.content.readline())
        assert (second["type"], second["object"]["metadata"]["name"]) == ("ADDED", "after")
        await call(http, "DELETE", f"{CM}/before")
        third = orjson.loads(await resp.content.readline())
        assert third["type"] == "DELETED"
        assert third["object"]["kind"] == "ConfigMap"


async def test_watch_from_a_resource_version_and_timeout(http: aiohttp.ClientSession) -> None:
    _, a = await call(http, "POST", CM, configmap("a"))
    await call(http, "POST", CM, configmap("b"))
    params = {
        "watch": "true",
        "resourceVersion": a["metadata"]["resourceVersion"],
        "timeoutSeconds": "1",
    }
    async with http.get(CM, params=params) as resp:
        lines = [orjson.loads(line) async for line in resp.content]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [("ADDED", "b")]


async def test_generation_and_status_subresource(http: aiohttp.ClientSession) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments"
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
            },
        },
        "status": {"replicas": 99},
    }
    status, created = await call(http, "POST", path, deploy)
    assert status == 201, created
    assert created["metadata"]["generation"] == 1
    assert created["status"] == {}
    assert created["spec"]["strategy"]["type"] == "RollingUpdate"
    merge = {"Content-Type": "application/merge-patch+json"}
    status, patched = await call(
        http, "PATCH", f"{path}/web", {"metadata": {"labels": {"x": "y"}}}, headers=merge
    )
    assert patched["metadata"]["generation"] == 1
    status, patched = await call(
        http,
        "PATCH",
        f"{path}/web",
        {"spec": {"replicas": 3}, "status": {"replicas": 5}},
        headers=merge,
    )
    assert patched["metadata"]["generation"] == 2
    assert patched["status"] == {}
    status, patched = await call(
        http,
        "PATCH",
        f"{path}/web/status",
        {"spec": {"replicas": 9}, "status": {"replicas": 3}},
        headers=merge,
    )
    assert status == 200
    assert patched["spec"]["replicas"] == 3
    assert patched["status"]["replicas"] == 3
    status, scale = await call(http, "GET", f"{path}/web/scale")
    assert scale["spec"]["replicas"] == 3
    assert scale["status"]["selector"] == "app=web"
    status, scale = await call(
        http, "PATCH", f"{path}/web/scale", {"spec": {"replicas": 5}}, headers=merge
    )
    assert scale["spec"]["replicas"] == 5
    status, got = await call(http, "GET", f"{path}/web")
    assert got["spec"]["replicas"] == 5
    assert got["metadata"]["generation"] == 3


async def test_finalizers_hold_deletion(http: aiohttp.ClientSession) -> None:
    cm = configmap("held")
    cm["metadata"]["finalizers"] = ["example.com/hold"]
    await call(http, "POST", CM, cm)
    status, body = await call(http, "DELETE", f"{CM}/held")
    assert status == 200
    assert body["metadata"]["deletionTimestamp"]
    status, got = await call(http, "GET", f"{CM}/held")
    assert status == 200
    patch = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": got["metadata"]["resourceVersion"],
        },
        {"op": "remove", "path": "/metadata/finalizers"},
    ]
    status, _ = await call(
        http, "PATCH", f"{CM}/held", patch, headers={"Content-Type": "application/json-patch+json"}
    )
    assert status == 200
    status, _ = await call(http, "GET", f"{CM}/held")
    assert status == 404


async def test_namespace_deletion_empties_it(http: aiohttp.ClientSession) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}}
    assert (await call(http, "POST", "/api/v1/namespaces", ns))[0] == 201
    path = "/api/v1/namespaces/doomed/configmaps"
    assert (await call(http, "POST", path, configmap("inside")))[0] == 201
    status, _ = await call(http, "DELETE", "/api/v1/namespaces/doomed")
    assert status == 200
    status, err = await call(http, "POST", path, configmap("late"))
    if status != 404:  # still terminating: refused as upstream does
        assert status == 403
        assert "because it is being terminated" in err["message"]
    for _ in range(100):
        status, _ = await call(http, "GET", "/api/v1/namespaces/doomed")
        if status == 404:
            break
        await asyncio.sleep(0.05)
    assert status == 404
    status, err = await call(http, "POST", path, configmap("late"))
    assert status == 404
    assert err["message"] == 'namespaces "doomed" not found'


async def test_discovery_both_forms(http: aiohttp.ClientSession) -> None:
    _, legacy = await call(http, "GET", "/apis")
    assert legacy["kind"] == "APIGroupList"
    names = [g["name"] for g in legacy["groups"]]
    assert "apps" in names
    assert "autoscaling" in names
    accept = {
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json"
    }
    async with http.get("/apis", headers=accept) as resp:
        assert resp.headers["Content-Type"] == (
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        )
        etag = resp.headers["ETag"]
        body = orjson.loads(await resp.read())
    assert body["kind"] == "APIGroupDiscoveryList"
    async with http.get("/apis", headers={**accept, "If-None-Match": etag}) as resp:
        assert resp.status == 304
    _, core = await call(http, "GET", "/api/v1")
    pods = next(r for r in core["resources"] if r["name"] == "pods")
    assert pods["shortNames"] == ["po"]
    assert any(r["name"] == "pods/status" for r in core["resources"])


async def test_unknown_paths_are_404_status(http: aiohttp.ClientSession) -> None:
    status, err = await call(http, "GET", "/apis/nope.example.com/v1/things")
    assert status == 404
    assert err["message"] == "the server could not find the requested resource"


async def test_events_are_one_resource_in_two_groups(http: aiohttp.ClientSession) -> None:
    core = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
        "reason": "Started",
        "message": "Started container web",
        "type": "Normal",
        "source": {"component": "kubelet"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
    }
    status, _ = await call(http, "POST", "/api/v1/namespaces/default/events", core)
    assert status == 201
    status, seen = await call(http, "GET", "/apis/events.k8s.io/v1/namespaces/default/events/e1")
    assert status == 200
    assert seen["apiVersion"] == "events.k8s.io/v1"
    assert seen["regarding"]["name"] == "web"
    assert seen["note"] == "Started container web"
    assert seen["deprecatedCount"] == 1
    assert "involvedObject" not in seen
    modern = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e2"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "example.com/controller",
        "reportingInstance": "controller-1",
        "action": "Scaling",
        "reason": "Scaled",
        "regarding": {"kind": "Deployment", "name": "web", "namespace": "default"},
        "note": "scaled to 3",
        "type": "Normal",
    }
    status, body = await call(
        http, "POST", "/apis/events.k8s.io/v1/namespaces/default/events", modern
    )
    assert status == 201, body
    status, listed = await call(http, "GET", "/api/v1/namespaces/default/events")
    by_name = {item["metadata"]["name"]: item for item in listed["items"]}
    assert by_name["e2"]["involvedObject"]["kind"] == "Deployment"
    assert by_name["e2"]["message"] == "scaled to 3"
    assert by_name["e2"]["reportingComponent"] == "example.com/controller"


async def test_hpa_is_one_object_in_v1_and_v2(http: aiohttp.ClientSession) -> None:
    v2 = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "64Mi"},
                    },
                },
            ],
        },
    }
    v2_path = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
    v1_path = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
    status, created = await call(http, "POST", v2_path, v2)
    assert status == 201, created
    status, seen = await call(http, "GET", f"{v1_path}/web")
    assert status == 200
    assert seen["apiVersion"] == "autoscaling/v1"
    assert seen["spec"]["targetCPUUtilizationPercentage"] == 70
    seen["spec"]["maxReplicas"] = 6
    status, updated = await call(http, "PUT", f"{v1_path}/web", seen)
    assert status == 200, updated
    status, back = await call(http, "GET", f"{v2_path}/web")
    assert back["spec"]["maxReplicas"] == 6
    assert [m["resource"]["name"] for m in back["spec"]["metrics"]] == ["cpu", "memory"]
    assert "annotations" not in back["metadata"]


async def test_malformed_yaml_and_protobuf_bodies(http: aiohttp.ClientSession) -> None:
    status, err = await call(
        http, "POST", CM, b"metadata: [unclosed", headers={"Content-Type": "application/yaml"}
    )
    assert status == 400
    assert "error decoding YAML" in err["message"]
    yaml_body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n"
    status, ok = await call(
        http, "POST", CM, yaml_body, headers={"Content-Type": "application/yaml"}
    )
    assert status == 201
    assert ok["data"] == {"a": "b"}
    proto = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    status, err = await call(http, "POST", CM, b"k8s\x00\x0a\xff\xff", headers=proto)
    assert status == 400
    assert err["kind"] == "Status"
    status, err = await call(http, "POST", CM, b"not protobuf at all", headers=proto)
    assert status == 400
    status, err = await call(http, "POST", CM, b"{}", headers={"Content-Type": "text/csv"})
    assert status == 415
    status, listed = await call(http, "GET", CM)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["from-yaml"]


async def test_patch_with_a_stale_resource_version_conflicts(
    http: aiohttp.ClientSession,
) -> None:
    _, cm = await call(http, "POST", CM, configmap("rv", a="1"))
    stale = cm["metadata"]["resourceVersion"]
    merge = {"Content-Type": "application/merge-patch+json"}
    await call(http, "PATCH", f"{CM}/rv", {"data": {"a": "2"}}, headers=merge)
    status, err = await call(
        http,
        "PATCH",
        f"{CM}/rv",
        {"metadata": {"resourceVersion": stale}, "data": {"a": "3"}},
        headers=merge,
    )
    assert status == 409
    assert err["reason"] == "Conflict"
    _, now = await call(http, "GET", f"{CM}/rv")
    assert now["data"] == {"a": "2"}
