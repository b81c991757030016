"""Semantic validation of RBAC objects, with kube-apiserver 1.32's paths and messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.defaults import apply_defaults
from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"


def errors(kind: str, obj: Obj, old: Obj | None = None) -> list[str]:
    apply_defaults(GROUP, "v1", kind, obj)
    return [str(e) for e in validate_object(GROUP, kind, obj, old)]


def role(kind: str = "Role", *rules: Obj) -> Obj:
    meta: Obj = (
        {"name": "reader"} if kind == "ClusterRole" else {"name": "reader", "namespace": "default"}
    )
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "rules": list(rules),
    }


RULE_CASES = [
    pytest.param(
        "Role", {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, [], id="valid"
    ),
    pytest.param(
        "Role",
        {"apiGroups": [""], "resources": ["pods"]},
        ["rules[0].verbs: Required value: verbs must contain at least one value"],
        id="verbs-required",
    ),
    pytest.param(
        "Role",
        {"verbs": ["get"]},
        [
            "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
            "rules[0].resources: Required value: resource rules must supply at least one resource",
        ],
        id="resource-rule-incomplete",
    ),
    pytest.param(
        "Role",
        {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
        [
            'rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules '
            "cannot apply to non-resource URLs"
        ],
        id="namespaced-non-resource-url",
    ),
    pytest.param(
        "ClusterRole",
        {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
        [],
        id="cluster-non-resource-url",
    ),
    pytest.param(
        "ClusterRole",
        {"verbs": ["get"], "nonResourceURLs": ["/healthz"], "resources": ["pods"]},
        [
            'rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: rules cannot apply to '
            "both regular resources and non-resource URLs"
        ],
        id="mixed-rule",
    ),
]


@pytest.mark.parametrize(("kind", "rule", "expected"), RULE_CASES)
def test_rules(kind: str, rule: Obj, expected: list[str]) -> None:
    assert errors(kind, role(kind, rule)) == expected


def test_rbac_names_are_path_segments() -> None:
    obj = role("ClusterRole")
    obj["metadata"]["name"] = "system:controller:Odd Name"
    assert errors("ClusterRole", obj) == []
    obj["metadata"]["name"] = "a/b"
    assert errors("ClusterRole", obj) == [
        "metadata.name: Invalid value: \"a/b\": may not contain '/'"
    ]


def binding(kind: str = "RoleBinding", **fields: Any) -> Obj:
    meta: Obj = (
        {"name": "b"} if kind == "ClusterRoleBinding" else {"name": "b", "namespace": "default"}
    )
    obj: Obj = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "ServiceAccount", "name": "default", "namespace": "default"},
        ],
    }
    obj.update(fields)
    return obj


def test_binding_defaults_api_groups() -> None:
    obj = binding()
    assert errors("RoleBinding", obj) == []
    assert obj["roleRef"]["apiGroup"] == GROUP
    assert obj["subjects"][0]["apiGroup"] == GROUP
    assert "apiGroup" not in obj["subjects"][1]


BINDING_CASES = [
    pytest.param(
        "RoleBinding",
        {"roleRef": {"apiGroup": "example.com", "kind": "Thing", "name": ""}},
        [
            'roleRef.apiGroup: Unsupported value: "example.com": supported values: '
            '"rbac.authorization.k8s.io"',
            'roleRef.kind: Unsupported value: "Thing": supported values: "Role", "ClusterRole"',
            "roleRef.name: Required value",
        ],
        id="role-ref",
    ),
    pytest.param(
        "ClusterRoleBinding",
        {"roleRef": {"kind": "Role", "name": "x"}},
        ['roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"'],
        id="cluster-binding-to-role",
    ),
    pytest.param(
        "ClusterRoleBinding",
        {
            "subjects": [
                {"kind": "ServiceAccount", "name": "default"},
                {"kind": "Robot", "name": "r"},
            ]
        },
        [
            "subjects[0].namespace: Required value",
            'subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", '
            '"User", "Group"',
        ],
        id="subjects",
    ),
    pytest.param(
        "RoleBinding",
        {
            "subjects": [
                {"kind": "Group", "name": "devs", "apiGroup": "example.com"},
                {"kind": "User", "name": ""},
            ]
        },
        [
            'subjects[0].apiGroup: Unsupported value: "example.com": supported values: '
            '"rbac.authorization.k8s.io"',
            "subjects[1].name: Required value",
        ],
        id="subject-fields",
    ),
]


@pytest.mark.parametrize(("kind", "fields", "expected"), BINDING_CASES)
def test_bindings(kind: str, fields: Obj, expected: list[str]) -> None:
    assert errors(kind, binding(kind, **fields)) == expected


def test_role_ref_cannot_change() -> None:
    old = binding()
    old["metadata"]["resourceVersion"] = "1"
    apply_defaults(GROUP, "v1", "RoleBinding", old)
    new = copy.deepcopy(old)
    new["roleRef"]["name"] = "edit"
    assert errors("RoleBinding", new, old) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", '
        'Kind:"ClusterRole", Name:"edit"}: cannot change roleRef'
    ]


def test_aggregation_rule() -> None:
    obj = role("ClusterRole")
    obj["aggregationRule"] = {"clusterRoleSelectors": []}
    assert errors("ClusterRole", obj) == [
        "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector "
        "required if aggregationRule is non-nil"
    ]
