"""The fake runtime's containers: what they are doing at a given time, without any process.

Pure functions. A started pod's containers run from the moment the pod started until it is
deleted, unless the pod asks otherwise with annotations:

- ``kybernetes.io/fake-run-seconds: "N"``: every app container exits N seconds after it
  started (a finite command);
- ``kybernetes.io/fake-exit-code: "C"``: ...with exit code C (default 0; reason ``Completed`` for
  0, ``Error`` otherwise).

Then ``restartPolicy`` decides, as the kubelet would: ``Never`` leaves the container terminated
(the pod ends Succeeded, or Failed for a non-zero code), ``OnFailure`` restarts it only after a
non-zero code, ``Always`` restarts it. A restart runs the container again from its exit time
(restartCount + 1, lastState the exit) without crash-loop back-off, at least a second apart.
Regular init containers complete at once with code 0; sidecars (init containers with
``restartPolicy: Always``) run like app containers. A deleted pod's running containers stop
with code 143 (they exit on SIGTERM), reason ``Error``.

Invariant: the result depends only on the pod (spec, annotations, current status) and the time,
so an agent that restarts re-derives the same containers from the status it wrote before.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kybernetes.agent.podstatus import ContainerInfo, Running, Terminated, is_sidecar
from kybernetes.api.meta import parse_time

log = logging.getLogger(__name__)

RUN_SECONDS_ANNOTATION: Final = "kybernetes.io/fake-run-seconds"
EXIT_CODE_ANNOTATION: Final = "kybernetes.io/fake-exit-code"
RUNTIME: Final = "kyb-fake"
SIGTERM_EXIT: Final = 143
_MIN_RESTART_PERIOD: Final = 1.0

Infos = dict[str, ContainerInfo]


@dataclass(frozen=True, slots=True)
class Plan:
    """What a pod's annotations ask of its containers."""

    run_seconds: float | None = None
    exit_code: int = 0


def plan_of(pod: Mapping[str, Any]) -> Plan:
    """The pod's plan; an unreadable annotation is logged and ignored."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    run = annotations.get(RUN_SECONDS_ANNOTATION)
    code = annotations.get(EXIT_CODE_ANNOTATION)
    try:
        run_seconds = max(0.0, float(run)) if run is not None else None
        exit_code = int(code) if code is not None else 0
    except ValueError:
        log.warning("bad fake runtime annotation pod=%s", (pod.get("metadata") or {}).get("name"))
        return Plan()
    return Plan(run_seconds, exit_code)


def image_ref(image: str) -> str:
    """A reference as runtimes report it: ``busybox`` -> ``docker.io/library/busybox:latest``."""
    name, at, digest = image.partition("@")
    first, slash, _ = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        name = "docker.io/" + (name if slash else "library/" + name)
    if not at and ":" not in name.rpartition("/")[2]:
        name += ":latest"
    return name + at + digest


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def image_id(image: str) -> str:
    """A stable, made-up digest reference for ``image`` (its own digest if it names one)."""
    ref = image_ref(image)
    if "@" in ref:
        return ref
    return f"{ref.rpartition(':')[0]}@sha256:{_sha256(ref)}"


def container_id(pod_uid: str, name: str, restart_count: int) -> str:
    """The ID of one run of a container (a new run, a new ID)."""
    return f"{RUNTIME}://{_sha256(f'{pod_uid}/{name}/{restart_count}')}"


def _seconds(text: str | None, default: float) -> float:
    return parse_time(text).timestamp() if text else default


def _terminated(obj: Mapping[str, Any], default: float) -> Terminated:
    return Terminated(
        exit_code=int(obj.get("exitCode", 0)),
        reason=str(obj.get("reason", "")),
        started_at=_seconds(obj.get("startedAt"), default),
        finished_at=_seconds(obj.get("finishedAt"), default),
        message=str(obj.get("message", "")),
        container_id=str(obj.get("containerID", "")),
    )


def _previous(pod: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    status = pod.get("status") or {}
    found = {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for entry in status.get(key) or ():
            found[entry.get("name", "")] = entry
    return found


def has_started(pod: Mapping[str, Any]) -> bool:
    """Whether the runtime has started the pod's containers (its status says so)."""
    return any(
        "running" in (s.get("state") or {}) or "terminated" in (s.get("state") or {})
        for s in _previous(pod).values()
    )


