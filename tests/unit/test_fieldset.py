"""Field sets and the FieldsV1 format (kybernetes.api.fieldset)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kybernetes.api.fieldset import (
    EMPTY,
    FieldSet,
    FieldSetError,
    compare_elements,
    ensure_named_fields,
    field_element,
    go_json,
    index_element,
    key_element,
    parse_element,
    path_string,
    root_node,
    to_field_set,
    value_element,
)
from kybernetes.api.schema import definition

DEPLOYMENT = definition("io.k8s.api.apps.v1.Deployment")
POD = definition("io.k8s.api.core.v1.Pod")


def fs(*paths: str) -> FieldSet:
    """A set from dotted paths of element strings: ``fs("f:spec/f:replicas")``."""
    return FieldSet.from_paths(tuple(p.split("/")) for p in paths)


# ----- elements ----------------------------------------------------------------------------


def test_elements_are_canonical() -> None:
    assert field_element("replicas") == "f:replicas"
    assert key_element({"protocol": "TCP", "containerPort": 80}) == (
        'k:{"containerPort":80,"protocol":"TCP"}'
    )
    assert key_element({"port": 80.0}) == 'k:{"port":80}'
    assert value_element("a<b&c") == 'v:"a\\u003cb\\u0026c"'
    assert value_element(True) == "v:true"
    assert index_element(3) == "i:3"


def test_go_json_writes_like_go() -> None:
    assert go_json({"b": 1, "a": [1.5, None, "x"]}) == '{"a":[1.5,null,"x"],"b":1}'
    assert go_json(1e21) == "1e+21"
    assert go_json(1e-7) == "1e-7"
    assert go_json(100.0) == "100"
    assert go_json("\u2028\n") == '"\\u2028\\n"'


def test_parse_element() -> None:
    assert parse_element("f:spec") == ("f", "spec")
    assert parse_element('k:{"name":"web"}') == ("k", (("name", "web"),))
    assert parse_element('v:"a"') == ("v", "a")
    assert parse_element("i:7") == ("i", 7)
    for bad in ("f", "fx", "x:1", "i:x", 'k:"a"', "v:{"):
        with pytest.raises(FieldSetError):
            parse_element(bad)


def test_element_order_is_upstreams() -> None:
    ordered = [
        "f:a",
        "f:b",
        'k:{"name":"a"}',
        'k:{"name":"b"}',
        'k:{"name":"b","port":1}',
        "v:1",
        "v:2.5",
        'v:"a"',
        "v:false",
        "v:true",
        "i:0",
        "i:10",
    ]
    for i, a in enumerate(ordered):
        for j, b in enumerate(ordered):
            assert compare_elements(a, b) == (i > j) - (i < j), (a, b)


def test_path_strings() -> None:
    path = ("f:spec", "f:containers", 'k:{"name":"web"}', "f:image")
    assert path_string(path) == '.spec.containers[name="web"].image'
    assert path_string(("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}')) == (
        '.ports[containerPort=80,protocol="TCP"]'
    )
    assert path_string(("f:finalizers", 'v:"a"')) == '.finalizers[="a"]'
    assert path_string(("f:args", "i:2")) == ".args[2]"
    assert path_string(("f:x", "v:1000000.5")) == ".x[=1.0000005e+06]"


# ----- set algebra ---------------------------------------------------------------------------


def test_union_intersection_difference() -> None:
    a = fs("f:spec/f:replicas", "f:spec/f:paused", "f:metadata/f:labels/f:app")
    b = fs("f:spec/f:replicas", "f:spec/f:minReadySeconds")
    assert a.union(b) == fs(
        "f:spec/f:replicas",
        "f:spec/f:paused",
        "f:spec/f:minReadySeconds",
        "f:metadata/f:labels/f:app",
    )
    assert a.intersection(b) == fs("f:spec/f:replicas")
    assert a.difference(b) == fs("f:spec/f:paused", "f:metadata/f:labels/f:app")
    assert a.difference(a).is_empty()
    assert len(a) == 3
    assert a.has(("f:spec", "f:replicas"))
    assert not a.has(("f:spec",))


def test_difference_keeps_children_recursive_difference_drops_them() -> None:
    s = fs("f:status", "f:status/f:phase", "f:spec/f:x")
    strip = fs("f:status")
    assert s.difference(strip) == fs("f:status/f:phase", "f:spec/f:x")
    assert s.recursive_difference(strip) == fs("f:spec/f:x")


def test_paths_iterate_members_before_children() -> None:
    s = fs("f:spec/f:template/f:x", "f:spec/f:replicas", "f:apiVersion")
    assert [path_string(p) for p in s.paths()] == [
        ".apiVersion",
        ".spec.replicas",
        ".spec.template.x",
    ]


# ----- FieldsV1 --------------------------------------------------------------------------------


def test_fields_v1_layout() -> None:
    s = fs(
        'f:spec/f:containers/k:{"name":"web"}',
        'f:spec/f:containers/k:{"name":"web"}/f:image',
        "f:metadata/f:labels/f:app",
        "f:spec/f:replicas",
    )
    v1 = s.to_fields_v1()
    assert v1 == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}}},
            "f:replicas": {},
        },
    }
    # Key order matters on the wire: "." first, then upstream's element order.
    assert list(v1) == ["f:metadata", "f:spec"]
    assert list(v1["f:spec"]) == ["f:containers", "f:replicas"]
    assert orjson.dumps(v1) == s.to_json()


def test_reads_upstream_documents() -> None:
    raw = (
        b'{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\\"name\\":'
        b'\\"nginx\\"}":{".":{},"f:image":{},"f:ports":{"k:{\\"protocol\\":\\"TCP\\",'
        b'\\"containerPort\\":80}":{".":{},"f:containerPort":{}}}}}}}},"f:metadata":'
        b'{"f:labels":{".":{},"f:app":{}}},"x:future":{}}'
    )
    s = FieldSet.from_json(raw)
    port = 'k:{"containerPort":80,"protocol":"TCP"}'
    base = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"nginx"}')
    assert s.has((*base, "f:ports", port, "f:containerPort"))
    assert s.has((*base, "f:ports", port))
    assert s.has(base)
    assert s.has(("f:metadata", "f:labels"))
    assert not s.has(("f:spec",))
    # Written back canonically: keys sorted inside k:, fields in order, unknown kinds dropped.
    assert list(s.to_fields_v1()) == ["f:metadata", "f:spec"]
    assert FieldSet.from_fields_v1({}) == EMPTY


def test_rejects_malformed_documents() -> None:
    bads: list[Any] = [[], {"f:a": 1}, {"k:x": {}}, {"fa": {}}]
    for bad in bads:
        with pytest.raises(FieldSetError):
            FieldSet.from_fields_v1(bad)
    with pytest.raises(FieldSetError):
        FieldSet.from_json(b"{")


# ----- sets from objects ---------------------------------------------------------------------


def deployment_config() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a/b"]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx",
                            "args": ["-g", "daemon off;"],
                            "ports": [{"containerPort": 80}],
                            "env": [{"name": "A", "value": "1"}],
                        }
                    ],
                    "volumes": [],
                    "nodeSelector": {"disk": "ssd"},
                    "securityContext": None,
                },
            },
        },
    }


def test_to_field_set_follows_the_schema() -> None:
    s = to_field_set(deployment_config(), DEPLOYMENT)
    web = 'k:{"name":"web"}'
    assert s.to_fields_v1() == {
        "f:apiVersion": {},
        "f:kind": {},
        "f:metadata": {
            "f:finalizers": {'v:"a/b"': {}},
            "f:labels": {"f:app": {}},
            "f:name": {},
        },
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:strategy": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        web: {
                            ".": {},
                            "f:args": {},
                            "f:env": {'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}}},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":80,"protocol":"TCP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                }
                            },
                        }
                    },
                    "f:nodeSelector": {},
                    "f:securityContext": {},
                },
            },
        },
    }


def test_custom_resources_without_schema_deduce() -> None:
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "labels": {"a": "b"}},
        "spec": {"size": 3, "items": [1, 2], "nested": {"x": {}}},
    }
    assert to_field_set(obj, None).to_fields_v1() == {
        "f:apiVersion": {},
        "f:kind": {},
        "f:metadata": {"f:labels": {"f:a": {}}, "f:name": {}},
        "f:spec": {
            ".": {},
            "f:items": {},
            "f:nested": {".": {}, "f:x": {}},
            "f:size": {},
        },
    }


def test_duplicates_and_owner_references() -> None:
    pod = {
        "metadata": {"ownerReferences": [{"uid": "1", "kind": "ReplicaSet", "name": "rs"}]},
        "spec": {"containers": [{"name": "a"}, {"name": "a", "image": "x"}]},
    }
    assert to_field_set(pod, POD).to_fields_v1() == {
        "f:metadata": {"f:ownerReferences": {'k:{"uid":"1"}': {}}},
        "f:spec": {"f:containers": {'k:{"name":"a"}': {}}},
    }


def test_ensure_named_fields() -> None:
    s = fs("f:spec/f:template/f:metadata/f:labels/f:app", "f:spec/f:selector")
    named = ensure_named_fields(s, root_node(DEPLOYMENT))
    assert named.has(("f:spec",))
    assert named.has(("f:spec", "f:template", "f:metadata", "f:labels"))
    # Map keys are not named fields: only what was there before.
    assert named.has(("f:spec", "f:template", "f:metadata", "f:labels", "f:app"))


# ----- properties ------------------------------------------------------------------------------

_scalars = st.one_of(
    st.integers(-(2**53), 2**53),
    st.text(max_size=6),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
_elements = st.one_of(
    st.text(max_size=8).map(field_element),
    st.dictionaries(st.text(min_size=1, max_size=5), _scalars, min_size=1, max_size=3).map(
        key_element
    ),
    _scalars.map(value_element),
    st.integers(0, 50).map(index_element),
)
_paths = st.lists(_elements, min_size=1, max_size=4).map(tuple)
_sets = st.lists(_paths, max_size=12).map(FieldSet.from_paths)


@given(_sets)
def test_fields_v1_round_trip(s: FieldSet) -> None:
    assert FieldSet.from_fields_v1(s.to_fields_v1()) == s
    assert FieldSet.from_json(s.to_json()) == s
    assert FieldSet.from_paths(s.paths()) == s


@given(_sets, _sets)
def test_set_algebra(a: FieldSet, b: FieldSet) -> None:
    union = a.union(b)
    inter = a.intersection(b)
    diff = a.difference(b)
    for path in a.paths():
        assert union.has(path)
        assert inter.has(path) == b.has(path)
        assert diff.has(path) == (not b.has(path))
    assert set(union.paths()) == set(a.paths()) | set(b.paths())
    assert diff.union(inter) == a


def test_written_and_read_documents_are_never_shared() -> None:
    # Sets keep their written document and are found again by it: neither may leak.
    s = fs("f:spec/f:replicas", 'f:spec/f:containers/k:{"name":"web"}/f:image')
    first = s.to_fields_v1()
    first["f:spec"]["f:replicas"]["oops"] = {}
    first["f:extra"] = {}
    second = s.to_fields_v1()
    assert second == {
        "f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}, "f:replicas": {}}
    }
    assert second is not first
    doc = s.to_fields_v1()
    assert FieldSet.from_fields_v1(doc) == s
    doc["f:spec"]["f:paused"] = {}
    assert FieldSet.from_fields_v1(doc) == s.union(fs("f:spec/f:paused"))
    assert FieldSet.from_fields_v1(s.to_fields_v1()) == s
