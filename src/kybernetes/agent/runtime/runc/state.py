"""The runc runtime's records on disk: one directory per sandbox and per container.

Layout under the state directory::

    runc/                         runc's own state (``runc --root``)
    sandboxes/<id>/sandbox.json   the sandbox: config, namespaces, IP, state
    sandboxes/<id>/{hosts,resolv.conf,hostname,ns/,shm/}
    containers/<id>/container.json  the container: config, sandbox, shim, cgroup
    containers/<id>/started       when ``runc start`` succeeded (epoch seconds)
    containers/<id>/exit.json     written by the shim when the container exited
    containers/<id>/bundle/       the OCI bundle (config.json)

Invariants: a record is written whole (temporary file + rename), so a reader never sees half
of one; the files are the truth, so a new runtime object on the same directory knows
everything the old one did (memory holds only caches of immutable records).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import orjson

from kybernetes.agent.runtime.interface import (
    ContainerConfig,
    Mount,
    PodSandboxConfig,
    PortMapping,
    Resources,
    SandboxState,
    SecurityContext,
)


def write_json(path: str, data: Any) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(orjson.dumps(data))
    os.rename(tmp, path)


def read_json(path: str) -> Any:
    with open(path, "rb") as f:
        return orjson.loads(f.read())


def _plain(obj: Any) -> Any:
    return dataclasses.asdict(obj)


def sandbox_config_from(data: dict[str, Any]) -> PodSandboxConfig:
    data = dict(data)
    data["port_mappings"] = tuple(PortMapping(**p) for p in data.get("port_mappings", ()))
    data["hosts_entries"] = tuple((ip, tuple(names)) for ip, names in data.get("hosts_entries", ()))
    for key in ("dns_servers", "dns_searches", "dns_options"):
        data[key] = tuple(data.get(key, ()))
    return PodSandboxConfig(**data)


def container_config_from(data: dict[str, Any]) -> ContainerConfig:
    data = dict(data)
    data["mounts"] = tuple(Mount(**m) for m in data.get("mounts", ()))
    data["resources"] = Resources(**data.get("resources", {}))
    sec = dict(data.get("security", {}))
    if sec.pop("seccomp_runtime_default", False):  # records written before seccomp_profile
        sec["seccomp_profile"] = "RuntimeDefault"
    for key in ("supplemental_groups", "capabilities_add", "capabilities_drop"):
        sec[key] = tuple(sec.get(key, ()))
    data["security"] = SecurityContext(**sec)
    data["env"] = tuple((k, v) for k, v in data.get("env", ()))
    for key in ("command", "args"):
        data[key] = tuple(data.get(key, ()))
    return ContainerConfig(**data)


@dataclass
class SandboxRecord:
    id: str
    config: PodSandboxConfig
    created_at: float
    state: SandboxState
    cgroup_parent: str
    hostname: str
    #: "network"/"ipc"/"uts" -> namespace file the containers join (absent: the host's)
    namespaces: dict[str, str]
    #: True when the network namespace is ours (no NetworkPlugin), False when the plugin's
    owns_netns: bool = False
    ip: str = ""

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["config"] = _plain(self.config)
        data["state"] = str(self.state)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxRecord:
        data = dict(data)
        data["config"] = sandbox_config_from(data["config"])
        data["state"] = SandboxState(data["state"])
        return cls(**data)


@dataclass(frozen=True)
class ContainerRecord:
    id: str
    sandbox_id: str
    config: ContainerConfig
    image_ref: str
    created_at: float
    log_path: str
    cgroups_path: str
    shim_pid: int
    shim_start: int  # the shim's start time (/proc/PID/stat), to tell it from a reused PID
    pid: int  # the container's init, as the host sees it

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["config"] = _plain(self.config)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContainerRecord:
        data = dict(data)
        data["config"] = container_config_from(data["config"])
        return cls(**data)


@dataclass(frozen=True)
class ExitRecord:
    exit_code: int
    finished_at: float
    oom_killed: bool

    @classmethod
    def read(cls, path: str) -> ExitRecord | None:
        try:
            data = read_json(path)
        except FileNotFoundError:
            return None
        return cls(int(data["exit_code"]), float(data["finished_at"]), bool(data["oom_killed"]))
