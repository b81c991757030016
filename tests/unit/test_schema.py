"""The generated schema data, its generator and the run-time loader (kybernetes.api.schema)."""

from __future__ import annotations

import importlib.util
import sys
import typing
from pathlib import Path
from types import ModuleType

import pytest

from kybernetes.api import schema, types
from kybernetes.api.schema import FieldKind, GroupVersionKind

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_INPUT = REPO_ROOT.parent / "shared" / "k8s-api-1.32"
CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
GENERATED = (
    "src/kybernetes/api/data/schema.json",
    "src/kybernetes/api/data/protobuf-fields.json",
    "src/kybernetes/api/types.py",
)


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_schema", REPO_ROOT / "tools/gen_schema.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load tools/gen_schema.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_schema", module)
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_committed_files(tmp_path: Path) -> None:
    gen = _load_generator()
    argv = [
        "--openapi",
        str(SHARED_INPUT / "openapi-v2.json"),
        "--protobuf",
        str(SHARED_INPUT / "protobuf-fields.json"),
        "--out-root",
        str(tmp_path),
    ]
    assert gen.main(argv) == 0
    for relative in GENERATED:
        committed = (REPO_ROOT / relative).read_bytes()
        assert (tmp_path / relative).read_bytes() == committed, f"{relative} is stale"
    # Twice in a row gives the same bytes (no timestamps, no dict-order dependence).
    first = {r: (tmp_path / r).read_bytes() for r in GENERATED}
    assert gen.main(argv) == 0
    assert {r: (tmp_path / r).read_bytes() for r in GENERATED} == first


def test_generator_reports_a_bad_input_path(tmp_path: Path) -> None:
    gen = _load_generator()
    code = gen.main(["--openapi", str(tmp_path / "missing.json"), "--out-root", str(tmp_path)])
    assert code == 1


# --- definitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        pytest.param(CORE + "Pod", FieldKind.STRUCT, id="struct"),
        pytest.param(
            "io.k8s.apimachinery.pkg.api.resource.Quantity", FieldKind.QUANTITY, id="quantity"
        ),
        pytest.param(
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString", FieldKind.INT_OR_STRING, id="intstr"
        ),
        pytest.param(META + "Time", FieldKind.STRING, id="time"),
        pytest.param(
            "io.k8s.apimachinery.pkg.runtime.RawExtension", FieldKind.FREE_OBJECT, id="raw"
        ),
        pytest.param(
            "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1", FieldKind.FREE_OBJECT, id="fieldsv1"
        ),
        pytest.param(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
            FieldKind.ANY,
            id="json",
        ),
    ],
)
def test_definition_kinds(name: str, kind: FieldKind) -> None:
    assert schema.definition(name).kind is kind


def test_unknown_definition_raises_key_error() -> None:
    with pytest.raises(KeyError, match="no definition named"):
        schema.definition("io.k8s.api.core.v1.Nope")
    assert schema.find_definition("io.k8s.api.core.v1.Nope") is None


def test_field_metadata_of_pod_spec_containers() -> None:
    containers = schema.definition("io.k8s.api.core.v1.PodSpec").fields["containers"]
    assert containers.kind is FieldKind.ARRAY
    assert containers.list_type == "map"
    assert containers.list_map_keys == ("name",)
    assert containers.patch_strategy == "merge"
    assert containers.patch_merge_key == "name"
    assert containers.items is not None
    assert containers.items.ref == "io.k8s.api.core.v1.Container"
    assert containers.items.definition is schema.definition("io.k8s.api.core.v1.Container")


@pytest.mark.parametrize(
    ("owner", "field", "attribute", "expected"),
    [
        pytest.param(
            CORE + "Container",
            "ports",
            "list_map_keys",
            ("containerPort", "protocol"),
            id="ports-keys",
        ),
        pytest.param(CORE + "Container", "args", "list_type", "atomic", id="args-atomic"),
        pytest.param(META + "ObjectMeta", "finalizers", "patch_strategy", "merge", id="finalizers"),
        pytest.param(META + "ObjectMeta", "finalizers", "list_type", "set", id="finalizers-set"),
        pytest.param(CORE + "Container", "name", "kind", FieldKind.STRING, id="string"),
        pytest.param(APPS + "DeploymentSpec", "replicas", "format", "int32", id="int32"),
        pytest.param(
            CORE + "ContainerPort", "containerPort", "kind", FieldKind.INTEGER, id="integer"
        ),
        pytest.param(CORE + "PodSpec", "hostNetwork", "kind", FieldKind.BOOLEAN, id="boolean"),
        pytest.param(
            APPS + "RollingUpdateDeployment",
            "maxSurge",
            "kind",
            FieldKind.INT_OR_STRING,
            id="intstr",
        ),
        pytest.param(
            APPS + "RollingUpdateDeployment", "maxSurge", "int_or_string", True, id="intstr-flag"
        ),
        pytest.param(
            CORE + "ServicePort", "targetPort", "kind", FieldKind.INT_OR_STRING, id="targetPort"
        ),
        pytest.param(META + "ObjectMeta", "labels", "kind", FieldKind.MAP, id="labels"),
        pytest.param(
            CORE + "NodeSelectorTerm", "matchExpressions", "list_type", "atomic", id="nodeselector"
        ),
        pytest.param(CORE + "PodSpec", "affinity", "kind", FieldKind.STRUCT, id="struct-ref"),
        pytest.param(
            "io.k8s.api.autoscaling.v2.MetricTarget",
            "averageUtilization",
            "kind",
            FieldKind.INTEGER,
            id="hpa",
        ),
    ],
)
def test_field_attributes(owner: str, field: str, attribute: str, expected: object) -> None:
    assert getattr(schema.definition(owner).fields[field], attribute) == expected


