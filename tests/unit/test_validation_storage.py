"""Semantic validation of StorageClasses, with kube-apiserver 1.32's messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.defaults import apply_defaults
from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]


def storage_class(**fields: Any) -> Obj:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "fast"},
        "provisioner": "kybernetes.io/local",
        **fields,
    }


def errors(obj: Obj, old: Obj | None = None) -> list[str]:
    apply_defaults("storage.k8s.io", "v1", "StorageClass", obj)
    return [str(e) for e in validate_object("storage.k8s.io", "StorageClass", obj, old)]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(storage_class(), [], id="valid"),
        pytest.param(
            storage_class(provisioner=""),
            ["provisioner: Required value"],
            id="provisioner-required",
        ),
        pytest.param(
            storage_class(reclaimPolicy="Recycle", volumeBindingMode="Later"),
            [
                'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"',
                'volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", '
                '"WaitForFirstConsumer"',
            ],
            id="policies",
        ),
        pytest.param(
            storage_class(
                allowedTopologies=[{"matchLabelExpressions": [{"key": "zone", "values": []}]}]
            ),
            ["allowedTopologies[0].matchLabelExpressions[0].values: Required value"],
            id="topology-values",
        ),
    ],
)
def test_storage_class(obj: Obj, expected: list[str]) -> None:
    assert errors(obj) == expected


def test_defaults_and_update_rules() -> None:
    old = storage_class()
    assert errors(old) == []
    assert (old["reclaimPolicy"], old["volumeBindingMode"]) == ("Delete", "Immediate")
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["parameters"] = {"type": "ssd"}
    new["reclaimPolicy"] = "Retain"
    assert errors(new, old) == [
        "parameters: Forbidden: updates to parameters are forbidden.",
        "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
    ]
