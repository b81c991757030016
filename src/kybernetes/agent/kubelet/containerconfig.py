"""The runtime configs of a pod's sandbox and containers, built from the pod spec.

``sandbox_config`` gives the sandbox its identity labels, hostname, DNS (``agent/network/dns``:
dnsPolicy and dnsConfig as the kubelet composes them), host aliases, hostPorts, log
directory (``<logs>/<ns>_<name>_<uid>``) and cgroup parent by QoS class.
``container_config`` gives a container its expanded command line, environment, mounts
(volumeMounts with subPath and readOnly, plus the termination-message file), resources,
security context, log path ``<container>/<restartCount>.log`` and the labels and annotations
that map it back to its pod after an agent restart.

Invariant: pure apart from creating the termination-message file; the same pod and restart
count give the same config.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from kybernetes.agent.kubelet import labels as L
from kybernetes.agent.kubelet.resources import cgroup_parent, runtime_resources
from kybernetes.agent.network.dns import ClusterDNS, DNSWarning, pod_dns_config
from kybernetes.agent.network.hosts import hostname_and_domain
from kybernetes.agent.runtime.interface import (
    ContainerConfig,
    Mount,
    PodSandboxConfig,
    PortMapping,
    SecurityContext,
)

DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"


class ConfigError(ValueError):
    """The container cannot be configured (CreateContainerConfigError)."""


def log_directory(logs_root: str, pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return os.path.join(logs_root, f"{meta.get('namespace')}_{meta.get('name')}_{meta.get('uid')}")


def sandbox_config(
    pod: Mapping[str, Any],
    *,
    attempt: int,
    logs_root: str,
    cluster_dns: ClusterDNS,
    node_dns: Any,
    cgroup_root: str,
) -> tuple[PodSandboxConfig, list[DNSWarning]]:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    hostname, _ = hostname_and_domain(pod, cluster_dns.domain)
    dns, warnings = pod_dns_config(pod, cluster_dns, node_dns)
    ports = [
        PortMapping(
            container_port=int(port.get("containerPort", 0)),
            host_port=int(port["hostPort"]),
            protocol=str(port.get("protocol") or "TCP"),
            host_ip=str(port.get("hostIP") or ""),
        )
        for container in spec.get("containers") or ()
        for port in container.get("ports") or ()
        if port.get("hostPort")
    ]
    aliases = [
        (str(a.get("ip", "")), tuple(str(h) for h in a.get("hostnames") or ()))
        for a in spec.get("hostAliases") or ()
    ]
    config = PodSandboxConfig(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        uid=str(meta.get("uid", "")),
        attempt=attempt,
        hostname=hostname,
        host_network=bool(spec.get("hostNetwork")),
        log_directory=log_directory(logs_root, pod),
        dns_servers=dns.servers,
        dns_searches=dns.searches,
        dns_options=dns.options,
        port_mappings=tuple(ports),
        labels=L.pod_labels(pod),
        annotations=dict(meta.get("annotations") or {}),
        cgroup_parent=cgroup_parent(pod, cgroup_root),
        hosts_entries=tuple(aliases),
    )
    return config, warnings


def _effective(pod: Mapping[str, Any], container: Mapping[str, Any], key: str) -> Any:
    """A securityContext field: the container's, else the pod's."""
    value = (container.get("securityContext") or {}).get(key)
    if value is None:
        value = ((pod.get("spec") or {}).get("securityContext") or {}).get(key)
    return value


def seccomp_profile(
    pod: Mapping[str, Any], container: Mapping[str, Any], profile_root: str
) -> tuple[str, str]:
    """(type, Localhost profile path): the container's seccompProfile, else the pod's; a
    Localhost profile is ``<profile_root>/<localhostProfile>``, as the kubelet resolves it."""
    profile = _effective(pod, container, "seccompProfile") or {}
    kind = str(profile.get("type") or "")
    if kind != "Localhost":
        return kind, ""
    relative = posixpath.normpath(str(profile.get("localhostProfile") or ""))
    if not relative or relative == "." or posixpath.isabs(relative) or relative.startswith(".."):
        raise ConfigError(
            f"localhostProfile {profile.get('localhostProfile')!r} must be a relative path "
            "under the node's seccomp profile directory"
        )
    return kind, os.path.join(profile_root, relative)


def security_context(
    pod: Mapping[str, Any], container: Mapping[str, Any], seccomp_root: str = ""
) -> SecurityContext:
    """The container's securityContext over the pod's (the container's fields win).

    The process's supplementary groups are the pod's fsGroup, then its supplementalGroups,
    as the kubelet passes them on."""
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    sc = container.get("securityContext") or {}
    caps = sc.get("capabilities") or {}
    seccomp, localhost = seccomp_profile(pod, container, seccomp_root)
    groups = [] if pod_sc.get("fsGroup") is None else [int(pod_sc["fsGroup"])]
    groups += [int(g) for g in pod_sc.get("supplementalGroups") or ()]
    escalation = sc.get("allowPrivilegeEscalation")
    return SecurityContext(
        run_as_user=_effective(pod, container, "runAsUser"),
        run_as_group=_effective(pod, container, "runAsGroup"),
        supplemental_groups=tuple(groups),
        readonly_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        privileged=bool(sc.get("privileged")),
        no_new_privs=escalation is False,
        capabilities_add=tuple(str(c) for c in caps.get("add") or ()),
        capabilities_drop=tuple(str(c) for c in caps.get("drop") or ()),
        seccomp_profile=seccomp,
        seccomp_localhost=localhost,
    )


def verify_run_as_non_root(
    pod: Mapping[str, Any], container: Mapping[str, Any], image_user: str
) -> None:
    """Upstream's ``verifyRunAsNonRoot``: with runAsNonRoot, a container that would run as
    root (its runAsUser, else the image's USER, else root) is not created.

    Raises ``ConfigError`` (CreateContainerConfigError) with the kubelet's messages."""
    if not _effective(pod, container, "runAsNonRoot"):
        return
    meta = pod.get("metadata") or {}
    where = (
        f'(pod: "{meta.get("name")}_{meta.get("namespace")}({meta.get("uid")})", '
        f"container: {container.get('name')})"
    )
    run_as_user = _effective(pod, container, "runAsUser")
    if run_as_user is not None:
        if int(run_as_user) == 0:
            raise ConfigError(f"container's runAsUser breaks non-root policy {where}")
        return
    user = image_user.split(":", 1)[0]
    if not user or (user.isdigit() and int(user) == 0):
        raise ConfigError(f"container has runAsNonRoot and image will run as root {where}")
    if not user.isdigit():
        raise ConfigError(
            f"container has runAsNonRoot and image has non-numeric user ({user}), cannot "
            f"verify user is non-root {where}"
        )


def volume_mounts(
    container: Mapping[str, Any], volume_paths: Mapping[str, str], read_only_kinds: set[str]
) -> list[Mount]:
    mounts = []
    for vm in container.get("volumeMounts") or ():
        name = str(vm.get("name", ""))
        host = volume_paths.get(name)
        if host is None:
            raise ConfigError(
                f"cannot find volume {name!r} to mount into container {container.get('name')!r}"
            )
        sub = str(vm.get("subPath") or "")
        if sub:
            norm = posixpath.normpath(sub)
            if posixpath.isabs(norm) or norm.startswith(".."):
                raise ConfigError(f"subPath {sub!r} must not escape the volume")
            host = os.path.join(host, norm)
            if not os.path.exists(host):
                os.makedirs(host, exist_ok=True)
        mounts.append(
            Mount(
                container_path=str(vm.get("mountPath", "")),
                host_path=host,
                readonly=bool(vm.get("readOnly")) or name in read_only_kinds,
                propagation={"HostToContainer": "rslave", "Bidirectional": "rshared"}.get(
                    str(vm.get("mountPropagation") or ""), "private"
                ),
            )
        )
    return mounts


def termination_message_file(pod_dir: str, name: str, restart_count: int) -> str:
    """Create (empty) and return the host file mounted at the terminationMessagePath."""
    directory = os.path.join(pod_dir, "containers", name)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{restart_count}.termination-log")
    with open(path, "wb"):
        pass
    os.chmod(path, 0o666)
    return path


def container_config(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    image: str,
    command: Sequence[str],
    args: Sequence[str],
    env: Sequence[tuple[str, str]],
    mounts: Sequence[Mount],
    restart_count: int,
    termination_file: str,
    pids_limit: int = 0,
    init: bool = False,
    seccomp_root: str = "",
) -> ContainerConfig:
    name = str(container.get("name", ""))
    spec = pod.get("spec") or {}
    message_path = str(container.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH)
    all_mounts = list(mounts)
    if termination_file:
        all_mounts.append(Mount(container_path=message_path, host_path=termination_file))
    grace = spec.get("terminationGracePeriodSeconds")
    annotations = {
        L.RESTART_COUNT: str(restart_count),
        L.TERMINATION_MESSAGE_PATH: message_path,
        L.TERMINATION_MESSAGE_POLICY: str(container.get("terminationMessagePolicy") or "File"),
        L.TERMINATION_MESSAGE_FILE: termination_file,
        L.GRACE_PERIOD: str(30 if grace is None else grace),
    }
    if init:
        annotations[L.INIT] = "true"
    return ContainerConfig(
        name=name,
        image=image,
        command=tuple(command),
        args=tuple(args),
        working_dir=str(container.get("workingDir") or ""),
        env=tuple(env),
        mounts=tuple(all_mounts),
        resources=runtime_resources(container, pids_limit),
        security=security_context(pod, container, seccomp_root),
        log_path=os.path.join(name, f"{restart_count}.log"),
        stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        attempt=restart_count,
        labels=L.container_labels(pod, name),
        annotations=annotations,
    )
