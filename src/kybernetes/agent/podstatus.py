"""A pod's status as the kubelet reports it, computed from what the runtime says about containers.

Pure functions, no I/O: a runtime (runc or fake) describes each container it knows as a
``ContainerInfo`` and ``pod_status`` turns that, the pod's spec and its previous status into the
``status`` the agent writes, following the kubelet 1.32 (``generateAPIPodStatus``,
``convertToAPIContainerStatuses``, ``getPhase`` and the ``status`` package's condition
generators):

- a container the runtime does not know yet is ``waiting`` with reason ``ContainerCreating``
  (``PodInitializing`` when the pod has init containers);
- the phase follows ``getPhase`` for restartPolicy Always, OnFailure and Never, sidecars
  (init containers with ``restartPolicy: Always``) included;
- the kubelet-owned conditions are PodReadyToStartContainers, Initialized, Ready,
  ContainersReady and PodScheduled (in that order, after any condition others own, such as
  readiness gates), with upstream's reasons and messages;
- containerStatuses are sorted by name, initContainerStatuses follow the spec's order.

Invariants: a pod never leaves a terminal phase (Succeeded, Failed); a condition keeps its
``lastTransitionTime`` while its status stays the same; podIPs and startTime, once set, stay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from kybernetes.agent.qos import qos_class

Obj = dict[str, Any]

PENDING: Final = "Pending"
RUNNING: Final = "Running"
SUCCEEDED: Final = "Succeeded"
FAILED: Final = "Failed"
TERMINAL_PHASES: Final = frozenset({SUCCEEDED, FAILED})

CONTAINER_CREATING: Final = "ContainerCreating"
POD_INITIALIZING: Final = "PodInitializing"

#: The condition types the kubelet owns; every other condition in a pod's status is kept as is.
KUBELET_CONDITIONS: Final = (
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
)


@dataclass(frozen=True, slots=True)
class Waiting:
    reason: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class Running:
    started_at: float


@dataclass(frozen=True, slots=True)
class Terminated:
    exit_code: int
    reason: str
    started_at: float
    finished_at: float
    message: str = ""
    container_id: str = ""


State = Waiting | Running | Terminated


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """What the runtime knows about one container (``ready``: its readiness probe passes)."""

    name: str
    state: State
    last_state: Terminated | None = None
    ready: bool = False
    started: bool = False
    restart_count: int = 0
    image: str = ""
    image_id: str = ""
    container_id: str = ""


def rfc3339(timestamp: float) -> str:
    """Seconds since the epoch as a ``metav1.Time`` string."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- container statuses ------------------------------------------------------------------------


def _state(state: State) -> Obj:
    if isinstance(state, Running):
        return {"running": {"startedAt": rfc3339(state.started_at)}}
    if isinstance(state, Terminated):
        out: Obj = {"exitCode": state.exit_code, "reason": state.reason}
        if state.message:
            out["message"] = state.message
        out["startedAt"] = rfc3339(state.started_at)
        out["finishedAt"] = rfc3339(state.finished_at)
        if state.container_id:
            out["containerID"] = state.container_id
        return {"terminated": out}
    waiting: Obj = {"reason": state.reason} if state.reason else {}
    if state.message:
        waiting["message"] = state.message
    return {"waiting": waiting}


def _volume_mounts(container: Mapping[str, Any]) -> list[Obj]:
    mounts = []
    for mount in container.get("volumeMounts") or ():
        status: Obj = {"name": mount.get("name", ""), "mountPath": mount.get("mountPath", "")}
        if mount.get("readOnly"):
            status["readOnly"] = True
            enabled = mount.get("recursiveReadOnly") == "Enabled"
            status["recursiveReadOnly"] = "Enabled" if enabled else "Disabled"
        mounts.append(status)
    return mounts


def is_sidecar(container: Mapping[str, Any]) -> bool:
    """An init container that keeps running beside the app (``restartPolicy: Always``)."""
    return container.get("restartPolicy") == "Always"


def container_status(
    container: Mapping[str, Any],
    info: ContainerInfo | None,
    default_reason: str,
    *,
    init: bool = False,
) -> Obj:
    """The ``ContainerStatus`` of one spec container (waiting on ``default_reason`` if unknown).

    ``started`` is true only while running and started; ``ready`` is the probe result while
    running and started, and for a regular init container whether it completed successfully.
    """
    if info is None:
        info = ContainerInfo(container.get("name", ""), Waiting(default_reason))
    running = isinstance(info.state, Running)
    started = running and info.started
    if init and not is_sidecar(container):
        state = info.state
        ready = isinstance(state, Terminated) and state.exit_code == 0
    else:
        ready = started and info.ready
    status: Obj = {
        "name": info.name,
        "state": _state(info.state),
        "lastState": _state(info.last_state) if info.last_state is not None else {},
        "ready": ready,
        "restartCount": info.restart_count,
        "image": info.image or container.get("image", ""),
        "imageID": info.image_id,
    }
    if info.container_id:
        status["containerID"] = info.container_id
    status["started"] = started
    mounts = _volume_mounts(container)
    if mounts:
        status["volumeMounts"] = mounts
    return status


