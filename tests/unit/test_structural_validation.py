"""Schema-driven structural validation and pruning (kybernetes.api.validation.structural)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kybernetes.api import resources
from kybernetes.api.schema import FieldKind, FieldSchema, TypeSchema, definition
from kybernetes.api.validation.structural import (
    Problem,
    ProblemKind,
    prune,
    strict_decoding_error,
    validate,
    validate_and_prune,
)

MANIFESTS = Path(__file__).resolve().parent / "manifests"
MANIFEST_FILES = sorted(p.name for p in MANIFESTS.glob("*.yaml"))


def load(name: str) -> dict[str, Any]:
    data = yaml.load((MANIFESTS / name).read_text(), Loader=yaml.CSafeLoader)
    assert isinstance(data, dict)
    return data


def definition_of(obj: dict[str, Any]) -> TypeSchema:
    group, _, version = obj["apiVersion"].rpartition("/")
    info = resources.for_kind(group, version, obj["kind"])
    assert info is not None
    return definition(info.definition)


def unknown(path: str) -> Problem:
    return Problem(ProblemKind.UNKNOWN_FIELD, path)


def wrong_type(path: str, expected: str, actual: str) -> Problem:
    return Problem(ProblemKind.INVALID_TYPE, path, expected=expected, actual=actual)


# --- real manifests ------------------------------------------------------------------------------


def test_there_are_manifests() -> None:
    assert len(MANIFEST_FILES) >= 6


@pytest.mark.parametrize(
    "name", [pytest.param(n, id=n.removesuffix(".yaml")) for n in MANIFEST_FILES]
)
def test_real_manifests_are_valid(name: str) -> None:
    obj = load(name)
    original = copy.deepcopy(obj)
    assert validate(obj, definition_of(obj), check_required=True) == []
    assert prune(obj, definition_of(obj)) == []
    assert obj == original


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """A mutation that sets ``value`` at a dotted path (``[n]`` for list items)."""

    def apply(obj: dict[str, Any]) -> None:
        node: Any = obj
        parts = path.replace("[", ".[").split(".")
        for part in parts[:-1]:
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        last = parts[-1]
        if last.startswith("["):
            node[int(last[1:-1])] = value
        else:
            node[last] = value

    return apply


CONTAINER = "spec.template.spec.containers[0]"


@pytest.mark.parametrize(
    ("manifest", "mutation", "expected"),
    [
        pytest.param(
            "deployment.yaml",
            _set(f"{CONTAINER}.imagePullPolicyy", "Always"),
            [unknown(f"{CONTAINER}.imagePullPolicyy")],
            id="typo-in-container",
        ),
        pytest.param(
            "deployment.yaml",
            _set("spec.replicas", "3"),
            [wrong_type("spec.replicas", "integer", "string")],
            id="string-for-int",
        ),
        pytest.param(
            "deployment.yaml",
            _set("spec.replicas", 3.5),
            [wrong_type("spec.replicas", "integer", "number")],
            id="float-for-int",
        ),
        pytest.param(
            "deployment.yaml",
            _set("spec.replicas", True),
            [wrong_type("spec.replicas", "integer", "boolean")],
            id="bool-for-int",
        ),
        pytest.param(
            "deployment.yaml",
            _set("spec.template.spec.foo", 1),
            [unknown("spec.template.spec.foo")],
            id="unknown-in-pod-spec",
        ),
        pytest.param(
            "deployment.yaml",
            _set("metadata.labelz", {}),
            [unknown("metadata.labelz")],
            id="unknown-in-metadata",
        ),
        pytest.param(
            "deployment.yaml",
            _set("metadata.labels.tier", 3),
            [wrong_type("metadata.labels.tier", "string", "integer")],
            id="int-label-value",
        ),
        pytest.param(
            "deployment.yaml",
            _set(f"{CONTAINER}.ports[1].containerPort", "9090"),
            [wrong_type(f"{CONTAINER}.ports[1].containerPort", "integer", "string")],
            id="string-port",
        ),
        pytest.param(
            "deployment.yaml",
            _set(f"{CONTAINER}.resources.limits.cpu", True),
            [wrong_type(f"{CONTAINER}.resources.limits.cpu", "number,string", "boolean")],
            id="bool-quantity",
        ),
        pytest.param(
            "deployment.yaml",
            _set(f"{CONTAINER}.readinessProbe.httpGet.port", 80.5),
            [wrong_type(f"{CONTAINER}.readinessProbe.httpGet.port", "integer,string", "number")],
            id="float-intstr",
        ),
        pytest.param(
            "deployment.yaml",
            _set(f"{CONTAINER}.args[1]", 7),
            [wrong_type(f"{CONTAINER}.args[1]", "string", "integer")],
            id="int-in-string-list",
        ),
        pytest.param(
            "deployment.yaml",
            _set(f"{CONTAINER}.env", {"name": "A"}),
            [wrong_type(f"{CONTAINER}.env", "array", "object")],
            id="object-for-list",
        ),
        pytest.param(
            "deployment.yaml",
            _set("spec.template.spec.affinity", "yes"),
            [wrong_type("spec.template.spec.affinity", "object", "string")],
            id="string-for-struct",
        ),
        pytest.param(
            "deployment.yaml",
            _set(
                "spec.template.spec.affinity.nodeAffinity"
                ".requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
                ".matchExpressions[0].valuez",
                [],
            ),
            [
                unknown(
                    "spec.template.spec.affinity.nodeAffinity"
                    ".requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
                    ".matchExpressions[0].valuez"
                )
            ],
            id="deep-affinity-typo",
        ),
        pytest.param(
            "deployment.yaml",
            _set("spec.template.spec.volumes[2].projected.sources[1].serviceAccountToken.aud", "x"),
            [unknown("spec.template.spec.volumes[2].projected.sources[1].serviceAccountToken.aud")],
            id="projected-volume-typo",
        ),
        pytest.param(
            "statefulset.yaml",
            _set("spec.volumeClaimTemplates[0].spec.resources.requests.storage", ["20Gi"]),
            [
                wrong_type(
                    "spec.volumeClaimTemplates[0].spec.resources.requests.storage",
                    "number,string",
                    "array",
                )
            ],
            id="list-quantity",
        ),
        pytest.param(
            "statefulset.yaml",
            _set("spec.volumeClaimTemplates[0].metadata.nam", "data"),
            [unknown("spec.volumeClaimTemplates[0].metadata.nam")],
            id="claim-template-metadata-typo",
        ),
        pytest.param(
            "service.yaml",
            _set("spec.ports[0].targetPort", True),
            [wrong_type("spec.ports[0].targetPort", "integer,string", "boolean")],
            id="bool-target-port",
        ),
        pytest.param(
            "service.yaml",
            _set("spec.ports[1].nodeport", 30000),
            [unknown("spec.ports[1].nodeport")],
            id="case-sensitive-field",
        ),
        pytest.param(
            "ingress.yaml",
            _set("spec.rules[0].http.paths[1].backend.service.port.number", "8080"),
            [
                wrong_type(
                    "spec.rules[0].http.paths[1].backend.service.port.number", "integer", "string"
                )
            ],
            id="ingress-port",
        ),
        pytest.param(
            "cronjob.yaml",
            _set("spec.jobTemplate.spec.template.spec.containers[0].commands", ["x"]),
            [unknown("spec.jobTemplate.spec.template.spec.containers[0].commands")],
            id="cronjob-typo",
        ),
        pytest.param(
            "cronjob.yaml",
            _set("spec.suspend", "false"),
            [wrong_type("spec.suspend", "boolean", "string")],
            id="string-for-bool",
        ),
        pytest.param(
            "pod-init.yaml",
            _set("spec.initContainers[1].restartPolicyy", "Always"),
            [unknown("spec.initContainers[1].restartPolicyy")],
            id="init-container-typo",
        ),
        pytest.param(
            "pod-init.yaml",
            _set("spec.dnsConfig.options[0].value", 2),
            [wrong_type("spec.dnsConfig.options[0].value", "string", "integer")],
            id="dns-option",
        ),
        pytest.param(
            "pod-init.yaml",
            _set("metadata.ownerReferences[0].controller", "true"),
            [wrong_type("metadata.ownerReferences[0].controller", "boolean", "string")],
            id="owner-reference",
        ),
    ],
)
def test_mutated_manifests_report_the_exact_path(
    manifest: str, mutation: Mutation, expected: list[Problem]
) -> None:
    obj = load(manifest)
    mutation(obj)
    assert validate(obj, definition_of(obj)) == expected


def test_problems_come_in_document_order() -> None:
    obj = load("deployment.yaml")
    _set("metadata.zzz", 1)(obj)
    _set("spec.replicas", "x")(obj)
    _set(f"{CONTAINER}.aaa", 1)(obj)
    paths = [p.path for p in validate(obj, definition_of(obj))]
    assert paths == ["metadata.zzz", "spec.replicas", f"{CONTAINER}.aaa"]


# --- messages -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        pytest.param(
            unknown("spec.template.spec.containers[0].imagePullPolicyy"),
            'unknown field "spec.template.spec.containers[0].imagePullPolicyy"',
            id="unknown",
        ),
        pytest.param(
            wrong_type("spec.replicas", "integer", "string"),
            'spec.replicas: Invalid value: "string": spec.replicas in body must be of type '
            'integer: "string"',
            id="type",
        ),
        pytest.param(
            Problem(ProblemKind.REQUIRED, "spec.selector"),
            "spec.selector: Required value",
            id="required",
        ),
        pytest.param(
            unknown('metadata.annotations.a"b'),
            'unknown field "metadata.annotations.a\\"b"',
            id="quoted",
        ),
    ],
)
def test_messages(problem: Problem, message: str) -> None:
    assert problem.message == message
    assert str(problem) == message


def test_strict_decoding_error_lists_unknown_fields_only() -> None:
    problems = [
        unknown("spec.a"),
        wrong_type("spec.replicas", "integer", "string"),
        unknown("spec.b"),
        unknown("spec.a"),
    ]
    assert strict_decoding_error(problems) == (
        'strict decoding error: unknown field "spec.a", unknown field "spec.b"'
    )
    assert strict_decoding_error([wrong_type("x", "integer", "string")]) is None


def test_strict_decoding_error_stops_at_100() -> None:
    problems = [unknown(f"spec.f{i}") for i in range(150)]
    message = strict_decoding_error(problems)
    assert message is not None
    assert message.count("unknown field") == 100


# --- semantics ---------------------------------------------------------------------------------


DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
POD = "io.k8s.api.core.v1.Pod"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param({"spec": None}, [], id="null-struct"),
        pytest.param({"spec": {"replicas": None, "paused": None}}, [], id="null-scalars"),
        pytest.param({"spec": {"template": {"spec": {"containers": None}}}}, [], id="null-list"),
        pytest.param({"metadata": {"labels": {"a": None}}}, [], id="null-map-value"),
        pytest.param(
            {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}}, [], id="intstr-int"
        ),
        pytest.param(
            {"spec": {"strategy": {"rollingUpdate": {"maxSurge": "25%"}}}}, [], id="intstr-string"
        ),
        pytest.param({"spec": {}}, [], id="empty-struct"),
        pytest.param({"apiVersion": "apps/v1", "kind": "Deployment"}, [], id="type-meta"),
        pytest.param(
            {"apiVersion": 1},
            [wrong_type("apiVersion", "string", "integer")],
            id="api-version-type",
        ),
        pytest.param({"status": {"bogus": 1}}, [unknown("status.bogus")], id="status-unknown"),
    ],
)
def test_deployment_cases(obj: dict[str, Any], expected: list[Problem]) -> None:
    assert validate(obj, DEPLOYMENT) == expected


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        pytest.param("500m", True, id="string"),
        pytest.param(1, True, id="int"),
        pytest.param(0.5, True, id="float"),
        pytest.param(True, False, id="bool"),
        pytest.param({}, False, id="object"),
        pytest.param([], False, id="array"),
    ],
)
def test_quantity_accepts_strings_and_numbers(value: Any, ok: bool) -> None:
    pod = {"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": value}}}]}}
    problems = validate(pod, POD)
    assert (problems == []) is ok


def test_required_fields_on_request() -> None:
    obj: dict[str, Any] = {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}
    assert validate(obj, DEPLOYMENT) == []
    problems = validate(obj, DEPLOYMENT, check_required=True)
    assert [p.message for p in problems] == [
        "spec.selector: Required value",
        "spec.template.spec.containers[0].name: Required value",
    ]


def test_required_counts_null_as_missing() -> None:
    problems = validate(
        {"spec": {"selector": None, "template": {}}}, DEPLOYMENT, check_required=True
    )
    assert [p.path for p in problems] == ["spec.selector"]


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param([], id="list"),
        pytest.param("x", id="string"),
        pytest.param(None, id="null"),
    ],
)
def test_root_must_be_an_object(obj: Any) -> None:
    (problem,) = validate(obj, DEPLOYMENT)
    assert problem.kind is ProblemKind.INVALID_TYPE
    assert problem.expected == "object"


def test_validate_does_not_change_the_object() -> None:
    obj = {"spec": {"foo": 1, "replicas": "x"}}
    validate(obj, DEPLOYMENT)
    assert obj == {"spec": {"foo": 1, "replicas": "x"}}


def test_free_form_objects_are_not_walked() -> None:
    revision = {"data": {"anything": {"goes": [1, 2]}}, "revision": 2}
    assert validate(revision, "io.k8s.api.apps.v1.ControllerRevision") == []
    managed: dict[str, Any] = {"metadata": {"managedFields": [{"fieldsV1": {"f:spec": {".": {}}}}]}}
    assert validate(managed, POD) == []


def test_crd_schema_any_values_are_accepted() -> None:
    crd = {
        "spec": {
            "versions": [
                {
                    "name": "v1",
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "default": {"a": 1},
                            "x-kubernetes-preserve-unknown-fields": True,
                            "properties": {
                                "spec": {"type": "object", "additionalProperties": True}
                            },
                            "typo": 1,
                        }
                    },
                }
            ]
        }
    }
    problems = validate(
        crd, "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    )
    assert problems == [unknown("spec.versions[0].schema.openAPIV3Schema.typo")]


def test_deeply_nested_schema_does_not_recurse() -> None:
    # JSONSchemaProps nests through `properties` maps; 3,000 levels is past Python's recursion
    # limit, so this only passes with the iterative walk.
    leaf: dict[str, Any] = {"type": "string", "typoo": 1}
    node = leaf
    for _ in range(3000):
        node = {"type": "object", "properties": {"p": node}}
    crd = {"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": node}}]}}
    problems = validate(
        crd, "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    )
    assert len(problems) == 1
    assert problems[0].path.endswith(".properties.p.typoo")
    assert problems[0].path.count(".properties.p") == 3000


def test_large_lists() -> None:
    pods: list[dict[str, Any]] = [
        {"metadata": {"name": f"p{i}"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
        for i in range(10_000)
    ]
    pods[7_777]["spec"]["containers"][0]["imag"] = "x"
    pod_list = {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods}
    problems = validate(pod_list, "io.k8s.api.core.v1.PodList")
    assert problems == [unknown("items[7777].spec.containers[0].imag")]


# --- preserve-unknown-fields, embedded resources and metadata fallback ---------------------------


def _synthetic(name: str, fields: dict[str, FieldSchema], **flags: Any) -> TypeSchema:
    return TypeSchema(
        name=name, kind=FieldKind.STRUCT, type="object", format=None, fields=fields,
        required=(), gvks=(), **flags,
    )  # fmt: skip


def _struct_field(name: str, target: TypeSchema, **flags: Any) -> FieldSchema:
    return FieldSchema(
        name=name, kind=FieldKind.STRUCT, type="object", ref=target.name, definition=target, **flags
    )


def test_preserve_unknown_fields_on_the_definition() -> None:
    inner = _synthetic(
        "example.Inner",
        {"n": FieldSchema(name="n", kind=FieldKind.INTEGER, type="integer")},
        preserve_unknown_fields=True,
    )
    outer = _synthetic("example.Outer", {"spec": _struct_field("spec", inner)})
    obj = {"spec": {"n": "x", "extra": {"deep": 1}}, "other": 1}
    assert validate(obj, outer) == [wrong_type("spec.n", "integer", "string"), unknown("other")]
    assert prune(obj, outer) == ["other"]
    assert obj == {"spec": {"n": "x", "extra": {"deep": 1}}}


def test_preserve_unknown_fields_on_the_property() -> None:
    inner = _synthetic("example.Inner", {})
    outer = _synthetic(
        "example.Outer",
        {
            "kept": _struct_field("kept", inner, preserve_unknown_fields=True),
            "strict": _struct_field("strict", inner),
        },
    )
    obj = {"kept": {"a": 1}, "strict": {"b": 2}}
    assert validate(obj, outer) == [unknown("strict.b")]


def test_embedded_resource_allows_type_and_object_meta() -> None:
    inner = _synthetic("example.Inner", {})
    outer = _synthetic(
        "example.Outer", {"template": _struct_field("template", inner, embedded_resource=True)}
    )
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Outer",
        "metadata": {"name": "x", "nam": "typo"},
        "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": 1}}},
    }
    assert validate(obj, outer) == [
        unknown("metadata.nam"),
        wrong_type("template.metadata.labels.a", "string", "integer"),
    ]
    # Without the embedded marker, a nested apiVersion is just an unknown field.
    plain = _synthetic("example.Plain", {"template": _struct_field("template", inner)})
    assert validate({"template": {"apiVersion": "v1"}}, plain) == [unknown("template.apiVersion")]


def test_definition_level_additional_properties() -> None:
    values = FieldSchema(name="", kind=FieldKind.INTEGER, type="integer")
    counts = _synthetic(
        "example.Counts", {"total": FieldSchema(name="total", kind=FieldKind.STRING)}
    )
    object.__setattr__(counts, "additional_properties", values)
    assert validate({"total": "3", "a": 1, "b": "2"}, counts) == [
        wrong_type("b", "integer", "string")
    ]


# --- pruning -----------------------------------------------------------------------------------


def test_prune_removes_unknown_fields_and_returns_their_paths() -> None:
    obj = load("deployment.yaml")
    expected = load("deployment.yaml")
    _set("metadata.bogus", 1)(obj)
    _set(f"{CONTAINER}.imagePullPolicyy", "Always")(obj)
    _set("spec.template.spec.volumes[1].emptyDir.sizeLimitt", "1Gi")(obj)
    _set("spec.replicas", "3")(obj)  # a type problem: left for validation, not pruned
    expected["spec"]["replicas"] = "3"
    removed = prune(obj, definition_of(obj))
    assert removed == [
        "metadata.bogus",
        f"{CONTAINER}.imagePullPolicyy",
        "spec.template.spec.volumes[1].emptyDir.sizeLimitt",
    ]
    assert obj == expected


def test_prune_keeps_map_keys() -> None:
    obj = {"metadata": {"labels": {"anything": "goes"}, "annotations": {"x/y": "z"}}}
    assert prune(obj, POD) == []
    assert obj == {"metadata": {"labels": {"anything": "goes"}, "annotations": {"x/y": "z"}}}


def test_prune_in_lists_of_many_items() -> None:
    items = [{"metadata": {"name": f"p{i}", "junk": i}} for i in range(1_000)]
    obj = {"items": items}
    removed = prune(obj, "io.k8s.api.core.v1.PodList")
    assert len(removed) == 1_000
    assert removed[999] == "items[999].metadata.junk"
    assert all("junk" not in item["metadata"] for item in items)


def test_validate_and_prune_reports_and_removes() -> None:
    obj = {"spec": {"replicas": "x", "foo": 1}}
    problems = validate_and_prune(obj, DEPLOYMENT)
    assert problems == [wrong_type("spec.replicas", "integer", "string"), unknown("spec.foo")]
    assert obj == {"spec": {"replicas": "x"}}


def test_unknown_definition_name() -> None:
    with pytest.raises(KeyError):
        validate({}, "io.k8s.api.core.v1.Nope")
