"""The container runtime interface the agent drives, shaped like Kubernetes' CRI.

The agent (kubelet) speaks only this protocol; ``runc/`` implements it with runc and a small
per-container shim, ``fakeruntime.py`` in memory. Both pass one contract suite
(``tests/contract/test_runtime.py``). Names and semantics follow CRI's ``RuntimeService``:

- a pod **sandbox** holds the namespaces the pod's containers share (network, IPC, UTS); its
  network is set up by the injected ``NetworkPlugin`` (``agent/network``) when it is created and
  torn down when it is stopped;
- a **container** is created in a sandbox from an image the ``ImageService`` (``agent/images``)
  provides a root filesystem for, then started, stopped (SIGTERM, SIGKILL after the timeout) and
  removed; its stdout and stderr go to ``log_path`` in the CRI log format
  (``<RFC3339Nano> stdout|stderr F|P <text>``), which ``kubectl logs`` reads through the agent;
- statuses report state (CREATED, RUNNING, EXITED, UNKNOWN), exit code, reason (``Completed``,
  ``Error``, ``OOMKilled``), start/finish times, and survive an agent restart: a runtime
  re-reads its state from disk, so running containers are adopted, never killed.

Invariants: ids are unique and never reused; every call is idempotent on a missing object in the
way CRI is (stopping or removing something already gone is not an error; asking its status is
``NotFoundError``); nothing a sandbox created on the host survives ``remove_pod_sandbox``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class RuntimeError_(Exception):
    """A runtime operation failed (the message says what and why)."""


class NotFoundError(RuntimeError_):
    """No sandbox or container with that id."""


class ContainerState(StrEnum):
    CREATED = "CONTAINER_CREATED"
    RUNNING = "CONTAINER_RUNNING"
    EXITED = "CONTAINER_EXITED"
    UNKNOWN = "CONTAINER_UNKNOWN"


class SandboxState(StrEnum):
    READY = "SANDBOX_READY"
    NOTREADY = "SANDBOX_NOTREADY"


@dataclass(frozen=True)
class PortMapping:
    container_port: int
    host_port: int = 0
    protocol: str = "TCP"
    host_ip: str = ""


@dataclass(frozen=True)
class PodSandboxConfig:
    """What a pod's sandbox needs: identity, hostname, DNS, ports, resources for its cgroup."""

    name: str
    namespace: str
    uid: str
    attempt: int = 0
    hostname: str = ""
    host_network: bool = False
    log_directory: str = ""
    dns_servers: Sequence[str] = ()
    dns_searches: Sequence[str] = ()
    dns_options: Sequence[str] = ()
    port_mappings: Sequence[PortMapping] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    cgroup_parent: str = ""
    #: host aliases and the pod's own entry go into /etc/hosts
    hosts_entries: Sequence[tuple[str, Sequence[str]]] = ()


@dataclass(frozen=True)
class Mount:
    container_path: str
    host_path: str
    readonly: bool = False
    propagation: str = "private"


@dataclass(frozen=True)
class Resources:
    """Linux resources of one container, already converted from the pod spec."""

    cpu_shares: int = 2
    cpu_quota: int = 0  # microseconds per period; 0: unlimited
    cpu_period: int = 100_000
    memory_limit: int = 0  # bytes; 0: unlimited
    pids_limit: int = 0


@dataclass(frozen=True)
class SecurityContext:
    run_as_user: int | None = None
    run_as_group: int | None = None
    supplemental_groups: Sequence[int] = ()
    readonly_rootfs: bool = False
    privileged: bool = False
    no_new_privs: bool = False
    capabilities_add: Sequence[str] = ()
    capabilities_drop: Sequence[str] = ()
    #: seccompProfile.type: "RuntimeDefault", "Localhost" (``seccomp_localhost`` is then the
    #: profile file's absolute path), "Unconfined"; "" (unset) is unconfined, as upstream
    seccomp_profile: str = ""
    seccomp_localhost: str = ""


@dataclass(frozen=True)
class ContainerConfig:
    name: str
    image: str  # an image reference or id the ImageService has
    command: Sequence[str] = ()  # entrypoint override (the image's when empty)
    args: Sequence[str] = ()  # cmd override (the image's when empty)
    working_dir: str = ""
    env: Sequence[tuple[str, str]] = ()
    mounts: Sequence[Mount] = ()
    resources: Resources = field(default_factory=Resources)
    security: SecurityContext = field(default_factory=SecurityContext)
    log_path: str = ""  # relative to the sandbox's log_directory
    stdin: bool = False
    stdin_once: bool = False  # the first attach's end of input closes stdin
    tty: bool = False
    attempt: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PodSandboxStatus:
    id: str
    state: SandboxState
    created_at: float
    ip: str = ""
    config: PodSandboxConfig | None = None


@dataclass(frozen=True)
class ContainerStatus:
    id: str
    sandbox_id: str
    name: str
    state: ContainerState
    image: str
    image_ref: str = ""  # the image id (digest) it runs
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    log_path: str = ""
    attempt: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecResult:
    stdout: bytes
    stderr: bytes
    exit_code: int


class RuntimeService(Protocol):
    """CRI's RuntimeService, asynchronous."""

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str: ...

    async def stop_pod_sandbox(self, sandbox_id: str) -> None: ...

    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus: ...

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]: ...

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM, then SIGKILL after ``grace_seconds`` (CRI's timeout)."""
        ...

    async def remove_container(self, container_id: str) -> None: ...

    async def container_status(self, container_id: str) -> ContainerStatus: ...

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]: ...

    async def exec_sync(
        self, container_id: str, command: Sequence[str], time_limit: float = 0
    ) -> ExecResult:
        """Run ``command`` in the container; ``time_limit`` seconds at most (0: none)."""
        ...
