"""DefaultPreemption: victim selection, candidate ordering, PDBs, preemptionPolicy."""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.status import Code, Status
from kybernetes.scheduler.plugins.default_preemption import (
    Candidate,
    DefaultPreemption,
    pick_one_node,
)
from kybernetes.scheduler.plugins.node_resources_fit import NodeResourcesFit

from .builders import FakeAPI, framework_for, make_node, make_pod, node_info


def _setup(api: FakeAPI | None = None) -> tuple[Any, FakeAPI]:
    api = api or FakeAPI()
    infos = [
        node_info(
            make_node("a", cpu="2"),
            make_pod("low1", cpu="1", priority=1, node_name="a", labels={"app": "low"}),
            make_pod("low2", cpu="1", priority=1, node_name="a", labels={"app": "low"}),
        ),
        node_info(
            make_node("b", cpu="2"),
            make_pod("mid", cpu="1", priority=5, node_name="b"),
            make_pod("high", cpu="1", priority=100, node_name="b"),
        ),
    ]
    fwk = framework_for(infos, api)
    fwk.add_plugin(NodeResourcesFit(), ["filter"])
    return fwk, api


def _unschedulable() -> dict[str, Status]:
    return {n: Status(Code.UNSCHEDULABLE, "Insufficient cpu") for n in ("a", "b")}


async def test_preempts_the_fewest_lowest_priority_victims() -> None:
    fwk, api = _setup()
    plugin = DefaultPreemption(fwk)
    preemptor = PodInfo(make_pod("p", cpu="1", priority=10))
    result, status = await plugin.post_filter(CycleState(), preemptor, _unschedulable())
    assert status is not None
    assert status.code == Code.SUCCESS
    assert result is not None
    assert result.nominated_node_name == "a"
    assert api.evicted == ["default/low1"] or api.evicted == ["default/low2"]


async def test_never_policy_does_not_preempt() -> None:
    fwk, api = _setup()
    pod = PodInfo(make_pod("p", cpu="1", priority=10, spec={"preemptionPolicy": "Never"}))
    result, status = await DefaultPreemption(fwk).post_filter(CycleState(), pod, _unschedulable())
    assert result is None
    assert status is not None
    assert status.message() == "preemption: not eligible due to preemptionPolicy=Never."
    assert api.evicted == []


async def test_no_lower_priority_pods_means_no_victims() -> None:
    fwk, _api = _setup()
    pod = PodInfo(make_pod("p", cpu="1", priority=0))
    result, status = await DefaultPreemption(fwk).post_filter(CycleState(), pod, _unschedulable())
    assert result is not None
    assert result.nominated_node_name == ""
    assert status is not None
    assert status.message() == (
        "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    )


async def test_unresolvable_nodes_are_not_helped() -> None:
    fwk, _ = _setup()
    statuses = {n: Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "x") for n in ("a", "b")}
    pod = PodInfo(make_pod("p", cpu="1", priority=1000))
    _, status = await DefaultPreemption(fwk).post_filter(CycleState(), pod, statuses)
    assert status is not None
    assert status.message() == (
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )


async def test_pdb_protected_pods_are_reprieved_first() -> None:
    api = FakeAPI()
    api.pdbs = [
        {
            "metadata": {"namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "low"}}},
            "status": {"disruptionsAllowed": 0},
        }
    ]
    fwk, _ = _setup(api)
    pod = PodInfo(make_pod("p", cpu="1", priority=10))
    result, _ = await DefaultPreemption(fwk).post_filter(CycleState(), pod, _unschedulable())
    # Node a would violate the PDB; node b preempts "mid" without violating one.
    assert result is not None
    assert result.nominated_node_name == "b"
    assert api.evicted == ["default/mid"]


def test_candidate_ordering() -> None:
    def victims(*priorities: int) -> list[PodInfo]:
        return [PodInfo(make_pod(f"v{i}", priority=p)) for i, p in enumerate(priorities)]

    fewer_violations = Candidate("x", victims(1), 0)
    assert pick_one_node([Candidate("y", victims(1), 1), fewer_violations]) is fewer_violations
    lower_top = Candidate("x", victims(1, 1), 0)
    assert pick_one_node([Candidate("y", victims(5), 0), lower_top]) is lower_top
    smaller_sum = Candidate("x", victims(3), 0)
    assert pick_one_node([Candidate("y", victims(3, 2), 0), smaller_sum]) is smaller_sum
