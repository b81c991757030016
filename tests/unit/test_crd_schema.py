"""The custom resource schema validator: many documents, messages compared exactly."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.customresource import defaulting
from kybernetes.api.customresource.schema import compile_schema
from kybernetes.api.customresource.validate import validate

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 5},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
                "ratio": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "exclusiveMaximum": True,
                    "exclusiveMinimum": True,
                },
                "color": {"type": "string", "enum": ["red", "green"]},
                "enabled": {"type": "boolean"},
                "port": {"x-kubernetes-int-or-string": True},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "maxItems": 3,
                    "minItems": 1,
                    "x-kubernetes-list-type": "set",
                },
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                    },
                },
                "unique": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
                "labels": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "maxProperties": 2,
                    "minProperties": 1,
                },
                "note": {"type": "string", "nullable": True},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                },
                "step": {"type": "integer", "multipleOf": 5},
            },
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


def _spec(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"name": "ab", **fields}}


VALID = [
    _spec(),
    _spec(replicas=1, ratio=0.5, color="red", enabled=False),
    _spec(port=80),
    _spec(port="http"),
    _spec(tags=["a", "b"]),
    _spec(ports=[{"name": "a", "port": 1}, {"name": "b", "port": 1}]),
    _spec(unique=[1, 2, 3]),
    _spec(labels={"a": "b"}),
    _spec(note=None),
    _spec(template={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {}}),
    _spec(step=10),
    {**_spec(), "status": {"anything": [1, {"x": None}]}},
]


@pytest.mark.parametrize("obj", VALID)
def test_valid_documents(obj: dict[str, Any]) -> None:
    assert validate(compile_schema(SCHEMA), obj) == []


INVALID = [
    (
        _spec(replicas="3"),
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type '
        'integer: "string"',
    ),
    (
        _spec(replicas=1.5),
        'spec.replicas: Invalid value: "number": spec.replicas in body must be of type '
        'integer: "number"',
    ),
    (
        _spec(enabled="yes"),
        'spec.enabled: Invalid value: "string": spec.enabled in body must be of type '
        'boolean: "string"',
    ),
    (
        _spec(replicas=None),
        'spec.replicas: Invalid value: "null": spec.replicas in body must be of type '
        'integer: "null"',
    ),
    (
        _spec(port=1.5),
        'spec.port: Invalid value: "number": spec.port in body must be of type '
        'integer,string: "number"',
    ),
    (
        {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {}},
        "spec.name: Required value",
    ),
    (
        _spec(replicas=0),
        "spec.replicas: Invalid value: 0: spec.replicas in body should be "
        "greater than or equal to 1",
    ),
    (
        _spec(replicas=11),
        "spec.replicas: Invalid value: 11: spec.replicas in body should be "
        "less than or equal to 10",
    ),
    (_spec(ratio=1), "spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1"),
    (_spec(ratio=0), "spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0"),
    (
        _spec(color="pink"),
        'spec.color: Unsupported value: "pink": supported values: "red", "green"',
    ),
    (
        {**_spec(), "spec": {"name": "ABC"}},
        "spec.name: Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'",
    ),
    (
        {**_spec(), "spec": {"name": "a"}},
        'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long',
    ),
    (
        {**_spec(), "spec": {"name": "abcdef"}},
        "spec.name: Too long: may not be more than 5 bytes",
    ),
    (_spec(tags=["a", "b", "c", "d"]), "spec.tags: Too many: 4: must have at most 3 items"),
    (
        _spec(tags=[]),
        "spec.tags: Invalid value: []interface {}{}: spec.tags in body should have at least 1 "
        "items",
    ),
    (_spec(tags=["a", "a"]), 'spec.tags[1]: Duplicate value: "a"'),
    (
        _spec(ports=[{"name": "a"}, {"name": "a", "port": 2}]),
        'spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a"}',
    ),
    (_spec(ports=[{"port": 2}]), "spec.ports[0].name: Required value"),
    (
        _spec(unique=[1, 1]),
        "spec.unique: Invalid value: []interface {}{1, 1}: spec.unique in body shouldn't "
        "contain duplicates",
    ),
    (
        _spec(labels={"a": "1", "b": "2", "c": "3"}),
        'spec.labels: Invalid value: map[string]interface {}{"a":"1", "b":"2", "c":"3"}: '
        "spec.labels in body should have at most 2 properties",
    ),
    (
        _spec(labels={"a": 1}),
        'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type '
        'string: "integer"',
    ),
    (
        _spec(template={"metadata": {}}),
        "spec.template.apiVersion: Required value: must not be empty",
    ),
    (
        _spec(step=7),
        "spec.step: Invalid value: 7: spec.step in body should be a multiple of 5",
    ),
]


@pytest.mark.parametrize(("obj", "message"), INVALID)
def test_invalid_documents(obj: dict[str, Any], message: str) -> None:
    errs = validate(compile_schema(SCHEMA), obj)
    assert errs, "expected an error"
    assert str(errs[0]) == message


RULES: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.min <= self.max", "message": "min must not exceed max"},
                {"rule": "self.name.lowerAscii() == self.name", "fieldPath": ".name"},
                {
                    "rule": "self.min == oldSelf.min",
                    "message": "min is immutable",
                    "reason": "FieldValueForbidden",
                },
                {
                    "rule": "self.max < 100",
                    "messageExpression": "'max is ' + string(self.max)",
                },
            ],
            "properties": {
                "min": {"type": "integer"},
                "max": {"type": "integer"},
                "name": {"type": "string"},
            },
        }
    },
}


@pytest.mark.parametrize(
    ("spec", "old", "messages"),
    [
        ({"min": 1, "max": 2, "name": "a"}, None, []),
        (
            {"min": 3, "max": 2, "name": "a"},
            None,
            ['spec: Invalid value: "object": min must not exceed max'],
        ),
        (
            {"min": 1, "max": 2, "name": "A"},
            None,
            [
                'spec.name: Invalid value: "object": failed rule: '
                "self.name.lowerAscii() == self.name"
            ],
        ),
        ({"min": 1, "max": 2, "name": "a"}, {"min": 1, "max": 5, "name": "a"}, []),
        (
            {"min": 2, "max": 2, "name": "a"},
            {"min": 1, "max": 5, "name": "a"},
            ["spec: Forbidden: min is immutable"],
        ),
        ({"min": 1, "max": 200, "name": "a"}, None, ['spec: Invalid value: "object": max is 200']),
        (
            {"min": "x", "max": 2, "name": "a"},
            None,
            [
                'spec.min: Invalid value: "string": spec.min in body must be of type integer: '
                '"string"',
                ': Invalid value: "null": some validation rules were not checked because the '
                "object was invalid; correct the existing errors to complete validation",
            ],
        ),
    ],
)
def test_cel_rules(spec: dict[str, Any], old: dict[str, Any] | None, messages: list[str]) -> None:
    node = compile_schema(RULES)
    old_obj = {"spec": old} if old is not None else None
    assert [str(e) for e in validate(node, {"spec": spec}, old_obj)] == messages


def test_defaults_apply_to_missing_and_null_fields() -> None:
    node = compile_schema(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "size": {"type": "integer", "default": 3},
                        "items": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"mode": {"type": "string", "default": "rw"}},
                            },
                        },
                    },
                }
            },
        }
    )
    obj: dict[str, Any] = {"metadata": {"name": "x"}}
    defaulting.apply_defaults(node, obj)
    assert obj["spec"] == {"size": 3}
    obj = {"spec": {"size": None, "items": [{}, {"mode": "ro"}]}}
    defaulting.apply_defaults(node, obj)
    assert obj["spec"] == {"size": 3, "items": [{"mode": "rw"}, {"mode": "ro"}]}


def test_pruning_reports_unknown_fields_and_keeps_preserved_ones() -> None:
    node = compile_schema(SCHEMA)
    obj: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "x"},
        "spec": {
            "name": "ab",
            "extra": 1,
            "ports": [{"name": "a", "bogus": True}],
            "template": {"apiVersion": "v1", "kind": "Pod", "anything": 1},
        },
        "status": {"free": {"form": 1}},
        "top": 1,
    }
    assert defaulting.prune(node, obj) == ["spec.extra", "spec.ports[0].bogus", "top"]
    assert obj["spec"]["ports"] == [{"name": "a"}]
    assert obj["spec"]["template"]["anything"] == 1
    assert obj["status"] == {"free": {"form": 1}}
    assert "metadata" in obj
