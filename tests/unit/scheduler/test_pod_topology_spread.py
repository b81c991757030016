"""PodTopologySpread: maxSkew, minDomains, missing labels, policies, scoring, defaults."""

from __future__ import annotations

from typing import Any

from kybernetes.api.selectors import from_set
from kybernetes.scheduler.framework.status import Code
from kybernetes.scheduler.plugins.pod_topology_spread import (
    ERR_REASON_CONSTRAINTS_NOT_MATCH,
    ERR_REASON_NODE_LABEL_NOT_MATCH,
    PodTopologySpread,
)

from .builders import (
    ZONE,
    FakeAPI,
    framework_for,
    make_node,
    make_pod,
    node_info,
    run_filter,
    run_score,
)


def _spread(max_skew: int = 1, when: str = "DoNotSchedule", **extra: Any) -> dict[str, Any]:
    return {
        "topologySpreadConstraints": [
            {
                "maxSkew": max_skew,
                "topologyKey": ZONE,
                "whenUnsatisfiable": when,
                "labelSelector": {"matchLabels": {"app": "w"}},
                **extra,
            }
        ]
    }


def _w(name: str, node: str) -> Any:
    return make_pod(name, labels={"app": "w"}, node_name=node)


def _cluster() -> list[Any]:
    return [
        node_info(make_node("a1", zone="a"), _w("p1", "a1"), _w("p2", "a1")),
        node_info(make_node("b1", zone="b"), _w("p3", "b1")),
        node_info(make_node("c1", zone="c")),
        node_info(make_node("nozone")),
    ]


def _filter(pod: Any, infos: list[Any]) -> tuple[list[str], Any]:
    fwk = framework_for(infos)
    return run_filter(PodTopologySpread(fwk), pod, fwk.snapshot().node_info_list)


def test_max_skew_keeps_pods_in_the_emptiest_zone() -> None:
    passed, rejected = _filter(make_pod("new", labels={"app": "w"}, spec=_spread()), _cluster())
    assert passed == ["c1"]
    assert rejected["a1"].reasons == (ERR_REASON_CONSTRAINTS_NOT_MATCH,)
    assert rejected["nozone"].reasons == (ERR_REASON_NODE_LABEL_NOT_MATCH,)
    assert rejected["nozone"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_larger_skew_allows_more_zones() -> None:
    passed, _ = _filter(make_pod("new", labels={"app": "w"}, spec=_spread(2)), _cluster())
    assert passed == ["b1", "c1"]


def test_min_domains_counts_missing_domains_as_zero() -> None:
    infos = [
        node_info(make_node("a1", zone="a"), _w("p1", "a1")),
        node_info(make_node("b1", zone="b"), _w("p2", "b1")),
    ]
    pod = make_pod("new", labels={"app": "w"}, spec=_spread(1, minDomains=3))
    assert _filter(pod, infos)[0] == []
    assert _filter(make_pod("new", labels={"app": "w"}, spec=_spread(1)), infos)[0] == ["a1", "b1"]


def test_node_affinity_policy_ignores_excluded_nodes() -> None:
    infos = _cluster()
    infos[0] = node_info(
        make_node("a1", zone="a", labels={"pool": "x"}), _w("p1", "a1"), _w("p2", "a1")
    )
    selector = {"nodeSelector": {"pool": "x"}}
    honour = make_pod("n", labels={"app": "w"}, spec={**_spread(), **selector})
    # Only zone a counts: the pod may join it (skew 3 - 2 = ... min is a's own count).
    assert "a1" in _filter(honour, infos)[0]
    ignore = make_pod(
        "n", labels={"app": "w"}, spec={**_spread(nodeAffinityPolicy="Ignore"), **selector}
    )
    assert "a1" not in _filter(ignore, infos)[0]


def test_schedule_anyway_scores_emptier_zones_higher() -> None:
    infos = _cluster()[:3]
    fwk = framework_for(infos)
    pod = make_pod("new", labels={"app": "w"}, spec=_spread(1, "ScheduleAnyway"))
    scores = run_score(PodTopologySpread(fwk), pod, fwk.snapshot().node_info_list)
    assert scores[2] == 100
    assert scores[0] < scores[1] < scores[2]


def test_system_default_constraints_use_the_owner_selector() -> None:
    infos = _cluster()[:3]
    api = FakeAPI()
    api.spread_selector = from_set({"app": "w"})
    fwk = framework_for(infos, api)
    scores = run_score(
        PodTopologySpread(fwk), make_pod("new", labels={"app": "w"}), fwk.snapshot().node_info_list
    )
    assert scores[0] < scores[2]
    api.spread_selector = from_set({})
    scores = run_score(
        PodTopologySpread(fwk), make_pod("new", labels={"app": "w"}), fwk.snapshot().node_info_list
    )
    assert scores == [0, 0, 0]
