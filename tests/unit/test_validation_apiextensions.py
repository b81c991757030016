"""Semantic validation of CustomResourceDefinitions, with kube-apiserver 1.32's messages."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kybernetes.api.defaults import apply_defaults
from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]
GROUP = "apiextensions.k8s.io"
DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def crd() -> Obj:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer"},
                                        "tags": {"type": "array", "items": {"type": "string"}},
                                    },
                                },
                                "status": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


def errors(obj: Obj, old: Obj | None = None) -> list[str]:
    apply_defaults(GROUP, "v1", "CustomResourceDefinition", obj)
    return [str(e) for e in validate_object(GROUP, "CustomResourceDefinition", obj, old)]


def test_valid_crd_and_its_defaults() -> None:
    obj = crd()
    assert errors(obj) == []
    assert obj["spec"]["names"]["singular"] == "widget"
    assert obj["spec"]["names"]["listKind"] == "WidgetList"
    assert obj["spec"]["conversion"] == {"strategy": "None"}
    assert obj["status"] == {"storedVersions": ["v1"]}


def _edit(fn: Callable[[Obj], None]) -> Callable[[Obj], None]:
    return fn


def rename(obj: Obj) -> None:
    obj["metadata"]["name"] = "widget.example.com"


def bad_group(obj: Obj) -> None:
    obj["spec"]["group"] = "example"
    obj["metadata"]["name"] = "widgets.example"


def bad_scope(obj: Obj) -> None:
    obj["spec"]["scope"] = "Global"


def no_storage(obj: Obj) -> None:
    obj["spec"]["versions"][0]["storage"] = False
    obj["status"] = {"storedVersions": ["v1"]}


def two_versions(obj: Obj) -> None:
    second = copy.deepcopy(obj["spec"]["versions"][0])
    second["name"] = "V2"
    obj["spec"]["versions"].append(second)


def no_schema(obj: Obj) -> None:
    del obj["spec"]["versions"][0]["schema"]


def untyped_field(obj: Obj) -> None:
    schema = obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["properties"]["size"] = {}
    schema["properties"]["spec"]["properties"]["tags"]["items"] = {}


def root_not_object(obj: Obj) -> None:
    obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {"type": "string"}


def bad_names(obj: Obj) -> None:
    obj["spec"]["names"].update(plural="Widgets", kind="Widget_Thing", listKind="Widget_Thing")
    obj["metadata"]["name"] = "Widgets.example.com"


CASES = [
    pytest.param(
        rename,
        [
            'metadata.name: Invalid value: "widget.example.com": must be '
            'spec.names.plural+"."+spec.group'
        ],
        id="name",
    ),
    pytest.param(
        bad_group,
        ['spec.group: Invalid value: "example": should be a domain with at least one dot'],
        id="group",
    ),
    pytest.param(
        bad_scope,
        ['spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'],
        id="scope",
    ),
    pytest.param(
        no_storage,
        [
            "spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: "
            "must have exactly one version marked as storage version",
        ],
        id="storage-version",
    ),
    pytest.param(
        two_versions,
        [
            f'spec.versions[1].name: Invalid value: "V2": {DNS1035}',
            "spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: "
            "must have exactly one version marked as storage version",
            # storedVersions was defaulted from the first storage version.
            "status.storedVersions: Invalid value: "
            "apiextensions.CustomResourceDefinitionVersion{...}: must have the storage version V2",
        ],
        id="two-storage-versions",
    ),
    pytest.param(
        no_schema,
        ["spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"],
        id="schema-required",
    ),
    pytest.param(
        untyped_field,
        [
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].type: "
            "Required value: must not be empty for specified object fields",
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[tags].items.type:"
            " Required value: must not be empty for specified array items",
        ],
        id="structural-types",
    ),
    pytest.param(
        root_not_object,
        [
            'spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "string": must be '
            "object at the root"
        ],
        id="root-object",
    ),
    pytest.param(
        bad_names,
        [
            'metadata.name: Invalid value: "Widgets.example.com": a lowercase RFC 1123 '
            "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'example.com', regex used for "
            "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            f'spec.names.plural: Invalid value: "Widgets": {DNS1035}',
            # singular was defaulted from the kind, lower-cased.
            f'spec.names.singular: Invalid value: "widget_thing": {DNS1035}',
            'spec.names.kind: Invalid value: "Widget_Thing": may have mixed case, but should '
            f"otherwise match: {DNS1035}",
            'spec.names.listKind: Invalid value: "Widget_Thing": may have mixed case, but should '
            f"otherwise match: {DNS1035}",
            'spec.names.listKind: Invalid value: "Widget_Thing": kind and listKind may not be the '
            "same",
        ],
        id="names",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), CASES)
def test_crd(edit: Callable[[Obj], None], expected: list[str]) -> None:
    obj = crd()
    edit(obj)
    assert errors(obj) == expected


def test_group_and_plural_are_immutable() -> None:
    old = crd()
    errors(old)
    old["metadata"]["resourceVersion"] = "4"
    new = copy.deepcopy(old)
    new["spec"]["group"] = "example.org"
    new["metadata"]["name"] = "widgets.example.org"
    got = errors(new, old)
    assert 'spec.group: Invalid value: "example.org": field is immutable' in got
    assert 'metadata.name: Invalid value: "widgets.example.org": field is immutable' in got
