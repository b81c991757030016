"""The scheduler's outside world over the REST client and informers (``ClusterAPI``).

Writes go through the API exactly as kube-scheduler makes them: the ``binding`` subresource,
strategic-merge patches of ``status`` for the PodScheduled condition and
``nominatedNodeName``, a DisruptionTarget condition then a graceful delete for preemption
victims, core Events from ``default-scheduler``. Reads (PriorityClasses, budgets, namespaces,
the controllers that define default spreading, PVCs) come from the shared informer caches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339
from kybernetes.api.selectors import Selector, SelectorError, from_label_selector, from_set
from kybernetes.api.types import Pod
from kybernetes.client.events import EventRecorder
from kybernetes.client.informer import Informer, InformerFactory
from kybernetes.client.resource import (
    NAMESPACES,
    PERSISTENTVOLUMECLAIMS,
    PODDISRUPTIONBUDGETS,
    PODS,
    PRIORITYCLASSES,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    SERVICES,
    STATEFULSETS,
)
from kybernetes.client.rest import Client
from kybernetes.util.clock import Clock

Obj = dict[str, Any]


class InformerClusterAPI:
    """``ClusterAPI`` for one scheduler: its client, its recorder, the shared informers."""

    def __init__(
        self,
        client: Client,
        informers: InformerFactory,
        recorder: EventRecorder,
        clock: Clock,
        scheduler_name: str = "default-scheduler",
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.scheduler_name = scheduler_name
        self.priority_classes = informers.informer(PRIORITYCLASSES)
        self.budgets = informers.informer(PODDISRUPTIONBUDGETS)
        self.namespaces = informers.informer(NAMESPACES)
        self.claims = informers.informer(PERSISTENTVOLUMECLAIMS)
        self.spreaders: list[tuple[Informer, bool]] = [
            (informers.informer(SERVICES), True),
            (informers.informer(REPLICATIONCONTROLLERS), True),
            (informers.informer(REPLICASETS), False),
            (informers.informer(STATEFULSETS), False),
        ]

    @property
    def informers(self) -> list[Informer]:
        return [
            self.priority_classes,
            self.budgets,
            self.namespaces,
            self.claims,
            *(i for i, _ in self.spreaders),
        ]

    # --- writes -----------------------------------------------------------------------------

    async def bind(self, pod: Pod, node_name: str) -> None:
        meta = pod["metadata"]
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        await self.client.create(
            PODS, binding, meta["namespace"], name=meta["name"], subresource="binding"
        )

    async def evict(self, victim: Pod, preemptor: Pod, message: str) -> None:
        meta = victim["metadata"]
        condition = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "PreemptionByScheduler",
            "message": f"{self.scheduler_name}: preempting to accommodate a higher priority pod",
            "lastTransitionTime": self._now(),
        }
        try:
            await self._patch_status(victim, {"conditions": [condition]})
            await self.client.delete(
                PODS, meta["name"], meta["namespace"], preconditions={"uid": meta["uid"]}
            )
        except (errors.NotFound, errors.Conflict):
            return
        self.recorder.event(dict(victim), "Normal", "Preempted", message)

    async def set_nominated_node_name(self, pod: Pod, node_name: str) -> None:
        await self._patch_status(pod, {"nominatedNodeName": node_name or None})

    async def set_pod_condition(self, pod: Pod, condition: Mapping[str, Any]) -> None:
        await self._patch_status(pod, {"conditions": [dict(condition)]})

    async def record_event(
        self, pod: Pod, event_type: str, reason: str, action: str, message: str
    ) -> None:
        obj = dict(pod)
        obj.setdefault("kind", "Pod")
        obj.setdefault("apiVersion", "v1")
        self.recorder.event(obj, event_type, reason, message)

    async def _patch_status(self, pod: Pod, status: Obj) -> None:
        meta = pod["metadata"]
        await self.client.patch(
            PODS,
            meta["name"],
            {"status": status},
            meta["namespace"],
            patch_type="strategic",
            subresource="status",
        )

    def _now(self) -> str:
        return now_rfc3339(datetime.fromtimestamp(self.clock.now(), UTC))

    # --- reads ------------------------------------------------------------------------------

    def priority_class(self, name: str) -> Mapping[str, Any] | None:
        return self.priority_classes.store.get(name)

    def pod_disruption_budgets(self) -> Sequence[Mapping[str, Any]]:
        return self.budgets.store.list()

    def namespace_labels(self) -> Mapping[str, Mapping[str, str]]:
        return {
            ns["metadata"]["name"]: ns["metadata"].get("labels") or {}
            for ns in self.namespaces.store.list()
        }

    def default_spread_selector(self, pod: Pod) -> Selector:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        namespace = meta.get("namespace")
        selector = Selector()
        for informer, map_selector in self.spreaders:
            for owner in informer.store.list_namespace(namespace):
                spec = owner.get("spec") or {}
                try:
                    if map_selector:
                        raw = spec.get("selector")
                        if not raw:
                            continue
                        found = from_set(raw)
                    else:
                        found = from_label_selector(spec.get("selector"))
                except SelectorError:
                    continue
                if found.is_empty or found.is_nothing or not found.matches(labels):
                    continue
                selector = selector.add(*found.requirements)
        return selector

    def persistent_volume_claim(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.claims.store.get_by_name(name, namespace)
