"""Semantic validation of apps/v1 workloads, with kube-apiserver 1.32's paths and messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.defaults import apply_defaults
from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]
MISMATCH = "`selector` does not match template `labels`"


def errors(kind: str, obj: Obj, old: Obj | None = None) -> list[str]:
    apply_defaults("apps", "v1", kind, obj)
    if old is not None:
        apply_defaults("apps", "v1", kind, old)
    return [str(e) for e in validate_object("apps", kind, obj, old)]


def workload(kind: str, **spec: Any) -> Obj:
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    obj["spec"].update(spec)
    return obj


def relabel(obj: Obj, **labels: str) -> Obj:
    obj["spec"]["template"]["metadata"]["labels"] = labels
    return obj


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"])
def test_valid_workloads(kind: str) -> None:
    assert errors(kind, workload(kind)) == []


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"])
def test_selector_must_match_template(kind: str) -> None:
    obj = relabel(workload(kind), app="api")
    assert errors(kind, obj) == [
        f'spec.template.metadata.labels: Invalid value: map[string]string{{"app":"api"}}: '
        f"{MISMATCH}"
    ]


@pytest.mark.parametrize(
    ("kind", "noun"),
    [("Deployment", "deployment"), ("ReplicaSet", "deployment"), ("StatefulSet", "statefulset")],
)
def test_empty_selector(kind: str, noun: str) -> None:
    obj = workload(kind, selector={})
    assert errors(kind, obj) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
        + noun
    ]


def test_missing_selector() -> None:
    obj = workload("Deployment")
    del obj["spec"]["selector"]
    assert errors("Deployment", obj) == [
        "spec.selector: Required value",
        f'spec.template.metadata.labels: Invalid value: map[string]string{{"app":"web"}}: '
        f"{MISMATCH}",
    ]


def test_bad_selector_expression() -> None:
    obj = workload(
        "Deployment", selector={"matchExpressions": [{"key": "app", "operator": "Near"}]}
    )
    got = errors("Deployment", obj)
    assert got[0] == (
        'spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector '
        "operator"
    )
    assert got[1].endswith(": invalid label selector")


DEPLOYMENT_CASES = [
    pytest.param(
        {"replicas": -1},
        ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
        id="negative-replicas",
    ),
    pytest.param(
        {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}},
        [
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, "
            'IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0'
        ],
        id="surge-and-unavailable-zero",
    ),
    pytest.param(
        {"strategy": {"rollingUpdate": {"maxSurge": "150", "maxUnavailable": "120%"}}},
        [
            "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, "
            'IntVal:0, StrVal:"150"}: '
            "a valid percent string must be a numeric string followed by an ending '%' (e.g. "
            "'1%',  or "
            "'93%', regex used for validation is '[0-9]+%')",
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "
            'intstr.IntOrString{Type:1, IntVal:0, StrVal:"120%"}: '
            "must not be greater than 100%",
        ],
        id="percentages",
    ),
    pytest.param(
        {"strategy": {"type": "BlueGreen"}},
        [
            'spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"BlueGreen", '
            'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", '
            '"RollingUpdate"'
        ],
        id="strategy-type",
    ),
    pytest.param(
        {"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}},
        [
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
            "'Recreate'"
        ],
        id="recreate-with-rolling-update",
    ),
    pytest.param(
        {"minReadySeconds": 700},
        ["spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"],
        id="progress-deadline",
    ),
    pytest.param(
        {"revisionHistoryLimit": -2},
        ["spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0"],
        id="revision-history",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), DEPLOYMENT_CASES)
def test_deployment(spec: Obj, expected: list[str]) -> None:
    assert errors("Deployment", workload("Deployment", **spec)) == expected


def test_deployment_template_pod_spec_is_validated() -> None:
    obj = workload("Deployment")
    obj["spec"]["template"]["spec"]["containers"][0]["name"] = ""
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert errors("Deployment", obj) == [
        "spec.template.spec.containers[0].name: Required value",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ]


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "DaemonSet"])
def test_selector_is_immutable(kind: str) -> None:
    old = workload(kind)
    new = relabel(
        workload(kind, selector={"matchLabels": {"app": "web", "tier": "a"}}), app="web", tier="a"
    )
    assert errors(kind, new, old) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", '
        '"tier":"a"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable'
    ]


def test_scaling_a_deployment_is_allowed() -> None:
    old = workload("Deployment")
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    assert errors("Deployment", new, old) == []


def test_daemon_set_strategy() -> None:
    obj = workload(
        "DaemonSet", updateStrategy={"rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}
    )
    assert errors("DaemonSet", obj) == [
        "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, "
        'IntVal:1, StrVal:""}: may not be set when maxUnavailable is non-zero'
    ]
    obj = workload(
        "DaemonSet", updateStrategy={"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}
    )
    assert errors("DaemonSet", obj) == [
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when "
        "maxSurge is 0"
    ]


def test_stateful_set_rules() -> None:
    obj = workload("StatefulSet", podManagementPolicy="Random", replicas=-1)
    obj["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    assert errors("StatefulSet", obj) == [
        "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: '
        '"Always"',
    ]


def test_stateful_set_name_is_a_label() -> None:
    obj = workload("StatefulSet")
    obj["metadata"]["name"] = "db.primary"
    assert errors("StatefulSet", obj) == [
        'metadata.name: Invalid value: "db.primary": must not contain dots'
    ]


def test_stateful_set_pod_spec_is_not_validated_as_upstream() -> None:
    obj = workload("StatefulSet")
    obj["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "data", "mountPath": "/d"}
    ]
    assert errors("StatefulSet", obj) == []


def test_stateful_set_update_limits() -> None:
    old = workload("StatefulSet", serviceName="db")
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    assert errors("StatefulSet", new, old) == []
    new["spec"]["serviceName"] = "other"
    assert errors("StatefulSet", new, old) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
        "'ordinals', "
        "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
        "'minReadySeconds' "
        "are forbidden"
    ]


def test_controller_revision() -> None:
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "r", "namespace": "d"},
        "revision": -1,
    }
    assert errors("ControllerRevision", obj) == [
        "data: Required value: data is mandatory",
        "revision: Invalid value: -1: must be greater than or equal to 0",
    ]
