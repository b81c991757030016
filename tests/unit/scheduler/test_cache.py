"""The scheduler cache: assume/forget/expiry, and incremental, zone-interleaved snapshots."""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.snapshot import Snapshot
from kybernetes.util.clock import FakeClock

from .builders import make_node, make_pod


def _cache(ttl: float = 30.0) -> tuple[Cache, FakeClock]:
    clock = FakeClock()
    cache = Cache(clock, ttl)
    for name, zone in (("a1", "a"), ("a2", "a"), ("b1", "b"), ("c1", "c"), ("b2", "b")):
        cache.add_node(make_node(name, zone=zone, cpu="4"))
    return cache, clock


def test_snapshot_interleaves_zones() -> None:
    cache, _ = _cache()
    snapshot = Snapshot()
    cache.update_snapshot(snapshot)
    assert [n.name for n in snapshot.node_info_list] == ["a1", "b1", "c1", "a2", "b2"]


def test_assumed_pod_counts_until_forgotten() -> None:
    cache, _ = _cache()
    assumed = PodInfo(make_pod("p", cpu="1")).with_node("a1")
    cache.assume_pod(assumed)
    assert cache.is_assumed(assumed.uid)
    info = cache.node_info("a1")
    assert info is not None
    assert info.requested_cpu == 1000
    cache.forget_pod(assumed)
    assert info.requested_cpu == 0
    assert cache.pod_count == 0


def test_add_confirms_an_assumed_pod_even_on_another_node() -> None:
    cache, _ = _cache()
    assumed = PodInfo(make_pod("p", cpu="1")).with_node("a1")
    cache.assume_pod(assumed)
    cache.add_pod(make_pod("p", cpu="1", node_name="b1"))
    assert not cache.is_assumed(assumed.uid)
    a1, b1 = cache.node_info("a1"), cache.node_info("b1")
    assert a1 is not None
    assert b1 is not None
    assert (a1.requested_cpu, b1.requested_cpu) == (0, 1000)


def test_assumed_pod_expires_after_binding_finished() -> None:
    cache, clock = _cache(ttl=30)
    assumed = PodInfo(make_pod("p", cpu="1")).with_node("a1")
    cache.assume_pod(assumed)
    clock.advance(100)
    assert cache.cleanup_expired_assumed_pods() == []  # binding not finished: never expires
    cache.finish_binding(assumed)
    clock.advance(29)
    assert cache.cleanup_expired_assumed_pods() == []
    clock.advance(1)
    assert [p.uid for p in cache.cleanup_expired_assumed_pods()] == [assumed.uid]
    assert cache.pod_count == 0


def test_snapshot_copies_only_changed_nodes() -> None:
    cache, _ = _cache()
    snapshot = Snapshot()
    cache.update_snapshot(snapshot)
    before = {n.name: n for n in snapshot.node_info_list}
    a1_generation = before["a1"].generation
    cache.add_pod(make_pod("p", cpu="1", node_name="b1"))
    cache.update_snapshot(snapshot)
    assert before["b1"].requested_cpu == 1000  # updated in place: lists stay valid
    assert before["a1"].generation == a1_generation
    live = cache.node_info("b1")
    assert live is not None
    assert snapshot.get("b1") is not live
    cache.add_pod(make_pod("q", cpu="1", node_name="b1"))
    assert before["b1"].requested_cpu == 1000  # the snapshot does not move until updated


def test_snapshot_follows_node_removal_and_addition() -> None:
    cache, _ = _cache()
    snapshot = Snapshot()
    cache.update_snapshot(snapshot)
    cache.remove_node("b1")
    cache.add_node(make_node("d1", zone="d"))
    cache.update_snapshot(snapshot)
    assert [n.name for n in snapshot.node_info_list] == ["a1", "b2", "c1", "d1", "a2"]
    assert snapshot.get("b1") is None


def test_pods_of_an_unknown_node_stay_out_of_the_snapshot() -> None:
    cache, _ = _cache()
    cache.add_pod(make_pod("p", node_name="ghost"))
    snapshot = Snapshot()
    cache.update_snapshot(snapshot)
    assert snapshot.get("ghost") is None
    cache.add_node(make_node("ghost"))
    cache.update_snapshot(snapshot)
    ghost = snapshot.get("ghost")
    assert ghost is not None
    assert len(ghost.pods) == 1


def test_an_update_that_changes_nothing_scheduling_sees_keeps_the_pod_info() -> None:
    cache, _ = _cache()
    bound = make_pod("p", cpu="1", node_name="a1")
    first = cache.add_pod(bound)
    info = cache.node_info("a1")
    assert info is not None
    generation = info.generation
    running: dict[str, Any] = {**bound, "status": {"phase": "Running"}}
    again = cache.add_pod(running)  # type: ignore[arg-type]
    assert again is first
    assert again.pod is running
    assert info.generation == generation  # nothing to copy into the next snapshot
    moved: dict[str, Any] = {**bound, "spec": {**bound["spec"], "nodeName": "b1"}}
    cache.add_pod(moved)  # type: ignore[arg-type]
    assert info.requested_cpu == 0