def _status_of(statuses: Sequence[Obj], name: str) -> Obj | None:
    for status in statuses:
        if status.get("name") == name:
            return status
    return None


def _has_regular_container_started(spec: Mapping[str, Any], statuses: Sequence[Obj]) -> bool:
    names = {c.get("name") for c in spec.get("containers") or ()}
    return any(
        s.get("name") in names and ("running" in s["state"] or "terminated" in s["state"])
        for s in statuses
    )


# --- phase -------------------------------------------------------------------------------------


def pod_phase(spec: Mapping[str, Any], statuses: Sequence[Obj], terminal: bool = False) -> str:
    """The phase ``getPhase`` derives from the init and app container statuses.

    ``terminal`` says the agent has finished with the pod (it was deleted and its containers
    stopped): then stopped containers mean Succeeded or Failed whatever the restart policy.
    """
    restart_policy = spec.get("restartPolicy") or "Always"
    pending_init = failed_init = 0
    unknown = running = waiting = stopped = succeeded = 0
    for container in spec.get("initContainers") or ():
        status = _status_of(statuses, container.get("name", ""))
        sidecar = is_sidecar(container)
        if status is None:
            if sidecar:
                unknown += 1
            else:
                pending_init += 1
            continue
        state, last = status["state"], status.get("lastState") or {}
        if "running" in state:
            if not sidecar or not status.get("started"):
                pending_init += 1
            running += sidecar
        elif "terminated" in state:
            if not sidecar and state["terminated"].get("exitCode", 0) != 0:
                failed_init += 1
        elif "waiting" in state:
            if "terminated" in last:
                if not sidecar and last["terminated"].get("exitCode", 0) != 0:
                    failed_init += 1
            else:
                pending_init += 1
                waiting += sidecar
        else:
            pending_init += 1
            unknown += sidecar
    for container in spec.get("containers") or ():
        status = _status_of(statuses, container.get("name", ""))
        if status is None:
            unknown += 1
            continue
        state, last = status["state"], status.get("lastState") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode", 0) == 0
        elif "waiting" in state:
            if "terminated" in last:
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    if failed_init and restart_policy == "Never":
        return FAILED
    if (pending_init and not _has_regular_container_started(spec, statuses)) or waiting:
        return PENDING
    if running and not unknown:
        return RUNNING
    if not running and stopped and not unknown:
        if terminal:
            return SUCCEEDED if stopped == succeeded else FAILED
        if restart_policy == "Always":
            return RUNNING
        if stopped == succeeded:
            return SUCCEEDED
        return FAILED if restart_policy == "Never" else RUNNING
    return PENDING


# --- conditions --------------------------------------------------------------------------------


def _go_list(names: Sequence[str]) -> str:
    """A list of names as Go's ``%s`` prints a ``[]string``: ``[a b]``."""
    return "[" + " ".join(names) + "]"


