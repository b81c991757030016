"""NodeAffinity: nodeSelector, required terms (all operators, matchFields), preferred terms."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.plugins.node_affinity import ERR_REASON_POD, NodeAffinity

from .builders import make_node, make_pod, node_info, run_filter, run_score


def _required(*expressions: dict[str, Any], fields: list[Any] | None = None) -> dict[str, Any]:
    term: dict[str, Any] = {"matchExpressions": list(expressions)}
    if fields is not None:
        term = {"matchFields": fields}
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
            }
        }
    }


LABELS = {"disk": "ssd", "cores": "8"}


@pytest.mark.parametrize(
    ("spec", "passes"),
    [
        ({}, True),
        ({"nodeSelector": {"disk": "ssd"}}, True),
        ({"nodeSelector": {"disk": "hdd"}}, False),
        (_required({"key": "disk", "operator": "In", "values": ["ssd", "nvme"]}), True),
        (_required({"key": "disk", "operator": "NotIn", "values": ["ssd"]}), False),
        (_required({"key": "gpu", "operator": "NotIn", "values": ["x"]}), True),
        (_required({"key": "disk", "operator": "Exists"}), True),
        (_required({"key": "disk", "operator": "DoesNotExist"}), False),
        (_required({"key": "cores", "operator": "Gt", "values": ["4"]}), True),
        (_required({"key": "cores", "operator": "Lt", "values": ["4"]}), False),
        (_required({"key": "cores", "operator": "Gt", "values": ["x"]}), False),
        (_required({"key": "disk", "operator": "In", "values": []}), False),
        (_required(fields=[{"key": "metadata.name", "operator": "In", "values": ["n"]}]), True),
        (_required(fields=[{"key": "metadata.name", "operator": "NotIn", "values": ["n"]}]), False),
    ],
)
def test_filter(spec: dict[str, Any], passes: bool) -> None:
    info = node_info(make_node("n", labels=LABELS))
    passed, rejected = run_filter(NodeAffinity(), make_pod("p", spec=spec), [info])
    assert (passed == ["n"]) is passes
    if not passes:
        assert rejected["n"].reasons == (ERR_REASON_POD,)


def test_pre_filter_skips_pods_without_affinity_and_limits_by_node_name() -> None:
    _, status = NodeAffinity().pre_filter(CycleState(), PodInfo(make_pod("p")))
    assert status is not None
    assert str(status.code) == "Skip"
    spec = _required(fields=[{"key": "metadata.name", "operator": "In", "values": ["a", "b"]}])
    result, status = NodeAffinity().pre_filter(CycleState(), PodInfo(make_pod("p", spec=spec)))
    assert status is None
    assert result is not None
    assert result.node_names == frozenset({"a", "b"})


def test_preferred_terms_score_by_weight() -> None:
    spec = {
        "affinity": {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 2,
                        "preference": {
                            "matchExpressions": [
                                {"key": "disk", "operator": "In", "values": ["ssd"]}
                            ]
                        },
                    },
                    {
                        "weight": 6,
                        "preference": {"matchExpressions": [{"key": "zone", "operator": "Exists"}]},
                    },
                ]
            }
        }
    }
    infos = [
        node_info(make_node("ssd", labels={"disk": "ssd"})),
        node_info(make_node("both", labels={"disk": "ssd", "zone": "a"})),
        node_info(make_node("none")),
    ]
    assert run_score(NodeAffinity(), make_pod("p", spec=spec), infos) == [25, 100, 0]
