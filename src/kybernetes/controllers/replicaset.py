"""The ReplicaSet and ReplicationController controllers: keep ``spec.replicas`` pods running.

One implementation serves both resources (upstream's ReplicationManager is the ReplicaSet
controller over converted objects): ``ReplicaSetController`` watches ReplicaSets,
``ReplicationManager`` ReplicationControllers, whose selector is a plain label map.

A sync reads the owner and the namespace's pods from the informer caches, claims pods (adopting
matching orphans, releasing owned pods whose labels no longer match), then creates or deletes
the difference: creations in slow-start batches, at most ``BURST_REPLICAS`` per sync, deletions
in ``rank_for_deletion`` order. Status carries replicas, fullyLabeledReplicas, readyReplicas,
availableReplicas (``minReadySeconds``), observedGeneration and a ReplicaFailure condition while
creates or deletes fail.

Invariant: the controller never acts on a count its cache may not yet reflect. Before writing it
records the creations and deletions it expects (``Expectations``); until the informer has seen
them all (or they expire) the key's next sync only updates status, so a lagging cache never
causes a double creation or deletion. Terminating and finished pods are not replicas.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from datetime import UTC, datetime
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.api.meta import (
    controller_of,
    labels_of,
    name_of,
    namespace_of,
    new_controller_ref,
    now_rfc3339,
    object_key,
    uid_of,
)
from kybernetes.api.selectors import NOTHING, Selector, SelectorError, from_label_selector, from_set
from kybernetes.client.cache import key_of, split_key
from kybernetes.client.informer import Handler
from kybernetes.client.resource import PODS, REPLICASETS, REPLICATIONCONTROLLERS, Resource
from kybernetes.controllers.base import ControllerContext, QueueController
from kybernetes.controllers.expectations import Expectations
from kybernetes.controllers.podcontrol import (
    SLOW_START_INITIAL_BATCH,
    ControllerRefManager,
    PodControl,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    namespace_terminating,
    rank_for_deletion,
    ready_since,
    recheck_owner,
    slow_start_batch,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]

BURST_REPLICAS: Final = 500
STATUS_UPDATE_RETRIES: Final = 1
REPLICA_FAILURE: Final = "ReplicaFailure"


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def calculate_status(
    owner: Obj, pods: list[Obj], manage_error: Exception | None, now: float
) -> dict[str, Any]:
    """The owner's new status for its active, claimed ``pods`` (``calculateStatus``)."""
    spec = owner.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    template_selector = from_set(template_labels)
    min_ready = _int(spec.get("minReadySeconds"))
    old = owner.get("status") or {}
    status: dict[str, Any] = {
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(1 for p in pods if template_selector.matches(labels_of(p))),
        "readyReplicas": sum(1 for p in pods if is_pod_ready(p)),
        "availableReplicas": sum(1 for p in pods if is_pod_available(p, min_ready, now)),
        "observedGeneration": _int(old.get("observedGeneration")),
    }
    conditions = [dict(c) for c in old.get("conditions") or ()]
    failing = any(c.get("type") == REPLICA_FAILURE for c in conditions)
    if manage_error is not None and not failing:
        diff = len(pods) - _int(spec.get("replicas"))
        reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
        conditions.append(
            {
                "type": REPLICA_FAILURE,
                "status": "True",
                "lastTransitionTime": now_rfc3339(datetime.fromtimestamp(now, UTC)),
                "reason": reason,
                "message": str(manage_error),
            }
        )
    elif manage_error is None and failing:
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    if conditions:
        status["conditions"] = conditions
    return status


def _same_status(old: dict[str, Any], new: dict[str, Any]) -> bool:
    fields = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
    return all(_int(old.get(f)) == _int(new.get(f)) for f in fields) and (
        old.get("conditions") or []
    ) == (new.get("conditions") or [])


def _wire(status: dict[str, Any]) -> dict[str, Any]:
    """Drop zero counters, as Go's ``omitempty`` does (``replicas`` is always present)."""
    return {k: v for k, v in status.items() if k == "replicas" or v}


