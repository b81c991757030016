"""The scheduling queue: order, backoff timing on a FakeClock, unschedulable pods, gates."""

from __future__ import annotations

import asyncio

from kybernetes.scheduler.framework.events import NODE_ADD, ActionType, ClusterEvent, EventResource
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.plugins.priority_sort import PrioritySort
from kybernetes.scheduler.plugins.scheduling_gates import SchedulingGates
from kybernetes.scheduler.queue import SchedulingQueue
from kybernetes.util.clock import FakeClock

from .builders import make_pod


def _queue(clock: FakeClock) -> SchedulingQueue:
    events = {
        "NodeResourcesFit": [ClusterEvent(EventResource.NODE, ActionType.ADD)],
        "SchedulingGates": SchedulingGates().events_to_register(),
    }

    def gate(pod: PodInfo) -> object:
        status = SchedulingGates().pre_enqueue(pod)
        return status.with_plugin("SchedulingGates") if status is not None else None

    return SchedulingQueue(PrioritySort().less, clock, pre_enqueue=gate, events=events)  # type: ignore[arg-type]


async def test_pops_by_priority_then_arrival() -> None:
    clock = FakeClock()
    queue = _queue(clock)
    queue.add(PodInfo(make_pod("low", priority=1)))
    clock.advance(1)
    queue.add(PodInfo(make_pod("high", priority=10)))
    clock.advance(1)
    queue.add(PodInfo(make_pod("low2", priority=1)))
    names = []
    for _ in range(3):
        qpi = await queue.pop()
        assert qpi is not None
        names.append(qpi.pod_info.name)
    assert names == ["high", "low", "low2"]


async def test_pop_waits_for_a_pod_and_close_ends_it() -> None:
    queue = _queue(FakeClock())
    waiter = asyncio.ensure_future(queue.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    queue.add(PodInfo(make_pod("p")))
    qpi = await waiter
    assert qpi is not None
    assert qpi.pod_info.name == "p"
    queue.close()
    assert await queue.pop() is None


def test_backoff_doubles_up_to_the_maximum() -> None:
    queue = _queue(FakeClock())
    assert [queue.backoff_duration(n) for n in (1, 2, 3, 4, 5, 6)] == [1, 2, 4, 8, 10, 10]


async def test_failed_pod_backs_off_then_returns() -> None:
    clock = FakeClock()
    queue = _queue(clock)
    queue.add(PodInfo(make_pod("p")))
    for attempt, wait in ((1, 1.0), (2, 2.0), (3, 4.0)):
        qpi = await queue.pop()
        assert qpi is not None
        assert qpi.attempts == attempt
        queue.add_unschedulable_if_not_present(qpi, queue.scheduling_cycle)  # no plugins: backoff
        assert queue.where(qpi.uid) == "backoff"
        clock.advance(wait - 0.5)
        queue.flush_backoff_completed()
        assert queue.where(qpi.uid) == "backoff"
        clock.advance(0.5)
        queue.flush_backoff_completed()
        assert queue.where(qpi.uid) == "active"


async def test_unschedulable_pod_moves_on_a_relevant_event_only() -> None:
    clock = FakeClock()
    queue = _queue(clock)
    queue.add(PodInfo(make_pod("p")))
    qpi = await queue.pop()
    assert qpi is not None
    cycle = queue.scheduling_cycle
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    queue.add_unschedulable_if_not_present(qpi, cycle)
    assert queue.where(qpi.uid) == "unschedulable"
    queue.move_all_to_active_or_backoff(
        ClusterEvent(EventResource.PERSISTENT_VOLUME, ActionType.ADD)
    )
    assert queue.where(qpi.uid) == "unschedulable"
    clock.advance(5)
    queue.move_all_to_active_or_backoff(NODE_ADD)
    assert queue.where(qpi.uid) == "active"


async def test_event_during_the_attempt_sends_the_pod_to_backoff() -> None:
    queue = _queue(FakeClock())
    queue.add(PodInfo(make_pod("p")))
    qpi = await queue.pop()
    assert qpi is not None
    cycle = queue.scheduling_cycle
    queue.move_all_to_active_or_backoff(NODE_ADD)
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    queue.add_unschedulable_if_not_present(qpi, cycle)
    assert queue.where(qpi.uid) == "backoff"


async def test_unschedulable_pods_are_flushed_after_five_minutes() -> None:
    clock = FakeClock()
    queue = _queue(clock)
    queue.add(PodInfo(make_pod("p")))
    qpi = await queue.pop()
    assert qpi is not None
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    queue.add_unschedulable_if_not_present(qpi, queue.scheduling_cycle)
    clock.advance(299)
    queue.flush_unschedulable_leftover()
    assert queue.where(qpi.uid) == "unschedulable"
    clock.advance(2)
    queue.flush_unschedulable_leftover()
    assert queue.where(qpi.uid) == "active"


def test_gated_pods_wait_until_their_gates_are_removed() -> None:
    queue = _queue(FakeClock())
    gated = make_pod("g", spec={"schedulingGates": [{"name": "wait"}]})
    queue.add(PodInfo(gated))
    assert queue.where(PodInfo(gated).uid) == "unschedulable"
    queue.update(PodInfo(make_pod("g")))
    assert queue.where(PodInfo(gated).uid) == "active"


def test_delete_removes_the_pod_everywhere() -> None:
    queue = _queue(FakeClock())
    info = PodInfo(make_pod("p"))
    queue.add(info)
    queue.delete(info.uid)
    assert queue.where(info.uid) is None
    assert len(queue) == 0
