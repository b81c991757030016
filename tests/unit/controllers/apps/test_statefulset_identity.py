"""A StatefulSet pod's identity: ordinals, names, labels, storage and claim owners."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.controllers.statefulset import identity

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
}


def sts(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "set-uid"},
        "spec": {
            "replicas": 3,
            "serviceName": "svc",
            "selector": {"matchLabels": {"app": "web"}},
            "template": TEMPLATE,
            "volumeClaimTemplates": [{"metadata": {"name": "www", "labels": {"t": "1"}}}],
            **spec,
        },
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("web-0", ("web", 0)),
        ("my-web-12", ("my-web", 12)),
        ("web", ("", -1)),
        ("web-x", ("", -1)),
        ("web-99999999999", ("", -1)),
    ],
)
def test_parent_and_ordinal(name: str, expected: tuple[str, int]) -> None:
    assert identity.parent_and_ordinal(name) == expected


def test_ordinal_range_follows_ordinals_start() -> None:
    plain = sts()
    assert [o for o in range(6) if identity.in_range(plain, o)] == [0, 1, 2]
    shifted = sts(ordinals={"start": 2})
    assert [o for o in range(6) if identity.in_range(shifted, o)] == [2, 3, 4]


def test_new_pod_has_its_identity_storage_and_revision() -> None:
    pod = identity.new_pod(sts(), TEMPLATE, 1, "web-abc")
    meta = pod["metadata"]
    assert meta["name"] == "web-1"
    assert "generateName" not in meta
    assert meta["labels"] == {
        "app": "web",
        identity.POD_NAME_LABEL: "web-1",
        identity.POD_INDEX_LABEL: "1",
        "controller-revision-hash": "web-abc",
    }
    assert meta["ownerReferences"][0]["uid"] == "set-uid"
    assert pod["spec"]["hostname"] == "web-1"
    assert pod["spec"]["subdomain"] == "svc"
    assert pod["spec"]["volumes"] == [
        {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}}
    ]
    assert identity.identity_matches(sts(), pod)
    assert identity.storage_matches(sts(), pod)
    assert TEMPLATE["metadata"]["labels"] == {"app": "web"}  # the template is not modified


def test_drifted_identity_is_repaired() -> None:
    pod = identity.new_pod(sts(), TEMPLATE, 2, "r")
    del pod["metadata"]["labels"][identity.POD_NAME_LABEL]
    pod["spec"]["volumes"] = [{"name": "www", "emptyDir": {}}, {"name": "cache", "emptyDir": {}}]
    assert not identity.identity_matches(sts(), pod)
    assert not identity.storage_matches(sts(), pod)
    fixed = identity.with_storage(sts(), identity.with_identity(sts(), pod))
    assert identity.identity_matches(sts(), fixed)
    assert identity.storage_matches(sts(), fixed)
    assert {"name": "cache", "emptyDir": {}} in fixed["spec"]["volumes"]


def test_claims_take_the_selector_labels() -> None:
    pod = identity.new_pod(sts(), TEMPLATE, 0, "r")
    claims = identity.claims_for(sts(), pod)
    claim = claims["www"]
    assert claim["metadata"]["name"] == "www-web-0"
    assert claim["metadata"]["namespace"] == "ns"
    assert claim["metadata"]["labels"] == {"t": "1", "app": "web"}
    assert "ownerReferences" not in claim["metadata"]


@pytest.mark.parametrize(
    ("when_deleted", "when_scaled", "ordinal", "owner"),
    [
        ("Retain", "Retain", 0, None),
        ("Retain", "Retain", 5, None),
        ("Delete", "Retain", 0, "StatefulSet"),
        ("Delete", "Retain", 5, "StatefulSet"),
        ("Retain", "Delete", 0, None),
        ("Retain", "Delete", 5, "Pod"),
        ("Delete", "Delete", 0, "StatefulSet"),
        ("Delete", "Delete", 5, "Pod"),
    ],
)
def test_claim_owners_follow_the_retention_policy(
    when_deleted: str, when_scaled: str, ordinal: int, owner: str | None
) -> None:
    policy = {"whenDeleted": when_deleted, "whenScaled": when_scaled}
    the_set = sts(persistentVolumeClaimRetentionPolicy=policy)
    pod = {"metadata": {"name": f"web-{ordinal}", "uid": "pod-uid"}}
    stale = [{"apiVersion": "v1", "kind": "Pod", "name": "web-0", "uid": "pod-uid"}]
    refs = identity.claim_owner_refs(stale, the_set, pod)
    assert [r["kind"] for r in refs] == ([owner] if owner else [])
    assert all(r["controller"] is True for r in refs)


def test_claims_controlled_by_someone_else_are_left_alone() -> None:
    the_set = sts(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete"})
    foreign = [{"kind": "Other", "name": "x", "uid": "x", "controller": True}]
    pod = {"metadata": {"name": "web-0", "uid": "pod-uid"}}
    assert identity.claim_owner_refs(foreign, the_set, pod) == foreign
