"""Liveness, readiness and startup probes: a task per probed container, results for the pod worker.

Each running container with a probe gets a worker per probe kind, bound to the container's id
(a restarted container gets fresh workers). A worker waits ``initialDelaySeconds`` from the
container's start, then runs the probe (``handlers.run_action``) every ``periodSeconds`` with
``timeoutSeconds``; ``ProbeState`` turns raw outcomes into a result only after
``successThreshold`` successes or ``failureThreshold`` failures in a row, as upstream's
``prober/worker.go``. Initial results: readiness Failure (not ready), liveness Success,
startup Failure; liveness and readiness do not run until the startup probe has succeeded, and
a startup probe stops once it has. A liveness or startup Failure puts the worker on hold until
the container is replaced (the pod worker restarts it). Every failed probe is an ``Unhealthy``
event ("Liveness probe failed: ..."); a changed result wakes the pod's worker.

Invariant: results are keyed by container id, so a result never outlives its container.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kybernetes.agent.kubelet.handlers import run_action
from kybernetes.agent.runtime.interface import ContainerState, ContainerStatus, RuntimeService
from kybernetes.util.clock import Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class Kind(StrEnum):
    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"


_FIELD = {
    Kind.LIVENESS: "livenessProbe",
    Kind.READINESS: "readinessProbe",
    Kind.STARTUP: "startupProbe",
}


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def of(cls, probe: Mapping[str, Any]) -> ProbeSpec:
        def num(key: str, default: int) -> int:
            value = probe.get(key)
            return int(value) if isinstance(value, int) and value > 0 else default

        return cls(
            initial_delay=float(max(0, int(probe.get("initialDelaySeconds") or 0))),
            period=float(num("periodSeconds", 10)),
            timeout=float(num("timeoutSeconds", 1)),
            success_threshold=num("successThreshold", 1),
            failure_threshold=num("failureThreshold", 3),
        )


@dataclass(slots=True)
class ProbeState:
    """The thresholds of one probe: raw outcomes in, results out."""

    kind: Kind
    spec: ProbeSpec
    result: bool = field(init=False)
    last: bool | None = None
    run: int = 0
    on_hold: bool = False

    def __post_init__(self) -> None:
        self.result = self.kind is Kind.LIVENESS

    def observe(self, ok: bool) -> bool:
        """Record one outcome; True when the result changed."""
        if ok == self.last:
            self.run += 1
        else:
            self.last, self.run = ok, 1
        threshold = self.spec.success_threshold if ok else self.spec.failure_threshold
        if self.run < threshold:
            return False
        changed = self.result != ok
        self.result = ok
        if not ok and self.kind in (Kind.LIVENESS, Kind.STARTUP):
            self.on_hold, self.run = True, 0
            return True  # the container is to be restarted
        return changed


@dataclass(slots=True)
class _Worker:
    state: ProbeState
    task: asyncio.Task[None]
    message: str = ""


Recorder = Callable[[Obj, str, str, str], None]


class ProbeManager:
    """Runs the probes of every container of this node."""

    def __init__(
        self,
        runtime: RuntimeService,
        clock: Clock,
        *,
        wake: Callable[[str], None],
        record: Recorder,
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self._wake = wake
        self._record = record
        self._workers: dict[tuple[str, Kind], _Worker] = {}  # (container id, kind)
        self._by_pod: dict[str, set[str]] = {}  # pod uid -> container ids

    # --- what the pod worker reads -------------------------------------------------------------

    def ready(self, cid: str, spec: Mapping[str, Any]) -> bool:
        if not spec.get("readinessProbe"):
            return True
        worker = self._workers.get((cid, Kind.READINESS))
        return worker is not None and worker.state.result and self.started(cid, spec)

    def started(self, cid: str, spec: Mapping[str, Any]) -> bool:
        if not spec.get("startupProbe"):
            return True
        worker = self._workers.get((cid, Kind.STARTUP))
        return worker is not None and worker.state.result

    def failed(self, cid: str) -> tuple[Kind, str] | None:
        """A liveness or startup failure that asks for a restart (kind, last output)."""
        for kind in (Kind.LIVENESS, Kind.STARTUP):
            worker = self._workers.get((cid, kind))
            if worker is not None and not worker.state.result:
                if kind is Kind.STARTUP and not worker.state.on_hold:
                    continue
                return kind, worker.message
        return None

    # --- keeping workers in step with containers ----------------------------------------------

    def sync(self, pod: Obj, statuses: Mapping[str, ContainerStatus], pod_ip: str) -> None:
        """Start workers for the pod's running containers (``statuses``: name -> latest)."""
        uid = str(pod["metadata"].get("uid", ""))
        spec = pod.get("spec") or {}
        containers = [
            *(spec.get("containers") or ()),
            *(c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"),
        ]
        live: set[str] = set()
        for container in containers:
            status = statuses.get(str(container.get("name", "")))
            if status is None or status.state is not ContainerState.RUNNING:
                continue
            for kind, key in _FIELD.items():
                probe = container.get(key)
                if not probe:
                    continue
                live.add(status.id)
                if (status.id, kind) not in self._workers:
                    self._start(pod, container, status, kind, probe, pod_ip)
        for cid in self._by_pod.get(uid, set()) - live:
            self._stop(cid)
        self._by_pod[uid] = live

    def remove_pod(self, uid: str) -> None:
        for cid in self._by_pod.pop(uid, set()):
            self._stop(cid)

    def _stop(self, cid: str) -> None:
        for kind in Kind:
            worker = self._workers.pop((cid, kind), None)
            if worker is not None:
                worker.task.cancel()

    def _start(
        self,
        pod: Obj,
        container: Mapping[str, Any],
        status: ContainerStatus,
        kind: Kind,
        probe: Mapping[str, Any],
        pod_ip: str,
    ) -> None:
        state = ProbeState(kind, ProbeSpec.of(probe))
        key = (status.id, kind)
        task = asyncio.get_running_loop().create_task(
            self._run(key, pod, container, status, probe, pod_ip),
            name=f"probe {kind} {status.id}",
        )
        self._workers[key] = _Worker(state, task)

    async def close(self) -> None:
        tasks = [w.task for w in self._workers.values()]
        self._workers.clear()
        self._by_pod.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(
        self,
        key: tuple[str, Kind],
        pod: Obj,
        container: Mapping[str, Any],
        status: ContainerStatus,
        probe: Mapping[str, Any],
        pod_ip: str,
    ) -> None:
        cid, kind = key
        worker = self._workers[key]
        spec = worker.state.spec
        uid = str(pod["metadata"].get("uid", ""))
        delay = status.started_at + spec.initial_delay - self.clock.now()
        await self.clock.sleep(max(0.0, delay))
        while True:
            if kind is not Kind.STARTUP and not self.started(cid, container):
                await self.clock.sleep(spec.period)
                continue
            if worker.state.on_hold or (kind is Kind.STARTUP and worker.state.result):
                return
            outcome = await run_action(
                probe,
                runtime=self.runtime,
                container_id=cid,
                container=container,
                pod_ip=pod_ip,
                time_limit=spec.timeout,
            )
            ok = outcome.success
            if not ok:
                worker.message = outcome.output
                name = container.get("name", "")
                self._record(pod, "Warning", "Unhealthy", f"{kind} probe failed: {outcome.output}")
                log.info(
                    "probe failed pod=%s container=%s kind=%s output=%r",
                    uid,
                    name,
                    kind,
                    outcome.output[:200],
                )
            if worker.state.observe(ok):
                log.info(
                    "probe result changed pod=%s container=%s kind=%s result=%s",
                    uid,
                    container.get("name", ""),
                    kind,
                    "success" if ok else "failure",
                )
                self._wake(uid)
            await self.clock.sleep(spec.period)
