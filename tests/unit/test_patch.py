"""The PATCH bodies (kybernetes.api.patch): JSON patch, merge patch, strategic merge patch.

Expected values come from the RFCs, from upstream's strategicpatch test table, and from running
upstream's own libraries (evanphx/json-patch v4.12, apimachinery v0.32 strategicpatch, Go's
encoding/json) on the same inputs.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kybernetes.api import patch
from kybernetes.api.errors import (
    BadRequest,
    Invalid,
    RequestEntityTooLarge,
    StatusError,
    UnsupportedMediaType,
)
from kybernetes.api.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    Failure,
    PatchError,
    apply_patch,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from kybernetes.api.schema import (
    FieldKind,
    FieldSchema,
    TypeSchema,
    definition,
    definition_for_kind,
)

POD = definition_for_kind("", "v1", "Pod")
DEPLOYMENT = definition_for_kind("apps", "v1", "Deployment")
PDB = definition_for_kind("policy", "v1", "PodDisruptionBudget")
GENERIC_422 = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "the server rejected our request due to an error in our request",
    "reason": "Invalid",
    "details": {},
    "code": 422,
}


def _body(value: Any) -> bytes:
    return orjson.dumps(value)


# --------------------------------------------------------------------------------------------
# JSON patch: RFC 6902 appendix A.

RFC6902 = [
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux"}],
        {"baz": "qux", "foo": "bar"},
        id="A.1 add an object member",
    ),
    pytest.param(
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
        id="A.2 add an array element",
    ),
    pytest.param(
        {"baz": "qux", "foo": "bar"},
        [{"op": "remove", "path": "/baz"}],
        {"foo": "bar"},
        id="A.3 remove an object member",
    ),
    pytest.param(
        {"foo": ["bar", "qux", "baz"]},
        [{"op": "remove", "path": "/foo/1"}],
        {"foo": ["bar", "baz"]},
        id="A.4 remove an array element",
    ),
    pytest.param(
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
        id="A.5 replace a value",
    ),
    pytest.param(
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        id="A.6 move a value",
    ),
    pytest.param(
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
        id="A.7 move an array element",
    ),
    pytest.param(
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [
            {"op": "test", "path": "/baz", "value": "qux"},
            {"op": "test", "path": "/foo/1", "value": 2},
        ],
        {"baz": "qux", "foo": ["a", 2, "c"]},
        id="A.8 test a value: success",
    ),
    pytest.param(
        {"baz": "qux"},
        [{"op": "test", "path": "/baz", "value": "bar"}],
        None,
        id="A.9 test a value: error",
    ),
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
        id="A.10 add a nested member object",
    ),
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
        id="A.11 ignore unrecognized elements",
    ),
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/baz/bat", "value": "qux"}],
        None,
        id="A.12 add to a nonexistent target",
    ),
    pytest.param(
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": 10}],
        {"/": 9, "~1": 10},
        id="A.14 ~ escape ordering",
    ),
    pytest.param(
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": "10"}],
        None,
        id="A.15 compare strings and numbers",
    ),
    pytest.param(
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
        id="A.16 add an array value",
    ),
]


@pytest.mark.parametrize(("document", "operations", "expected"), RFC6902)
def test_json_patch_rfc6902_examples(
    document: dict[str, Any], operations: list[Any], expected: dict[str, Any] | None
) -> None:
    if expected is None:
        with pytest.raises(PatchError) as info:
            json_patch(document, operations)
        assert info.value.failure is Failure.UNPROCESSABLE
    else:
        assert json_patch(document, operations) == expected


def test_json_patch_rfc6902_a13_duplicate_op_keeps_the_last() -> None:
    # A.13 calls the document invalid; Go's decoder (and so the API server) keeps the last "op".
    body = b'[{"op": "add", "path": "/baz", "value": "qux", "op": "remove"}]'
    result = apply_patch(JSON_PATCH, {"baz": 1, "foo": 2}, body, POD)
    assert result == {"foo": 2}


# What the API server's json-patch library does where RFC 6902 leaves room or says otherwise.
JSON_PATCH_UPSTREAM = [
    pytest.param(
        {"a": 1},
        [{"op": "replace", "path": "/b", "value": 2}],
        {"a": 1, "b": 2},
        id="replace of a missing member adds it",
    ),
    pytest.param({"a": 1}, [{"op": "add", "path": "/b"}], {"a": 1, "b": None}, id="add no value"),
    pytest.param(
        {"a": 1},
        [{"op": "copy", "from": "/missing", "path": "/b"}],
        {"a": 1, "b": None},
        id="copy from a missing member copies null",
    ),
    pytest.param(
        {"a": [1, 2, 3]},
        [{"op": "add", "path": "/a/-1", "value": 9}, {"op": "remove", "path": "/a/-4"}],
        {"a": [2, 3, 9]},
        id="negative indices count from the end",
    ),
    pytest.param(
        {"a": [1, 2, 3]},
        [{"op": "replace", "path": "/a/-1", "value": 9}],
        {"a": [1, 2, 9]},
        id="replace last element by -1",
    ),
    pytest.param(
        {"a": [1, 2, 3]},
        [{"op": "add", "path": "/a/01", "value": 9}],
        {"a": [1, 9, 2, 3]},
        id="leading zero index",
    ),
    pytest.param(
        {"a": [1, 2]},
        [{"op": "add", "path": "/a/2", "value": 3}],
        {"a": [1, 2, 3]},
        id="add at the length appends",
    ),
    pytest.param(
        {"a": {"b": 1}},
        [{"op": "add", "path": "x/c", "value": 9}],
        {"a": {"b": 1}, "c": 9},
        id="text before the first slash is ignored",
    ),
    pytest.param(
        {"a": 1}, [{"op": "replace", "path": "", "value": 5}], {"a": 1}, id="replace root by scalar"
    ),
    pytest.param(
        {"a": 1},
        [{"op": "replace", "path": "", "value": {"b": 2}}],
        {"b": 2},
        id="replace root by object",
    ),
    pytest.param(
        {"a": None},
        [{"op": "test", "path": "/a", "value": None}, {"op": "test", "path": "/zz", "value": None}],
        {"a": None},
        id="null equals null and missing",
    ),
    pytest.param(
        {"a/b": {"m~n": 1}},
        [{"op": "replace", "path": "/a~1b/m~0n", "value": 2}],
        {"a/b": {"m~n": 2}},
        id="escaped tokens",
    ),
    pytest.param(
        {"a": {"b": [1, {"c": 2}]}},
        [{"op": "test", "path": "", "value": {"a": {"b": [1, {"c": 2}]}}}],
        {"a": {"b": [1, {"c": 2}]}},
        id="test whole document",
    ),
    pytest.param(
        {"a": {"b": 1}},
        [{"op": "copy", "from": "/a", "path": "/c"}, {"op": "replace", "path": "/c/b", "value": 2}],
        {"a": {"b": 1}, "c": {"b": 2}},
        id="copy is deep",
    ),
]


@pytest.mark.parametrize(("document", "operations", "expected"), JSON_PATCH_UPSTREAM)
def test_json_patch_matches_upstream_library(
    document: dict[str, Any], operations: list[Any], expected: dict[str, Any]
) -> None:
    assert json_patch(document, operations) == expected


JSON_PATCH_FAILURES = [
    pytest.param({"a": 1}, [{"op": "remove", "path": "/b"}], id="remove a missing member"),
    pytest.param({"a": [1]}, [{"op": "remove", "path": "/a/1"}], id="remove past the end"),
    pytest.param(
        {"a": [1]}, [{"op": "replace", "path": "/a/1", "value": 0}], id="replace past end"
    ),
    pytest.param({"a": [1]}, [{"op": "add", "path": "/a/3", "value": 0}], id="add past the end"),
    pytest.param({"a": [1]}, [{"op": "add", "path": "/a/x", "value": 0}], id="bad array index"),
    pytest.param({"a": [1]}, [{"op": "add", "path": "/a/-3", "value": 0}], id="negative too far"),
    pytest.param({"a": 1}, [{"op": "add", "path": "", "value": {}}], id="add at the root"),
    pytest.param({"a": 1}, [{"op": "add", "path": "nopath", "value": 1}], id="path without slash"),
    pytest.param({"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], id="1 is not 1.0"),
    pytest.param({"a": True}, [{"op": "test", "path": "/a", "value": 1}], id="true is not 1"),
    pytest.param(
        {"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/c"}], id="move into self"
    ),
    pytest.param({"a": 1}, [{"op": "move", "from": "/b", "path": "/c"}], id="move from missing"),
    pytest.param({"a": 1}, [{"op": "frobnicate", "path": "/a"}], id="unknown op"),
    pytest.param({"a": 1}, [None], id="null operation"),
    pytest.param({"a": 1}, [{"op": "add", "value": 1}], id="no path"),
    pytest.param({"a": "x"}, [{"op": "add", "path": "/a/b", "value": 1}], id="into a string"),
]


@pytest.mark.parametrize(("document", "operations"), JSON_PATCH_FAILURES)
def test_json_patch_failures(document: dict[str, Any], operations: list[Any]) -> None:
    before = copy.deepcopy(document)
    with pytest.raises(PatchError) as info:
        json_patch(document, operations)
    assert info.value.failure is Failure.UNPROCESSABLE
    assert document == before


def test_json_patch_failed_test_is_a_generic_422_with_the_detail_on_the_cause() -> None:
    # kopf's optimistic lock: a test on metadata.resourceVersion.
    pod = {"metadata": {"name": "p", "resourceVersion": "7"}}
    body = _body(
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": "6"},
            {"op": "add", "path": "/metadata/finalizers", "value": ["kopf.zalando.org/x"]},
        ]
    )
    with pytest.raises(Invalid) as info:
        apply_patch(JSON_PATCH, pod, body, POD)
    assert info.value.to_status() == GENERIC_422
    assert (
        str(info.value.__cause__) == "testing value /metadata/resourceVersion failed: test failed"
    )
    assert pod == {"metadata": {"name": "p", "resourceVersion": "7"}}


def test_json_patch_passing_test_applies_everything() -> None:
    pod = {"metadata": {"name": "p", "resourceVersion": "7", "finalizers": ["a"]}}
    body = _body(
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
        ]
    )
    assert apply_patch(JSON_PATCH, pod, body, POD) == {
        "metadata": {"name": "p", "resourceVersion": "7", "finalizers": []}
    }


def test_json_patch_operation_limit_is_413() -> None:
    body = _body([{"op": "test", "path": "/a", "value": 1}] * 10_001)
    with pytest.raises(RequestEntityTooLarge) as info:
        apply_patch(JSON_PATCH, {"a": 1}, body, POD)
    assert str(info.value) == (
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
        "got 10001"
    )
    assert (
        len(
            apply_patch(
                JSON_PATCH,
                {"a": 1},
                _body([{"op": "test", "path": "/a", "value": 1}] * 10_000),
                POD,
            )
        )
        == 1
    )


def test_json_patch_copy_limit() -> None:
    big = "x" * (1024 * 1024)
    operations = [{"op": "copy", "from": "/a", "path": f"/c{i}"} for i in range(4)]
    with pytest.raises(PatchError, match="accumulated size increase of copy"):
        json_patch({"a": big}, operations)
    assert len(json_patch({"a": big}, operations[:2])) == 3


def test_json_patch_result_that_is_not_an_object_is_invalid() -> None:
    body = _body([{"op": "replace", "path": "", "value": [1, 2]}])
    with pytest.raises(Invalid) as info:
        apply_patch(JSON_PATCH, {"a": 1}, body, POD)
    assert info.value.code == 422
    assert str(info.value).startswith(
        ' "" is invalid: patch: Invalid value: "[1,2]": couldn\'t get version/kind; json parse '
        "error: json: cannot unmarshal array into Go value of type struct { APIVersion string"
    )


# --------------------------------------------------------------------------------------------
# JSON merge patch: RFC 7386.

RFC7386 = [
    pytest.param({"a": "b"}, {"a": "c"}, {"a": "c"}, id="replace member"),
    pytest.param({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}, id="add member"),
    pytest.param({"a": "b"}, {"a": None}, {}, id="delete member"),
    pytest.param({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}, id="delete one of two"),
    pytest.param({"a": ["b"]}, {"a": "c"}, {"a": "c"}, id="array by string"),
    pytest.param({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}, id="string by array"),
    pytest.param(
        {"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}, id="nested object"
    ),
    pytest.param({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}, id="arrays replace"),
    pytest.param(["a", "b"], ["c", "d"], ["c", "d"], id="array by array"),
    pytest.param({"a": "b"}, ["c"], ["c"], id="object by array"),
    pytest.param({"a": "foo"}, None, None, id="null patch"),
    pytest.param({"a": "foo"}, "bar", "bar", id="string patch"),
    pytest.param({"e": None}, {"a": 1}, {"e": None, "a": 1}, id="existing null kept"),
    pytest.param([1, 2], {"a": "b", "c": None}, {"a": "b"}, id="array target"),
    pytest.param({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}, id="nested nulls dropped"),
    pytest.param(
        {
            "title": "Goodbye!",
            "author": {"givenName": "John", "familyName": "Doe"},
            "tags": ["example", "sample"],
            "content": "This will be unchanged",
        },
        {
            "title": "Hello!",
            "phoneNumber": "+01-123-456-7890",
            "author": {"familyName": None},
            "tags": ["example"],
        },
        {
            "title": "Hello!",
            "author": {"givenName": "John"},
            "tags": ["example"],
            "content": "This will be unchanged",
            "phoneNumber": "+01-123-456-7890",
        },
        id="section 3 example",
    ),
]


@pytest.mark.parametrize(("target", "merge", "expected"), RFC7386)
def test_merge_patch_rfc7386_examples(target: Any, merge: Any, expected: Any) -> None:
    assert merge_patch(target, merge) == expected


MERGE_PATCH_UPSTREAM = [
    pytest.param(
        {"a": "x"},
        {"a": [{"b": None}, None]},
        {"a": [{}, None]},
        id="added values lose nulls inside arrays",
    ),
    pytest.param(
        {"a": {"q": 1}},
        {"a": [{"b": None}, None]},
        {"a": [{"b": None}, None]},
        id="a value replacing an object keeps them",
    ),
    pytest.param({"a": None}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}, id="null target"),
    pytest.param(
        {"metadata": {"labels": {"a": "1", "b": "2"}}},
        {"metadata": {"labels": {"a": None, "c": "3"}}},
        {"metadata": {"labels": {"b": "2", "c": "3"}}},
        id="kubectl label",
    ),
]


@pytest.mark.parametrize(("target", "merge", "expected"), MERGE_PATCH_UPSTREAM)
def test_merge_patch_matches_upstream_library(target: Any, merge: Any, expected: Any) -> None:
    assert merge_patch(target, merge) == expected
    assert apply_patch(MERGE_PATCH, target, _body(merge), None) == expected


def test_merge_patch_on_scale_subresource_body() -> None:
    scale = {"kind": "Scale", "spec": {"replicas": 1}, "status": {"replicas": 1}}
    assert apply_patch(MERGE_PATCH, scale, b'{"spec":{"replicas":3}}', None) == {
        "kind": "Scale",
        "spec": {"replicas": 3},
        "status": {"replicas": 1},
    }


def test_merge_patch_null_body_is_a_bad_request() -> None:
    with pytest.raises(BadRequest) as info:
        apply_patch(MERGE_PATCH, {"a": 1}, b"null", None)
    assert str(info.value) == "Invalid JSON Patch"


# --------------------------------------------------------------------------------------------
# Strategic merge patch: what kubectl and the clients send, on the real schema.


def _deployment(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers},
            },
            **spec,
        },
    }


def _template(spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


NGINX = {
    "name": "nginx",
    "image": "nginx:1.25",
    "ports": [{"containerPort": 80, "protocol": "TCP"}],
}
SIDECAR = {"name": "sidecar", "image": "busybox"}
APP_ENV = {"name": "app", "image": "app:1", "env": [{"name": n, "value": n} for n in "ABC"]}
ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}

KUBECTL_CASES = [
    pytest.param(
        DEPLOYMENT,
        _deployment([NGINX, SIDECAR]),
        _template(
            {
                "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                "containers": [{"image": "nginx:1.26", "name": "nginx"}],
            }
        ),
        _deployment([dict(NGINX, image="nginx:1.26"), SIDECAR]),
        id="client-side apply changes an image",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([NGINX, SIDECAR]),
        _template({"containers": [{"image": "busybox:2", "name": "sidecar"}]}),
        _deployment([NGINX, dict(SIDECAR, image="busybox:2")]),
        id="set image keeps the container in place",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([APP_ENV]),
        _template(
            {
                "$setElementOrder/containers": [{"name": "app"}],
                "containers": [
                    {
                        "$setElementOrder/env": [{"name": "A"}, {"name": "C"}],
                        "env": [{"$patch": "delete", "name": "B"}],
                        "name": "app",
                    }
                ],
            }
        ),
        _deployment(
            [dict(APP_ENV, env=[{"name": "A", "value": "A"}, {"name": "C", "value": "C"}])]
        ),
        id="client-side apply deletes an env var",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([dict(NGINX, command=["nginx", "-g"])]),
        _template(
            {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"command": None, "name": "nginx"}],
            }
        ),
        _deployment([NGINX]),
        id="null removes a field",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([NGINX]),
        _template(
            {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [
                    {
                        "$setElementOrder/ports": [{"containerPort": 80}, {"containerPort": 443}],
                        "name": "nginx",
                        "ports": [{"containerPort": 443, "protocol": "TCP"}],
                    }
                ],
            }
        ),
        _deployment(
            [
                dict(
                    NGINX,
                    ports=[
                        {"containerPort": 80, "protocol": "TCP"},
                        {"containerPort": 443, "protocol": "TCP"},
                    ],
                )
            ]
        ),
        id="client-side apply adds a port after the others",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([NGINX]),
        _template({"containers": [{"name": "nginx", "ports": [{"containerPort": 443}]}]}),
        _deployment(
            [dict(NGINX, ports=[{"containerPort": 443}, {"containerPort": 80, "protocol": "TCP"}])]
        ),
        id="a port added without setElementOrder goes first",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([NGINX, SIDECAR]),
        _template({"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}]}),
        _deployment([SIDECAR, NGINX]),
        id="setElementOrder alone reorders",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([NGINX]),
        _template(
            {
                "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                "containers": [SIDECAR],
            }
        ),
        _deployment([NGINX, SIDECAR]),
        id="client-side apply adds a container",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([NGINX, SIDECAR]),
        _template({"containers": [{"name": "debug", "image": "busybox"}]}),
        _deployment([{"name": "debug", "image": "busybox"}, NGINX, SIDECAR]),
        id="a container added without setElementOrder goes first",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([NGINX, SIDECAR]),
        _template({"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}),
        _deployment([{"name": "only", "image": "x"}]),
        id="$patch replace on a list",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([NGINX], strategy=ROLLING),
        {
            "spec": {
                "strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}
            }
        },
        _deployment([NGINX], strategy={"type": "Recreate"}),
        id="retainKeys switches RollingUpdate to Recreate",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([NGINX], strategy={"type": "Recreate"}),
        {
            "spec": {
                "strategy": {
                    "$retainKeys": ["rollingUpdate", "type"],
                    "rollingUpdate": {"maxSurge": 1},
                    "type": "RollingUpdate",
                }
            }
        },
        _deployment([NGINX], strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}),
        id="retainKeys switches Recreate to RollingUpdate",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([NGINX], strategy=ROLLING),
        {"spec": {"strategy": {"type": "Recreate"}}},
        _deployment([NGINX], strategy=dict(ROLLING, type="Recreate")),
        id="without retainKeys the old union member stays",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([dict(NGINX, volumeMounts=[{"name": "v", "mountPath": "/v"}])], replicas=1),
        _template(
            {
                "$setElementOrder/volumes": [{"name": "v"}],
                "volumes": [
                    {"$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}, "name": "v"}
                ],
            }
        ),
        _deployment(
            [dict(NGINX, volumeMounts=[{"name": "v", "mountPath": "/v"}])],
            replicas=1,
        )
        | {
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            dict(NGINX, volumeMounts=[{"name": "v", "mountPath": "/v"}])
                        ],
                        "volumes": [
                            {
                                "$retainKeys": ["configMap", "name"],
                                "configMap": {"name": "cm"},
                                "name": "v",
                            }
                        ],
                    },
                },
            }
        },
        id="a list new to the object keeps nested $retainKeys, as upstream",
    ),
    pytest.param(
        POD,
        {
            "metadata": {"name": "p"},
            "spec": {"volumes": [{"name": "v", "emptyDir": {}}], "containers": []},
        },
        {
            "spec": {
                "$setElementOrder/volumes": [{"name": "v"}],
                "volumes": [
                    {"$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}, "name": "v"}
                ],
            }
        },
        {
            "metadata": {"name": "p"},
            "spec": {"volumes": [{"name": "v", "configMap": {"name": "cm"}}], "containers": []},
        },
        id="volumes: retainKeys switches the source",
    ),
    pytest.param(
        POD,
        {"metadata": {"name": "p", "finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["c"]}},
        {"metadata": {"name": "p", "finalizers": ["c", "a", "b"]}},
        id="finalizers: a new one goes first",
    ),
    pytest.param(
        POD,
        {"metadata": {"name": "p", "finalizers": ["a", "b"]}},
        {"metadata": {"$setElementOrder/finalizers": ["a", "b", "c"], "finalizers": ["c"]}},
        {"metadata": {"name": "p", "finalizers": ["a", "b", "c"]}},
        id="finalizers: client-side apply appends",
    ),
    pytest.param(
        POD,
        {"metadata": {"name": "p", "finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["b", "a"]}},
        {"metadata": {"name": "p", "finalizers": ["b", "a"]}},
        id="finalizers: a set, in the patch's order",
    ),
    pytest.param(
        POD,
        {"metadata": {"name": "p", "finalizers": ["a", "b", "c"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "x"]}},
        {"metadata": {"name": "p", "finalizers": ["a", "c"]}},
        id="finalizers: deleteFromPrimitiveList",
    ),
    pytest.param(
        POD,
        {"metadata": {"name": "p", "finalizers": ["a"]}},
        {"metadata": {"finalizers": None}},
        {"metadata": {"name": "p"}},
        id="finalizers: null removes them all",
    ),
    pytest.param(
        POD,
        {
            "metadata": {
                "name": "p",
                "ownerReferences": [{"uid": "1", "kind": "ReplicaSet", "name": "a"}],
            }
        },
        {
            "metadata": {
                "ownerReferences": [
                    {"uid": "1", "controller": True},
                    {"uid": "2", "kind": "Node", "name": "n"},
                ]
            }
        },
        {
            "metadata": {
                "name": "p",
                "ownerReferences": [
                    {"uid": "1", "kind": "ReplicaSet", "name": "a", "controller": True},
                    {"uid": "2", "kind": "Node", "name": "n"},
                ],
            }
        },
        id="ownerReferences merge by uid",
    ),
    pytest.param(
        POD,
        {
            "metadata": {
                "name": "p",
                "ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}],
            }
        },
        {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "1"}]}},
        {"metadata": {"name": "p", "ownerReferences": [{"uid": "2", "name": "b"}]}},
        id="ownerReferences delete by uid",
    ),
    pytest.param(
        POD,
        {
            "status": {
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {"type": "Ready", "status": "True"},
                ]
            }
        },
        {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Probe"}]}},
        {
            "status": {
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {"type": "Ready", "status": "False", "reason": "Probe"},
                ]
            }
        },
        id="status conditions merge by type in place",
    ),
    pytest.param(
        POD,
        {"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}}},
        {"metadata": {"labels": {"$patch": "replace", "c": "3"}}},
        {"metadata": {"name": "p", "labels": {"c": "3"}}},
        id="$patch replace on a map",
    ),
    pytest.param(
        POD,
        {"metadata": {"name": "p", "labels": {"a": "1"}}},
        {"metadata": {"labels": {"$patch": "delete"}}},
        {"metadata": {"name": "p", "labels": {}}},
        id="$patch delete on a map empties it",
    ),
    pytest.param(
        POD,
        {"metadata": {"name": "p"}},
        {"metadata": {"labels": {"$patch": "delete"}, "annotations": {"a": None, "b": "x"}}},
        {"metadata": {"name": "p", "annotations": {"b": "x"}}},
        id="new values lose directives and nulls",
    ),
    pytest.param(
        POD,
        {"spec": {"tolerations": [{"key": "a"}, {"key": "b"}], "containers": []}},
        {"spec": {"tolerations": [{"key": "c"}]}},
        {"spec": {"tolerations": [{"key": "c"}], "containers": []}},
        id="lists without a strategy are replaced",
    ),
    pytest.param(
        PDB,
        {"spec": {"minAvailable": 1, "selector": {"matchLabels": {"a": "b", "c": "d"}}}},
        {"spec": {"selector": {"matchLabels": {"a": None, "e": "f"}}}},
        {"spec": {"minAvailable": 1, "selector": {"matchLabels": {"a": None, "e": "f"}}}},
        id="replace strategy takes the patch verbatim",
    ),
    pytest.param(
        DEPLOYMENT,
        _deployment([NGINX]),
        {"spec": {"replicas": 5}, "metadata": {"labels": {"app": "web"}}},
        _deployment([NGINX], replicas=5)
        | {"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}}},
        id="scale through the main resource",
    ),
]


@pytest.mark.parametrize(("schema", "original", "smp", "expected"), KUBECTL_CASES)
def test_strategic_merge_patch_kubectl_cases(
    schema: TypeSchema, original: dict[str, Any], smp: dict[str, Any], expected: dict[str, Any]
) -> None:
    before = copy.deepcopy(original)
    assert strategic_merge_patch(original, smp, schema) == expected
    assert apply_patch(STRATEGIC_MERGE_PATCH, original, _body(smp), schema) == expected
    assert original == before


def test_strategic_merge_patch_on_a_node_cordon() -> None:
    node = definition_for_kind("", "v1", "Node")
    assert node is not None
    result = apply_patch(
        STRATEGIC_MERGE_PATCH, {"spec": {}}, b'{"spec":{"unschedulable":true}}', node
    )
    assert result == {"spec": {"unschedulable": True}}


def test_strategic_merge_patch_unknown_fields_merge_like_merge_patch() -> None:
    # Upstream never sees unknown fields in the original (typed decoding drops them); here they
    # merge the way a merge patch would: objects merge, lists replace.
    original = {"metadata": {"name": "p"}, "x-extra": {"a": 1, "l": [1, 2], "m": {"k": "v"}}}
    smp = {"x-extra": {"b": 2, "l": [3], "m": {"k": None, "j": "w"}}}
    assert strategic_merge_patch(original, smp, POD) == {
        "metadata": {"name": "p"},
        "x-extra": {"a": 1, "l": [3], "m": {"j": "w"}, "b": 2},
    }


def test_strategic_merge_patch_without_schema_treats_every_list_as_atomic() -> None:
    original = {"spec": {"containers": [{"name": "a"}], "m": {"x": 1}}}
    smp = {"spec": {"containers": [{"name": "b"}], "m": {"y": 2}}}
    assert strategic_merge_patch(original, smp, None) == {
        "spec": {"containers": [{"name": "b"}], "m": {"x": 1, "y": 2}}
    }


def test_strategic_merge_patch_descends_into_maps_of_objects() -> None:
    # JSONSchemaProps.properties maps names to schemas; upstream fails to look fields up below a
    # Go map ("data type is not struct"), here the map's value schema is used.
    props = definition("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps")
    original = {"properties": {"spec": {"type": "object", "required": ["a"], "x": {"k": 1}}}}
    smp = {"properties": {"spec": {"required": ["b"], "x": {"j": 2}}, "status": {"type": "object"}}}
    assert strategic_merge_patch(original, smp, props) == {
        "properties": {
            "spec": {"type": "object", "required": ["b"], "x": {"k": 1, "j": 2}},
            "status": {"type": "object"},
        }
    }


STRATEGIC_ERRORS = [
    pytest.param(
        {"spec": {"strategy": {"$retainKeys": "type", "type": "Recreate"}}},
        BadRequest,
        "invalid patch format of retainKeys",
        id="retainKeys not a list",
    ),
    pytest.param(
        {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}},
        BadRequest,
        "invalid patch format of retainKeys",
        id="a patched key missing from retainKeys",
    ),
    pytest.param(
        {"spec": {"template": {"spec": {"$setElementOrderX": []}}}},
        BadRequest,
        "invalid patch format of setElementOrder list",
        id="setElementOrder without a slash",
    ),
    pytest.param(
        {"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}},
        BadRequest,
        "invalid patch format of primitive list",
        id="deleteFromPrimitiveList without a slash",
    ),
    pytest.param(
        _template({"containers": [{"image": "x"}]}),
        StatusError,
        "map: map[image:x] does not contain declared merge key: name",
        id="a list item without its merge key",
    ),
    pytest.param(
        _template({"containers": [{"name": "nginx"}, {"$patch": "merge"}]}),
        StatusError,
        "merging lists cannot yet be specified in the patch",
        id="$patch merge in a list",
    ),
    pytest.param(
        {"metadata": {"labels": {"$patch": "bogus"}}},
        StatusError,
        "unknown patch type: bogus in map: map[$patch:bogus]",
        id="unknown directive on a map",
    ),
    pytest.param(
        _template({"containers": ["nginx"]}),
        StatusError,
        "list element types are not identical: [[map[image:nginx:1.25 name:nginx "
        "ports:[map[containerPort:80 protocol:TCP]]]] [nginx]]",
        id="mixed element types",
    ),
    pytest.param(
        _template(
            {
                "$setElementOrder/containers": [{"name": "a"}],
                "containers": [{"name": "nginx", "image": "x"}],
            }
        ),
        StatusError,
        "The order in patch list:\n[map[image:x name:nginx]]\n doesn't match $setElementOrder "
        "list:\n[map[name:a]]\n",
        id="patch items missing from setElementOrder",
    ),
    pytest.param(
        {"metadata": {"finalizers": [["a"]]}},
        Invalid,
        "the server rejected our request due to an error in our request",
        id="lists of lists",
    ),
]


@pytest.mark.parametrize(("smp", "error", "message"), STRATEGIC_ERRORS)
def test_strategic_merge_patch_errors(
    smp: dict[str, Any], error: type[StatusError], message: str
) -> None:
    original = _deployment([NGINX], strategy=ROLLING)
    original["metadata"]["finalizers"] = []
    original["metadata"]["labels"] = {"a": "b"}
    with pytest.raises(error) as info:
        apply_patch(STRATEGIC_MERGE_PATCH, original, _body(smp), DEPLOYMENT)
    assert str(info.value) == message
    if error is StatusError:
        # Upstream returns a plain Go error here; the server answers 500 without a reason.
        assert info.value.to_status() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "code": 500,
        }


def test_strategic_merge_patch_failure_kinds() -> None:
    with pytest.raises(PatchError) as info:
        strategic_merge_patch({"a": {}}, {"a": {"$retainKeys": 1}}, None)
    assert info.value.failure is Failure.BAD_REQUEST
    with pytest.raises(PatchError) as info:
        strategic_merge_patch(
            {"metadata": {"finalizers": []}}, {"metadata": {"finalizers": [[1]]}}, POD
        )
    assert info.value.failure is Failure.UNPROCESSABLE


# --------------------------------------------------------------------------------------------
# Strategic merge patch: upstream's test table (strategicpatch/patch_test.go, raw cases), with
# the MergeItem type those tests use.


def _merge_item_schema() -> TypeSchema:
    def struct(name: str) -> TypeSchema:
        return TypeSchema(name, FieldKind.STRUCT, "object", None, fields={}, required=(), gvks=())

    def string(name: str) -> FieldSchema:
        return FieldSchema(name, FieldKind.STRING, "string")

    def ref(name: str, target: TypeSchema, **meta: Any) -> FieldSchema:
        return FieldSchema(
            name, FieldKind.STRUCT, "object", ref=target.name, definition=target, **meta
        )

    def array(name: str, items: FieldSchema, **meta: Any) -> FieldSchema:
        return FieldSchema(name, FieldKind.ARRAY, "array", items=items, **meta)

    integer = FieldSchema("", FieldKind.INTEGER, "integer")
    simple_map = FieldSchema("simpleMap", FieldKind.MAP, "object", additional_properties=string(""))
    item, retain = struct("MergeItem"), struct("RetainKeysMergeItem")
    merging = {"patch_strategy": "merge", "patch_merge_key": "name"}
    common = {
        "name": string("name"),
        "value": string("value"),
        "other": string("other"),
        "simpleMap": simple_map,
        "mergingList": array("mergingList", ref("", item), **merging),
        "nonMergingList": array("nonMergingList", ref("", item)),
        "mergingIntList": array("mergingIntList", integer, patch_strategy="merge"),
    }
    assert isinstance(item.fields, dict)
    assert isinstance(retain.fields, dict)
    retain.fields.update(common)
    item.fields.update(
        common,
        nonMergingIntList=array("nonMergingIntList", integer),
        mergeItemPtr=array("mergeItemPtr", ref("", item), **merging),
        replacingItem=FieldSchema(
            "replacingItem", FieldKind.FREE_OBJECT, "object", patch_strategy="replace"
        ),
        retainKeysMap=ref("retainKeysMap", retain, patch_strategy="retainKeys"),
        retainKeysMergingList=array(
            "retainKeysMergingList",
            ref("", item),
            patch_strategy="merge,retainKeys",
            patch_merge_key="name",
        ),
    )
    return item


MERGE_ITEM = _merge_item_schema()


UPSTREAM_CASES = [
    pytest.param(
        {"mergingList": [{"name": 1}, {"name": 3}]},
        {
            "$setElementOrder/mergingList": [{"name": 3}, {"name": 2}, {"name": 1}],
            "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}],
        },
        {"mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]},
        id="$setElementOrder contains item that is not present in the list to be merged (two-way)",
    ),
    pytest.param(
        {"mergingIntList": [1, 3]},
        {"$setElementOrder/mergingIntList": [3, 2, 1]},
        {"mergingIntList": [3, 1]},
        id="$setElementOrder names an item missing from the int list (two-way)",
    ),
    pytest.param(
        {"mergingIntList": [1, 2]},
        {"$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [1, 2]},
        id="$deleteFromPrimitiveList of a missing item adds nothing (two-way)",
    ),
    pytest.param(
        {"mergingIntList": None},
        {"$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": None},
        id="$deleteFromPrimitiveList on a null list adds nothing (two-way)",
    ),
    pytest.param(
        {"mergingIntList": [1, 2, 3]},
        {"$deleteFromPrimitiveList/mergingIntList": [2]},
        {"mergingIntList": [1, 3]},
        id="$deleteFromPrimitiveList on a merge list (two-way)",
    ),
    pytest.param(
        {"nonMergingIntList": [1, 2, 3]},
        {"$deleteFromPrimitiveList/nonMergingIntList": [2]},
        {"nonMergingIntList": [1, 3]},
        id="$deleteFromPrimitiveList on a non-merge list (two-way)",
    ),
    pytest.param(
        {"name": "hi"},
        {"mergingList": [{"name": "hello"}, {"$patch": "delete", "name": "doesntexist"}]},
        {"name": "hi", "mergingList": [{"name": "hello"}]},
        id="nested patch merge with empty list (two-way)",
    ),
    pytest.param(
        {"name": "hi", "mergingList": [{"name": "hello2"}]},
        {
            "$setElementOrder/mergingList": [{"name": "hello"}, {"name": "doesntexist"}],
            "mergingList": [{"name": "hello"}],
        },
        {"name": "hi", "mergingList": [{"name": "hello"}, {"name": "hello2"}]},
        id="nested patch merge with empty list",
    ),
    pytest.param(
        {"mergingIntList": [1, 2, 3, 4]},
        {"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [1, 2, 4]},
        id="delete items in lists of scalars",
    ),
    pytest.param(
        {"mergingIntList": [1, 2, 3, 3, 4]},
        {"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [1, 2, 4]},
        id="delete all duplicate items in lists of scalars",
    ),
    pytest.param(
        {"mergingIntList": [1, 2, 3, 4]},
        {
            "$setElementOrder/mergingIntList": [1, 2, 4],
            "$deleteFromPrimitiveList/mergingIntList": [3],
        },
        {"mergingIntList": [1, 2, 4]},
        id="add and delete items in lists of scalars",
    ),
    pytest.param(
        {"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]},
        {
            "$setElementOrder/mergingList": [{"name": 4}, {"name": 1}, {"name": 2}, {"name": 3}],
            "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}],
        },
        {
            "mergingList": [
                {"name": 4, "value": 4},
                {"name": 1, "other": "a"},
                {"name": 2, "value": 2, "other": "b"},
                {"name": 3, "value": 3},
            ]
        },
        id="merge lists of maps",
    ),
    pytest.param(
        {"mergingList": [{"name": 1}, {"name": 2, "other": "b"}]},
        {
            "$setElementOrder/mergingList": [{"name": 2}],
            "mergingList": [{"name": 1, "$patch": "delete"}],
        },
        {"mergingList": [{"name": 2, "other": "b"}]},
        id="delete map from merging list",
    ),
    pytest.param(
        {"mergingList": [{"name": 2, "other": "b"}]},
        {
            "$setElementOrder/mergingList": [{"name": 2}],
            "mergingList": [{"name": 1, "$patch": "delete"}],
        },
        {"mergingList": [{"name": 2, "other": "b"}]},
        id="delete missing map from merging list",
    ),
    pytest.param(
        {"mergingList": [{"name": 1}, {"name": 2, "other": "b"}, {"name": 4, "other": "c"}]},
        {
            "$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
            "mergingList": [{"name": 3}, {"name": 1, "$patch": "delete"}],
        },
        {"mergingList": [{"name": 2, "other": "b"}, {"name": 4, "other": "c"}, {"name": 3}]},
        id="add map and delete map from merging list",
    ),
    pytest.param(
        {"mergingList": [{"name": 1, "other": "a"}, {"name": 4, "other": "c"}]},
        {
            "$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
            "mergingList": [{"name": 2}, {"name": 3}, {"name": 1, "$patch": "delete"}],
        },
        {"mergingList": [{"name": 4, "other": "c"}, {"name": 2}, {"name": 3}]},
        id="add map and delete map from merging list with conflict",
    ),
    pytest.param(
        {
            "mergingList": [
                {"name": 1, "other": "a", "nonMergingList": [{"name": 1}, {"name": 2, "value": 2}]},
                {"name": 2, "other": "b"},
            ]
        },
        {
            "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
            "mergingList": [{"name": 1, "nonMergingList": [{"name": 1, "value": 1}]}],
        },
        {
            "mergingList": [
                {"name": 1, "other": "a", "nonMergingList": [{"name": 1, "value": 1}]},
                {"name": 2, "other": "b"},
            ]
        },
        id="replace non merging list nested in merging list",
    ),
    pytest.param(
        {
            "mergingList": [
                {"name": 1, "other": "a", "mergingList": [{"name": 1}, {"name": 2, "value": 2}]},
                {"name": 2, "other": "b"},
            ]
        },
        {
            "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
            "mergingList": [
                {
                    "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
                    "name": 1,
                    "mergingList": [{"name": 1, "value": 1}],
                }
            ],
        },
        {
            "mergingList": [
                {
                    "name": 1,
                    "other": "a",
                    "mergingList": [{"name": 1, "value": 1}, {"name": 2, "value": 2}],
                },
                {"name": 2, "other": "b"},
            ]
        },
        id="add field to map in merging list nested in merging list",
    ),
    pytest.param(
        {"mergingIntList": [1, 2, 4]},
        {"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3]},
        {"mergingIntList": [1, 2, 3, 4]},
        id="merge lists of scalars",
    ),
    pytest.param(
        {"mergingIntList": [1, 4, 2]},
        {"$setElementOrder/mergingIntList": [3, 1, 2], "mergingIntList": [3]},
        {"mergingIntList": [3, 1, 4, 2]},
        id="add an item in a list of primitives and preserve order",
    ),
    pytest.param(
        {"mergingIntList": [1, 2, 3]},
        {"$setElementOrder/mergingIntList": [2, 1], "$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [2, 1]},
        id="delete an item in a list of primitives and preserve order",
    ),
    pytest.param(
        {"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]},
        {
            "$setElementOrder/mergingList": [{"name": 3}, {"name": 1}, {"name": 2}],
            "mergingList": [{"name": 3, "value": 3}],
        },
        {
            "mergingList": [
                {"name": 3, "value": 3},
                {"name": 1, "other": "a"},
                {"name": 2, "value": 2, "other": "b"},
            ]
        },
        id="add an item in a list and preserve order",
    ),
    pytest.param(
        {"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]},
        {
            "$setElementOrder/mergingList": [{"name": 1}, {"name": 4}, {"name": 2}, {"name": 3}],
            "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}],
        },
        {
            "mergingList": [
                {"name": 1, "other": "a"},
                {"name": 4, "value": 4},
                {"name": 2, "value": 2, "other": "b"},
                {"name": 3, "value": 3},
            ]
        },
        id="add multiple items in a list and preserve order",
    ),
    pytest.param(
        {
            "mergingList": [
                {"name": 1, "other": "a"},
                {"name": 2, "value": 2, "other": "b"},
                {"name": 3, "value": 3},
            ]
        },
        {
            "$setElementOrder/mergingList": [{"name": 4}, {"name": 2}, {"name": 1}],
            "mergingList": [{"name": 4, "value": 4}, {"name": 3, "$patch": "delete"}],
        },
        {
            "mergingList": [
                {"name": 4, "value": 4},
                {"name": 2, "value": 2, "other": "b"},
                {"name": 1, "other": "a"},
            ]
        },
        id="add and delete an item in a list and preserve order",
    ),
    pytest.param(
        {
            "mergingList": [
                {"name": 1, "other": "a"},
                {"name": 3, "value": 3},
                {"name": 4, "value": 4},
                {"name": 2, "value": 2},
                {"name": 9},
            ]
        },
        {"$setElementOrder/mergingList": [{"name": 4}, {"name": 2}, {"name": 3}, {"name": 1}]},
        {
            "mergingList": [
                {"name": 4, "value": 4},
                {"name": 2, "value": 2},
                {"name": 3, "value": 3},
                {"name": 1, "other": "a"},
                {"name": 9},
            ]
        },
        id="set elements order in a list with server-only items",
    ),
    pytest.param(
        {
            "mergingList": [
                {"name": 1, "other": "a"},
                {"name": 2, "value": 2},
                {"name": 9},
                {"name": 3, "value": 3},
                {"name": 4, "value": 4},
            ]
        },
        {"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}]},
        {
            "mergingList": [
                {"name": 2, "value": 2},
                {"name": 1, "other": "a"},
                {"name": 9},
                {"name": 4, "value": 4},
                {"name": 3, "value": 3},
            ]
        },
        id="set elements order in a list with server-only items 2",
    ),
    pytest.param(
        {
            "mergingList": [
                {"name": 1, "other": "a"},
                {"name": 2, "value": 2},
                {"name": 7},
                {"name": 9},
                {"name": 8},
                {"name": 3, "value": 3},
                {"name": 4, "value": 4},
            ]
        },
        {"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}]},
        {
            "mergingList": [
                {"name": 2, "value": 2},
                {"name": 1, "other": "a"},
                {"name": 7},
                {"name": 9},
                {"name": 8},
                {"name": 4, "value": 4},
                {"name": 3, "value": 3},
            ]
        },
        id="set elements order in a list with server-only items 3",
    ),
    pytest.param(
        {"mergingIntList": [1, 3, 4, 2, 9]},
        {"$setElementOrder/mergingIntList": [4, 2, 3, 1]},
        {"mergingIntList": [4, 2, 3, 1, 9]},
        id="set elements order in a int list with server-only items",
    ),
    pytest.param(
        {"mergingIntList": [1, 2, 3, 2, 4]},
        {"$setElementOrder/mergingIntList": [2, 1, 4, 3, 2]},
        {"mergingIntList": [2, 2, 1, 4, 3]},
        id="set elements order in a int list with server-only items 3",
    ),
    pytest.param(
        {"retainKeysMap": {"value": "foo"}},
        {"retainKeysMap": {"$retainKeys": ["other"], "other": "bar"}},
        {"retainKeysMap": {"other": "bar"}},
        id="retainKeys map should clear defaulted field",
    ),
    pytest.param(
        {"retainKeysMap": {"name": "type1", "value": "foo"}},
        {"retainKeysMap": {"$retainKeys": ["name", "other"], "name": "type2", "other": "bar"}},
        {"retainKeysMap": {"name": "type2", "other": "bar"}},
        id="retainKeys map should clear defaulted field with conflict (discriminated union)",
    ),
    pytest.param(
        {"retainKeysMap": {"name": "foo", "other": "a"}},
        {"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "bar"}},
        {"retainKeysMap": {"name": "foo", "value": "bar"}},
        id="retainKeys map adds a field and clear a field",
    ),
    pytest.param(
        {
            "retainKeysMap": {
                "name": "foo",
                "value": "bar",
                "nonMergingList": [{"name": "a"}, {"name": "b"}],
            }
        },
        {
            "retainKeysMap": {
                "$retainKeys": ["name", "nonMergingList", "value"],
                "nonMergingList": [{"name": "a"}, {"name": "c"}, {"name": "b"}],
            }
        },
        {
            "retainKeysMap": {
                "name": "foo",
                "value": "bar",
                "nonMergingList": [{"name": "a"}, {"name": "c"}, {"name": "b"}],
            }
        },
        id="retainKeys map replaces non-merging list",
    ),
    pytest.param(
        {"retainKeysMap": {"name": "foo", "mergingIntList": [1, 2, 3, 4]}},
        {
            "retainKeysMap": {
                "$retainKeys": ["mergingIntList", "name"],
                "mergingIntList": [5],
                "$deleteFromPrimitiveList/mergingIntList": [2],
                "$setElementOrder/mergingIntList": [1, 3, 5],
            }
        },
        {"retainKeysMap": {"name": "foo", "mergingIntList": [1, 3, 5, 4]}},
        id="retainKeys map adds an item and deletes an item in nested merging int list",
    ),
    pytest.param(
        {"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a", "other": "x"}]},
        {
            "$setElementOrder/retainKeysMergingList": [{"name": "bar"}, {"name": "foo"}],
            "retainKeysMergingList": [{"$retainKeys": ["name", "value"], "name": "foo"}],
        },
        {"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a"}]},
        id="retainKeys list of maps clears a field",
    ),
    pytest.param(
        {"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "old", "other": "x"}]},
        {
            "$setElementOrder/retainKeysMergingList": [{"name": "bar"}, {"name": "foo"}],
            "retainKeysMergingList": [
                {"$retainKeys": ["name", "value"], "name": "foo", "value": "new"}
            ],
        },
        {"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "new"}]},
        id="retainKeys list of maps changes a field and clear a field",
    ),
    pytest.param(
        {
            "mergingList": [{"name": "a", "value": "a"}, {"name": "b", "value": "b"}],
            "mergeItemPtr": [{"name": "c", "value": "c"}, {"name": "d", "value": "d"}],
        },
        {
            "$setElementOrder/mergingList": [{"name": "b"}],
            "$setElementOrder/mergeItemPtr": [{"name": "d"}, {"name": "c"}],
            "mergingList": [{"$patch": "delete", "name": "a"}],
        },
        {
            "mergingList": [{"name": "b", "value": "b"}],
            "mergeItemPtr": [{"name": "d", "value": "d"}, {"name": "c", "value": "c"}],
        },
        id="delete and reorder in one list, reorder in another",
    ),
    pytest.param(
        {
            "name": "my-object",
            "value": "some-value",
            "other": "current-other",
            "replacingItem": {
                "Some": "Generic",
                "Yaml": "Inside",
                "The": "RawExtension",
                "Field": "Period",
            },
        },
        {
            "mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
            "replacingItem": {"Newly": "Modified", "Yaml": "Inside", "The": "RawExtension"},
        },
        {
            "name": "my-object",
            "value": "some-value",
            "other": "current-other",
            "mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
            "replacingItem": {"Newly": "Modified", "Yaml": "Inside", "The": "RawExtension"},
        },
        id="replace RawExtension field, rest unchanched (two-way)",
    ),
    pytest.param(
        {
            "name": "my-object",
            "value": "some-value",
            "other": "current-other",
            "mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
            "replacingItem": {
                "Some": "Generic",
                "Yaml": "Inside",
                "The": "RawExtension",
                "Field": "Period",
            },
        },
        {"replacingItem": {"Newly": "Modified", "Yaml": "Inside", "The": "RawExtension"}},
        {
            "name": "my-object",
            "value": "some-value",
            "other": "current-other",
            "mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
            "replacingItem": {"Newly": "Modified", "Yaml": "Inside", "The": "RawExtension"},
        },
        id="replace RawExtension field, rest unchanched",
    ),
    pytest.param(
        {
            "name": "my-object",
            "value": "some-value",
            "other": "current-other",
            "mergingList": [{"name": 1}, {"name": 3}],
            "replacingItem": {
                "Some": "Generic",
                "Yaml": "Inside",
                "The": "RawExtension",
                "Field": "Period",
            },
        },
        {
            "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
            "mergingList": [{"name": 2}],
            "replacingItem": {"Newly": "Modified", "Yaml": "Inside", "The": "RawExtension"},
        },
        {
            "name": "my-object",
            "value": "some-value",
            "other": "current-other",
            "mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
            "replacingItem": {"Newly": "Modified", "Yaml": "Inside", "The": "RawExtension"},
        },
        id="replace RawExtension field and merge list",
    ),
]
UPSTREAM_ERRORS = [
    pytest.param(
        {"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]},
        {
            "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
            "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}],
        },
        "doesn't match",
        id="should check if order in $setElementOrder and patch list match",
    ),
    pytest.param(
        {"mergingIntList": [1, 3, 2]},
        {"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]},
        "doesn't match",
        id="$setElementOrder contains item that is not present in the int list to be merged",
    ),
    pytest.param(
        {"mergingList": [{"name": 1, "value": "a"}]},
        {"mergingList": [{"value": "b"}]},
        "does not contain declared merge key",
        id="missing merge key should error out",
    ),
]


@pytest.mark.parametrize(("original", "smp", "expected"), UPSTREAM_CASES)
def test_strategic_merge_patch_upstream_table(
    original: dict[str, Any], smp: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert strategic_merge_patch(original, smp, MERGE_ITEM) == expected


@pytest.mark.parametrize(("original", "smp", "message"), UPSTREAM_ERRORS)
def test_strategic_merge_patch_upstream_table_errors(
    original: dict[str, Any], smp: dict[str, Any], message: str
) -> None:
    with pytest.raises(PatchError, match=message) as info:
        strategic_merge_patch(original, smp, MERGE_ITEM)
    assert info.value.failure is Failure.INTERNAL


def test_strategic_merge_patch_orders_by_go_backing_array_after_deletes() -> None:
    # Upstream deletes and appends inside the original list's backing array, and
    # $setElementOrder then orders the server-only items by that array: {4} lands before {3}.
    original = {"mergingList": [{"name": 1}, {"name": 2, "other": "b"}, {"name": 4, "other": "c"}]}
    smp = {
        "$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
        "mergingList": [{"name": 3}, {"name": 1, "$patch": "delete"}],
    }
    assert strategic_merge_patch(original, smp, MERGE_ITEM) == {
        "mergingList": [{"name": 2, "other": "b"}, {"name": 4, "other": "c"}, {"name": 3}]
    }


def test_strategic_merge_patch_primitive_duplicates_follow_upstream() -> None:
    # A server list holding duplicates is deduplicated in place by upstream's swap algorithm.
    assert strategic_merge_patch(
        {"mergingIntList": [1, 4, 4]}, {"mergingIntList": [2]}, MERGE_ITEM
    ) == {"mergingIntList": [1, 4, 2]}
    assert strategic_merge_patch(
        {"mergingIntList": [1, 1, 2]}, {"mergingIntList": [3]}, MERGE_ITEM
    ) == {"mergingIntList": [1, 3, 2]}


# --------------------------------------------------------------------------------------------
# apply_patch: media types, bodies, errors.

# Go's encoding/json messages, as the API server returns them (verified against Go).
MALFORMED = [
    pytest.param(b"", "unexpected end of JSON input", id="empty"),
    pytest.param(b"   ", "unexpected end of JSON input", id="blank"),
    pytest.param(b'{"a":1', "unexpected end of JSON input", id="truncated"),
    pytest.param(b'{"a" 1}', "invalid character '1' after object key", id="no colon"),
    pytest.param(
        b'{"a":1 "b":2}', "invalid character '\"' after object key:value pair", id="no comma"
    ),
    pytest.param(
        b"{1:2}", "invalid character '1' looking for beginning of object key string", id="key"
    ),
    pytest.param(
        b"[1,]", "invalid character ']' looking for beginning of value", id="trailing comma"
    ),
    pytest.param(b"[1 2]", "invalid character '2' after array element", id="array comma"),
    pytest.param(b"tru", "invalid character ' ' in literal true (expecting 'e')", id="literal"),
    pytest.param(
        b"1.", "invalid character ' ' after decimal point in numeric literal", id="decimal"
    ),
    pytest.param(b"-", "invalid character ' ' in numeric literal", id="minus"),
    pytest.param(b"1e+", "invalid character ' ' in exponent of numeric literal", id="exponent"),
    pytest.param(b"01", "invalid character '1' after top-level value", id="leading zero"),
    pytest.param(b'"a\\x"', "invalid character 'x' in string escape code", id="escape"),
    pytest.param(b'"\\u12"', "invalid character '\"' in \\u hexadecimal character escape", id="u"),
    pytest.param(b'"a\x01"', "invalid character '\\x01' in string literal", id="control"),
    pytest.param(b'{"a":1} x', "invalid character 'x' after top-level value", id="trailing"),
    pytest.param(b"'a'", "invalid character '\\'' looking for beginning of value", id="quote"),
    pytest.param(
        b"\xef\xbb\xbf{}", "invalid character '\u00ef' looking for beginning of value", id="bom"
    ),
    pytest.param(b"NaN", "invalid character 'N' looking for beginning of value", id="nan"),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED)
def test_malformed_bodies_are_bad_requests_with_gos_message(body: bytes, message: str) -> None:
    for media_type, prefix in (
        (JSON_PATCH, "error decoding patch: "),
        (MERGE_PATCH, "error decoding patch: "),
        (STRATEGIC_MERGE_PATCH, ""),
    ):
        with pytest.raises(BadRequest) as info:
            apply_patch(media_type, {"a": 1}, body, POD)
        assert str(info.value) == prefix + message


WRONG_SHAPE = [
    pytest.param(
        JSON_PATCH,
        b"{}",
        "error decoding patch: json: cannot unmarshal object into Go value of type "
        "[]handlers.jsonPatchOp",
        id="json patch object",
    ),
    pytest.param(
        JSON_PATCH,
        b"[1]",
        "error decoding patch: json: cannot unmarshal number into Go value of type "
        "handlers.jsonPatchOp",
        id="json patch number op",
    ),
    pytest.param(
        JSON_PATCH,
        b'[{"op":"add","path":{"a":1}}]',
        "error decoding patch: json: cannot unmarshal object into Go struct field "
        "jsonPatchOp.path of type string",
        id="json patch path object",
    ),
    pytest.param(
        MERGE_PATCH,
        b"[1,2]",
        "error decoding patch: json: cannot unmarshal array into Go value of type "
        "map[string]interface {}",
        id="merge array",
    ),
    pytest.param(
        MERGE_PATCH,
        b'"x"',
        "error decoding patch: json: cannot unmarshal string into Go value of type "
        "map[string]interface {}",
        id="merge string",
    ),
    pytest.param(
        STRATEGIC_MERGE_PATCH,
        b"true",
        "json: cannot unmarshal bool into Go value of type map[string]interface {}",
        id="smp bool",
    ),
]


@pytest.mark.parametrize(("media_type", "body", "message"), WRONG_SHAPE)
def test_bodies_of_the_wrong_shape_are_bad_requests(
    media_type: str, body: bytes, message: str
) -> None:
    with pytest.raises(BadRequest) as info:
        apply_patch(media_type, {"a": 1}, body, POD)
    assert str(info.value) == message


def test_null_bodies() -> None:
    assert apply_patch(JSON_PATCH, {"a": 1}, b"null", POD) == {"a": 1}
    assert apply_patch(STRATEGIC_MERGE_PATCH, {"a": 1}, b"null", POD) == {"a": 1}


def test_bodies_go_accepts_and_orjson_does_not() -> None:
    # Invalid UTF-8 and lone surrogates become U+FFFD in Go; big integers become floats.
    assert apply_patch(MERGE_PATCH, {}, b'{"a":"\xff"}', POD) == {"a": "\ufffd"}
    assert apply_patch(MERGE_PATCH, {}, b'{"a":"x\\ud800"}', POD) == {"a": "x\ufffd"}
    assert apply_patch(MERGE_PATCH, {}, b'{"a":123456789012345678901234567890}', POD) == {
        "a": 1.2345678901234568e29
    }


def test_numbers_out_of_float64_range_are_bad_requests() -> None:
    with pytest.raises(BadRequest, match="value out of range"):
        apply_patch(MERGE_PATCH, {}, b'{"a":1e400}', POD)


def test_strategic_merge_patch_on_a_custom_resource_is_415() -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        apply_patch(STRATEGIC_MERGE_PATCH, {"spec": {}}, b"{}", None)
    assert info.value.code == 415
    assert str(info.value) == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


def test_unknown_media_type_is_415() -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        apply_patch("application/json", {"spec": {}}, b"{}", POD)
    assert str(info.value) == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, "
        "application/strategic-merge-patch+json, application/apply-patch+yaml"
    )


def test_media_type_parameters_are_ignored() -> None:
    result = apply_patch("Application/Merge-Patch+JSON; charset=utf-8", {"a": 1}, b'{"b":2}', POD)
    assert result == {"a": 1, "b": 2}


def test_server_side_apply_is_not_handled_here() -> None:
    with pytest.raises(ValueError, match="server-side apply"):
        apply_patch("application/apply-patch+yaml", {}, b"{}", POD)


@pytest.mark.parametrize(
    ("media_type", "body"),
    [
        (JSON_PATCH, b'[{"op":"add","path":"/spec/x","value":{"y":[1]}}]'),
        (MERGE_PATCH, b'{"spec":{"x":{"y":[1]}}}'),
        (STRATEGIC_MERGE_PATCH, b'{"spec":{"x":{"y":[1]}}}'),
    ],
)
def test_result_shares_nothing_with_the_original(media_type: str, body: bytes) -> None:
    original = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}}
    before = copy.deepcopy(original)
    result = apply_patch(media_type, original, body, POD)
    assert original == before
    result["metadata"]["labels"]["a"] = "changed"
    result["spec"]["containers"][0]["name"] = "changed"
    result["spec"]["x"]["y"].append(2)
    assert original == before


# --------------------------------------------------------------------------------------------
# Properties.

_keys = st.text(alphabet="abc/~", min_size=1, max_size=3)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=3)
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)
_objects = st.dictionaries(_keys, _json, max_size=4)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


@settings(max_examples=60, deadline=None)
@given(_objects)
def test_merge_patch_with_an_empty_patch_is_identity(document: dict[str, Any]) -> None:
    assert merge_patch(document, {}) == document
    assert apply_patch(MERGE_PATCH, document, b"{}", POD) == document


@settings(max_examples=60, deadline=None)
@given(_objects)
def test_strategic_merge_patch_with_an_empty_patch_is_identity(document: dict[str, Any]) -> None:
    assert strategic_merge_patch(document, {}, POD) == document
    assert strategic_merge_patch(document, {}, None) == document


@settings(max_examples=60, deadline=None)
@given(_objects, _keys, _json)
def test_json_patch_add_then_remove_round_trips(
    document: dict[str, Any], key: str, value: Any
) -> None:
    if key in document:
        document = {k: v for k, v in document.items() if k != key}
    path = "/" + _escape(key)
    added = json_patch(document, [{"op": "add", "path": path, "value": value}])
    assert json_patch(added, [{"op": "test", "path": path, "value": value}]) == added
    assert json_patch(added, [{"op": "remove", "path": path}]) == document


@settings(max_examples=60, deadline=None)
@given(st.lists(_json, max_size=5), st.data())
def test_json_patch_array_insert_then_remove_round_trips(
    items: list[Any], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(items)))
    value = data.draw(_json)
    document = {"l": items}
    added = json_patch(document, [{"op": "add", "path": f"/l/{index}", "value": value}])
    assert added["l"][index] == value or value != value
    assert json_patch(added, [{"op": "remove", "path": f"/l/{index}"}]) == document


@settings(max_examples=60, deadline=None)
@given(_objects, _objects)
def test_patches_never_mutate_their_inputs(document: dict[str, Any], other: dict[str, Any]) -> None:
    before, other_before = copy.deepcopy(document), copy.deepcopy(other)
    merge_patch(document, other)
    strategic_merge_patch(document, other, None)
    assert document == before
    assert other == other_before


@settings(max_examples=60, deadline=None)
@given(_objects, _objects)
def test_merge_patch_sets_every_non_null_member(
    document: dict[str, Any], other: dict[str, Any]
) -> None:
    result = merge_patch(document, other)
    for key, value in other.items():
        if value is None:
            assert key not in result
        elif not isinstance(value, dict):
            assert result[key] == patch._prune_nulls(value) or result[key] == value
