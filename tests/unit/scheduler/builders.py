"""Builders for scheduler tests: nodes, pods, a fake ClusterAPI and a ready Scheduler."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, cast

from kybernetes.api.selectors import EVERYTHING, Selector
from kybernetes.api.types import Node, Pod
from kybernetes.scheduler.config import SchedulerConfiguration
from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.runtime import Framework
from kybernetes.scheduler.framework.snapshot import Snapshot
from kybernetes.scheduler.framework.status import Code, Status
from kybernetes.scheduler.queue import Nominator
from kybernetes.scheduler.scheduler import Scheduler
from kybernetes.util.clock import FakeClock

ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"


def make_node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: int = 110,
    zone: str | None = None,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
    extra: Mapping[str, str] | None = None,
    unschedulable: bool = False,
    images: Sequence[Mapping[str, Any]] = (),
) -> Node:
    all_labels = {HOSTNAME: name, **(labels or {})}
    if zone is not None:
        all_labels[ZONE] = zone
    allocatable = {"cpu": cpu, "memory": memory, "pods": str(pods), **(extra or {})}
    node: dict[str, Any] = {
        "metadata": {"name": name, "labels": all_labels},
        "spec": {"taints": list(taints), "unschedulable": unschedulable},
        "status": {"allocatable": allocatable, "capacity": allocatable, "images": list(images)},
    }
    return cast(Node, node)


def make_pod(
    name: str,
    *,
    namespace: str = "default",
    cpu: str | None = None,
    memory: str | None = None,
    extra: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    node_name: str = "",
    priority: int | None = None,
    spec: Mapping[str, Any] | None = None,
    image: str = "busybox",
) -> Pod:
    requests: dict[str, str] = dict(extra or {})
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    container: dict[str, Any] = {"name": "c", "image": image}
    if requests:
        container["resources"] = {"requests": requests}
    pod_spec: dict[str, Any] = {"containers": [container], **(spec or {})}
    if node_name:
        pod_spec["nodeName"] = node_name
    if priority is not None:
        pod_spec["priority"] = priority
    pod: dict[str, Any] = {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",
            "labels": dict(labels or {}),
        },
        "spec": pod_spec,
        "status": {},
    }
    return cast(Pod, pod)


class FakeAPI:
    """Records every write; reads come from dicts the test fills."""

    def __init__(self) -> None:
        self.bindings: dict[str, str] = {}
        self.evicted: list[str] = []
        self.nominations: dict[str, str] = {}
        self.conditions: dict[str, Mapping[str, Any]] = {}
        self.events: list[tuple[str, str, str]] = []
        self.priority_classes: dict[str, Mapping[str, Any]] = {}
        self.pdbs: list[Mapping[str, Any]] = []
        self.namespaces: dict[str, Mapping[str, str]] = {"default": {}}
        self.spread_selector: Selector = EVERYTHING
        self.pvcs: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.fail_bind = False
        #: When set, a successful bind is fed back as the informer would (pod update).
        self.scheduler: Scheduler | None = None

    @staticmethod
    def _key(pod: Pod) -> str:
        meta = pod.get("metadata") or {}
        return f"{meta.get('namespace')}/{meta.get('name')}"

    async def bind(self, pod: Pod, node_name: str) -> None:
        if self.fail_bind:
            raise RuntimeError("binding refused")
        self.bindings[self._key(pod)] = node_name
        if self.scheduler is not None:
            bound: dict[str, Any] = {
                **pod,
                "spec": {**(pod.get("spec") or {}), "nodeName": node_name},
            }
            self.scheduler.on_pod_update(pod, cast(Pod, bound))

    async def evict(self, victim: Pod, preemptor: Pod, message: str) -> None:
        self.evicted.append(self._key(victim))

    async def set_nominated_node_name(self, pod: Pod, node_name: str) -> None:
        self.nominations[self._key(pod)] = node_name

    async def set_pod_condition(self, pod: Pod, condition: Mapping[str, Any]) -> None:
        self.conditions[self._key(pod)] = condition

    async def record_event(
        self, pod: Pod, event_type: str, reason: str, action: str, message: str
    ) -> None:
        self.events.append((self._key(pod), reason, message))

    def priority_class(self, name: str) -> Mapping[str, Any] | None:
        return self.priority_classes.get(name)

    def pod_disruption_budgets(self) -> Sequence[Mapping[str, Any]]:
        return self.pdbs

    def namespace_labels(self) -> Mapping[str, Mapping[str, str]]:
        return self.namespaces

    def default_spread_selector(self, pod: Pod) -> Selector:
        return self.spread_selector

    def persistent_volume_claim(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.pvcs.get((namespace, name))


def new_scheduler(
    config: SchedulerConfiguration | None = None, seed: int = 1
) -> tuple[Scheduler, FakeAPI, FakeClock]:
    api = FakeAPI()
    clock = FakeClock()
    scheduler = Scheduler(api, config, clock=clock, rng=random.Random(seed))
    api.scheduler = scheduler
    return scheduler, api, clock


async def schedule_all(scheduler: Scheduler) -> None:
    """Run cycles until activeQ is empty, then let the binding tasks finish."""
    while scheduler.queue.active_count():
        await scheduler.schedule_one()
    await scheduler.wait_for_bindings()


def node_info(node: Node, *pods: Pod) -> NodeInfo:
    info = NodeInfo(node)
    for pod in pods:
        info.add_pod(PodInfo(pod))
    return info


def framework_for(infos: Sequence[NodeInfo], api: FakeAPI | None = None) -> Framework:
    """A bare Framework (as a plugin Handle) over a snapshot of ``infos``."""
    fwk = Framework("test", api or FakeAPI(), Nominator(), FakeClock())
    fwk.set_snapshot(Snapshot.of(list(infos)))
    return fwk


def run_filter(
    plugin: Any, pod: Pod, infos: Sequence[NodeInfo], state: CycleState | None = None
) -> tuple[list[str], dict[str, Status]]:
    """PreFilter (if any) then Filter; the passing node names and the rejections."""
    state = state or CycleState()
    info = PodInfo(pod)
    if hasattr(plugin, "pre_filter"):
        _, status = plugin.pre_filter(state, info)
        if status is not None and status.code == Code.SKIP:
            return [n.name for n in infos], {}
        if status is not None:
            return [], {n.name: status for n in infos}
    rejected: dict[str, Status] = {}
    if not hasattr(plugin, "filter"):
        return [n.name for n in infos], rejected
    passed = plugin.filter(state, info, list(infos), rejected)
    return [n.name for n in passed], rejected


def run_score(plugin: Any, pod: Pod, infos: Sequence[NodeInfo]) -> list[int]:
    """PreScore (if any), Score and NormalizeScore; all zeros when PreScore skips."""
    state = CycleState()
    info = PodInfo(pod)
    nodes = list(infos)
    if hasattr(plugin, "pre_score"):
        status = plugin.pre_score(state, info, nodes)
        if status is not None and status.code == Code.SKIP:
            return [0] * len(nodes)
    scores: list[int] = plugin.score(state, info, nodes)
    if hasattr(plugin, "normalize_score"):
        plugin.normalize_score(state, info, scores)
    return scores
