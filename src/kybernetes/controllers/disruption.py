"""The disruption controller: each PodDisruptionBudget's status, which eviction obeys.

For a PDB it counts the pods its selector matches in its namespace and computes, as upstream:

- ``expectedPods``: with an integer ``minAvailable``, the number of matching pods; with a
  percentage or with ``maxUnavailable``, the sum of the desired replicas of the pods'
  controllers (Deployment through its ReplicaSet, ReplicaSet, StatefulSet,
  ReplicationController), each controller counted once.
- ``desiredHealthy``: ``minAvailable`` (a percentage rounds up), or ``expectedPods`` minus
  ``maxUnavailable`` (a percentage rounds up).
- ``currentHealthy``: matching pods that are Ready and not being deleted.
- ``disruptionsAllowed`` = max(0, currentHealthy - desiredHealthy), and the
  ``DisruptionAllowed`` condition (``SufficientPods`` / ``InsufficientPods``).
- When a pod's controller cannot be found where it is needed, the budget fails safe:
  ``disruptionsAllowed`` 0, reason ``SyncFailed``, a ``NoControllers`` warning event.

The eviction subresource of the API server reads this status and decrements
``disruptionsAllowed`` (recording the pod under ``disruptedPods``) before it deletes a pod;
entries there older than two minutes, or for pods that are gone, are dropped here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from kybernetes.api import intstr
from kybernetes.api.meta import now_rfc3339, parse_time, set_condition
from kybernetes.api.selectors import SelectorError, from_label_selector
from kybernetes.client.informer import Handler
from kybernetes.client.resource import (
    DEPLOYMENTS,
    PODDISRUPTIONBUDGETS,
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    STATEFULSETS,
)
from kybernetes.controllers.base import ControllerContext, QueueController
from kybernetes.controllers.servicepods import pod_ready

Obj = dict[str, Any]
DISRUPTED_POD_TIMEOUT: Final = 120.0


class DisruptionController(QueueController):
    name = "disruption"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        factory = context.informers
        self.pdbs = self.informer(factory.informer(PODDISRUPTIONBUDGETS))
        self.pods = self.informer(factory.informer(PODS))
        self.scalers = {
            ("apps", "ReplicaSet"): self.informer(factory.informer(REPLICASETS)),
            ("apps", "Deployment"): self.informer(factory.informer(DEPLOYMENTS)),
            ("apps", "StatefulSet"): self.informer(factory.informer(STATEFULSETS)),
            ("", "ReplicationController"): self.informer(factory.informer(REPLICATIONCONTROLLERS)),
        }
        self.recorder = context.recorder("controllermanager")
        self.pdbs.add_handler(Handler(self.enqueue, lambda _o, new: self.enqueue(new)))
        self.pods.add_handler(
            Handler(self._pod_changed, lambda _o, new: self._pod_changed(new), self._pod_changed)
        )

    def _pod_changed(self, pod: Obj) -> None:
        labels = pod["metadata"].get("labels") or {}
        for pdb in self.pdbs.store.list_namespace(pod["metadata"].get("namespace")):
            try:
                selector = from_label_selector((pdb.get("spec") or {}).get("selector"))
            except SelectorError:
                continue
            if selector.matches(labels):
                self.enqueue(pdb)

    async def sync(self, key: str) -> None:
        pdb = self.pdbs.store.get(key)
        if pdb is None:
            return
        spec = pdb.get("spec") or {}
        namespace = pdb["metadata"]["namespace"]
        try:
            selector = from_label_selector(spec.get("selector"))
        except SelectorError:
            return
        pods = [
            p
            for p in self.pods.store.list_namespace(namespace)
            if selector.matches(p["metadata"].get("labels") or {})
        ]
        try:
            expected, desired = self._expected_and_desired(spec, pods)
        except _NoController as missing:
            await self._fail_safe(pdb, f'found no controllers for pod "{missing}"')
            return
        healthy = sum(
            1 for p in pods if pod_ready(p) and not p["metadata"].get("deletionTimestamp")
        )
        now = self.clock.now()
        status = dict(pdb.get("status") or {})
        disrupted = {
            name: stamp
            for name, stamp in (status.get("disruptedPods") or {}).items()
            if now - parse_time(stamp).timestamp() < DISRUPTED_POD_TIMEOUT
            and any(p["metadata"]["name"] == name for p in pods)
        }
        allowed = max(0, healthy - len(disrupted) - desired)
        conditions = [dict(c) for c in status.get("conditions") or ()]
        stamp = now_rfc3339(datetime.fromtimestamp(now, UTC))
        set_condition(
            conditions,
            {
                "type": "DisruptionAllowed",
                "status": "True" if allowed > 0 else "False",
                "reason": "SufficientPods" if allowed > 0 else "InsufficientPods",
                "message": "",
                "observedGeneration": pdb["metadata"].get("generation", 1),
            },
            stamp,
        )
        new_status: Obj = {
            "observedGeneration": pdb["metadata"].get("generation", 1),
            "disruptionsAllowed": allowed,
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
            "conditions": conditions,
        }
        if disrupted:
            new_status["disruptedPods"] = disrupted
        if new_status == status:
            return
        await self.client.update_status(PODDISRUPTIONBUDGETS, {**pdb, "status": new_status})
        if disrupted:  # look again when the oldest recorded disruption expires
            oldest = min(parse_time(s).timestamp() for s in disrupted.values())
            self.queue.add_after(key, max(0.0, oldest + DISRUPTED_POD_TIMEOUT - now))

    async def _fail_safe(self, pdb: Obj, message: str) -> None:
        """Allow no disruption when the budget cannot be computed (upstream's ``failSafe``)."""
        status = dict(pdb.get("status") or {})
        conditions = [dict(c) for c in status.get("conditions") or ()]
        stamp = now_rfc3339(datetime.fromtimestamp(self.clock.now(), UTC))
        changed = set_condition(
            conditions,
            {
                "type": "DisruptionAllowed",
                "status": "False",
                "reason": "SyncFailed",
                "message": message,
                "observedGeneration": pdb["metadata"].get("generation", 1),
            },
            stamp,
        )
        if not changed and status.get("disruptionsAllowed") == 0:
            return
        status.update(
            disruptionsAllowed=0,
            conditions=conditions,
            observedGeneration=pdb["metadata"].get("generation", 1),
        )
        self.recorder.event(pdb, "Warning", "NoControllers", message)
        await self.client.update_status(PODDISRUPTIONBUDGETS, {**pdb, "status": status})

    def _expected_and_desired(self, spec: Obj, pods: list[Obj]) -> tuple[int, int]:
        min_available = spec.get("minAvailable")
        max_unavailable = spec.get("maxUnavailable")
        if isinstance(min_available, int) and max_unavailable is None:
            return len(pods), min_available
        expected = self._controllers_scale(pods)
        if max_unavailable is not None:
            unavailable = intstr.scaled_value_from_int_or_percent(max_unavailable, expected, True)
            return expected, max(0, expected - unavailable)
        if min_available is None:
            return expected, expected
        return expected, intstr.scaled_value_from_int_or_percent(min_available, expected, True)

    def _controllers_scale(self, pods: list[Obj]) -> int:
        seen: set[str] = set()
        total = 0
        for pod in pods:
            ref = _controller_ref(pod)
            owner = self._find(ref, pod["metadata"]["namespace"]) if ref is not None else None
            if ref is None or owner is None:
                raise _NoController(pod["metadata"]["name"])
            if owner.get("kind") == "ReplicaSet" or _group_kind(ref) == ("apps", "ReplicaSet"):
                parent_ref = _controller_ref(owner)
                if parent_ref is not None and _group_kind(parent_ref) == ("apps", "Deployment"):
                    parent = self._find(parent_ref, pod["metadata"]["namespace"])
                    if parent is not None:
                        owner = parent
            uid = owner["metadata"]["uid"]
            if uid in seen:
                continue
            seen.add(uid)
            total += int((owner.get("spec") or {}).get("replicas", 1))
        return total

    def _find(self, ref: Obj, namespace: str) -> Obj | None:
        informer = self.scalers.get(_group_kind(ref))
        if informer is None:
            return None
        found = informer.store.get_by_name(ref.get("name", ""), namespace)
        if found is None or found["metadata"].get("uid") != ref.get("uid"):
            return None
        return found


class _NoController(Exception):
    """A pod's controller (needed to know how many pods to expect) cannot be found."""


def _controller_ref(obj: Obj) -> Obj | None:
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def _group_kind(ref: Obj) -> tuple[str, str]:
    api_version = str(ref.get("apiVersion", ""))
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return group, str(ref.get("kind", ""))
