"""NodeResourcesFit: requests (init containers, sidecars, overhead, extended resources), pod
count, and the three scoring strategies."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.scheduler.framework.resources import pod_requests
from kybernetes.scheduler.framework.status import Code
from kybernetes.scheduler.plugins.helper import ArgsError
from kybernetes.scheduler.plugins.node_resources_fit import NodeResourcesFit, parse_fit_args

from .builders import make_node, make_pod, node_info, run_filter, run_score


@pytest.mark.parametrize(
    ("spec", "cpu", "memory"),
    [
        ({"containers": [{"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}, 1000, 2**30),
        (
            {
                "containers": [{"resources": {"requests": {"cpu": "1"}}}],
                "initContainers": [{"resources": {"requests": {"cpu": "3"}}}],
            },
            3000,
            0,
        ),
        (
            {
                "containers": [{"resources": {"requests": {"cpu": "1"}}}],
                "initContainers": [
                    {"restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
                    {"resources": {"requests": {"cpu": "2"}}},
                ],
            },
            2500,
            0,
        ),
        (
            {
                "containers": [{"resources": {"requests": {"cpu": "1"}}}],
                "overhead": {"cpu": "250m", "memory": "120Mi"},
            },
            1250,
            120 * 2**20,
        ),
    ],
    ids=["containers", "init-max", "sidecar", "overhead"],
)
def test_pod_requests(spec: dict[str, Any], cpu: int, memory: int) -> None:
    requests = pod_requests(spec)
    assert (requests.cpu, requests.memory) == (cpu, memory)


def test_non_zero_defaults_only_for_missing_requests() -> None:
    requests = pod_requests({"containers": [{}, {"resources": {"requests": {"cpu": "0"}}}]})
    assert (requests.cpu, requests.non_zero_cpu) == (0, 100)
    assert requests.non_zero_memory == 2 * 200 * 2**20


@pytest.mark.parametrize(
    ("pod_kwargs", "node_kwargs", "existing", "reasons", "code"),
    [
        ({"cpu": "1"}, {"cpu": "2"}, [], None, None),
        ({"cpu": "2"}, {"cpu": "2"}, [{"cpu": "1"}], ("Insufficient cpu",), Code.UNSCHEDULABLE),
        (
            {"cpu": "3"},
            {"cpu": "2"},
            [],
            ("Insufficient cpu",),
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
        ),
        (
            {"cpu": "2", "memory": "9Gi"},
            {"cpu": "1"},
            [],
            ("Insufficient cpu", "Insufficient memory"),
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
        ),
        ({}, {"pods": 1}, [{}], ("Too many pods",), Code.UNSCHEDULABLE),
        (
            {"extra": {"nvidia.com/gpu": "1"}},
            {},
            [],
            ("Insufficient nvidia.com/gpu",),
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
        ),
        ({"extra": {"nvidia.com/gpu": "1"}}, {"extra": {"nvidia.com/gpu": "2"}}, [], None, None),
    ],
    ids=["fits", "used-up", "too-big", "two-reasons", "pods", "no-gpu", "gpu"],
)
def test_filter(
    pod_kwargs: dict[str, Any],
    node_kwargs: dict[str, Any],
    existing: list[dict[str, Any]],
    reasons: tuple[str, ...] | None,
    code: Code | None,
) -> None:
    pods = [make_pod(f"e{i}", node_name="n", **kw) for i, kw in enumerate(existing)]
    info = node_info(make_node("n", **node_kwargs), *pods)
    passed, rejected = run_filter(NodeResourcesFit(), make_pod("p", **pod_kwargs), [info])
    if reasons is None:
        assert passed == ["n"]
    else:
        assert passed == []
        assert rejected["n"].reasons == reasons
        assert rejected["n"].code == code
        assert rejected["n"].plugin == "NodeResourcesFit"


def _two_nodes() -> list[Any]:
    busy = node_info(
        make_node("busy", cpu="4", memory="8Gi"),
        make_pod("x", cpu="3", memory="6Gi", node_name="busy"),
    )
    idle = node_info(make_node("idle", cpu="4", memory="8Gi"))
    return [busy, idle]


def test_least_allocated_prefers_the_idle_node() -> None:
    scores = run_score(NodeResourcesFit(), make_pod("p", cpu="1", memory="1Gi"), _two_nodes())
    # busy: cpu (4000-4000)*100/4000 = 0, memory (8-7)/8 = 12 -> 6; idle: 75 and 87 -> 81
    assert scores == [6, 81]


def test_most_allocated_prefers_the_busy_node() -> None:
    args = parse_fit_args({"scoringStrategy": {"type": "MostAllocated"}})
    scores = run_score(NodeResourcesFit(args), make_pod("p", cpu="1", memory="1Gi"), _two_nodes())
    assert scores == [93, 18]


def test_requested_to_capacity_ratio() -> None:
    args = parse_fit_args(
        {
            "scoringStrategy": {
                "type": "RequestedToCapacityRatio",
                "resources": [{"name": "cpu", "weight": 1}],
                "requestedToCapacityRatio": {
                    "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]
                },
            }
        }
    )
    scores = run_score(NodeResourcesFit(args), make_pod("p", cpu="1"), _two_nodes())
    assert scores == [100, 25]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"scoringStrategy": {"type": "Random"}}, "scoringStrategy.type"),
        (
            {"scoringStrategy": {"resources": [{"name": "cpu", "weight": 0}]}},
            "scoringStrategy.resources[0].weight",
        ),
    ],
)
def test_bad_args_name_the_field(args: dict[str, Any], field: str) -> None:
    with pytest.raises(ArgsError) as err:
        parse_fit_args(args)
    assert err.value.field == field
