"""InterPodAffinity: required affinity/anti-affinity, existing pods' anti-affinity, scoring."""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.framework.status import Code
from kybernetes.scheduler.plugins.inter_pod_affinity import (
    ERR_REASON_AFFINITY,
    ERR_REASON_ANTI_AFFINITY,
    ERR_REASON_EXISTING_ANTI_AFFINITY,
    InterPodAffinity,
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


def _term(labels: dict[str, str], key: str = ZONE, **extra: Any) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **extra}


def _affinity(kind: str, *terms: dict[str, Any]) -> dict[str, Any]:
    return {"affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}}


def _cluster(*pods_on_a: Any) -> list[Any]:
    return [
        node_info(make_node("a", zone="z1"), *pods_on_a),
        node_info(make_node("b", zone="z1")),
        node_info(make_node("c", zone="z2")),
    ]


def _filter(pod: Any, infos: list[Any], api: FakeAPI | None = None) -> tuple[list[str], Any]:
    fwk = framework_for(infos, api)
    return run_filter(InterPodAffinity(fwk), pod, fwk.snapshot().node_info_list)


def test_required_affinity_follows_the_matching_pods_zone() -> None:
    infos = _cluster(make_pod("db", labels={"app": "db"}, node_name="a"))
    pod = make_pod("web", spec=_affinity("podAffinity", _term({"app": "db"})))
    passed, rejected = _filter(pod, infos)
    assert passed == ["a", "b"]
    assert rejected["c"].reasons == (ERR_REASON_AFFINITY,)
    assert rejected["c"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_first_pod_of_a_self_affine_group_goes_anywhere() -> None:
    pod = make_pod("w", labels={"app": "w"}, spec=_affinity("podAffinity", _term({"app": "w"})))
    assert _filter(pod, _cluster())[0] == ["a", "b", "c"]


def test_required_anti_affinity_avoids_the_zone() -> None:
    infos = _cluster(make_pod("w1", labels={"app": "w"}, node_name="a"))
    pod = make_pod(
        "w2", labels={"app": "w"}, spec=_affinity("podAntiAffinity", _term({"app": "w"}))
    )
    passed, rejected = _filter(pod, infos)
    assert passed == ["c"]
    assert rejected["b"].reasons == (ERR_REASON_ANTI_AFFINITY,)


def test_existing_pods_anti_affinity_is_honoured() -> None:
    guard = make_pod(
        "guard",
        node_name="a",
        spec=_affinity("podAntiAffinity", _term({"app": "noisy"}, "kubernetes.io/hostname")),
    )
    infos = _cluster(guard)
    passed, rejected = _filter(make_pod("n", labels={"app": "noisy"}), infos)
    assert passed == ["b", "c"]
    assert rejected["a"].reasons == (ERR_REASON_EXISTING_ANTI_AFFINITY,)
    assert _filter(make_pod("q", labels={"app": "quiet"}), infos)[0] == ["a", "b", "c"]


def test_namespaces_and_namespace_selector() -> None:
    other = make_pod("o", namespace="other", labels={"app": "w"}, node_name="a")
    infos = _cluster(other)
    same_ns = make_pod("p", spec=_affinity("podAntiAffinity", _term({"app": "w"})))
    assert _filter(same_ns, infos)[0] == ["a", "b", "c"]
    listed = make_pod(
        "p", spec=_affinity("podAntiAffinity", _term({"app": "w"}, namespaces=["other"]))
    )
    assert _filter(listed, infos)[0] == ["c"]
    api = FakeAPI()
    api.namespaces = {"default": {}, "other": {"team": "x"}}
    selected = make_pod(
        "p",
        spec=_affinity(
            "podAntiAffinity", _term({"app": "w"}, namespaceSelector={"matchLabels": {"team": "x"}})
        ),
    )
    assert _filter(selected, infos, api)[0] == ["c"]


def test_preferred_affinity_scores_the_zone() -> None:
    infos = _cluster(make_pod("db", labels={"app": "db"}, node_name="a"))
    spec = {
        "affinity": {
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 10, "podAffinityTerm": _term({"app": "db"})}
                ]
            }
        }
    }
    fwk = framework_for(infos)
    scores = run_score(
        InterPodAffinity(fwk), make_pod("web", spec=spec), fwk.snapshot().node_info_list
    )
    assert scores == [100, 100, 0]
