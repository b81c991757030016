"""The fake runtime's pieces: pod address pools, node configs, simulated containers over time."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.agent.fake import FakeNodesConfig, NodeGroup
from kybernetes.agent.fakepods import (
    Plan,
    containers_at,
    has_started,
    image_id,
    image_ref,
    plan_of,
    stopped,
)
from kybernetes.agent.ipam import IPPool, subnet_for
from kybernetes.agent.node import build_node, node_status, status_differs
from kybernetes.agent.podstatus import Running, Terminated, pod_status

NOW = 1_700_000_000.0
Obj = dict[str, Any]


def test_subnets_are_handed_out_in_order() -> None:
    assert subnet_for(0, "10.42.0.0/16", 24) == "10.42.0.0/24"
    assert subnet_for(255, "10.42.0.0/16", 24) == "10.42.255.0/24"
    assert subnet_for(300, "100.64.0.0/10", 24) == "100.65.44.0/24"
    with pytest.raises(ValueError, match="holds 256"):
        subnet_for(256, "10.42.0.0/16", 24)


def test_pool_skips_reserved_addresses_and_never_duplicates() -> None:
    pool = IPPool("10.42.3.0/29")  # .2 to .6 assignable
    assert pool.capacity == 5
    assert pool.allocate("a") == "10.42.3.2"
    assert pool.allocate("a") == "10.42.3.2"  # the same owner keeps its address
    assert pool.claim("10.42.3.4", "b")
    assert not pool.claim("10.42.3.4", "c")  # held by b
    assert not pool.claim("10.42.4.4", "c")  # another subnet
    assert not pool.claim("10.42.3.1", "c")  # the gateway
    assert [pool.allocate(k) for k in "cde"] == ["10.42.3.3", "10.42.3.5", "10.42.3.6"]
    assert pool.allocate("f") is None
    pool.release("b")
    assert pool.allocate("f") == "10.42.3.4"
    assert len(pool) == 5


def test_config_groups_zones_and_cidrs() -> None:
    gpu = NodeGroup(
        2,
        "kyb-gpu-node-",
        extended={"nvidia.com/gpu": "8"},
        labels={"gpu": "true"},
        taints=({"key": "gpu", "value": "true", "effect": "NoSchedule"},),
        zones=("z1",),
        instance_type="g8",
    )
    configs = FakeNodesConfig(3, groups=[gpu]).node_configs()
    assert [c.name for c in configs] == [
        "kyb-fake-node-0",
        "kyb-fake-node-1",
        "kyb-fake-node-2",
        "kyb-gpu-node-0",
        "kyb-gpu-node-1",
    ]
    assert [c.zone for c in configs] == ["zone-a", "zone-b", "zone-c", "z1", "z1"]
    assert [c.pod_cidrs[0] for c in configs] == [f"10.42.{i}.0/24" for i in range(5)]
    assert len({c.internal_ip for c in configs}) == 5
    assert configs[3].capacity["nvidia.com/gpu"] == "8"
    node = build_node(configs[3], NOW)
    assert node["metadata"]["labels"]["gpu"] == "true"
    assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "g8"
    assert node["spec"]["taints"] == [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]
    with pytest.raises(ValueError, match="same name"):
        FakeNodesConfig(1, groups=[NodeGroup(1)]).node_configs()


def test_many_nodes_move_to_the_large_pod_range() -> None:
    configs = FakeNodesConfig(300).node_configs()
    assert configs[0].pod_cidrs == ("100.64.0.0/24",)
    assert configs[299].pod_cidrs == ("100.65.43.0/24",)
    assert FakeNodesConfig(2, cidr_offset=1).node_configs()[0].pod_cidrs == ("10.42.1.0/24",)


def test_node_status_ignores_heartbeats_when_comparing() -> None:
    config = FakeNodesConfig(1).node_configs()[0]
    first = node_status(config, None, NOW)
    later = node_status(config, first, NOW + 60)
    assert (
        later["conditions"][0]["lastHeartbeatTime"] != first["conditions"][0]["lastHeartbeatTime"]
    )
    assert (
        later["conditions"][0]["lastTransitionTime"] == first["conditions"][0]["lastTransitionTime"]
    )
    assert not status_differs(later, first)
    unknown = {**first, "conditions": [dict(c) for c in first["conditions"]]}
    unknown["conditions"][3]["status"] = "Unknown"
    assert status_differs(later, unknown)
    assert not status_differs(later, {**first, "images": [{"names": ["x"]}]})


@pytest.mark.parametrize(
    ("image", "ref"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("me/app", "docker.io/me/app:latest"),
        ("registry.local:5000/app", "registry.local:5000/app:latest"),
        ("localhost/app:v1", "localhost/app:v1"),
        ("quay.io/x/y@sha256:ab", "quay.io/x/y@sha256:ab"),
    ],
)
def test_image_references_are_normalised(image: str, ref: str) -> None:
    assert image_ref(image) == ref
    assert image_id(image).startswith(ref.rpartition("@")[0] or ref.rpartition(":")[0])
    assert "@sha256:" in image_id(image)


def test_plan_from_annotations() -> None:
    def pod(annotations: dict[str, str]) -> Obj:
        return {"metadata": {"name": "p", "annotations": annotations}}

    assert plan_of(pod({})) == Plan()
    assert plan_of(pod({"kybernetes.io/fake-run-seconds": "5"})) == Plan(5.0, 0)
    plan = plan_of(
        pod({"kybernetes.io/fake-run-seconds": "5", "kybernetes.io/fake-exit-code": "3"})
    )
    assert plan == Plan(5.0, 3)
    assert plan_of(pod({"kybernetes.io/fake-run-seconds": "soon"})) == Plan()


def started_pod(restart_policy: str, *, sidecar: bool = False) -> Obj:
    """A pod as the fake runtime started it at NOW."""
    spec: Obj = {
        "restartPolicy": restart_policy,
        "containers": [{"name": "c", "image": "busybox"}],
        "initContainers": [{"name": "i", "image": "busybox"}],
    }
    if sidecar:
        spec["initContainers"].append({"name": "s", "image": "busybox", "restartPolicy": "Always"})
    pod: Obj = {"metadata": {"name": "p", "uid": "u1"}, "spec": spec}
    assert not has_started(pod)
    init, app, _ = containers_at(pod, NOW, Plan())
    pod["status"] = pod_status(
        pod, containers=app, init_containers=init, sandbox_ready=True, now=NOW
    )
    assert has_started(pod)
    return pod


@pytest.mark.parametrize(
    ("restart_policy", "exit_code", "phase", "restarts"),
    [
        ("Never", 0, "Succeeded", 0),
        ("Never", 3, "Failed", 0),
        ("OnFailure", 0, "Succeeded", 0),
        ("OnFailure", 3, "Running", 1),
        ("Always", 0, "Running", 1),
    ],
)
def test_finite_containers_end_or_restart_by_policy(
    restart_policy: str, exit_code: int, phase: str, restarts: int
) -> None:
    pod = started_pod(restart_policy)
    plan = Plan(10.0, exit_code)
    init, app, wake = containers_at(pod, NOW + 5, plan)
    assert wake == NOW + 10
    assert isinstance(app["c"].state, Running)
    init, app, wake = containers_at(pod, NOW + 10, plan)
    status = pod_status(pod, containers=app, init_containers=init, sandbox_ready=True, now=NOW + 10)
    assert status["phase"] == phase
    assert app["c"].restart_count == restarts
    if restarts:
        assert app["c"].state == Running(NOW + 10)
        assert isinstance(app["c"].last_state, Terminated)
        assert app["c"].last_state.exit_code == exit_code
        assert wake == NOW + 20
        assert app["c"].container_id != pod["status"]["containerStatuses"][0]["containerID"]
    else:
        assert isinstance(app["c"].state, Terminated)
        assert wake is None
    assert init["i"].state == Terminated(
        0, "Completed", NOW, NOW, container_id=init["i"].container_id
    )


def test_deleted_pod_containers_stop_on_sigterm() -> None:
    pod = started_pod("Always", sidecar=True)
    init, app = stopped(pod, NOW + 30)
    assert app["c"].state == Terminated(
        143, "Error", NOW, NOW + 30, container_id=app["c"].container_id
    )
    assert isinstance(init["s"].state, Terminated)
    assert init["i"].state.exit_code == 0  # type: ignore[union-attr]
    status = pod_status(
        pod, containers=app, init_containers=init, sandbox_ready=False, now=NOW + 30, terminal=True
    )
    assert status["phase"] == "Failed"
