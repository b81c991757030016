"""The results semantic validation remembers between calls never hide an error.

Validation remembers what depends on its input alone: name and quantity checks per string,
converted selectors and valid resource requirements per (type-exact) JSON value, and, while
one object is validated, the generic metadata checks upstream runs twice. Each test below
validates a valid input first, so that it is remembered, then one that differs only in a way
the remembered result must not cover.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api.defaults import apply_defaults
from kybernetes.api.validation.common import frozen_json, selector_of
from kybernetes.api.validation.names import is_qualified_name
from kybernetes.api.validation.resourcelists import validate_resource_requirements
from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]


def deployment() -> Obj:
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27",
                            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                        }
                    ]
                },
            },
        },
    }
    apply_defaults("apps", "v1", "Deployment", obj)
    return obj


def messages(obj: Obj, old: Obj | None = None) -> list[str]:
    return [str(e) for e in validate_object("apps", "Deployment", obj, old)]


def test_metadata_changed_between_calls_is_checked_again() -> None:
    obj = deployment()
    assert messages(obj) == []
    obj["metadata"]["labels"]["app"] = "-bad-"
    assert [m.split(":")[0] for m in messages(obj)] == ["metadata.labels"]
    obj["metadata"]["labels"]["app"] = "web"
    assert messages(obj) == []


def test_update_metadata_is_checked_on_every_call() -> None:
    old = deployment()
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    assert messages(new, old) == []
    new["metadata"]["name"] = "other"
    assert messages(new, old) == [
        'metadata.name: Invalid value: "other": field is immutable',
    ]


def test_remembered_requirements_tell_value_types_apart() -> None:
    assert validate_resource_requirements({"limits": {"cpu": "1"}}, "resources") == []
    assert [e.field for e in validate_resource_requirements({"limits": {"cpu": True}}, "r")] == [
        "r.limits[cpu]"
    ]
    assert validate_resource_requirements({"limits": {"cpu": 1}}, "resources") == []


def test_remembered_requirements_depend_on_the_pod_claims() -> None:
    requirements = {"claims": [{"name": "gpu"}]}
    assert validate_resource_requirements(requirements, "r", frozenset({"gpu"})) == []
    assert [e.field for e in validate_resource_requirements(requirements, "r")] == ["r.claims[0]"]


def test_remembered_selectors_tell_value_types_apart() -> None:
    assert selector_of({"matchLabels": {"app": "1"}}) is not None
    assert selector_of({"matchLabels": {"app": 1}}) is None
    assert selector_of({"matchLabels": {"app": True}}) is None


def test_frozen_json_keeps_types_and_float_signs_apart() -> None:
    assert frozen_json(1) != frozen_json(True) != frozen_json(1.0)
    assert frozen_json(0.0) != frozen_json(-0.0)
    assert frozen_json({"a": [1]}) == frozen_json({"a": [1]})
    assert frozen_json({"a": [1]}) != frozen_json({"a": (1,)})


def test_remembered_name_messages_are_fresh_lists() -> None:
    first = is_qualified_name("a/b/c")
    first.append("scribbled")
    assert "scribbled" not in is_qualified_name("a/b/c")
    valid = is_qualified_name("app")
    valid.append("scribbled")
    assert is_qualified_name("app") == []
