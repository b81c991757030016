"""Requests and limits -> runtime resources; cgroup parents by QoS; resourceFieldRef values."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.agent.kubelet.resources import (
    ResourceError,
    cgroup_parent,
    resource_value,
    runtime_resources,
)
from kybernetes.agent.runtime.interface import Resources


def c(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> Any:
    return {"name": "c", "resources": {"requests": requests or {}, "limits": limits or {}}}


def test_best_effort_gets_minimum_shares() -> None:
    assert runtime_resources({"name": "c"}) == Resources(2, 0, 100_000, 0, 0)


def test_requests_and_limits() -> None:
    r = runtime_resources(c({"cpu": "250m"}, {"cpu": "500m", "memory": "128Mi"}), pids_limit=64)
    assert r.cpu_shares == 256
    assert r.cpu_quota == 50_000
    assert r.memory_limit == 128 * 1024 * 1024
    assert r.pids_limit == 64


def test_limit_only_sets_shares_and_tiny_quota_floor() -> None:
    r = runtime_resources(c(limits={"cpu": "1m"}))
    assert r.cpu_shares == 2
    assert r.cpu_quota == 1000
    assert runtime_resources(c(limits={"cpu": "2"})).cpu_shares == 2048


@pytest.mark.parametrize(
    ("container", "parent"),
    [
        ({"name": "c"}, "/kyb/kubepods/besteffort/podU"),
        (c({"cpu": "1"}), "/kyb/kubepods/burstable/podU"),
        (c(limits={"cpu": "1", "memory": "1Gi"}), "/kyb/kubepods/podU"),
    ],
)
def test_cgroup_parent(container: Any, parent: str) -> None:
    pod = {"metadata": {"uid": "U"}, "spec": {"containers": [container]}}
    assert cgroup_parent(pod, "kyb") == parent


def test_resource_values() -> None:
    pod = {"spec": {"containers": [c({"memory": "100M"}, {"cpu": "1500m"})]}}
    alloc = {"cpu": "8", "memory": "16Gi"}
    assert resource_value(pod, {"resource": "limits.cpu"}, "c", alloc) == "2"
    assert resource_value(pod, {"resource": "limits.cpu", "divisor": "1m"}, "c", alloc) == "1500"
    assert (
        resource_value(pod, {"resource": "requests.memory", "divisor": "1Mi"}, "c", alloc) == "96"
    )
    assert resource_value(pod, {"resource": "limits.memory", "divisor": "1Gi"}, "c", alloc) == "16"
    with pytest.raises(ResourceError):
        resource_value(pod, {"resource": "limits.cpu", "containerName": "x"}, "c", alloc)