class ReplicaSetController(QueueController):
    """Keeps each ReplicaSet's pods at ``spec.replicas``."""

    name = "replicaset"
    resource: Resource = REPLICASETS
    component = "replicaset-controller"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        factory = context.informers
        self.owners = self.informer(factory.informer(self.resource))
        self.pods = self.informer(factory.informer(PODS))
        self.expectations = Expectations(self.clock)
        self.recorder = context.recorder(self.component)
        self.pod_control = PodControl(self.client, self.recorder)
        self.owners.add_handler(
            Handler(
                on_add=self.enqueue,
                on_update=lambda _old, new: self.enqueue(new),
                on_delete=self._owner_deleted,
            )
        )
        self.pods.add_handler(
            Handler(
                on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
            )
        )

    # --- what the owner selects ----------------------------------------------------------

    def selector_of(self, owner: Obj) -> Selector:
        return from_label_selector((owner.get("spec") or {}).get("selector"))

    def _owned_by(self, namespace: str, ref: dict[str, Any] | None) -> Obj | None:
        if ref is None or ref.get("kind") != self.resource.kind:
            return None
        owner = self.owners.store.get_by_name(str(ref.get("name", "")), namespace)
        return owner if owner is not None and uid_of(owner) == ref.get("uid") else None

    def _selecting(self, pod: Obj) -> list[Obj]:
        """Owners in the pod's namespace whose (non-empty) selector matches it."""
        matching = []
        labels = labels_of(pod)
        for owner in self.owners.store.list_namespace(namespace_of(pod)):
            try:
                selector = self.selector_of(owner)
            except SelectorError:
                continue
            if not selector.is_empty and selector.matches(labels):
                matching.append(owner)
        return matching

    # --- event handlers (enqueue only) -----------------------------------------------------

    def _owner_deleted(self, owner: Obj) -> None:
        self.expectations.forget(key_of(owner))
        self.enqueue(owner)

    def _pod_added(self, pod: Obj) -> None:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            self._pod_deleted(pod)
            return
        owner = self._owned_by(namespace_of(pod), controller_of(pod))
        if owner is not None:
            self.expectations.creation_observed(key_of(owner))
            self.enqueue(owner)
            return
        if controller_of(pod) is None:
            for candidate in self._selecting(pod):
                self.enqueue(candidate)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        labels_changed = labels_of(old) != labels_of(cur)
        if cur["metadata"].get("deletionTimestamp"):
            self._pod_deleted(cur)
            if labels_changed:
                self._pod_deleted(old)
            return
        cur_ref, old_ref = controller_of(cur), controller_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and (previous := self._owned_by(namespace_of(old), old_ref)) is not None:
            self.enqueue(previous)
        if cur_ref is not None:
            owner = self._owned_by(namespace_of(cur), cur_ref)
            if owner is not None:
                self.enqueue(owner)
                min_ready = _int((owner.get("spec") or {}).get("minReadySeconds"))
                if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(cur):
                    self.enqueue_after(owner, min_ready + 1.0)
            return
        if labels_changed or ref_changed:
            for candidate in self._selecting(cur):
                self.enqueue(candidate)

    def _pod_deleted(self, pod: Obj) -> None:
        owner = self._owned_by(namespace_of(pod), controller_of(pod))
        if owner is not None:
            self.expectations.deletion_observed(key_of(owner), object_key(pod))
            self.enqueue(owner)

    # --- the sync --------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.owners.store.get(key)
        if cached is None:
            self.expectations.forget(key)
            return
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = self.selector_of(cached)
        except SelectorError as exc:
            log.warning("invalid selector key=%s error=%s", key, exc)
            return
        namespace, _ = split_key(key)
        active = [p for p in self.pods.store.list_namespace(namespace) if is_pod_active(p)]
        ref = new_controller_ref(cached, self.resource.api_version, self.resource.kind)
        manager = ControllerRefManager(
            self.client, PODS, cached, ref, selector,
            recheck_owner(self.client, self.resource, cached),
        )  # fmt: skip
        pods = await manager.claim(active)
        manage_error: Exception | None = None
        if needs_sync and not cached["metadata"].get("deletionTimestamp"):
            try:
                await self._manage(key, cached, pods, ref)
            except (errors.StatusError, ValueError) as exc:
                manage_error = exc
        now = self.clock.now()
        status = calculate_status(cached, pods, manage_error, now)
        updated = await self._update_status(cached, status)
        self._requeue_for_availability(key, updated, pods, manage_error, now)
        if manage_error is not None:
            raise manage_error

    async def _manage(self, key: str, owner: Obj, pods: list[Obj], ref: dict[str, Any]) -> None:
        """Create or delete pods to reach ``spec.replicas`` (``manageReplicas``)."""
        diff = len(pods) - _int((owner.get("spec") or {}).get("replicas"))
        if diff < 0:
            wanted = min(-diff, BURST_REPLICAS)
            self.expectations.expect(key, adds=wanted)
            template = (owner.get("spec") or {}).get("template") or {}
            log.info("too few replicas key=%s need=%d creating=%d", key, -diff, wanted)

            async def create() -> None:
                try:
                    await self.pod_control.create(template, owner, ref)
                except errors.StatusError as exc:
                    if namespace_terminating(exc):
                        return  # every create would fail; the namespace is going away
                    raise

            created, error = await slow_start_batch(wanted, SLOW_START_INITIAL_BATCH, create)
            for _ in range(wanted - created):  # never attempted or failed: never observed
                self.expectations.creation_failed(key)
            if error is not None:
                raise error
        elif diff > 0:
            count = min(diff, BURST_REPLICAS)
            related = self._related_pods(owner)
            victims = rank_for_deletion(pods, related, self.clock.now())[:count]
            self.expectations.expect(key, deletes={object_key(p) for p in victims})
            log.info("too many replicas key=%s excess=%d deleting=%d", key, diff, count)
            results = await asyncio.gather(
                *(self.pod_control.delete(namespace_of(p), name_of(p), owner) for p in victims),
                return_exceptions=True,
            )
            failure: BaseException | None = None
            for pod, result in zip(victims, results, strict=True):
                if isinstance(result, BaseException):
                    self.expectations.deletion_observed(key, object_key(pod))
                    if not isinstance(result, errors.NotFound) and failure is None:
                        failure = result
            if failure is not None:
                raise failure

    def _related_pods(self, owner: Obj) -> list[Obj]:
        """Pods of every owner sharing this owner's controller (a Deployment's ReplicaSets)."""
        parent = controller_of(owner)
        if parent is None:
            return []
        seen: set[str] = set()
        related: list[Obj] = []
        for sibling in self.owners.store.list_namespace(namespace_of(owner)):
            sibling_ref = controller_of(sibling)
            if sibling_ref is None or sibling_ref.get("uid") != parent.get("uid"):
                continue
            try:
                selector = self.selector_of(sibling)
            except SelectorError:
                selector = NOTHING
            for pod in self.pods.store.list_namespace(namespace_of(owner)):
                if selector.matches(labels_of(pod)) and uid_of(pod) not in seen:
                    seen.add(uid_of(pod))
                    related.append(pod)
        return related

    async def _update_status(self, owner: Obj, status: dict[str, Any]) -> Obj:
        generation = _int(owner["metadata"].get("generation"))
        old = owner.get("status") or {}
        if _same_status(old, status) and _int(old.get("observedGeneration")) == generation:
            return owner
        status["observedGeneration"] = generation
        current = owner
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            body = copy.copy(current)
            body["status"] = _wire(status)
            try:
                return await self.client.update_status(self.resource, body)
            except errors.StatusError:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
                current = await self.client.get(self.resource, name_of(owner), namespace_of(owner))
        return current

    def _requeue_for_availability(
        self, key: str, owner: Obj, pods: list[Obj], error: Exception | None, now: float
    ) -> None:
        """Sync again when the next ready pod has been ready for ``minReadySeconds``."""
        spec, status = owner.get("spec") or {}, owner.get("status") or {}
        min_ready = _int(spec.get("minReadySeconds"))
        replicas = _int(spec.get("replicas"))
        if error is not None or min_ready <= 0:
            return
        if _int(status.get("readyReplicas")) != replicas:
            return
        if _int(status.get("availableReplicas")) == replicas:
            return
        pending = [
            since + min_ready - now
            for p in pods
            if (since := ready_since(p)) is not None and not is_pod_available(p, min_ready, now)
        ]
        delay = min(pending, default=float(min_ready))
        self.queue.add_after(key, max(delay, 0.0) + 0.01)


class ReplicationManager(ReplicaSetController):
    """The same controller over ReplicationControllers (selector: a label map)."""

    name = "replicationcontroller"
    resource = REPLICATIONCONTROLLERS
    component = "replication-controller"

    def selector_of(self, owner: Obj) -> Selector:
        selector = (owner.get("spec") or {}).get("selector") or {}
        return from_set(selector) if selector else NOTHING
