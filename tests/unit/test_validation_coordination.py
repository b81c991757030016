"""Semantic validation of Leases, with kube-apiserver 1.32's messages."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]


def lease(**spec: Any) -> Obj:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(lease(holderIdentity="node-1", leaseDurationSeconds=40), [], id="valid"),
        pytest.param(
            lease(leaseDurationSeconds=0, leaseTransitions=-1),
            [
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
            ],
            id="durations",
        ),
        pytest.param(
            lease(preferredHolder="node-2"),
            ["spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"],
            id="preferred-holder",
        ),
    ],
)
def test_lease(obj: Obj, expected: list[str]) -> None:
    assert [str(e) for e in validate_object("coordination.k8s.io", "Lease", obj)] == expected
