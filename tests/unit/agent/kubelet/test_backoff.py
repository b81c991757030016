"""Back-off schedule (10 s doubling to 5 min), restart decisions, Go duration strings."""

from __future__ import annotations

import pytest

from kybernetes.agent.kubelet.backoff import Backoff, go_duration
from kybernetes.agent.kubelet.sync import should_restart
from kybernetes.util.clock import FakeClock


def test_schedule_doubles_to_five_minutes() -> None:
    clock = FakeClock()
    backoff = Backoff(clock)
    delays = []
    for _ in range(8):
        delays.append(backoff.next("c", clock.now()))
        clock.advance(1)
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]


def test_first_failure_restarts_at_once_then_waits() -> None:
    clock = FakeClock()
    backoff = Backoff(clock)
    assert not backoff.in_backoff_since("c", clock.now())
    backoff.next("c", clock.now())
    finished = clock.now() + 1
    clock.advance(1)
    assert backoff.in_backoff_since("c", finished)
    assert backoff.remaining("c", finished) == 10
    clock.advance(10)
    assert not backoff.in_backoff_since("c", finished)


def test_resets_after_twice_the_maximum_without_failure() -> None:
    clock = FakeClock()
    backoff = Backoff(clock)
    backoff.next("c", clock.now())
    backoff.next("c", clock.now())
    clock.advance(601)
    assert backoff.next("c", clock.now()) == 10
    clock.advance(601)
    backoff.gc()
    assert backoff.get("c") == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (10, "10s"),
        (80, "1m20s"),
        (300, "5m0s"),
        (1.234, "1.234s"),
        (0.25, "250ms"),
        (0, "0s"),
        (3725, "1h2m5s"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


@pytest.mark.parametrize(
    ("policy", "code", "restart"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 2, True),
        ("Never", 0, False),
        ("Never", 1, False),
    ],
)
def test_restart_policy(policy: str, code: int, restart: bool) -> None:
    assert should_restart(policy, code) is restart
