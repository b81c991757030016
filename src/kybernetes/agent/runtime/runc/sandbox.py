"""A pod sandbox on the host: the namespaces and files a pod's containers share.

No pause process: the pod's IPC and UTS namespaces (and, without a network plugin, its network
namespace with only ``lo`` up) are created by one ``unshare`` run that bind-mounts them onto
files in the sandbox directory (``ns/ipc``, ``ns/uts``, ``ns/net``), so they exist before any
container and need nothing running to stay alive. The sandbox also holds the pod's ``/dev/shm``
(a tmpfs shared like the IPC namespace) and the ``hosts``, ``resolv.conf`` and ``hostname``
files its containers bind-mount.

Invariant: ``destroy_namespaces`` undoes everything ``create_namespaces`` made and may run any
number of times (a missing mount is not an error), so a sandbox is torn down completely even
after a crash halfway through either.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Iterable, Sequence

from kybernetes.agent.runtime.interface import PodSandboxConfig, RuntimeError_
from kybernetes.agent.runtime.runc import linux

NS_FILES = {"ipc": "ns/ipc", "uts": "ns/uts", "network": "ns/net"}
_UNSHARE_FLAGS = {"ipc": "--ipc", "uts": "--uts", "network": "--net"}

HOSTS_HEADER = """# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
"""


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError_(f"{name} not found on PATH (util-linux and iproute2 are needed)")
    return path


async def create_namespaces(directory: str, kinds: Sequence[str], hostname: str) -> dict[str, str]:
    """Persistent namespaces of ``kinds`` (ipc, uts, network) bound to files; their paths."""
    os.makedirs(os.path.join(directory, "ns"), exist_ok=True)
    paths = {kind: os.path.join(directory, NS_FILES[kind]) for kind in kinds}
    _touch(paths.values())
    # one process sets everything up from inside the new namespaces: hostname, then lo
    script = []
    if "uts" in kinds and hostname:
        script.append(f'{_binary("hostname")} "$1"')
    if "network" in kinds:
        script.append(f"{_binary('ip')} link set lo up")
    argv = [_binary("unshare"), *(f"{_UNSHARE_FLAGS[k]}={p}" for k, p in paths.items()), "--"]
    argv += ["sh", "-ec", "; ".join(script) or "true", "sh", hostname]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        destroy_namespaces(directory)
        raise RuntimeError_(f"creating the pod's namespaces failed: {err.decode().strip()}")
    return paths


def _touch(paths: Iterable[str]) -> None:
    for path in paths:
        with open(path, "w"):
            pass  # a bind mount needs an existing file to land on


def destroy_namespaces(directory: str) -> None:
    for rel in NS_FILES.values():
        path = os.path.join(directory, rel)
        linux.umount(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def mount_shm(directory: str) -> str:
    path = os.path.join(directory, "shm")
    os.makedirs(path, exist_ok=True)
    flags = linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC
    linux.mount("shm", path, "tmpfs", flags, "mode=1777,size=65536k")
    return path


def unmount_shm(directory: str) -> None:
    linux.umount(os.path.join(directory, "shm"))


def hosts_file(config: PodSandboxConfig, ip: str, hostname: str, host_hosts: str) -> str:
    """/etc/hosts as the kubelet writes it (a host-network pod gets the node's own file)."""
    if config.host_network:
        try:
            with open(host_hosts) as f:
                text = f.read()
        except OSError:
            text = HOSTS_HEADER
    else:
        text = HOSTS_HEADER
        if ip and hostname and all(entry_ip != ip for entry_ip, _ in config.hosts_entries):
            text += f"{ip}\t{hostname}\n"
    aliases = "".join(f"{ip_}\t{' '.join(names)}\n" for ip_, names in config.hosts_entries)
    if aliases:
        text += "\n# Entries added by HostAliases.\n" + aliases
    return text


def resolv_conf(config: PodSandboxConfig, host_resolv_conf: str) -> str:
    """The pod's DNS config, or the node's when the pod names no servers (dnsPolicy Default)."""
    if not config.dns_servers:
        try:
            with open(host_resolv_conf) as f:
                return f.read()
        except OSError:
            return ""
    lines = [f"nameserver {s}" for s in config.dns_servers]
    if config.dns_searches:
        lines.append("search " + " ".join(config.dns_searches))
    if config.dns_options:
        lines.append("options " + " ".join(config.dns_options))
    return "\n".join(lines) + "\n"


def write_files(directory: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        with open(os.path.join(directory, name), "w") as f:
            f.write(text)
