"""The OCI runtime spec (``config.json``) of one container, built from CRI-shaped configs.

What goes in, and where it comes from:

- the process: argv resolved as Docker and CRI do (``command`` replaces the image's entrypoint
  and drops its cmd; ``args`` replaces the cmd), env (the image's, overridden key by key by the
  container's, plus ``HOSTNAME``), cwd, user and groups (names looked up in the rootfs),
  capabilities (upstream's default set, then drop and add; all of them when privileged),
  ``noNewPrivileges``; never an ``oomScoreAdj`` (lowering it needs CAP_SYS_RESOURCE, which
  these machines lack, and runc then fails to start the container at all);
- the filesystem: the rootfs (read-only on request), runc's default mounts, masked and
  read-only paths, the pod's ``/dev/shm``, ``/etc/hosts``, ``/etc/resolv.conf`` and
  ``/etc/hostname``, and the container's bind mounts;
- namespaces: the pod's network (absent: the host's), IPC and UTS (joined from files that
  exist before any container), a private PID and mount namespace;
- cgroup v1 limits under the pod's cgroup, and the seccomp filter ``seccomp.py`` gives
  (RuntimeDefault's allow list, a Localhost profile file, or none).

Invariant: the result is a pure function of its inputs (and of the rootfs's /etc/passwd and
/etc/group for user names, and of a Localhost seccomp profile's file); nothing here changes
the host.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kybernetes.agent.images.interface import ImageConfig
from kybernetes.agent.runtime.interface import ContainerConfig, RuntimeError_
from kybernetes.agent.runtime.runc import seccomp

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: the capabilities containerd and Docker give a container by default
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

#: runc's defaults (``runc spec``)
MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

_PROPAGATION = {
    "": "rprivate",
    "private": "rprivate",
    "host_to_container": "rslave",
    "hosttocontainer": "rslave",
    "bidirectional": "rshared",
}


@dataclass(frozen=True)
class PodFiles:
    """What a container takes from its pod sandbox."""

    hostname: str
    namespaces: Mapping[str, str]  # "network"/"ipc"/"uts" -> namespace file; absent: the host's
    hosts: str
    resolv_conf: str
    hostname_file: str
    shm: str


def process_args(config: ContainerConfig, image: ImageConfig) -> list[str]:
    if config.command:
        args = [*config.command, *config.args]
    elif config.args:
        args = [*image.entrypoint, *config.args]
    else:
        args = [*image.entrypoint, *image.cmd]
    if not args:
        raise RuntimeError_(f"container {config.name}: no command specified")
    return args


def environment(config: ContainerConfig, image: ImageConfig, hostname: str) -> list[str]:
    env: dict[str, str] = {}
    for item in image.env:
        key, _, value = item.partition("=")
        env[key] = value
    if "PATH" not in env:
        env["PATH"] = DEFAULT_PATH.partition("=")[2]
    if hostname:
        env["HOSTNAME"] = hostname
    env.update(config.env)
    return [f"{k}={v}" for k, v in env.items()]


def _read_db(rootfs: str, name: str) -> list[list[str]]:
    try:
        with open(os.path.join(rootfs, "etc", name)) as f:
            return [line.rstrip("\n").split(":") for line in f if line.count(":") >= 2]
    except OSError:
        return []


def resolve_user(rootfs: str, config: ContainerConfig, image: ImageConfig) -> dict[str, Any]:
    """uid, gid and additional gids: the security context's, else the image's USER; the
    additional gids hold the primary gid, the image's groups of the user and the pod's."""
    sec = config.security
    user, _, group = image.user.partition(":")
    passwd = _read_db(rootfs, "passwd")
    name = ""
    uid = 0
    gid: int | None = None
    if sec.run_as_user is not None:
        uid = sec.run_as_user
    elif user.isdigit():
        uid = int(user)
    elif user:
        entry = next((e for e in passwd if e[0] == user and len(e) > 3), None)
        if entry is None:
            raise RuntimeError_(f"container {config.name}: no user {user!r} in the image")
        uid, gid, name = int(entry[2]), int(entry[3]), user
    if not name:
        entry = next((e for e in passwd if len(e) > 3 and e[2] == str(uid)), None)
        if entry is not None:
            name = entry[0]
            gid = int(entry[3]) if gid is None else gid
    groups = _read_db(rootfs, "group")
    if sec.run_as_group is not None:
        gid = sec.run_as_group
    elif group.isdigit():
        gid = int(group)
    elif group:
        entry = next((e for e in groups if e[0] == group), None)
        if entry is None:
            raise RuntimeError_(f"container {config.name}: no group {group!r} in the image")
        gid = int(entry[2])
    gid = gid or 0
    # as containerd: the primary group, the user's groups in the image, then the pod's
    # (fsGroup and supplementalGroups), each once
    extra = [gid]
    extra += [int(e[2]) for e in groups if name and len(e) > 3 and name in e[3].split(",")]
    extra += list(sec.supplemental_groups)
    return {"uid": uid, "gid": gid, "additionalGids": list(dict.fromkeys(extra))}


def _cap(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") or name == "ALL" else "CAP_" + name


def capabilities(config: ContainerConfig, available: Sequence[str]) -> list[str]:
    sec = config.security
    if sec.privileged:
        return list(available)
    drop = {_cap(c) for c in sec.capabilities_drop}
    add = {_cap(c) for c in sec.capabilities_add}
    caps = [] if "ALL" in drop else [c for c in DEFAULT_CAPABILITIES if c not in drop]
    if "ALL" in add:
        return list(available)
    caps += sorted(c for c in add if c not in caps)
    return [c for c in caps if c in available]


def _mounts(config: ContainerConfig, pod: PodFiles) -> list[dict[str, Any]]:
    privileged = config.security.privileged
    ro = config.security.readonly_rootfs
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "rw" if privileged else "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "rw" if privileged else "ro"],
        },
        _bind("/dev/shm", pod.shm, readonly=False),
        _bind("/etc/hosts", pod.hosts, readonly=ro),
        _bind("/etc/resolv.conf", pod.resolv_conf, readonly=ro),
    ]
    if pod.hostname_file:
        mounts.append(_bind("/etc/hostname", pod.hostname_file, readonly=ro))
    taken = {m["destination"] for m in mounts}
    for m in config.mounts:
        if m.container_path in taken:  # the container's own mount wins, as in containerd
            mounts = [x for x in mounts if x["destination"] != m.container_path]
        propagation = _PROPAGATION.get(m.propagation.lower().replace("-", "_"), "rprivate")
        mounts.append(_bind(m.container_path, m.host_path, m.readonly, propagation))
    return mounts


def _bind(dest: str, src: str, readonly: bool, propagation: str = "rprivate") -> dict[str, Any]:
    options = ["rbind", propagation, "nosuid", "nodev"]
    if readonly:
        options.append("ro")
    return {"destination": dest, "type": "bind", "source": src, "options": options}


def _resources(config: ContainerConfig) -> dict[str, Any]:
    res = config.resources
    out: dict[str, Any] = {
        "devices": [{"allow": bool(config.security.privileged), "access": "rwm"}]
    }
    cpu: dict[str, Any] = {}
    if res.cpu_shares:
        cpu["shares"] = res.cpu_shares
    if res.cpu_quota > 0:
        cpu["quota"] = res.cpu_quota
        cpu["period"] = res.cpu_period or 100_000
    if cpu:
        out["cpu"] = cpu
    if res.memory_limit > 0:
        out["memory"] = {"limit": res.memory_limit}
    if res.pids_limit > 0:
        out["pids"] = {"limit": res.pids_limit}
    return out


def build(
    config: ContainerConfig,
    image: ImageConfig,
    rootfs: str,
    pod: PodFiles,
    cgroups_path: str,
    available_capabilities: Sequence[str],
) -> dict[str, Any]:
    sec = config.security
    caps = capabilities(config, available_capabilities)
    process: dict[str, Any] = {
        "terminal": config.tty,
        "user": resolve_user(rootfs, config, image),
        "args": process_args(config, image),
        "env": environment(config, image, pod.hostname),
        "cwd": config.working_dir or image.working_dir or "/",
        "capabilities": dict.fromkeys(("bounding", "effective", "permitted"), caps),
        "noNewPrivileges": bool(sec.no_new_privs) and not sec.privileged,
    }
    namespaces: list[dict[str, str]] = [{"type": "pid"}, {"type": "mount"}]
    namespaces += [
        {"type": kind, "path": pod.namespaces[kind]}
        for kind in ("network", "ipc", "uts")
        if kind in pod.namespaces
    ]
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "cgroupsPath": cgroups_path,
        "resources": _resources(config),
    }
    if not sec.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    filter_ = seccomp.profile(sec, caps)
    if filter_ is not None:
        linux["seccomp"] = filter_
    propagations = {m.propagation.lower().replace("-", "_") for m in config.mounts}
    if "bidirectional" in propagations:
        linux["rootfsPropagation"] = "rshared"
    elif propagations & {"host_to_container", "hosttocontainer"}:
        linux["rootfsPropagation"] = "rslave"
    return {
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": rootfs, "readonly": bool(sec.readonly_rootfs)},
        "mounts": _mounts(config, pod),
        "linux": linux,
        "annotations": {str(k): str(v) for k, v in config.annotations.items()},
    }
