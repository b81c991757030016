"""Semantic validation of PodDisruptionBudgets, with kube-apiserver 1.32's messages."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]


def pdb(**spec: Any) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "d"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


CASES = [
    pytest.param(pdb(minAvailable=2), [], id="min-available"),
    pytest.param(pdb(maxUnavailable="25%"), [], id="max-unavailable-percent"),
    pytest.param(
        pdb(minAvailable=1, maxUnavailable=1),
        [
            "spec: Invalid value: policy.PodDisruptionBudgetSpec{...}: minAvailable and "
            "maxUnavailable cannot be both set"
        ],
        id="both",
    ),
    pytest.param(
        pdb(minAvailable=-1),
        ["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"],
        id="negative",
    ),
    pytest.param(
        pdb(maxUnavailable="150%"),
        [
            "spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, "
            'StrVal:"150%"}: must not be greater than 100%'
        ],
        id="over-100-percent",
    ),
    pytest.param(
        pdb(unhealthyPodEvictionPolicy="Never"),
        [
            'spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: '
            '"AlwaysAllow", "IfHealthyBudget"'
        ],
        id="eviction-policy",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), CASES)
def test_pod_disruption_budget(obj: Obj, expected: list[str]) -> None:
    assert [str(e) for e in validate_object("policy", "PodDisruptionBudget", obj)] == expected


def test_name_gets_only_the_generic_check() -> None:
    obj = pdb(minAvailable=1)
    obj["metadata"]["name"] = "Web_PDB"
    assert validate_object("policy", "PodDisruptionBudget", obj) == []
    obj["metadata"]["name"] = "a%b"
    assert [str(e) for e in validate_object("policy", "PodDisruptionBudget", obj)] == [
        "metadata.name: Invalid value: \"a%b\": may not contain '%'"
    ]
