"""What the agent's server needs from the kubelet: pods by name, and the runtime's view of them.

``KubeletHost`` adapts a running ``Kubelet`` (its pod informer and runtime) to the questions
the server asks: which pod is ``namespace/name``, which container instance serves a request
(the latest, or the previous one for ``--previous``), where the pod can be reached. Error
messages are the kubelet's, word for word, since ``kubectl`` prints them.

Invariant: read-only; nothing here changes a pod or the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from kybernetes.agent.kubelet import labels as L
from kybernetes.agent.runtime.interface import ContainerState, ContainerStatus, RuntimeService

Obj = dict[str, Any]


class ContainerLookupError(Exception):
    """The request names no usable container; ``code`` is the HTTP status to answer."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


class PodSource(Protocol):
    def pod(self, namespace: str, name: str) -> Obj | None: ...

    @property
    def runtime(self) -> RuntimeService: ...


class KubeletHost:
    """Answers the server's questions from a ``PodSource`` (the kubelet)."""

    def __init__(self, source: PodSource) -> None:
        self.source = source

    @property
    def runtime(self) -> RuntimeService:
        return self.source.runtime

    def pod(self, namespace: str, name: str) -> Obj:
        found = self.source.pod(namespace, name)
        if found is None:
            raise ContainerLookupError(f'pod "{name}" not found', 404)
        return found

    async def state(self, pod: Mapping[str, Any]) -> L.PodRuntimeState:
        uid = str(pod["metadata"].get("uid", ""))
        runtime = self.runtime
        sandboxes = [
            s
            for s in await runtime.list_pod_sandboxes()
            if s.config is not None and s.config.labels.get(L.POD_UID) == uid
        ]
        containers: list[ContainerStatus] = []
        for sandbox in sandboxes:
            containers.extend(await runtime.list_containers(sandbox.id))
        return L.group_by_pod(sandboxes, containers).get(uid) or L.PodRuntimeState(uid)

    async def log_container(self, pod: Obj, container: str, previous: bool) -> ContainerStatus:
        """The instance whose log to read, or the kubelet's reason why there is none."""
        name = str(pod["metadata"].get("name", ""))
        status = _container_status(pod, container)
        if status is None:
            raise ContainerLookupError(f'container "{container}" in pod "{name}" is not available')
        state = await self.state(pod)
        if previous:
            found = state.previous(container)
            if found is None:
                raise ContainerLookupError(
                    f'previous terminated container "{container}" in pod "{name}" not found'
                )
            return found
        latest = state.latest(container)
        if latest is not None and latest.state is not ContainerState.CREATED:
            return latest
        if latest is not None and state.previous(container) is not None:
            return state.previous(container)  # type: ignore[return-value]
        waiting = (status.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason") or ""
        if reason == "ErrImagePull":
            reason = "image can't be pulled"
        elif reason == "ImagePullBackOff":
            reason = "trying and failing to pull image"
        if reason:
            message = f'container "{container}" in pod "{name}" is waiting to start: {reason}'
        else:
            message = f'container "{container}" in pod "{name}" is waiting to start - no logs yet'
        raise ContainerLookupError(message)

    async def running_container(self, pod: Obj, container: str) -> ContainerStatus:
        """The running instance of ``container`` (exec, attach)."""
        name = str(pod["metadata"].get("name", ""))
        state = await self.state(pod)
        latest = state.latest(container)
        if latest is None or latest.state is not ContainerState.RUNNING:
            raise ContainerLookupError(f'container "{container}" in pod "{name}" is not running')
        return latest

    async def is_running(self, container_id: str) -> bool:
        try:
            status = await self.runtime.container_status(container_id)
        except Exception:
            return False
        return status.state is ContainerState.RUNNING

    async def pod_address(self, pod: Obj) -> str:
        """Where the pod's ports are: its sandbox IP, or loopback for host-network pods."""
        if (pod.get("spec") or {}).get("hostNetwork"):
            return "127.0.0.1"
        state = await self.state(pod)
        sandbox = state.ready_sandbox
        if sandbox is None or not sandbox.ip:
            name = pod["metadata"].get("name", "")
            raise ContainerLookupError(f'pod "{name}" has no running sandbox', 400)
        return sandbox.ip


def _container_status(pod: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for found in status.get(key) or ():
            if found.get("name") == name:
                return found  # type: ignore[no-any-return]
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers"):
        for found in spec.get(key) or ():
            if found.get("name") == name:
                return {"name": name, "state": {"waiting": {"reason": "ContainerCreating"}}}
    return None


class KubeletPods:
    """A ``PodSource`` over a running ``Kubelet``: its pod informer and its runtime."""

    def __init__(self, kubelet: Any) -> None:
        self.kubelet = kubelet

    def pod(self, namespace: str, name: str) -> Obj | None:
        found: Obj | None = self.kubelet.pod_informer.store.get_by_name(name, namespace)
        return found

    @property
    def runtime(self) -> RuntimeService:
        runtime: RuntimeService = self.kubelet.runtime
        return runtime
