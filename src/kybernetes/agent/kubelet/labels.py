"""The labels and annotations that tie runtime sandboxes and containers back to their pods.

Every sandbox and container the kubelet creates carries upstream's labels (pod uid, name,
namespace, container name) and annotations (restart count, termination message path and
policy, the pod's grace period), so a kubelet that restarts maps the runtime's objects back to
pods, adopts running containers and continues restart counts. ``PodRuntimeState`` is one pod's
view of the runtime: its sandboxes newest first and, per container name, its instances newest
first.

Invariant: only what the labels say is trusted; objects without a pod uid label are not ours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from kybernetes.agent.runtime.interface import (
    ContainerState,
    ContainerStatus,
    PodSandboxStatus,
    SandboxState,
)

POD_NAME: Final = "io.kubernetes.pod.name"
POD_NAMESPACE: Final = "io.kubernetes.pod.namespace"
POD_UID: Final = "io.kubernetes.pod.uid"
CONTAINER_NAME: Final = "io.kubernetes.container.name"
RESTART_COUNT: Final = "io.kubernetes.container.restartCount"
TERMINATION_MESSAGE_PATH: Final = "io.kubernetes.container.terminationMessagePath"
TERMINATION_MESSAGE_POLICY: Final = "io.kubernetes.container.terminationMessagePolicy"
TERMINATION_MESSAGE_FILE: Final = "kybernetes.io/termination-message-file"
GRACE_PERIOD: Final = "io.kubernetes.pod.terminationGracePeriod"
INIT: Final = "kybernetes.io/init-container"


def pod_labels(pod: Mapping[str, Any]) -> dict[str, str]:
    meta = pod.get("metadata") or {}
    return {
        POD_NAME: str(meta.get("name", "")),
        POD_NAMESPACE: str(meta.get("namespace", "")),
        POD_UID: str(meta.get("uid", "")),
    }


def container_labels(pod: Mapping[str, Any], name: str) -> dict[str, str]:
    return {**pod_labels(pod), CONTAINER_NAME: name}


def restart_count(status: ContainerStatus) -> int:
    try:
        return int(status.annotations.get(RESTART_COUNT, status.attempt))
    except ValueError:
        return status.attempt


@dataclass
class PodRuntimeState:
    """What the runtime holds for one pod uid."""

    uid: str
    sandboxes: list[PodSandboxStatus] = field(default_factory=list)
    #: container name -> instances, newest first
    containers: dict[str, list[ContainerStatus]] = field(default_factory=dict)

    @property
    def ready_sandbox(self) -> PodSandboxStatus | None:
        for sandbox in self.sandboxes:
            if sandbox.state is SandboxState.READY:
                return sandbox
        return None

    def latest(self, name: str) -> ContainerStatus | None:
        found = self.containers.get(name)
        return found[0] if found else None

    def previous(self, name: str) -> ContainerStatus | None:
        found = self.containers.get(name)
        return found[1] if found and len(found) > 1 else None

    def running(self) -> list[ContainerStatus]:
        return [
            c
            for instances in self.containers.values()
            for c in instances
            if c.state in (ContainerState.RUNNING, ContainerState.CREATED)
        ]

    def all_containers(self) -> list[ContainerStatus]:
        return [c for instances in self.containers.values() for c in instances]


def group_by_pod(
    sandboxes: Sequence[PodSandboxStatus], containers: Sequence[ContainerStatus]
) -> dict[str, PodRuntimeState]:
    """The runtime's objects per pod uid (objects without the uid label are skipped)."""
    out: dict[str, PodRuntimeState] = {}
    for sandbox in sorted(sandboxes, key=lambda s: -s.created_at):
        labels = sandbox.config.labels if sandbox.config is not None else {}
        uid = labels.get(POD_UID)
        if uid:
            out.setdefault(uid, PodRuntimeState(uid)).sandboxes.append(sandbox)
    for container in sorted(containers, key=lambda c: (-restart_count(c), -c.created_at)):
        uid = container.labels.get(POD_UID)
        name = container.labels.get(CONTAINER_NAME, container.name)
        if uid:
            state = out.setdefault(uid, PodRuntimeState(uid))
            state.containers.setdefault(name, []).append(container)
    return out
