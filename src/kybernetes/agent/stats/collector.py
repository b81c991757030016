"""The real node's usage summary, from its pods' cgroups, ``/proc`` and the disk.

``NodeCollector.collect(pods, now, at)`` reads, for every pod bound to the node:

- the pod cgroup and each running container's cgroup (``cgroupv1.py``): CPU (a rate against
  the previous collection, and cumulative) and memory;
- the pod's network counters, from ``/proc/<pid>/net/dev`` of a process in one of its
  containers (so from inside the pod's network namespace), unless it uses the host's network;
- each container's writable layer (``rootfs``) and log directory (``logs``) on disk;

and, for the node, ``/proc`` (CPU, memory, the host's interfaces) and the filesystem of the
agent's directory. ``refresh()`` runs one collection in a worker thread (it reads many small
files and walks directories) and keeps the result: the publisher pushes it every interval and
``GET /stats/summary`` serves it, as the kubelet serves its cAdvisor's latest housekeeping.

Invariants: only containers the API says are running are sampled; one collection at a time (a
lock), so the CPU rate of every counter is taken over one whole interval; nothing here writes.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kybernetes.agent.kubelet.containerconfig import log_directory
from kybernetes.agent.kubelet.resources import cgroup_parent
from kybernetes.agent.runtime.runc.linux import cgroup_mounts
from kybernetes.agent.stats import cgroupv1, fs, host
from kybernetes.agent.stats.summary import (
    ContainerSample,
    CpuRates,
    PodSample,
    Sample,
    build_summary,
)

Obj = dict[str, Any]


@dataclass(frozen=True)
class NodeLayout:
    """Where a real node keeps what its summary reads."""

    node_name: str
    #: The node's cgroups are under this name in every hierarchy (``kubelet/resources.py``).
    cgroup_root: str
    #: The agent's directory: its filesystem is the node's ``fs``.
    root_dir: str
    #: Container logs: ``<logs_root>/<namespace>_<pod>_<uid>/<container>/``.
    logs_root: str
    #: A container id -> the directory of its writable layer ("" when unknown).
    writable_layer: Callable[[str], str]
    proc: str = "/proc"


def _container_id(status: Mapping[str, Any]) -> str:
    return str(status.get("containerID") or "").partition("://")[2]


class NodeCollector:
    """Builds the node's summary; keeps the latest one."""

    def __init__(
        self,
        layout: NodeLayout,
        *,
        window: float = 15.0,
        mounts: Mapping[str, str] | None = None,
    ) -> None:
        self.layout = layout
        self.window = window
        self._mounts = mounts
        self.rates = CpuRates()
        #: The pods bound to the node (the kubelet's informer), set once the kubelet exists.
        self.pods: Callable[[], Iterable[Obj]] = list
        self.latest: dict[str, Any] | None = None
        self._lock = threading.Lock()

    # --- the summary ----------------------------------------------------------------------

    async def refresh(self) -> dict[str, Any]:
        """Collect now (in a worker thread), keep the result and return it."""
        pods = list(self.pods())  # read the informer's store on the event loop's thread
        doc = await asyncio.to_thread(self.collect, pods, time.time(), time.monotonic())
        self.latest = doc
        return doc

    async def publish(self) -> list[dict[str, Any]]:
        """What ``StatsPublisher`` pushes: this node's summary."""
        return [await self.refresh()]

    async def summary(self) -> dict[str, Any]:
        """The latest summary (collected now if there is none yet)."""
        return self.latest if self.latest is not None else await self.refresh()

    def collect(self, pods: Sequence[Obj], now: float, at: float) -> dict[str, Any]:
        """The summary at wall time ``now``; ``at`` is the monotonic time of the sample."""
        with self._lock:
            mounts = self._mounts if self._mounts is not None else cgroup_mounts()
            node_fs = fs.filesystem(self.layout.root_dir)
            samples = [
                s for s in (self._pod(pod, at, mounts, node_fs) for pod in pods) if s is not None
            ]
            proc = self.layout.proc
            used = host.cpu_usage_ns(proc)
            node = Sample(
                self.rates.rate("node", used, at) if used is not None else None,
                host.memory_working_set(proc),
                used,
                host.memory_stats(proc),
            )
            network = host.network_stats(
                host.interfaces(os.path.join(proc, "net", "dev")), host.default_interface(proc)
            )
            self.rates.forget_unseen()
            return build_summary(
                self.layout.node_name,
                node,
                samples,
                now,
                self.window,
                start_time=host.boot_time(proc),
                network=network,
                fs=node_fs,
            )

    # --- one pod --------------------------------------------------------------------------

    def _cgroup(self, key: str, path: str, at: float, mounts: Mapping[str, str]) -> Sample | None:
        rel = path.lstrip("/")
        cpu_root, memory_root = mounts.get("cpuacct", ""), mounts.get("memory", "")
        used = cgroupv1.cpu_usage_ns(os.path.join(cpu_root, rel)) if cpu_root else None
        memory = cgroupv1.memory_stats(os.path.join(memory_root, rel)) if memory_root else None
        if used is None and memory is None:
            return None
        working_set = memory.pop("workingSetBytes") if memory is not None else None
        rate = self.rates.rate(key, used, at) if used is not None else None
        return Sample(rate, working_set, used, memory)

    def _pod(
        self, pod: Obj, at: float, mounts: Mapping[str, str], node_fs: fs.Stats | None
    ) -> PodSample | None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        if spec.get("nodeName") != self.layout.node_name:
            return None
        uid = str(meta.get("uid", ""))
        parent = cgroup_parent(pod, self.layout.cgroup_root)
        logs = log_directory(self.layout.logs_root, pod)
        containers: list[ContainerSample] = []
        pid: int | None = None
        for container in status.get("containerStatuses") or ():
            cid = _container_id(container)
            running = (container.get("state") or {}).get("running")
            if not cid or running is None:
                continue
            path = f"{parent}/{cid}"
            sample = self._cgroup(cid, path, at, mounts)
            if sample is None:
                continue
            if pid is None and mounts.get("cpuacct"):
                pid = cgroupv1.first_pid(os.path.join(mounts["cpuacct"], path.lstrip("/")))
            name = str(container.get("name", ""))
            layer = self.layout.writable_layer(cid)
            containers.append(
                ContainerSample(
                    name,
                    sample,
                    start_time=str(running.get("startedAt") or ""),
                    rootfs=fs.tree(layer, node_fs) if layer else None,
                    logs=fs.tree(os.path.join(logs, name), node_fs),
                )
            )
        if not containers:
            return None
        network = None
        if pid is not None and not spec.get("hostNetwork"):
            found = host.interfaces(os.path.join(self.layout.proc, str(pid), "net", "dev"))
            network = host.network_stats(found, host.POD_INTERFACE)
        return PodSample(
            str(meta.get("name", "")),
            str(meta.get("namespace", "")),
            uid,
            tuple(containers),
            start_time=str(status.get("startTime") or ""),
            total=self._cgroup(f"pod:{uid}", parent, at, mounts),
            network=network,
        )
