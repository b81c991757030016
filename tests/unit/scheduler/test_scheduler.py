"""Scheduler cycles end to end over a fake API: placement, failure reports, preemption,
requeueing on cluster events, schedulerName, binding failures and the run loop."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from prometheus_client import REGISTRY

from kybernetes.scheduler.config import parse_config
from kybernetes.scheduler.metrics import PendingPods
from kybernetes.scheduler.scheduler import Scheduler

from .builders import ZONE, FakeAPI, make_node, make_pod, new_scheduler, schedule_all

CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def _zones(scheduler: Scheduler, api: FakeAPI) -> Counter[str]:
    zone_of = {n.name: n.labels.get(ZONE, "") for n in scheduler.snapshot.node_info_list}
    return Counter(zone_of[node] for node in api.bindings.values())


async def test_gpu_pods_land_only_on_gpu_nodes() -> None:
    scheduler, api, _ = new_scheduler()
    for i in range(6):
        scheduler.on_node_add(make_node(f"cpu{i}", cpu="8"))
    scheduler.on_node_add(make_node("gpu0", cpu="8", extra={"nvidia.com/gpu": "2"}))
    scheduler.on_node_add(make_node("gpu1", cpu="8", extra={"nvidia.com/gpu": "2"}))
    for i in range(4):
        scheduler.on_pod_add(make_pod(f"train{i}", cpu="1", extra={"nvidia.com/gpu": "1"}))
    scheduler.on_pod_add(make_pod("train4", cpu="1", extra={"nvidia.com/gpu": "1"}))
    await schedule_all(scheduler)
    assert sorted(api.bindings.values()) == ["gpu0", "gpu0", "gpu1", "gpu1"]
    (condition,) = api.conditions.values()
    assert condition["message"] == (
        "0/8 nodes are available: 8 Insufficient nvidia.com/gpu. preemption: 0/8 nodes are "
        "available: 2 No preemption victims found for incoming pod, "
        "6 Preemption is not helpful for scheduling."
    )


async def test_taints_repel_and_the_failure_is_reported() -> None:
    scheduler, api, _ = new_scheduler()
    scheduler.on_node_add(make_node("cp", cpu="8", taints=[CONTROL_PLANE]))
    scheduler.on_node_add(make_node("w1", cpu="2"))
    scheduler.on_node_add(make_node("w2", cpu="2"))
    for i in range(3):
        scheduler.on_pod_add(make_pod(f"p{i}", cpu="1"))
    scheduler.on_pod_add(make_pod("huge", cpu="4"))
    await schedule_all(scheduler)
    assert sorted(api.bindings.values()) == ["w1", "w1", "w2"] or sorted(api.bindings.values()) == [
        "w1",
        "w2",
        "w2",
    ]
    message = (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
        "are available: 3 Preemption is not helpful for scheduling."
    )
    assert api.conditions["default/huge"] == {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
    }
    assert ("default/huge", "FailedScheduling", message) in api.events
    assert (
        "default/p0",
        "Scheduled",
        f"Successfully assigned default/p0 to {api.bindings['default/p0']}",
    ) in api.events


async def test_anti_affinity_spreads_replicas_across_zones() -> None:
    scheduler, api, _ = new_scheduler()
    for i in range(9):
        scheduler.on_node_add(make_node(f"n{i}", zone=f"z{i % 3}"))
    spec: dict[str, Any] = {
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": ZONE}
                ]
            }
        }
    }
    for i in range(4):
        scheduler.on_pod_add(make_pod(f"web{i}", labels={"app": "web"}, spec=spec))
    await schedule_all(scheduler)
    assert len(api.bindings) == 3
    assert _zones(scheduler, api) == {"z0": 1, "z1": 1, "z2": 1}
    assert "didn't match pod anti-affinity rules" in api.conditions["default/web3"]["message"]


async def test_topology_spread_keeps_the_skew() -> None:
    scheduler, api, _ = new_scheduler()
    for i in range(6):
        scheduler.on_node_add(make_node(f"n{i}", zone=f"z{i % 3}"))
    spec = {
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": ZONE,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "db"}},
            }
        ]
    }
    for i in range(10):
        scheduler.on_pod_add(make_pod(f"db{i}", labels={"app": "db"}, spec=spec))
        await schedule_all(scheduler)
    counts = _zones(scheduler, api)
    assert sum(counts.values()) == 10
    assert max(counts.values()) - min(counts.values()) <= 1


async def test_high_priority_pod_preempts_a_lower_one() -> None:
    scheduler, api, clock = new_scheduler()
    scheduler.on_node_add(make_node("only", cpu="2"))
    scheduler.on_pod_add(make_pod("low", cpu="2", priority=1))
    await schedule_all(scheduler)
    assert api.bindings == {"default/low": "only"}
    api.priority_classes["critical"] = {"value": 1000}
    scheduler.on_pod_add(make_pod("vip", cpu="2", spec={"priorityClassName": "critical"}))
    await schedule_all(scheduler)
    assert api.evicted == ["default/low"]
    assert api.nominations == {"default/vip": "only"}
    low = make_pod("low", cpu="2", priority=1, node_name="only")
    scheduler.on_pod_delete(low)
    clock.advance(2)
    scheduler.queue.flush_backoff_completed()
    await schedule_all(scheduler)
    assert api.bindings["default/vip"] == "only"


async def test_unschedulable_pod_schedules_when_a_node_is_added() -> None:
    scheduler, api, clock = new_scheduler()
    scheduler.on_node_add(make_node("small", cpu="1"))
    scheduler.on_pod_add(make_pod("big", cpu="4"))
    await schedule_all(scheduler)
    assert api.bindings == {}
    assert scheduler.queue.where("uid-default-big") == "unschedulable"
    scheduler.on_node_add(make_node("large", cpu="8"))
    clock.advance(1)
    scheduler.queue.flush_backoff_completed()
    await schedule_all(scheduler)
    assert api.bindings == {"default/big": "large"}


async def test_pods_for_other_schedulers_are_ignored() -> None:
    scheduler, api, _ = new_scheduler()
    scheduler.on_node_add(make_node("n"))
    scheduler.on_pod_add(make_pod("mine"))
    scheduler.on_pod_add(make_pod("theirs", spec={"schedulerName": "other"}))
    await schedule_all(scheduler)
    assert api.bindings == {"default/mine": "n"}


async def test_second_profile_schedules_its_pods() -> None:
    config = parse_config({"profiles": [{}, {"schedulerName": "packer"}]})
    scheduler, api, _ = new_scheduler(config)
    scheduler.on_node_add(make_node("n"))
    scheduler.on_pod_add(make_pod("packed", spec={"schedulerName": "packer"}))
    await schedule_all(scheduler)
    assert api.bindings == {"default/packed": "n"}


async def test_binding_failure_forgets_and_requeues() -> None:
    scheduler, api, clock = new_scheduler()
    scheduler.on_node_add(make_node("n", cpu="1"))
    api.fail_bind = True
    scheduler.on_pod_add(make_pod("p", cpu="1"))
    await schedule_all(scheduler)
    node = scheduler.cache.node_info("n")
    assert node is not None
    assert node.requested_cpu == 0
    assert scheduler.queue.where("uid-default-p") == "backoff"
    assert api.conditions["default/p"]["reason"] == "SchedulerError"
    api.fail_bind = False
    clock.advance(1)
    scheduler.queue.flush_backoff_completed()
    await schedule_all(scheduler)
    assert api.bindings == {"default/p": "n"}


async def test_assumed_pods_count_before_the_bind_is_confirmed() -> None:
    scheduler, api, _ = new_scheduler()
    api.scheduler = None  # no informer confirmation: only the assumed pods hold the room
    scheduler.on_node_add(make_node("a", cpu="1"))
    scheduler.on_node_add(make_node("b", cpu="1"))
    scheduler.on_pod_add(make_pod("p1", cpu="1"))
    scheduler.on_pod_add(make_pod("p2", cpu="1"))
    await schedule_all(scheduler)
    assert sorted(api.bindings.values()) == ["a", "b"]


async def test_run_loop_schedules_until_closed() -> None:
    scheduler, api, _ = new_scheduler()
    scheduler.on_node_add(make_node("n"))
    runner = asyncio.ensure_future(scheduler.run())
    scheduler.on_pod_add(make_pod("p"))
    for _ in range(20):
        await asyncio.sleep(0)
        if api.bindings:
            break
    scheduler.close()
    await asyncio.wait_for(runner, 5)
    assert api.bindings == {"default/p": "n"}


async def test_attempts_and_pending_pods_are_metrics() -> None:
    profile = {"profile": "default-scheduler"}

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {**labels, **profile}) or 0.0

    results = ("scheduled", "unschedulable", "error")
    before = {r: value("scheduler_schedule_attempts_total", result=r) for r in results}
    timed = value("scheduler_scheduling_attempt_duration_seconds_count", result="scheduled")

    def attempts() -> dict[str, float]:
        return {
            r: value("scheduler_schedule_attempts_total", result=r) - before[r] for r in results
        }

    scheduler, api, _ = new_scheduler()
    scheduler.on_node_add(make_node("n", cpu="2"))
    scheduler.on_pod_add(make_pod("fits", cpu="1"))
    scheduler.on_pod_add(make_pod("big", cpu="4"))
    await schedule_all(scheduler)
    assert attempts() == {"scheduled": 1, "unschedulable": 1, "error": 0}
    timed_now = value("scheduler_scheduling_attempt_duration_seconds_count", result="scheduled")
    assert timed_now - timed == 1  # observed once the binding is done
    pending = scheduler.queue.pending_counts()
    assert sum(pending.values()) == 1  # big waits (unschedulable, or backing off)
    assert pending["active"] == pending["gated"] == 0
    gauge = PendingPods()  # what a scrape shows (the process's one sums every scheduler)
    gauge.track(scheduler.queue)
    [family] = gauge.collect()
    assert {s.labels["queue"]: s.value for s in family.samples} == pending

    api.fail_bind = True
    scheduler.on_pod_add(make_pod("unbound", cpu="1"))
    await schedule_all(scheduler)
    assert attempts() == {"scheduled": 1, "unschedulable": 1, "error": 1}
