"""DaemonSet per-node decisions, rolling update steps and status counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kybernetes.controllers.daemonset.nodes import manage, pods_by_node, status
from kybernetes.controllers.daemonset.placement import pinned_to
from kybernetes.controllers.daemonset.rolling import rolling_update

NOW = 1_700_000_000.0
NEW, OLD = "new", "old"


def stamp(seconds_ago: float) -> str:
    return datetime.fromtimestamp(NOW - seconds_ago, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def ds(**rolling: Any) -> dict[str, Any]:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, **rolling}}
    return {
        "spec": {
            "updateStrategy": strategy,
            "template": {"spec": {"nodeSelector": {"run": "yes"}}},
        }
    }


def pod(
    name: str,
    on: str,
    hash_: str = NEW,
    *,
    ready: bool = True,
    phase: str = "Running",
    age: float = 100.0,
    bound: bool = False,
) -> dict[str, Any]:
    out = pinned_to({"metadata": {"name": name}, "spec": {}}, on)
    out["metadata"].update(
        labels={"controller-revision-hash": hash_}, creationTimestamp=stamp(age), uid=name
    )
    if bound:
        out["spec"]["nodeName"] = on
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    condition["lastTransitionTime"] = stamp(age)
    out["status"] = {"phase": phase, "conditions": [condition]}
    return out


NODES = [node("a", run="yes"), node("b", run="yes"), node("c", run="no")]


def names(pods: list[dict[str, Any]]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_manage_creates_where_missing_and_deletes_where_not_wanted() -> None:
    pods = pods_by_node([pod("on-b", "b"), pod("on-c", "c"), pod("ghost", "gone")])
    decided = manage(ds(), NODES, pods, NEW, NOW)
    assert decided.create_on == ["a"]
    assert names(decided.delete) == ["on-c", "ghost"]


def test_manage_keeps_the_oldest_of_extra_pods_and_reports_failed_ones() -> None:
    pods = pods_by_node(
        [
            pod("young", "a", age=10),
            pod("old", "a", age=50),
            pod("unbound-older", "a", age=90),
            pod("broken", "b", phase="Failed", ready=False),
            pod("done", "b", phase="Succeeded", ready=False),
        ]
    )
    pods["a"][1]["spec"]["nodeName"] = "a"  # bound pods are kept before unbound ones
    decided = manage(ds(), NODES, pods, NEW, NOW)
    assert names(decided.delete) == ["unbound-older", "young", "done"]
    assert [(n, p["metadata"]["name"]) for n, p in decided.failed] == [("b", "broken")]


def test_surge_keeps_an_old_and_a_new_pod_until_the_new_one_is_available() -> None:
    surge = ds(maxSurge=1, maxUnavailable=0)
    waiting = pods_by_node([pod("o", "a", OLD), pod("n", "a", NEW, ready=False)])
    assert manage(surge, NODES, waiting, NEW, NOW).delete == []
    done = pods_by_node([pod("o", "a", OLD), pod("n", "a", NEW)])
    assert names(manage(surge, NODES, done, NEW, NOW).delete) == ["o"]


def test_rolling_update_respects_max_unavailable() -> None:
    nodes = [node(n, run="yes") for n in ("a", "b", "c")]
    all_old = pods_by_node([pod("pa", "a", OLD), pod("pb", "b", OLD), pod("pc", "c", OLD)])
    delete, create = rolling_update(ds(), nodes, all_old, NEW, NOW)
    assert (names(delete), create) == (["pa"], [])
    one_new_unready = pods_by_node([pod("pa", "a", NEW, ready=False), pod("pb", "b", OLD)])
    delete, _ = rolling_update(ds(), nodes, one_new_unready, NEW, NOW)
    assert delete == []  # a is unavailable and c has no pod: nothing more may go
    two = ds(maxUnavailable=2)
    delete, _ = rolling_update(two, nodes, all_old, NEW, NOW)
    assert names(delete) == ["pa", "pb"]
    unready_old = pods_by_node([pod("pa", "a", OLD), pod("pb", "b", OLD, ready=False)])
    delete, _ = rolling_update(ds(), nodes, unready_old, NEW, NOW)
    assert names(delete) == ["pb"]  # an unavailable old pod is replaced at once


def test_rolling_update_with_surge_creates_beside_old_pods() -> None:
    nodes = [node(n, run="yes") for n in ("a", "b")]
    surge = ds(maxSurge=1, maxUnavailable=0)
    all_old = pods_by_node([pod("pa", "a", OLD), pod("pb", "b", OLD)])
    assert rolling_update(surge, nodes, all_old, NEW, NOW) == ([], ["a"])
    surged = pods_by_node([pod("pa", "a", OLD), pod("na", "a", NEW), pod("pb", "b", OLD)])
    delete, create = rolling_update(surge, nodes, surged, NEW, NOW)
    assert (names(delete), create) == (["pa"], ["b"])


def test_status_counts_each_wanted_node_by_its_oldest_pod() -> None:
    the_ds = {**ds(), "spec": {**ds()["spec"], "minReadySeconds": 60}}
    pods = pods_by_node(
        [
            pod("pa", "a", OLD, age=100),
            pod("pa2", "a", NEW, age=5),
            pod("pb", "b", NEW, age=30),
            pod("pc", "c"),
        ]
    )
    assert status(the_ds, NODES, pods, NEW, NOW) == {
        "desiredNumberScheduled": 2,
        "currentNumberScheduled": 2,
        "numberMisscheduled": 1,
        "numberReady": 2,
        "numberAvailable": 1,
        "updatedNumberScheduled": 1,
        "numberUnavailable": 1,
    }