def test_map_of_quantities() -> None:
    limits = schema.definition("io.k8s.api.core.v1.ResourceRequirements").fields["limits"]
    assert limits.kind is FieldKind.MAP
    assert limits.additional_properties is not None
    assert limits.additional_properties.kind is FieldKind.QUANTITY
    assert limits.additional_properties.accepts == frozenset({str, int, float})


def test_map_type_and_required_and_unions() -> None:
    selector = schema.definition("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")
    assert selector.map_type == "atomic"
    assert schema.definition("io.k8s.api.core.v1.Container").required == ("name",)
    seccomp = schema.definition("io.k8s.api.core.v1.SeccompProfile")
    assert seccomp.unions
    assert seccomp.unions[0]["discriminator"] == "type"


def test_recursive_definition_is_resolved_to_itself() -> None:
    props = schema.definition(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
    )
    nested = props.fields["properties"].additional_properties
    assert nested is not None
    assert nested.definition is props
    assert "JSONSchemaProps" in repr(nested)  # repr terminates on the cyclic graph


@pytest.mark.parametrize(
    ("gvk", "name"),
    [
        pytest.param(("", "v1", "Pod"), CORE + "Pod", id="pod"),
        pytest.param(("apps", "v1", "Deployment"), APPS + "Deployment", id="deployment"),
        pytest.param(("", "v1", "Event"), CORE + "Event", id="core-event"),
        pytest.param(
            ("events.k8s.io", "v1", "Event"), "io.k8s.api.events.v1.Event", id="events-event"
        ),
        pytest.param(("autoscaling", "v1", "Scale"), "io.k8s.api.autoscaling.v1.Scale", id="scale"),
        pytest.param(("", "v1", "Status"), META + "Status", id="status"),
        pytest.param(("apps", "v1", "DeleteOptions"), META + "DeleteOptions", id="shared-gvk"),
        pytest.param(
            ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
            id="crd",
        ),
    ],
)
def test_definition_for_kind(gvk: tuple[str, str, str], name: str) -> None:
    found = schema.definition_for_kind(*gvk)
    assert found is not None
    assert found.name == name
    assert GroupVersionKind(*gvk) in found.gvks


def test_definition_for_unknown_kind() -> None:
    assert schema.definition_for_kind("apps", "v1", "Nope") is None


def test_schema_is_loaded_once() -> None:
    assert schema.schema() is schema.schema()
    assert schema.definition("io.k8s.api.core.v1.Pod") is schema.definition(
        "io.k8s.api.core.v1.Pod"
    )


def test_info_comes_from_the_document() -> None:
    assert schema.schema().info.get("title") == "Kubernetes"


# --- protobuf ------------------------------------------------------------------------------------


def test_protobuf_fields_by_name_and_number() -> None:
    pod = schema.protobuf_fields()["k8s.io.api.core.v1.Pod"]
    assert [pod.fields[n].number for n in ("metadata", "spec", "status")] == [1, 2, 3]
    assert pod.by_number[2].name == "spec"
    assert pod.fields["spec"].message == "k8s.io.api.core.v1.PodSpec"
    assert pod.fields["metadata"].message == "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def test_protobuf_repeated_and_map_fields() -> None:
    spec = schema.protobuf_fields()["k8s.io.api.core.v1.PodSpec"]
    assert spec.fields["containers"].repeated
    assert spec.fields["nodeSelector"].map_key == "string"
    assert spec.fields["nodeSelector"].map_value == "string"
    limits = schema.protobuf_fields()["k8s.io.api.core.v1.ResourceRequirements"].fields["limits"]
    assert limits.map_value == "k8s.io.apimachinery.pkg.api.resource.Quantity"
    assert limits.message is None


def test_protobuf_message_for_definition() -> None:
    message = schema.protobuf_message_for("io.k8s.api.apps.v1.Deployment")
    assert message is not None
    assert message.name == "k8s.io.api.apps.v1.Deployment"
    assert schema.protobuf_message_for("not.a.definition") is None


# --- generated TypedDicts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "keys"),
    [
        pytest.param(types.Pod, {"apiVersion", "kind", "metadata", "spec", "status"}, id="pod"),
        pytest.param(
            types.ListMeta, {"continue", "resourceVersion", "remainingItemCount"}, id="keyword-key"
        ),
        pytest.param(types.CoreV1Event, {"involvedObject", "reason", "message"}, id="core-event"),
        pytest.param(types.EventsV1Event, {"regarding", "reason", "note"}, id="events-event"),
        pytest.param(
            types.Container, {"name", "image", "imagePullPolicy", "resources"}, id="container"
        ),
    ],
)
def test_generated_typeddicts_have_json_keys(cls: type, keys: set[str]) -> None:
    optional: frozenset[str] = getattr(cls, "__optional_keys__", frozenset())
    assert keys <= optional
    assert not getattr(cls, "__required_keys__", frozenset())


def test_generated_types_resolve_at_run_time() -> None:
    hints = typing.get_type_hints(types.PodSpec)
    assert hints["containers"] == list[types.Container]
    assert types.Quantity == str | int | float
    assert types.IntOrString == int | str
