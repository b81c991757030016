"""The batch (numpy) path against the per-node path: same placements, same failure messages;
the snapshot's columns kept in step with its NodeInfos; InterPodAffinity's indexed PreScore
against a walk over every pod; an assumed pod confirmed in place."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from kybernetes.api.types import Pod
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import node_arrays
from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.snapshot import Snapshot
from kybernetes.scheduler.plugins.inter_pod_affinity import InterPodAffinity, _PreScoreState
from kybernetes.util.clock import FakeClock

from .builders import HOSTNAME, ZONE, make_node, make_pod, new_scheduler, schedule_all

pytestmark = pytest.mark.skipif(not node_arrays.AVAILABLE, reason="numpy is not installed")

ZONES = ("a", "b", "c")
APPS = ("web", "db", "cache")


def _node(rng: random.Random, i: int) -> dict[str, Any]:
    taints: list[dict[str, str]] = []
    if rng.random() < 0.1:
        taints.append({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"})
    if rng.random() < 0.1:
        taints.append({"key": "spot", "value": "", "effect": "PreferNoSchedule"})
    images = []
    if rng.random() < 0.2:
        images.append({"names": ["registry.local/web:1"], "sizeBytes": 300 * 1024 * 1024})
    node = make_node(
        f"n{i}",
        cpu=rng.choice(("2", "4", "8")),
        memory=rng.choice(("4Gi", "8Gi", "16Gi")),
        pods=rng.choice((3, 10, 110)),
        zone=ZONES[i % 3] if rng.random() < 0.95 else None,
        labels={"disk": "ssd"} if rng.random() < 0.5 else {},
        taints=taints,
        unschedulable=rng.random() < 0.05,
        images=images,
        extra={"example.com/dongle": "2"} if rng.random() < 0.1 else None,
    )
    return dict(node)


def _pod(rng: random.Random, i: int) -> Pod:
    app = rng.choice(APPS)
    selector = {"matchLabels": {"app": app}}
    spec: dict[str, Any] = {}
    kind = rng.randrange(9)
    if kind == 1:
        spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    elif kind == 2:
        spec["nodeSelector"] = {"disk": "ssd"}
    elif kind == 3:
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": ZONE,
                "whenUnsatisfiable": rng.choice(("DoNotSchedule", "ScheduleAnyway")),
                "labelSelector": selector,
            }
        ]
    elif kind == 4:
        term = {"labelSelector": selector, "topologyKey": rng.choice((HOSTNAME, ZONE))}
        spec["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 50, "podAffinityTerm": term}
                ]
            },
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 20, "podAffinityTerm": {**term, "topologyKey": ZONE}}
                ]
            },
        }
    elif kind == 5:
        term = {"labelSelector": selector, "topologyKey": HOSTNAME}
        spec["affinity"] = {
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
        }
    elif kind == 6:
        term = {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": ZONE}
        spec["affinity"] = {
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
        }
    elif kind == 7:
        spec["containers"] = [
            {"name": "c", "image": "busybox", "ports": [{"containerPort": 80, "hostPort": 8080}]}
        ]
    cpu = rng.choice((None, "100m", "500m", "1")) if i % 40 else "16"  # some fit nowhere
    memory = rng.choice((None, "64Mi", "1Gi"))
    extra = {"example.com/dongle": "1"} if kind == 8 else None
    image = "registry.local/web:1" if app == "web" else "busybox"
    return make_pod(
        f"p{i}",
        cpu=cpu,
        memory=memory,
        extra=extra,
        labels={"app": app},
        spec=spec,
        image=image,
    )


async def _run(seed: int, vectorized: bool, nodes: int, pods: int) -> tuple[Any, ...]:
    scheduler, api, _ = new_scheduler(seed=seed)
    scheduler.algorithm.vectorized = vectorized
    rng = random.Random(seed)
    for i in range(nodes):
        scheduler.on_node_add(_node(rng, i))  # type: ignore[arg-type]
    for i in range(pods):
        scheduler.on_pod_add(_pod(rng, i))
    await schedule_all(scheduler)
    conditions = {k: v["message"] for k, v in api.conditions.items()}
    return api.bindings, conditions, scheduler.algorithm.next_start_node_index


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_batch_path_places_exactly_as_the_per_node_path(seed: int) -> None:
    batch = await _run(seed, True, 240, 400)
    per_node = await _run(seed, False, 240, 400)
    assert batch == per_node
    bindings, conditions, _ = batch
    assert len(bindings) > 100
    assert conditions  # failures (and their messages) were compared too


async def test_columns_follow_the_node_infos() -> None:
    scheduler, _, _ = new_scheduler(seed=4)
    rng = random.Random(4)
    for i in range(150):
        scheduler.on_node_add(_node(rng, i))  # type: ignore[arg-type]
    for i in range(120):
        scheduler.on_pod_add(_pod(rng, i))
    await schedule_all(scheduler)
    # A node changes (tainted, relabelled) and one goes away.
    changed = dict(make_node("n3", cpu="1", taints=[{"key": "k", "effect": "NoSchedule"}]))
    scheduler.on_node_update(changed, changed)  # type: ignore[arg-type]
    scheduler.on_node_delete(make_node("n7"))
    scheduler.cache.update_snapshot(scheduler.snapshot)
    arrays = scheduler.snapshot.arrays
    assert arrays is not None
    fresh = node_arrays.NodeArrays()
    fresh.rebuild(scheduler.snapshot.node_info_list)
    assert arrays.position == fresh.position
    assert (arrays.table == fresh.table).all()
    zone = arrays.domains(ZONE)
    assert [None if i == zone.size else list(zone.index)[i] for i in zone.ids.tolist()] == [
        n.labels.get(ZONE) for n in scheduler.snapshot.node_info_list
    ]


def _reference_scores(
    pod: PodInfo, snapshot: Snapshot, ns_labels: Mapping[str, Mapping[str, str]], hard: int
) -> dict[str, dict[str, int]]:
    """Upstream's PreScore: every existing pod on every node, every term."""
    scores: dict[str, dict[str, int]] = {}

    def add(term: Any, weight: int, target: PodInfo, labels: Any) -> None:
        value = labels.get(term.topology_key)
        if value is not None and term.matches(target, ns_labels.get(target.namespace)):
            by_value = scores.setdefault(term.topology_key, {})
            by_value[value] = by_value.get(value, 0) + weight

    for node in snapshot.node_info_list:
        for existing in node.pods:
            for w in pod.preferred_affinity_terms:
                add(w.term, w.weight, existing, node.labels)
            for w in pod.preferred_anti_affinity_terms:
                add(w.term, -w.weight, existing, node.labels)
            for term in existing.required_affinity_terms:
                add(term, hard, pod, node.labels)
            for w in existing.preferred_affinity_terms:
                add(w.term, w.weight, pod, node.labels)
            for w in existing.preferred_anti_affinity_terms:
                add(w.term, -w.weight, pod, node.labels)
    return scores


