"""Pod status as the kubelet computes it: phases, conditions, QoS classes, the merged status."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.agent.podstatus import (
    ContainerInfo,
    Running,
    Terminated,
    Waiting,
    container_status,
    containers_ready_condition,
    initialized_condition,
    pod_phase,
    pod_status,
    ready_condition,
    rfc3339,
)
from kybernetes.agent.qos import qos_class

NOW = 1_700_000_000.0
Obj = dict[str, Any]


def running(name: str, *, started: bool = True, ready: bool = True, init: bool = False) -> Obj:
    info = ContainerInfo(name, Running(NOW), ready=ready, started=started)
    return container_status({"name": name}, info, "", init=init)


def exited(name: str, code: int, *, init: bool = False) -> Obj:
    state = Terminated(code, "Completed" if code == 0 else "Error", NOW, NOW + 1)
    return container_status({"name": name}, ContainerInfo(name, state), "", init=init)


def waiting(name: str, reason: str = "ContainerCreating") -> Obj:
    return container_status({"name": name}, None, reason)


def crashed(name: str, code: int = 1) -> Obj:
    """Waiting to restart after an exit (CrashLoopBackOff)."""
    last = Terminated(code, "Error", NOW, NOW + 1)
    info = ContainerInfo(name, Waiting("CrashLoopBackOff"), last_state=last, restart_count=1)
    return container_status({"name": name}, info, "")


def spec(
    *containers: str,
    init: tuple[str, ...] = (),
    sidecars: tuple[str, ...] = (),
    rp: str = "Always",
) -> Obj:
    """A pod spec with these containers (``rp``: its restartPolicy)."""
    init_containers = [{"name": n, "image": "i"} for n in init]
    init_containers += [{"name": n, "image": "i", "restartPolicy": "Always"} for n in sidecars]
    out: Obj = {
        "restartPolicy": rp,
        "containers": [{"name": n, "image": "i"} for n in containers],
    }
    if init_containers:
        out["initContainers"] = init_containers
    return out


PHASES = [
    ("all running", spec("a", "b"), [running("a"), running("b")], False, "Running"),
    ("one still creating", spec("a", "b"), [running("a"), waiting("b")], False, "Pending"),
    ("nothing known", spec("a"), [], False, "Pending"),
    ("never: all succeeded", spec("a", rp="Never"), [exited("a", 0)], False, "Succeeded"),
    (
        "never: one failed",
        spec("a", "b", rp="Never"),
        [exited("a", 0), exited("b", 2)],
        False,
        "Failed",
    ),
    ("onfailure: failed restarts", spec("a", rp="OnFailure"), [exited("a", 1)], False, "Running"),
    ("onfailure: succeeded", spec("a", rp="OnFailure"), [exited("a", 0)], False, "Succeeded"),
    ("always: exited restarts", spec("a"), [exited("a", 0)], False, "Running"),
    ("always: deleted, exited 0", spec("a"), [exited("a", 0)], True, "Succeeded"),
    ("always: deleted, killed", spec("a"), [exited("a", 143)], True, "Failed"),
    ("crash loop counts as stopped", spec("a"), [crashed("a")], False, "Running"),
    ("crash loop, never", spec("a", rp="Never"), [crashed("a")], False, "Failed"),
    (
        "init running",
        spec("a", init=("i",)),
        [running("i", init=True), waiting("a", "PodInitializing")],
        False,
        "Pending",
    ),
    (
        "init failed, never",
        spec("a", init=("i",), rp="Never"),
        [exited("i", 1, init=True)],
        False,
        "Failed",
    ),
    (
        "init crash looping",
        spec("a", init=("i",)),
        [crashed("i"), waiting("a", "PodInitializing")],
        False,
        "Pending",
    ),
    (
        "init done, app running",
        spec("a", init=("i",)),
        [exited("i", 0, init=True), running("a")],
        False,
        "Running",
    ),
    ("sidecar started", spec("a", sidecars=("s",)), [running("s"), running("a")], False, "Running"),
    (
        "sidecar not started",
        spec("a", sidecars=("s",)),
        [running("s", started=False), waiting("a", "PodInitializing")],
        False,
        "Pending",
    ),
    (
        "sidecar restarting after app started",
        spec("a", sidecars=("s",)),
        [waiting("s"), running("a")],
        False,
        "Pending",
    ),
    (
        "job done, sidecar stopped",
        spec("a", sidecars=("s",), rp="Never"),
        [exited("s", 143, init=True), exited("a", 0)],
        False,
        "Succeeded",
    ),
]


@pytest.mark.parametrize(
    ("pod_spec", "statuses", "terminal", "phase"),
    [case[1:] for case in PHASES],
    ids=[case[0] for case in PHASES],
)
def test_phase(pod_spec: Obj, statuses: list[Obj], terminal: bool, phase: str) -> None:
    assert pod_phase(pod_spec, statuses, terminal) == phase


CONDITIONS = [
    (
        "all ready",
        spec("a", "b"),
        [running("a"), running("b")],
        "Running",
        {"status": "True"},
        {"status": "True"},
    ),
    (
        "one unready",
        spec("a", "b"),
        [running("a"), running("b", ready=False)],
        "Running",
        {
            "status": "False",
            "reason": "ContainersNotReady",
            "message": "containers with unready status: [b]",
        },
        {"status": "True"},
    ),
    (
        "unknown and unready",
        spec("a", "b", "c"),
        [running("a", ready=False)],
        "Pending",
        {
            "status": "False",
            "reason": "ContainersNotReady",
            "message": "containers with unknown status: [b c], containers with unready status: [a]",
        },
        {"status": "True"},
    ),
    (
        "succeeded",
        spec("a", rp="Never"),
        [exited("a", 0)],
        "Succeeded",
        {"status": "False", "reason": "PodCompleted"},
        {"status": "True"},
    ),
    (
        "failed",
        spec("a", rp="Never"),
        [exited("a", 1)],
        "Failed",
        {"status": "False", "reason": "PodFailed"},
        {"status": "True"},
    ),
    (
        "init incomplete",
        spec("a", init=("i", "j")),
        [running("i", init=True)],
        "Pending",
        {
            "status": "False",
            "reason": "ContainersNotReady",
            "message": "containers with unknown status: [a]",
        },
        {
            "status": "False",
            "reason": "ContainersNotInitialized",
            "message": "containers with unknown status: [j], "
            "containers with incomplete status: [i]",
        },
    ),
    (
        "init done",
        spec("a", init=("i",)),
        [exited("i", 0, init=True), running("a")],
        "Running",
        {"status": "True"},
        {"status": "True"},
    ),
    (
        "sidecar unready",
        spec("a", sidecars=("s",)),
        [running("s", ready=False), running("a")],
        "Running",
        {
            "status": "False",
            "reason": "ContainersNotReady",
            "message": "containers with unready status: [s]",
        },
        {"status": "True"},
    ),
]


@pytest.mark.parametrize(
    ("pod_spec", "statuses", "phase", "containers_ready", "initialized"),
    [case[1:] for case in CONDITIONS],
    ids=[case[0] for case in CONDITIONS],
)
def test_conditions(
    pod_spec: Obj, statuses: list[Obj], phase: str, containers_ready: Obj, initialized: Obj
) -> None:
    assert containers_ready_condition(pod_spec, statuses, phase) == {
        "type": "ContainersReady",
        **containers_ready,
    }
    assert ready_condition(pod_spec, [], statuses, phase) == {"type": "Ready", **containers_ready}
    assert initialized_condition(pod_spec, statuses, phase) == {
        "type": "Initialized",
        **initialized,
    }


def test_readiness_gates_hold_ready_back() -> None:
    gated = {**spec("a"), "readinessGates": [{"conditionType": "x/lb"}, {"conditionType": "y"}]}
    statuses = [running("a")]
    conditions = [{"type": "y", "status": "False"}]
    assert ready_condition(gated, conditions, statuses, "Running") == {
        "type": "Ready",
        "status": "False",
        "reason": "ReadinessGatesNotReady",
        "message": 'corresponding condition of pod readiness gate "x/lb" does not exist., '
        'the status of pod readiness gate "y" is not "True", but False',
    }
    conditions = [{"type": "x/lb", "status": "True"}, {"type": "y", "status": "True"}]
    assert ready_condition(gated, conditions, statuses, "Running")["status"] == "True"


def resources(requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    out: Obj = {}
    if requests is not None:
        out["requests"] = requests
    if limits is not None:
        out["limits"] = limits
    return out


QOS = [
    ("nothing", [{}], [], "BestEffort"),
    (
        "only extended resources",
        [resources({"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": "1"})],
        [],
        "BestEffort",
    ),
    ("only ephemeral storage", [resources({"ephemeral-storage": "1Gi"})], [], "BestEffort"),
    ("requests only", [resources({"cpu": "100m"})], [], "Burstable"),
    (
        "limits equal requests",
        [resources({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})],
        [],
        "Guaranteed",
    ),
    (
        "limits only (requests default to them)",
        [resources(limits={"cpu": "500m", "memory": "64Mi"})],
        [],
        "Guaranteed",
    ),
    (
        "equal in other units",
        [resources({"cpu": "1000m", "memory": "1024Mi"}, {"cpu": "1", "memory": "1Gi"})],
        [],
        "Guaranteed",
    ),
    ("cpu limit only", [resources(limits={"cpu": "1"})], [], "Burstable"),
    (
        "requests below limits",
        [resources({"cpu": "1", "memory": "1Gi"}, {"cpu": "2", "memory": "1Gi"})],
        [],
        "Burstable",
    ),
    (
        "one container without limits",
        [resources(limits={"cpu": "1", "memory": "1Gi"}), {}],
        [],
        "Burstable",
    ),
    (
        "zero request with a limit",
        [resources({"cpu": "0", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})],
        [],
        "Burstable",
    ),
    (
        "init container counts",
        [resources(limits={"cpu": "1", "memory": "1Gi"})],
        [resources({"cpu": "1"})],
        "Burstable",
    ),
    (
        "guaranteed with init",
        [resources(limits={"cpu": "1", "memory": "1Gi"})],
        [resources(limits={"cpu": "2", "memory": "2Gi"})],
        "Guaranteed",
    ),
]


@pytest.mark.parametrize(
    ("containers", "init", "qos"), [case[1:] for case in QOS], ids=[case[0] for case in QOS]
)
def test_qos_class(containers: list[Obj], init: list[Obj], qos: str) -> None:
    pod_spec: Obj = {
        "containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(containers)],
        "initContainers": [{"name": f"i{i}", "resources": r} for i, r in enumerate(init)],
    }
    assert qos_class({"spec": pod_spec}) == qos


def test_unknown_containers_wait_with_the_kubelet_reasons() -> None:
    pod = {"spec": spec("b", "a", init=("i",))}
    status = pod_status(pod, containers={}, sandbox_ready=False, host_ips=("10.0.0.1",), now=NOW)
    assert status["phase"] == "Pending"
    assert [s["name"] for s in status["containerStatuses"]] == ["a", "b"]  # sorted by name
    for entry in [*status["initContainerStatuses"], *status["containerStatuses"]]:
        assert entry["state"] == {"waiting": {"reason": "PodInitializing"}}
        assert entry["ready"] is False
        assert entry["started"] is False
        assert entry["lastState"] == {}
    assert "podIP" not in status
    assert status["hostIPs"] == [{"ip": "10.0.0.1"}]
    plain = pod_status({"spec": spec("a")}, containers={}, sandbox_ready=False, now=NOW)
    assert plain["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}


def test_running_pod_status_has_every_kubelet_field() -> None:
    pod = {
        "spec": {
            **spec("a"),
            "containers": [
                {
                    "name": "a",
                    "image": "busybox",
                    "volumeMounts": [
                        {"name": "data", "mountPath": "/data"},
                        {"name": "token", "mountPath": "/var/run/secrets", "readOnly": True},
                    ],
                }
            ],
        },
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastTransitionTime": "2020-01-01T00:00:00Z",
                },
                {"type": "DisruptionTarget", "status": "False"},
            ],
        },
    }
    info = ContainerInfo(
        "a",
        Running(NOW),
        ready=True,
        started=True,
        image="docker.io/library/busybox:latest",
        image_id="docker.io/library/busybox@sha256:00",
        container_id="fake://1",
    )
    status = pod_status(
        pod,
        containers={"a": info},
        sandbox_ready=True,
        pod_ips=("10.42.0.2",),
        host_ips=("10.41.0.1",),
        now=NOW,
    )
    assert status["phase"] == "Running"
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("DisruptionTarget", "False"),
        ("PodReadyToStartContainers", "True"),
        ("Initialized", "True"),
        ("Ready", "True"),
        ("ContainersReady", "True"),
        ("PodScheduled", "True"),
    ]
    scheduled = status["conditions"][-1]
    assert scheduled["lastTransitionTime"] == "2020-01-01T00:00:00Z"  # unchanged status: kept
    assert status["conditions"][3]["lastTransitionTime"] == rfc3339(NOW)
    assert status["conditions"][3]["lastProbeTime"] is None
    assert status["podIP"] == "10.42.0.2"
    assert status["podIPs"] == [{"ip": "10.42.0.2"}]
    assert status["hostIP"] == "10.41.0.1"
    assert status["startTime"] == rfc3339(NOW)
    assert status["qosClass"] == "BestEffort"
    assert status["containerStatuses"] == [
        {
            "name": "a",
            "state": {"running": {"startedAt": rfc3339(NOW)}},
            "lastState": {},
            "ready": True,
            "restartCount": 0,
            "image": "docker.io/library/busybox:latest",
            "imageID": "docker.io/library/busybox@sha256:00",
            "containerID": "fake://1",
            "started": True,
            "volumeMounts": [
                {"name": "data", "mountPath": "/data"},
                {
                    "name": "token",
                    "mountPath": "/var/run/secrets",
                    "readOnly": True,
                    "recursiveReadOnly": "Disabled",
                },
            ],
        }
    ]


def test_terminal_phase_sticks_and_addresses_stay() -> None:
    pod = {
        "spec": spec("a", rp="Never"),
        "status": {
            "phase": "Succeeded",
            "podIP": "10.42.0.9",
            "podIPs": [{"ip": "10.42.0.9"}],
            "startTime": "2020-01-01T00:00:00Z",
        },
    }
    status = pod_status(pod, containers={}, sandbox_ready=False, now=NOW)
    assert status["phase"] == "Succeeded"
    assert status["podIPs"] == [{"ip": "10.42.0.9"}]
    assert status["startTime"] == "2020-01-01T00:00:00Z"


def test_host_network_pods_take_the_host_addresses() -> None:
    pod = {"spec": {**spec("a"), "hostNetwork": True}}
    status = pod_status(pod, containers={}, sandbox_ready=True, host_ips=("10.41.0.7",), now=NOW)
    assert status["podIP"] == "10.41.0.7"
    assert status["podIPs"] == [{"ip": "10.41.0.7"}]


def test_transition_time_moves_only_when_status_changes() -> None:
    pod: Obj = {"spec": spec("a")}
    first = pod_status(pod, containers={}, sandbox_ready=False, now=NOW)
    pod["status"] = first
    info = ContainerInfo("a", Running(NOW + 5), ready=True, started=True)
    later = pod_status(pod, containers={"a": info}, sandbox_ready=True, now=NOW + 5)
    times = {c["type"]: c["lastTransitionTime"] for c in later["conditions"]}
    assert times["Initialized"] == rfc3339(NOW)  # True both times
    assert times["Ready"] == rfc3339(NOW + 5)
    assert times["PodReadyToStartContainers"] == rfc3339(NOW + 5)
    assert later["startTime"] == rfc3339(NOW)
