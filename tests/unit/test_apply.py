"""Server-side apply and managedFields (kybernetes.api.apply), the way kubectl users meet them."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kybernetes.api import errors
from kybernetes.api.apply import (
    LAST_APPLIED_ANNOTATION,
    apply,
    manager_from_user_agent,
    record_update,
    reset_fields,
)
from kybernetes.api.defaults import apply_defaults
from kybernetes.api.fieldset import FieldSet, root_node
from kybernetes.api.schema import TypeSchema, definition, definition_for_kind

DEPLOYMENT = definition("io.k8s.api.apps.v1.Deployment")
CONFIGMAP = definition("io.k8s.api.core.v1.ConfigMap")
T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T10:01:00Z"
T2 = "2024-05-01T10:02:00Z"
WEB = 'k:{"name":"web"}'


def deployment(
    *,
    replicas: int | None = 2,
    image: str = "nginx:1.25",
    labels: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": containers
                if containers is not None
                else [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]
            },
        },
    }
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels or {"app": "web"}},
        "spec": spec,
    }


def stored(obj: dict[str, Any], rv: int = 1) -> dict[str, Any]:
    """``obj`` as the registry stores it: defaulted, with the system metadata."""
    out = copy.deepcopy(obj)
    apply_defaults("apps", "v1", "Deployment", out)
    out["metadata"].update(uid="0a1b", resourceVersion=str(rv), creationTimestamp=T0)
    return out


def ssa(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str = "kubectl",
    *,
    force: bool = False,
    now: str = T1,
    schema: TypeSchema | None = DEPLOYMENT,
    api_version: str = "apps/v1",
    **kwargs: Any,
) -> dict[str, Any]:
    result = apply(
        live,
        config,
        manager,
        force=force,
        api_version=api_version,
        schema=schema,
        now=now,
        **kwargs,
    )
    return stored(result) if schema is DEPLOYMENT else result


def entry(obj: dict[str, Any], manager: str, operation: str = "Apply") -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        e
        for e in obj["metadata"].get("managedFields", [])
        if e["manager"] == manager and e["operation"] == operation
    ]
    assert len(found) == 1, obj["metadata"].get("managedFields")
    return found[0]


def managers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


def conflict_of(excinfo: pytest.ExceptionInfo[errors.StatusError]) -> dict[str, Any]:
    assert isinstance(excinfo.value, errors.Conflict)
    return excinfo.value.to_status()


# ----- kubectl apply --server-side -------------------------------------------------------------


def test_create_records_the_applied_fields_exactly_as_upstream() -> None:
    obj = apply(
        None, deployment(), "kubectl", force=False, api_version="apps/v1", schema=DEPLOYMENT, now=T0
    )
    assert obj["spec"]["replicas"] == 2
    (only,) = obj["metadata"]["managedFields"]
    assert list(only) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
    assert only == {
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {
                        "f:containers": {
                            WEB: {
                                ".": {},
                                "f:image": {},
                                "f:name": {},
                                "f:ports": {
                                    'k:{"containerPort":80,"protocol":"TCP"}': {
                                        ".": {},
                                        "f:containerPort": {},
                                    }
                                },
                            }
                        }
                    },
                },
            },
        },
    }
    # The "." entry comes first in a member that has children.
    ports = only["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"][WEB]
    assert next(iter(ports)) == "."


def test_reapply_unchanged_is_a_no_op() -> None:
    live = ssa(None, deployment(), now=T0)
    again = apply(
        live, deployment(), "kubectl", force=False, api_version="apps/v1", schema=DEPLOYMENT, now=T2
    )
    assert again == live
    assert entry(again, "kubectl")["time"] == T0


def test_changing_a_field() -> None:
    live = ssa(None, deployment(), now=T0)
    changed = ssa(live, deployment(replicas=5, image="nginx:1.27"), now=T2)
    assert changed["spec"]["replicas"] == 5
    assert changed["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert entry(changed, "kubectl")["time"] == T2
    # Defaulted fields nobody applied survive the merge.
    assert changed["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == (
        "IfNotPresent"
    )


def test_dropping_a_field_the_manager_applied_removes_it() -> None:
    config = deployment(labels={"app": "web", "tier": "frontend"})
    config["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy"})
    live = ssa(None, config, now=T0)
    assert live["metadata"]["labels"] == {"app": "web", "tier": "frontend"}

    pruned = ssa(live, deployment(replicas=None), now=T1)
    assert pruned["metadata"]["labels"] == {"app": "web"}
    assert [c["name"] for c in pruned["spec"]["template"]["spec"]["containers"]] == ["web"]
    # replicas went too (defaulting puts 1 back, as upstream's defaulting does).
    assert pruned["spec"]["replicas"] == 1
    fields = entry(pruned, "kubectl")["fieldsV1"]
    assert "f:replicas" not in fields["f:spec"]
    assert "f:tier" not in fields["f:metadata"]["f:labels"]


def test_a_dropped_field_another_manager_owns_stays() -> None:
    live = ssa(None, deployment(labels={"app": "web", "team": "a"}), now=T0)
    live = ssa(live, deployment(labels={"app": "web", "team": "a"}), "helm", now=T1)
    dropped = ssa(live, deployment(labels={"app": "web"}), now=T2)
    assert dropped["metadata"]["labels"] == {"app": "web", "team": "a"}
    assert "f:team" not in entry(dropped, "kubectl")["fieldsV1"]["f:metadata"]["f:labels"]
    assert "f:team" in entry(dropped, "helm")["fieldsV1"]["f:metadata"]["f:labels"]


def test_two_managers_conflict_then_force_moves_ownership() -> None:
    live = ssa(None, deployment(), now=T0)
    with pytest.raises(errors.StatusError) as excinfo:
        ssa(live, deployment(replicas=3), "argocd", now=T1)
    assert conflict_of(excinfo) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas',
        "reason": "Conflict",
        "details": {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "kubectl"',
                    "field": ".spec.replicas",
                }
            ]
        },
        "code": 409,
    }
    forced = ssa(live, deployment(replicas=3), "argocd", force=True, now=T1)
    assert forced["spec"]["replicas"] == 3
    assert "f:replicas" not in entry(forced, "kubectl")["fieldsV1"]["f:spec"]
    assert "f:replicas" in entry(forced, "argocd")["fieldsV1"]["f:spec"]
    # Now kubectl is the one that conflicts.
    with pytest.raises(errors.Conflict, match=re.escape('conflict with "argocd": .spec.replicas')):
        ssa(forced, deployment(replicas=2), now=T2)


def test_same_value_is_shared_not_a_conflict() -> None:
    live = ssa(None, deployment(), now=T0)
    shared = ssa(live, deployment(), "argocd", now=T1)
    # The second applier changed nothing, so its entry has no time (upstream's quirk), and an
    # entry without a time sorts first.
    assert "time" not in entry(shared, "argocd")
    assert managers(shared) == [("argocd", "Apply"), ("kubectl", "Apply")]


def test_several_conflicts_are_listed_by_manager() -> None:
    live = ssa(None, deployment(), now=T0)
    live = record_update(
        live,
        {**live, "metadata": {**live["metadata"], "labels": {"app": "web", "env": "prod"}}},
        "kubectl-label",
        api_version="apps/v1",
        schema=DEPLOYMENT,
        now=T1,
    )
    config = deployment(replicas=9, image="nginx:2", labels={"app": "web", "env": "dev"})
    with pytest.raises(errors.Conflict) as excinfo:
        ssa(live, config, "argocd", now=T2)
    assert str(excinfo.value) == (
        "Apply failed with 3 conflicts: "
        'conflicts with "kubectl":\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="web"].image\n'
        'conflicts with "kubectl-label" using apps/v1:\n'
        "- .metadata.labels.env"
    )
    causes = excinfo.value.to_status()["details"]["causes"]
    assert [c["field"] for c in causes] == [
        ".spec.replicas",
        '.spec.template.spec.containers[name="web"].image',
        ".metadata.labels.env",
    ]
    assert causes[2]["message"] == 'conflict with "kubectl-label" using apps/v1'


# ----- client-side apply meets server-side apply ------------------------------------------------


def client_side_applied(config: dict[str, Any]) -> dict[str, Any]:
    """What ``kubectl apply`` (client-side) leaves: the annotation, an Update entry."""
    sent = copy.deepcopy(config)
    sent["metadata"]["annotations"] = {
        LAST_APPLIED_ANNOTATION: json.dumps(config, separators=(",", ":")) + "\n"
    }
    apply_defaults("apps", "v1", "Deployment", sent)
    created = record_update(
        None,
        sent,
        "kubectl-client-side-apply",
        api_version="apps/v1",
        schema=DEPLOYMENT,
        now=T0,
    )
    return stored(created)


def test_other_managers_conflict_with_client_side_apply() -> None:
    live = client_side_applied(deployment())
    assert managers(live) == [("kubectl-client-side-apply", "Update")]
    with pytest.raises(errors.Conflict) as excinfo:
        ssa(live, deployment(replicas=3), "my-operator")
    assert str(excinfo.value) == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
        ".spec.replicas"
    )
    assert excinfo.value.to_status()["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
            "field": ".spec.replicas",
        }
    ]


def test_kubectl_upgrades_from_client_side_apply_without_conflicts() -> None:
    live = client_side_applied(deployment())
    upgraded = ssa(live, deployment(replicas=3))
    assert upgraded["spec"]["replicas"] == 3
    assert "f:replicas" in entry(upgraded, "kubectl")["fieldsV1"]["f:spec"]
    csa = entry(upgraded, "kubectl-client-side-apply", "Update")["fieldsV1"]
    assert "f:replicas" not in csa["f:spec"]
    # The annotation follows the new configuration, encoded as Go encodes it.
    annotation = upgraded["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
    assert annotation.endswith("}\n")
    assert json.loads(annotation) == deployment(replicas=3)
    assert annotation.startswith('{"apiVersion":"apps/v1","kind":"Deployment","metadata":')


def test_kubectl_conflicts_when_someone_changed_the_field_since() -> None:
    live = client_side_applied(deployment())
    scaled = record_update(
        live,
        {**live, "spec": {**live["spec"], "replicas": 7}},
        "kubectl-scale",
        api_version="apps/v1",
        schema=DEPLOYMENT,
        now=T1,
    )
    with pytest.raises(
        errors.Conflict, match=re.escape('"kubectl-scale" using apps/v1: .spec.replicas')
    ):
        ssa(scaled, deployment(replicas=3), now=T2)


# ----- merging ---------------------------------------------------------------------------------


def test_containers_merge_by_name() -> None:
    live = ssa(None, deployment(), now=T0)
    # Another writer adds a sidecar with a plain update.
    spec = copy.deepcopy(live["spec"])
    spec["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy"})
    live = record_update(
        live,
        {**live, "spec": spec},
        "istio",
        api_version="apps/v1",
        schema=DEPLOYMENT,
        now=T1,
    )
    config = deployment(
        containers=[
            {"name": "web", "image": "nginx:2", "args": ["-v"]},
            {"name": "log", "image": "fluent"},
        ]
    )
    merged = ssa(live, config, now=T2)
    containers = merged["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "sidecar", "log"]
    web = containers[0]
    assert web["image"] == "nginx:2"
    assert web["args"] == ["-v"]
    # The port kubectl applied before and omits now is gone; istio's sidecar stays untouched.
    assert "ports" not in web
    assert containers[1] == {
        "name": "sidecar",
        "image": "envoy",
        "imagePullPolicy": "Always",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def test_atomic_lists_are_replaced_and_maps_merged() -> None:
    config = deployment(containers=[{"name": "web", "image": "x", "args": ["a", "b"]}])
    config["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd", "zone": "a"}
    live = ssa(None, config, now=T0)
    config["spec"]["template"]["spec"]["containers"][0]["args"] = ["c"]
    config["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "hdd"}
    after = ssa(live, config, "other", force=True, now=T1)
    pod_spec = after["spec"]["template"]["spec"]
    assert pod_spec["containers"][0]["args"] == ["c"]
    # nodeSelector is an atomic map: replaced whole.
    assert pod_spec["nodeSelector"] == {"disk": "hdd"}

    only_labels = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"team": "x"}},
    }
    labelled = ssa(after, only_labels, "labeller", now=T2)
    assert labelled["metadata"]["labels"] == {"app": "web", "team": "x"}
    assert entry(labelled, "labeller")["fieldsV1"] == {"f:metadata": {"f:labels": {"f:team": {}}}}


def test_null_unsets_a_field() -> None:
    live = ssa(None, deployment(replicas=4), now=T0)
    config = deployment()
    config["spec"]["replicas"] = None
    after = ssa(live, config, now=T1)
    assert after["spec"]["replicas"] == 1  # removed, then defaulted


def test_custom_resources_merge_maps_and_replace_lists() -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {"size": 1, "ports": [1, 2], "extra": {"a": 1}},
    }
    live = ssa(None, widget, api_version="example.com/v1", schema=None, now=T0)
    assert entry(live, "kubectl")["fieldsV1"] == {
        "f:spec": {".": {}, "f:extra": {".": {}, "f:a": {}}, "f:ports": {}, "f:size": {}}
    }
    live["metadata"]["uid"] = "u"
    other = {**widget, "spec": {"ports": [3], "extra": {"b": 2}}}
    after = ssa(live, other, "ctl", force=True, api_version="example.com/v1", schema=None, now=T1)
    assert after["spec"] == {"size": 1, "ports": [3], "extra": {"a": 1, "b": 2}}


# ----- what is never owned, and what is ignored --------------------------------------------------


def test_identity_fields_are_not_owned() -> None:
    config = deployment()
    config["metadata"].update(uid="x", resourceVersion="9", generation=3)
    obj = apply(
        None, config, "kubectl", force=False, api_version="apps/v1", schema=DEPLOYMENT, now=T0
    )
    meta = entry(obj, "kubectl")["fieldsV1"]["f:metadata"]
    assert set(meta) == {"f:labels"}
    assert "f:apiVersion" not in entry(obj, "kubectl")["fieldsV1"]


def test_reset_fields_are_ignored() -> None:
    config = deployment()
    config["status"] = {"replicas": 5}
    ignored = reset_fields("", has_status=True)
    obj = ssa(None, config, ignored=ignored, now=T0)
    assert "f:status" not in entry(obj, "kubectl")["fieldsV1"]
    assert reset_fields("status", has_status=True) is not None
    assert reset_fields("", has_status=False) is None


def test_status_subresource_entries_name_it() -> None:
    live = ssa(None, deployment(), now=T0)
    new = {**live, "status": {"replicas": 2, "readyReplicas": 2}}
    updated = record_update(
        live,
        new,
        "kube-controller-manager",
        api_version="apps/v1",
        schema=DEPLOYMENT,
        now=T1,
        subresource="status",
        ignored=reset_fields("status", has_status=True),
    )
    status_entry = entry(updated, "kube-controller-manager", "Update")
    assert status_entry["subresource"] == "status"
    assert list(status_entry)[-1] == "subresource"
    assert status_entry["fieldsV1"] == {"f:status": {"f:readyReplicas": {}, "f:replicas": {}}}
    with pytest.raises(errors.Conflict) as excinfo:
        ssa(updated, {**deployment(), "status": {"replicas": 1}}, "x", subresource="status")
    assert str(excinfo.value).endswith(
        'conflict with "kube-controller-manager" with subresource "status" using apps/v1: '
        ".status.replicas"
    )


# ----- non-apply writes -------------------------------------------------------------------------


def test_create_through_update_owns_what_it_wrote() -> None:
    obj = deployment()
    apply_defaults("apps", "v1", "Deployment", obj)
    created = record_update(
        None, obj, "kubectl-create", api_version="apps/v1", schema=DEPLOYMENT, now=T0
    )
    (only,) = created["metadata"]["managedFields"]
    assert only["operation"] == "Update"
    fields = only["fieldsV1"]
    # As upstream: a map that appears is owned as a whole ("."), a struct that always exists
    # in the Go type (spec, strategy, template) is not, a pointer struct that appears is.
    assert fields["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    assert fields["f:spec"]["f:strategy"] == {
        "f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
        "f:type": {},
    }
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"][WEB]
    assert list(container) == [
        ".",
        "f:image",
        "f:imagePullPolicy",
        "f:name",
        "f:ports",
        "f:resources",
        "f:terminationMessagePath",
        "f:terminationMessagePolicy",
    ]
    assert "." not in fields["f:spec"]
    assert "." not in fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert fields["f:spec"]["f:template"]["f:spec"]["f:securityContext"] == {}


def test_update_moves_ownership_to_the_writer() -> None:
    live = ssa(None, deployment(), now=T0)
    scaled = record_update(
        live,
        {**live, "spec": {**live["spec"], "replicas": 10}},
        "kubectl-scale",
        api_version="apps/v1",
        schema=DEPLOYMENT,
        now=T1,
    )
    assert managers(scaled) == [("kubectl", "Apply"), ("kubectl-scale", "Update")]
    assert entry(scaled, "kubectl-scale", "Update")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in entry(scaled, "kubectl")["fieldsV1"]["f:spec"]
    # The same write again changes nothing, so nothing moves and no time changes.
    again = record_update(
        scaled, scaled, "kubectl-scale", api_version="apps/v1", schema=DEPLOYMENT, now=T2
    )
    assert again["metadata"]["managedFields"] == scaled["metadata"]["managedFields"]


def test_update_that_removes_fields_takes_them_from_their_owner() -> None:
    live = ssa(None, deployment(labels={"app": "web", "tier": "x"}), now=T0)
    meta = {**live["metadata"], "labels": {"app": "web"}}
    edited = record_update(
        live,
        {**live, "metadata": meta},
        "kubectl-edit",
        api_version="apps/v1",
        schema=DEPLOYMENT,
        now=T1,
    )
    assert "f:tier" not in entry(edited, "kubectl")["fieldsV1"]["f:metadata"]["f:labels"]
    assert managers(edited) == [("kubectl", "Apply")]


def test_untracked_objects_stay_untracked_and_resets_clear() -> None:
    old = stored(deployment())
    new = {**old, "spec": {**old["spec"], "replicas": 4}}
    assert (
        "managedFields"
        not in record_update(old, new, "x", api_version="apps/v1", schema=DEPLOYMENT, now=T1)[
            "metadata"
        ]
    )
    live = ssa(None, deployment(), now=T0)
    resets: list[list[dict[str, Any]]] = [[], [{}]]
    for reset in resets:
        cleared = {**live, "metadata": {**live["metadata"], "managedFields": reset}}
        out = record_update(live, cleared, "x", api_version="apps/v1", schema=DEPLOYMENT, now=T1)
        assert "managedFields" not in out["metadata"]


def test_apply_to_an_untracked_object_conflicts_with_before_first_apply() -> None:
    old = stored(deployment())
    with pytest.raises(errors.Conflict) as excinfo:
        ssa(old, deployment(replicas=5), "argocd")
    assert str(excinfo.value) == (
        'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: '
        ".spec.replicas"
    )


def test_update_managers_are_capped_at_ten() -> None:
    obj = stored(apply(None, {**deployment(), "metadata": {"name": "web"}}, "k",
                       force=False, api_version="apps/v1", schema=DEPLOYMENT, now=T0))  # fmt: skip
    for i in range(12):
        labels = {**obj["metadata"].get("labels", {}), f"l{i}": "x"}
        obj = record_update(
            obj,
            {**obj, "metadata": {**obj["metadata"], "labels": labels}},
            f"writer-{i:02d}",
            api_version="apps/v1",
            schema=DEPLOYMENT,
            now=f"2024-05-01T10:{i:02d}:00Z",
        )
    names = [m for m, op in managers(obj) if op == "Update"]
    assert len(names) == 10
    assert "ancient-changes" in names
    ancient = entry(obj, "ancient-changes", "Update")["fieldsV1"]["f:metadata"]["f:labels"]
    assert set(ancient) >= {"f:l0", "f:l1", "f:l2"}


def test_entries_sort_apply_first_then_by_time() -> None:
    live = ssa(None, deployment(), now=T2)
    live = record_update(
        live,
        {**live, "metadata": {**live["metadata"], "annotations": {"a": "b"}}},
        "annotator",
        api_version="apps/v1",
        schema=DEPLOYMENT,
        now=T0,
    )
    live = ssa(live, {**deployment(), "spec": {"paused": True}}, "pauser", now=T1)
    assert managers(live) == [("pauser", "Apply"), ("kubectl", "Apply"), ("annotator", "Update")]


# ----- bad apply patches ------------------------------------------------------------------------


def test_bad_patches() -> None:
    with pytest.raises(errors.BadRequest, match=r"^invalid object type: apps/v2, Kind=Deployment$"):
        ssa(None, {**deployment(), "apiVersion": "apps/v2"})
    with pytest.raises(errors.BadRequest, match=re.escape("metadata.managedFields must be nil")):
        ssa(None, {**deployment(), "metadata": {"name": "web", "managedFields": []}})
    typo = deployment()
    typo["spec"]["replica"] = 3
    with pytest.raises(errors.StatusError) as excinfo:
        ssa(None, typo)
    assert excinfo.value.code == 500
    assert excinfo.value.to_status().get("reason") is None
    assert str(excinfo.value) == (
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
        ".spec.replica: field not declared in schema"
    )
    twice = deployment(containers=[{"name": "a", "image": "x"}, {"name": "a", "image": "y"}])
    twice["spec"]["template"]["spec"]["volumes"] = [{"emptyDir": {}}]
    with pytest.raises(errors.StatusError) as excinfo:
        ssa(None, twice)
    assert str(excinfo.value).endswith(
        "errors:\n"
        '  .spec.template.spec.containers: duplicate entries for key [name="a"]\n'
        "  .spec.template.spec.volumes: element 0: associative list with keys has an element "
        'that omits key field "name" (and doesn\'t have default value)'
    )


def test_inputs_are_not_mutated() -> None:
    live = ssa(None, deployment(labels={"app": "web", "x": "y"}), now=T0)
    config = deployment(replicas=7)
    before = copy.deepcopy((live, config))
    out = apply(
        live, config, "kubectl", force=False, api_version="apps/v1", schema=DEPLOYMENT, now=T1
    )
    assert (live, config) == before
    out["spec"]["template"]["spec"]["containers"][0]["image"] = "changed"
    assert (live, config) == before


def test_manager_from_user_agent() -> None:
    assert manager_from_user_agent("kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd") == (
        "kubectl"
    )
    assert manager_from_user_agent("OpenAPI-Generator/31.0.0/python") == "OpenAPI-Generator"
    assert manager_from_user_agent("a\tb\x00c/1") == "abc"
    assert manager_from_user_agent("x" * 300) == "x" * 128
    assert manager_from_user_agent("") == ""


# ----- properties ------------------------------------------------------------------------------

_labels = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e"]), st.sampled_from(["1", "2"]), max_size=5
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_labels, min_size=1, max_size=4))
def test_a_sole_applier_gets_exactly_what_it_applies(history: list[dict[str, str]]) -> None:
    obj: dict[str, Any] | None = None
    for i, labels in enumerate(history):
        config = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": labels},
            "data": labels,
        }
        obj = apply(
            obj,
            config,
            "kubectl",
            force=False,
            api_version="v1",
            schema=CONFIGMAP,
            now=f"2024-01-01T00:00:{i:02d}Z",
        )
        assert obj["metadata"].get("labels", {}) == labels
        assert obj.get("data", {}) == labels
        # Applying the same configuration again converges at once (an empty map that pruning
        # turned into "unset" comes back as {} on the next apply, as upstream).
        again = apply(
            obj, config, "kubectl", force=False, api_version="v1", schema=CONFIGMAP, now=T2
        )
        assert again["metadata"].get("labels", {}) == labels
        assert (
            apply(again, config, "kubectl", force=False, api_version="v1", schema=CONFIGMAP, now=T2)
            == again
        )


def test_bad_managed_fields_on_the_live_object() -> None:
    live = ssa(None, deployment(), now=T0)
    live["metadata"]["managedFields"][0]["operation"] = "Patch"
    with pytest.raises(errors.StatusError) as excinfo:
        ssa(live, deployment())
    assert excinfo.value.code == 500
    assert str(excinfo.value) == (
        "failed to decode managed fields: operation must be `Apply` or `Update`"
    )
    # A plain write falls back to the stored entries when the request's do not decode.
    good = ssa(None, deployment(), now=T0)
    bad = copy.deepcopy(good)
    bad["metadata"]["managedFields"][0]["fieldsType"] = "FieldsV2"
    out = record_update(good, bad, "x", api_version="apps/v1", schema=DEPLOYMENT, now=T1)
    assert out["metadata"]["managedFields"] == good["metadata"]["managedFields"]


def test_tables_name_real_schema_fields() -> None:
    from kybernetes.api import apply as apply_module
    from kybernetes.api import fieldset as fieldset_module

    for name, fields in apply_module._NOT_POINTERS.items():
        assert set(fields) <= set(definition(name).fields), name
    for name, key in fieldset_module._KEY_DEFAULTS:
        assert key in definition(name).fields


# ----- the create fast path -------------------------------------------------------------------

MANIFESTS = Path(__file__).resolve().parent / "manifests"


def defaulted_manifest(path: Path) -> tuple[dict[str, Any], TypeSchema]:
    obj = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    group, _, version = obj["apiVersion"].rpartition("/")
    apply_defaults(group, version, obj["kind"], obj)
    schema = definition_for_kind(group, version, obj["kind"])
    assert schema is not None
    return obj, schema


def general_fields_v1(
    new: dict[str, Any], schema: TypeSchema | None, ignored: FieldSet | None
) -> dict[str, Any] | None:
    """What the general path (compare with ``{}``, then the set algebra) records on create."""
    from kybernetes.api import apply as apply_module

    me = ("m", "Update", "v1", "")
    managers = apply_module._record({}, new, {}, {}, me, "v1", root_node(schema), T0, ignored)
    return managers[me].fields.to_fields_v1() if me in managers else None


ODD_OBJECTS: list[tuple[dict[str, Any], TypeSchema | None]] = [
    # Duplicated list-map items, an item without its key, nulls and empty collections,
    # a key defaulted from the schema (protocol), set lists, status and identity fields.
    (
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "p",
                "uid": "u",
                "labels": {},
                "annotations": None,
                "finalizers": ["a", "b", "a"],
                "ownerReferences": [{"uid": "1", "name": "x"}, {"uid": "1", "name": "y"}],
            },
            "spec": {
                "containers": [
                    {"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 80}]},
                    {"name": "b", "env": [{"name": "E", "value": "1"}, {"value": "no key"}]},
                    {"name": "a", "image": "dup"},
                    {"name": "c", "ports": [{"containerPort": 80}, {"containerPort": 80}]},
                ],
                "initContainers": [{"name": "i"}, {"name": "j"}, {"name": "i", "image": "x"}],
                "volumes": [],
                "nodeSelector": None,
                "affinity": {},
                "tolerations": [{"key": "k"}, {"key": "k"}],
            },
            "status": {"phase": "Running", "conditions": [{"type": "Ready"}]},
        },
        definition("io.k8s.api.core.v1.Pod"),
    ),
    # Values of the wrong kind where the schema wants a struct, list or map.
    (
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "labels": ["x"], "annotations": "y", "ownerReferences": 1},
            "spec": {"template": [], "strategy": None, "selector": {"matchLabels": []}},
        },
        DEPLOYMENT,
    ),
    (
        {"apiVersion": "apps/v1", "kind": "Deployment", "spec": None, "status": {}},
        DEPLOYMENT,
    ),
    # A custom resource without a schema: maps deduced, lists atomic.
    (
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "labels": {"a": "b"}},
            "spec": {"size": 3, "tags": ["x", "y"], "nested": {"deep": {"x": None}}, "e": {}},
            "status": {"ok": True},
        },
        None,
    ),
]


def test_create_fast_path_matches_the_general_path() -> None:
    from kybernetes.api import apply as apply_module

    cases: list[tuple[dict[str, Any], TypeSchema | None]] = [
        defaulted_manifest(path) for path in sorted(MANIFESTS.glob("*.yaml"))
    ]
    assert len(cases) >= 5
    cases += ODD_OBJECTS
    cases.append(({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}}, CONFIGMAP))
    for obj, schema in cases:
        for ignored in (
            None,
            reset_fields("", has_status=True),
            reset_fields("status", has_status=True),
            FieldSet.from_paths([("f:metadata", "f:labels"), ("f:spec", "f:containers")]),
        ):
            expected = general_fields_v1(obj, schema, ignored)
            fast = apply_module._created_fields(obj, root_node(schema), ignored)
            # Byte for byte: the same keys in the same order.
            assert orjson.dumps(fast) == orjson.dumps(expected or {}), (obj.get("kind"), ignored)
            assert FieldSet.from_fields_v1(fast).to_fields_v1() == fast
            created = record_update(
                None, obj, "m", api_version="v1", schema=schema, now=T0, ignored=ignored
            )
            if expected is None:
                assert "managedFields" not in created["metadata"]
            else:
                (only,) = created["metadata"]["managedFields"]
                assert orjson.dumps(only["fieldsV1"]) == orjson.dumps(expected)


@pytest.mark.parametrize(
    ("before", "after"),
    [({"flag": 1}, {"flag": True}), ({"ratio": float("nan")}, None)],
    ids=["true-is-not-1", "nan-is-not-nan"],
)
def test_updates_tell_apart_what_python_equality_does_not(
    before: dict[str, Any], after: dict[str, Any] | None
) -> None:
    # True == 1 and a NaN object equals itself in Python; Go's value.Equals says neither, so
    # the field counts as changed.
    spec = {**before, "same": {"x": [1, 2]}}
    old: dict[str, Any] = {"apiVersion": "example.com/v1", "kind": "W", "metadata": {"name": "w"}}
    old["spec"] = spec
    old = record_update(None, old, "a", api_version="example.com/v1", schema=None, now=T0)
    old["metadata"]["uid"] = "u"
    new = {**old, "spec": {**(after or before), "same": {"x": [1, 2]}}}
    out = record_update(old, new, "b", api_version="example.com/v1", schema=None, now=T1)
    (name,) = before
    assert entry(out, "b", "Update")["fieldsV1"] == {"f:spec": {"f:" + name: {}}}
