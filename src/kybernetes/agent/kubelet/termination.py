"""Stopping containers and pods: preStop hook, SIGTERM, SIGKILL after the grace period.

``kill_container`` records ``Killing`` (``Stopping container c``, or the liveness message),
runs the container's preStop hook (exec or httpGet) within the grace period, then asks the
runtime to stop it with what is left of the grace period (at least 2 s after a hook, as
upstream's ``minimumGracePeriodInSeconds``). ``kill_pod`` does that for every running
container of a pod at once, then stops its sandboxes. ``grace_period`` is the pod's
``deletionGracePeriodSeconds`` when it is being deleted, else its
``terminationGracePeriodSeconds`` (30 s by default).

Invariant: every container handed in is stopped when these return, hook or no hook; a
failing hook is an event (``FailedPreStopHook``), never a reason not to stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

from kybernetes.agent.kubelet.handlers import run_action
from kybernetes.agent.runtime.interface import (
    ContainerStatus,
    PodSandboxStatus,
    RuntimeError_,
    RuntimeService,
)
from kybernetes.util.clock import Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Recorder = Callable[[Obj, str, str, str], None]
T = TypeVar("T")
MIN_GRACE_AFTER_HOOK: Final = 2.0
DEFAULT_GRACE: Final = 30.0


def grace_period(pod: Mapping[str, Any]) -> float:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    if meta.get("deletionTimestamp") and meta.get("deletionGracePeriodSeconds") is not None:
        return float(meta["deletionGracePeriodSeconds"])
    value = spec.get("terminationGracePeriodSeconds")
    return DEFAULT_GRACE if value is None else float(value)


def container_spec(pod: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    spec = pod.get("spec") or {}
    for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        if container.get("name") == name:
            found: Mapping[str, Any] = container
            return found
    return {"name": name}


class Killer:
    def __init__(self, runtime: RuntimeService, clock: Clock, record: Recorder) -> None:
        self.runtime = runtime
        self.clock = clock
        self.record = record

    async def kill_container(
        self,
        pod: Obj,
        status: ContainerStatus,
        grace: float,
        *,
        pod_ip: str = "",
        message: str = "",
    ) -> None:
        name = status.labels.get("io.kubernetes.container.name", status.name)
        spec = container_spec(pod, name)
        self.record(pod, "Normal", "Killing", message or f"Stopping container {name}")
        started = self.clock.monotonic()
        hook = (spec.get("lifecycle") or {}).get("preStop")
        if hook and grace > 0:
            failure = await within(
                self.clock, grace, self.run_hook(pod, "preStop", status, pod_ip, grace)
            )
            if isinstance(failure, str):
                self.record(
                    pod, "Warning", "FailedPreStopHook", hook_message(hook, name, pod, failure)
                )
            elif failure is _TIMED_OUT:
                log.info("prestop hook timed out pod=%s container=%s", _key(pod), name)
            used = self.clock.monotonic() - started
            grace = max(MIN_GRACE_AFTER_HOOK, grace - used)
        try:
            await self.runtime.stop_container(status.id, grace)
        except RuntimeError_ as exc:
            log.warning("stop container failed pod=%s container=%s error=%s", _key(pod), name, exc)
        log.info("container stopped pod=%s container=%s grace=%.0f", _key(pod), name, grace)

    async def run_hook(
        self, pod: Obj, kind: str, status: ContainerStatus, pod_ip: str, time_limit: float
    ) -> str | None:
        """Run a postStart/preStop hook; the failure message, or None when it succeeded."""
        name = status.labels.get("io.kubernetes.container.name", status.name)
        spec = container_spec(pod, name)
        hook = (spec.get("lifecycle") or {}).get(kind)
        if not hook:
            return None
        if hook.get("sleep") is not None:
            await self.clock.sleep(float(hook["sleep"].get("seconds") or 0))
            return None
        result = await run_action(
            hook,
            runtime=self.runtime,
            container_id=status.id,
            container=spec,
            pod_ip=pod_ip,
            time_limit=time_limit,
        )
        if result.success:
            return None
        return result.output or f"{kind} hook failed"

    async def kill_pod(
        self,
        pod: Obj,
        containers: Sequence[ContainerStatus],
        sandboxes: Sequence[PodSandboxStatus],
        grace: float,
    ) -> None:
        pod_ip = next((s.ip for s in sandboxes if s.ip), "")
        await asyncio.gather(
            *(self.kill_container(pod, c, grace, pod_ip=pod_ip) for c in containers)
        )
        for sandbox in sandboxes:
            try:
                await self.runtime.stop_pod_sandbox(sandbox.id)
            except RuntimeError_ as exc:
                log.warning(
                    "stop sandbox failed pod=%s sandbox=%s error=%s", _key(pod), sandbox.id, exc
                )


_TIMED_OUT: Final = object()


async def within(clock: Clock, seconds: float, work: Awaitable[T]) -> T | object:
    """``work``'s result, or ``_TIMED_OUT`` when ``seconds`` pass first on ``clock``."""
    task = asyncio.ensure_future(work)
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait((task, sleeper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    return _TIMED_OUT


def hook_message(hook: Mapping[str, Any], name: str, pod: Mapping[str, Any], error: str) -> str:
    """Upstream's wording of a failed lifecycle hook."""
    meta = pod.get("metadata") or {}
    who = (
        f'Container "{name}" in Pod "{meta.get("name")}_{meta.get("namespace")}({meta.get("uid")})"'
    )
    if hook.get("exec") is not None:
        command = list((hook["exec"] or {}).get("command") or ())
        return f"Exec lifecycle hook ({command}) for {who} failed - error: {error}"
    if hook.get("httpGet") is not None:
        path = (hook["httpGet"] or {}).get("path", "")
        return f"HTTP lifecycle hook ({path}) for {who} failed - error: {error}"
    return f"Lifecycle hook for {who} failed - error: {error}"


def _key(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