def _condition(type_: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    out: Obj = {"type": type_, "status": "True" if ok else "False"}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def initialized_condition(spec: Mapping[str, Any], statuses: Sequence[Obj], phase: str) -> Obj:
    """``Initialized``: every init container completed (sidecars: started)."""
    init_containers = spec.get("initContainers") or ()
    if not init_containers:
        return _condition("Initialized", True)
    unknown, incomplete = [], []
    for container in init_containers:
        name = container.get("name", "")
        status = _status_of(statuses, name)
        if status is None:
            unknown.append(name)
        elif not (status.get("started") if is_sidecar(container) else status.get("ready")):
            incomplete.append(name)
    if phase == SUCCEEDED and not unknown:
        return _condition("Initialized", True, "PodCompleted")
    if _has_regular_container_started(spec, statuses):
        return _condition("Initialized", True)
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if incomplete:
        messages.append(f"containers with incomplete status: {_go_list(incomplete)}")
    if messages:
        return _condition("Initialized", False, "ContainersNotInitialized", ", ".join(messages))
    return _condition("Initialized", True)


def containers_ready_condition(spec: Mapping[str, Any], statuses: Sequence[Obj], phase: str) -> Obj:
    """``ContainersReady``: every app container and sidecar is ready."""
    unknown, unready = [], []
    sidecars = [c for c in spec.get("initContainers") or () if is_sidecar(c)]
    for container in [*sidecars, *(spec.get("containers") or ())]:
        name = container.get("name", "")
        status = _status_of(statuses, name)
        if status is None:
            unknown.append(name)
        elif not status.get("ready"):
            unready.append(name)
    if (phase == SUCCEEDED and not unknown) or phase == FAILED:
        reason = "PodCompleted" if phase == SUCCEEDED else "PodFailed"
        return _condition("ContainersReady", False, reason)
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if unready:
        messages.append(f"containers with unready status: {_go_list(unready)}")
    if messages:
        return _condition("ContainersReady", False, "ContainersNotReady", ", ".join(messages))
    return _condition("ContainersReady", True)


def ready_condition(
    spec: Mapping[str, Any], conditions: Sequence[Obj], statuses: Sequence[Obj], phase: str
) -> Obj:
    """``Ready``: containers ready and every readiness gate's condition True."""
    containers = containers_ready_condition(spec, statuses, phase)
    if containers["status"] != "True":
        return {**containers, "type": "Ready"}
    messages = []
    for gate in spec.get("readinessGates") or ():
        gate_type = gate.get("conditionType", "")
        found = next((c for c in conditions if c.get("type") == gate_type), None)
        if found is None:
            messages.append(
                f'corresponding condition of pod readiness gate "{gate_type}" does not exist.'
            )
        elif found.get("status") != "True":
            messages.append(
                f'the status of pod readiness gate "{gate_type}" is not "True", '
                f"but {found.get('status')}"
            )
    if messages:
        return _condition("Ready", False, "ReadinessGatesNotReady", ", ".join(messages))
    return _condition("Ready", True)


# --- the whole status --------------------------------------------------------------------------


def pod_status(
    pod: Mapping[str, Any],
    *,
    containers: Mapping[str, ContainerInfo],
    init_containers: Mapping[str, ContainerInfo] | None = None,
    sandbox_ready: bool,
    pod_ips: Sequence[str] = (),
    host_ips: Sequence[str] = (),
    now: float,
    terminal: bool = False,
) -> Obj:
    """The status the agent writes for ``pod`` now (a new dict; ``pod`` is not modified).

    ``containers``/``init_containers`` map container names to what the runtime knows;
    ``sandbox_ready`` says the pod's sandbox and network exist; ``terminal`` says the agent has
    finished with the pod (see ``pod_phase``). A host-network pod's IPs are the host's.
    """
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    init_specs = spec.get("initContainers") or ()
    default_reason = POD_INITIALIZING if init_specs else CONTAINER_CREATING
    infos = init_containers or {}
    init_statuses = [
        container_status(c, infos.get(c.get("name", "")), default_reason, init=True)
        for c in init_specs
    ]
    app_statuses = sorted(
        (
            container_status(c, containers.get(c.get("name", "")), default_reason)
            for c in spec.get("containers") or ()
        ),
        key=lambda s: str(s["name"]),
    )
    every = [*init_statuses, *app_statuses]
    phase = pod_phase(spec, every, terminal)
    old_phase = old.get("phase")
    if phase not in TERMINAL_PHASES and old_phase in TERMINAL_PHASES:
        phase = old_phase
    status: Obj = {"phase": phase}
    if phase == old_phase:
        for key in ("reason", "message"):
            if old.get(key):
                status[key] = old[key]

    old_conditions = old.get("conditions") or []
    conditions = [c for c in old_conditions if c.get("type") not in KUBELET_CONDITIONS]
    conditions.append(_condition("PodReadyToStartContainers", sandbox_ready))
    conditions.append(initialized_condition(spec, every, phase))
    conditions.append(ready_condition(spec, conditions, every, phase))
    conditions.append(containers_ready_condition(spec, every, phase))
    conditions.append(_condition("PodScheduled", True))
    stamp = rfc3339(now)
    previous = {c.get("type"): c for c in old_conditions}
    for condition in conditions:
        if condition["type"] not in KUBELET_CONDITIONS:
            continue
        before = previous.get(condition["type"]) or {}
        kept = before.get("status") == condition["status"] and before.get("lastTransitionTime")
        condition["lastProbeTime"] = None
        condition["lastTransitionTime"] = kept or stamp
    status["conditions"] = conditions

    if host_ips:
        status["hostIP"] = host_ips[0]
        status["hostIPs"] = [{"ip": ip} for ip in host_ips]
    ips = list(pod_ips) or (list(host_ips) if spec.get("hostNetwork") else [])
    if ips:
        status["podIP"] = ips[0]
        status["podIPs"] = [{"ip": ip} for ip in ips]
    elif old.get("podIPs"):
        status["podIP"] = old.get("podIP", old["podIPs"][0].get("ip"))
        status["podIPs"] = old["podIPs"]
    status["startTime"] = old.get("startTime") or stamp
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = app_statuses
    status["qosClass"] = qos_class(pod)
    return status
