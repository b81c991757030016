"""Semantic validation of PriorityClasses, with kube-apiserver 1.32's messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.defaults import apply_defaults
from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]


def priority_class(name: str, value: int, **fields: Any) -> Obj:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        **fields,
    }


def errors(obj: Obj, old: Obj | None = None) -> list[str]:
    apply_defaults("scheduling.k8s.io", "v1", "PriorityClass", obj)
    return [str(e) for e in validate_object("scheduling.k8s.io", "PriorityClass", obj, old)]


CASES = [
    pytest.param(priority_class("high", 1000), [], id="valid"),
    pytest.param(priority_class("system-cluster-critical", 2000000000), [], id="system-class"),
    pytest.param(
        priority_class("huge", 1000000001),
        ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"],
        id="too-high",
    ),
    pytest.param(
        priority_class("system-mine", 5),
        [
            "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for "
            "system use only. error: name system-mine is not a known system priority class"
        ],
        id="reserved-prefix",
    ),
    pytest.param(
        priority_class("low", 1, preemptionPolicy="Sometimes"),
        [
            'preemptionPolicy: Unsupported value: "Sometimes": supported values: '
            '"PreemptLowerPriority", "Never"'
        ],
        id="preemption-policy",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), CASES)
def test_priority_class(obj: Obj, expected: list[str]) -> None:
    assert errors(obj) == expected


def test_defaults_and_immutable_value() -> None:
    old = priority_class("high", 1000)
    assert errors(old) == []
    assert old["preemptionPolicy"] == "PreemptLowerPriority"
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["value"] = 2000
    assert errors(new, old) == ["value: Forbidden: may not be changed in an update."]