async def test_indexed_pre_score_matches_a_walk_over_every_pod() -> None:
    scheduler, api, _ = new_scheduler(seed=5)
    rng = random.Random(5)
    for i in range(60):
        scheduler.on_node_add(_node(rng, i))  # type: ignore[arg-type]
    for i in range(150):
        scheduler.on_pod_add(_pod(rng, i))
    await schedule_all(scheduler)
    scheduler.cache.update_snapshot(scheduler.snapshot)
    fwk = scheduler.profiles["default-scheduler"]
    fwk.set_snapshot(scheduler.snapshot)
    plugin = InterPodAffinity(fwk)
    checked = 0
    for i in range(150, 200):
        pod = PodInfo(_pod(rng, i))
        state = CycleState()
        status = plugin.pre_score(state, pod, scheduler.snapshot.node_info_list)
        expected = _reference_scores(pod, scheduler.snapshot, api.namespaces, 1)
        got = (
            {}
            if status is not None
            else state.read("PreScoreInterPodAffinity", _PreScoreState).scores
        )
        assert _nonzero(got) == _nonzero(expected)
        checked += bool(expected)
    assert checked


def _nonzero(scores: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    cleaned = {k: {v: s for v, s in by.items() if s} for k, by in scores.items()}
    return {k: by for k, by in cleaned.items() if by}


def test_an_assumed_pod_is_confirmed_in_place() -> None:
    cache = Cache(FakeClock())
    cache.add_node(make_node("a", cpu="4"))
    raw = make_pod("p", cpu="1")
    assumed = PodInfo(raw).with_node("a")
    cache.assume_pod(assumed)
    bound: dict[str, Any] = {**raw, "spec": {**raw["spec"], "nodeName": "a"}}
    confirmed = cache.add_pod(bound)  # type: ignore[arg-type]
    assert confirmed is assumed
    assert confirmed.pod is bound
    assert not cache.is_assumed(assumed.uid)
    info = cache.node_info("a")
    assert info is not None
    assert (info.requested_cpu, len(info.pods)) == (1000, 1)
    # A bound pod that differs from the assumed one (labels) is re-read.
    relabelled: dict[str, Any] = {**bound, "metadata": {**bound["metadata"], "labels": {"x": "y"}}}
    again = cache.add_pod(relabelled)  # type: ignore[arg-type]
    assert again is not assumed
    assert again.labels == {"x": "y"}
    assert (info.requested_cpu, len(info.pods)) == (1000, 1)