class _Runs:
    """Derives each container's current run from its previous status entry."""

    def __init__(self, pod: Mapping[str, Any], now: float, plan: Plan) -> None:
        self.uid = str((pod.get("metadata") or {}).get("uid", ""))
        self.previous = _previous(pod)
        self.now = now
        self.plan = plan
        self.restart_policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        self.wake: float | None = None

    def info(self, container: Mapping[str, Any], *, finite: bool) -> ContainerInfo:
        name, image = str(container.get("name", "")), str(container.get("image", ""))
        old = self.previous.get(name) or {}
        state = old.get("state") or {}
        restarts = int(old.get("restartCount", 0))
        last_obj = (old.get("lastState") or {}).get("terminated")
        last = _terminated(last_obj, self.now) if last_obj else None
        if "terminated" in state:
            exited = _terminated(state["terminated"], self.now)
            return self.make(name, image, exited, restarts, last)
        started = _seconds((state.get("running") or {}).get("startedAt"), self.now)
        if finite and self.plan.run_seconds is not None:
            period = self.plan.run_seconds
            if self.restart_policy != "Never":
                period = max(period, _MIN_RESTART_PERIOD)
            end = started + period
            if end <= self.now:
                code = self.plan.exit_code
                exited = Terminated(
                    code,
                    "Completed" if code == 0 else "Error",
                    started,
                    end,
                    container_id=container_id(self.uid, name, restarts),
                )
                policy = self.restart_policy
                if policy == "Never" or (policy == "OnFailure" and code == 0):
                    return self.make(name, image, exited, restarts, last)
                restarts, last, started, end = restarts + 1, exited, end, end + period
            self.wake = end if self.wake is None else min(self.wake, end)
        return self.make(name, image, Running(started), restarts, last)

    def completed_init(self, container: Mapping[str, Any]) -> ContainerInfo:
        """A regular init container, which the fake runtime completes at once."""
        name, image = str(container.get("name", "")), str(container.get("image", ""))
        old = (self.previous.get(name) or {}).get("state") or {}
        started = _seconds((old.get("terminated") or {}).get("startedAt"), self.now)
        done = Terminated(
            0, "Completed", started, started, container_id=container_id(self.uid, name, 0)
        )
        return self.make(name, image, done, 0, None)

    def make(
        self,
        name: str,
        image: str,
        state: Running | Terminated,
        restarts: int,
        last: Terminated | None,
    ) -> ContainerInfo:
        return ContainerInfo(
            name,
            state,
            last_state=last,
            ready=isinstance(state, Running),
            started=isinstance(state, Running),
            restart_count=restarts,
            image=image_ref(image),
            image_id=image_id(image),
            container_id=container_id(self.uid, name, restarts),
        )


def containers_at(
    pod: Mapping[str, Any], now: float, plan: Plan
) -> tuple[Infos, Infos, float | None]:
    """``(init containers, app containers, next change)`` of a started pod at ``now``.

    The next change is the time a container will exit next, or None if nothing will happen.
    """
    spec = pod.get("spec") or {}
    runs = _Runs(pod, now, plan)
    init: Infos = {}
    for container in spec.get("initContainers") or ():
        if is_sidecar(container):
            init[container["name"]] = runs.info(container, finite=False)
        else:
            init[container["name"]] = runs.completed_init(container)
    app = {c["name"]: runs.info(c, finite=True) for c in spec.get("containers") or ()}
    return init, app, runs.wake


def stopped(pod: Mapping[str, Any], now: float) -> tuple[Infos, Infos]:
    """The containers of a deleted pod once stopped: running ones exit on SIGTERM at ``now``."""
    spec = pod.get("spec") or {}
    runs = _Runs(pod, now, Plan())
    init: Infos = {}
    app: Infos = {}
    for into, key in ((init, "initContainers"), (app, "containers")):
        for container in spec.get(key) or ():
            info = runs.info(container, finite=False)
            if isinstance(info.state, Running):
                exited = Terminated(
                    SIGTERM_EXIT,
                    "Error",
                    info.state.started_at,
                    now,
                    container_id=info.container_id,
                )
                image = str(container.get("image", ""))
                info = runs.make(info.name, image, exited, info.restart_count, info.last_state)
            into[info.name] = info
    return init, app
