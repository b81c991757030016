"""Daemon pod eligibility (``NodeShouldRunDaemonPod``), tolerations and node pinning."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.controllers.daemonset import placement


def node(name: str = "n1", labels: dict[str, str] | None = None, *taints: dict[str, str]) -> Any:
    out: dict[str, Any] = {"metadata": {"name": name, "labels": labels or {}}}
    if taints:
        out["spec"] = {"taints": list(taints)}
    return out


def ds(**pod_spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "c"}], **pod_spec}}}}


def test_daemon_tolerations_are_added_and_override_same_ones() -> None:
    user = {
        "key": placement.NOT_READY,
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    }
    tolerations = placement.daemon_tolerations({"tolerations": [user, {"key": "mine"}]})
    assert tolerations[0] == {
        "key": placement.NOT_READY,
        "operator": "Exists",
        "effect": "NoExecute",
    }
    assert {"key": "mine"} in tolerations
    keys = [t["key"] for t in tolerations]
    assert keys.count(placement.NOT_READY) == 1
    assert placement.UNREACHABLE in keys
    assert placement.UNSCHEDULABLE in keys
    assert placement.NETWORK_UNAVAILABLE not in keys
    host = placement.daemon_tolerations({"hostNetwork": True})
    assert {"key": placement.NETWORK_UNAVAILABLE, "operator": "Exists", "effect": "NoSchedule"} in (
        host
    )


@pytest.mark.parametrize(
    ("the_node", "the_ds", "expected"),
    [
        (node(), ds(), (True, True)),
        (node(labels={"disk": "hdd"}), ds(nodeSelector={"disk": "ssd"}), (False, False)),
        (node(labels={"disk": "ssd"}), ds(nodeSelector={"disk": "ssd"}), (True, True)),
        (node(), ds(nodeName="n2"), (False, False)),
        # a NoSchedule taint keeps new pods out but lets a running one stay
        (node("n1", {}, {"key": "k", "effect": "NoSchedule"}), ds(), (False, True)),
        (node("n1", {}, {"key": "k", "effect": "NoExecute"}), ds(), (False, False)),
        (node("n1", {}, {"key": "k", "effect": "PreferNoSchedule"}), ds(), (True, True)),
        (
            node("n1", {}, {"key": "k", "value": "v", "effect": "NoSchedule"}),
            ds(tolerations=[{"key": "k", "operator": "Equal", "value": "v"}]),
            (True, True),
        ),
        # the taints daemon pods tolerate by themselves
        (
            node("n1", {}, {"key": placement.UNSCHEDULABLE, "effect": "NoSchedule"}),
            ds(),
            (True, True),
        ),
        (node("n1", {}, {"key": placement.NOT_READY, "effect": "NoExecute"}), ds(), (True, True)),
        (
            node("n1", {}, {"key": placement.NETWORK_UNAVAILABLE, "effect": "NoSchedule"}),
            ds(),
            (False, True),
        ),
    ],
)
def test_should_run(the_node: Any, the_ds: Any, expected: tuple[bool, bool]) -> None:
    assert placement.should_run(the_node, the_ds) == expected


def affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    required = {"nodeSelectorTerms": list(terms)}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}


@pytest.mark.parametrize(
    ("term", "labels", "expected"),
    [
        (
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
            {"zone": "a"},
            True,
        ),
        ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, {}, True),
        (
            {"matchExpressions": [{"key": "cpu", "operator": "Gt", "values": ["4"]}]},
            {"cpu": "8"},
            True,
        ),
        (
            {"matchExpressions": [{"key": "cpu", "operator": "Lt", "values": ["4"]}]},
            {"cpu": "x"},
            False,
        ),
        ({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}, {}, True),
        (
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]},
            {},
            False,
        ),
        ({}, {}, False),
    ],
)
def test_required_node_affinity(
    term: dict[str, Any], labels: dict[str, str], expected: bool
) -> None:
    the_ds = ds(affinity=affinity(term))
    assert placement.should_run(node("n1", labels), the_ds)[0] is expected


def test_terms_are_ored() -> None:
    never = {"matchExpressions": [{"key": "x", "operator": "Exists"}]}
    always = {"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}
    assert placement.should_run(node(), ds(affinity=affinity(never, always)))[0]


def test_pinning_replaces_required_terms_and_is_read_back() -> None:
    preferred = [{"weight": 1, "preference": {"matchExpressions": []}}]
    template = {"spec": {"affinity": affinity({"matchExpressions": []})}}
    template["spec"]["affinity"]["nodeAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ] = preferred
    pinned = placement.pinned_to(template, "n7")
    node_affinity = pinned["spec"]["affinity"]["nodeAffinity"]
    assert node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}
        ]
    }
    assert node_affinity["preferredDuringSchedulingIgnoredDuringExecution"] == preferred
    assert template["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ] == {"nodeSelectorTerms": [{"matchExpressions": []}]}
    assert placement.target_node(pinned) == "n7"
    assert placement.target_node({"spec": {"nodeName": "n3", **pinned["spec"]}}) == "n3"
    assert placement.target_node({"spec": {}}) is None
