"""Probe state machines: thresholds, initial results, hold after a liveness failure."""

from __future__ import annotations

from kybernetes.agent.kubelet.probes import Kind, ProbeSpec, ProbeState


def test_defaults_from_the_spec() -> None:
    spec = ProbeSpec.of({"exec": {"command": ["true"]}})
    assert spec == ProbeSpec(0.0, 10.0, 1.0, 1, 3)
    spec = ProbeSpec.of(
        {
            "initialDelaySeconds": 5,
            "periodSeconds": 2,
            "timeoutSeconds": 3,
            "successThreshold": 2,
            "failureThreshold": 1,
        }
    )
    assert spec == ProbeSpec(5.0, 2.0, 3.0, 2, 1)


def test_initial_results() -> None:
    assert ProbeState(Kind.LIVENESS, ProbeSpec()).result is True
    assert ProbeState(Kind.READINESS, ProbeSpec()).result is False
    assert ProbeState(Kind.STARTUP, ProbeSpec()).result is False


def result(state: ProbeState) -> bool:
    return state.result


def test_readiness_needs_success_threshold_and_failure_threshold() -> None:
    state = ProbeState(Kind.READINESS, ProbeSpec(success_threshold=2, failure_threshold=2))
    assert not state.observe(True)
    assert state.observe(True)
    assert state.result
    assert not state.observe(False)
    assert state.result  # one failure is not enough
    assert not state.observe(True)
    assert not state.observe(False)
    assert state.observe(False)
    assert not result(state)
    assert not state.on_hold  # readiness never asks for a restart


def test_liveness_failure_holds_until_replaced() -> None:
    state = ProbeState(Kind.LIVENESS, ProbeSpec(failure_threshold=3))
    assert not state.observe(False)
    assert not state.observe(False)
    assert state.observe(False)
    assert state.result is False
    assert state.on_hold
    assert state.run == 0


def test_startup_failure_asks_for_restart() -> None:
    state = ProbeState(Kind.STARTUP, ProbeSpec(failure_threshold=1))
    assert state.observe(False)  # result stays False but the container is to be restarted
    assert state.on_hold
    fresh = ProbeState(Kind.STARTUP, ProbeSpec())
    assert fresh.observe(True)
    assert fresh.result
