"""The Deployment controller: informers and handlers, ReplicaSet ownership, the sync dispatch.

Deployments, ReplicaSets and pods are watched; handlers only enqueue the Deployment concerned
(a ReplicaSet's controller, or for an orphan every Deployment whose selector matches it). A sync
works on a private copy of the Deployment: it claims ReplicaSets (adopting matching orphans,
releasing owned ones that no longer match), then, as upstream's ``syncDeployment``:

- a Deployment being deleted only has its status refreshed;
- ``spec.paused`` records the DeploymentPaused/DeploymentResumed condition, and a paused
  Deployment is only scaled (proportionally), never rolled forward;
- a changed ``spec.replicas`` (a ReplicaSet's desired-replicas annotation disagrees) is a
  scaling event: resize, no rollout step;
- otherwise one step of the Recreate or RollingUpdate strategy.

Rollback needs nothing here: ``kubectl rollout undo`` (1.32) copies an old ReplicaSet's template
into the Deployment with a JSON patch, and the controller finds that ReplicaSet again as the new
one, giving it the next revision.

Invariant: a ReplicaSet is acted on only while its controller reference names this Deployment's
uid; everything read comes from the caches, everything changed goes through the API.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kybernetes.api.meta import controller_of, labels_of, namespace_of, new_controller_ref, uid_of
from kybernetes.api.selectors import Selector, SelectorError, from_label_selector
from kybernetes.client.cache import key_of, split_key
from kybernetes.client.events import WARNING
from kybernetes.client.informer import Handler
from kybernetes.client.resource import DEPLOYMENTS, PODS, REPLICASETS
from kybernetes.controllers.base import ControllerContext, QueueController
from kybernetes.controllers.deployment.recreate import rollout_recreate
from kybernetes.controllers.deployment.rolling import rollout_rolling
from kybernetes.controllers.deployment.sync import Reconciler
from kybernetes.controllers.deployment.util import spec_of, status_of
from kybernetes.controllers.podcontrol import ControllerRefManager, recheck_owner

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class DeploymentController(QueueController):
    """Rolls Deployments out through ReplicaSets."""

    name = "deployment"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        factory = context.informers
        self.deployments = self.informer(factory.informer(DEPLOYMENTS))
        self.replicasets = self.informer(factory.informer(REPLICASETS))
        self.pods = self.informer(factory.informer(PODS))
        self.recorder = context.recorder("deployment-controller")
        self.reconciler = Reconciler(
            self.client,
            self.recorder,
            self.clock,
            self.replicasets.store,
            self.enqueue_after,
            lambda d: self.queue.add_rate_limited(key_of(d)),
        )
        self.deployments.add_handler(
            Handler(
                on_add=self.enqueue,
                on_update=lambda _old, new: self.enqueue(new),
                on_delete=self.enqueue,
            )
        )
        self.replicasets.add_handler(
            Handler(on_add=self._rs_added, on_update=self._rs_updated, on_delete=self._rs_deleted)
        )
        self.pods.add_handler(Handler(on_delete=self._pod_deleted))

    # --- event handlers (enqueue only) -----------------------------------------------------

    def _owner(self, namespace: str, ref: dict[str, Any] | None) -> Obj | None:
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.deployments.store.get_by_name(str(ref.get("name", "")), namespace)
        return d if d is not None and uid_of(d) == ref.get("uid") else None

    def _selecting(self, rs: Obj) -> list[Obj]:
        found = []
        for d in self.deployments.store.list_namespace(namespace_of(rs)):
            try:
                selector = from_label_selector(spec_of(d).get("selector"))
            except SelectorError:
                continue
            if not selector.is_empty and selector.matches(labels_of(rs)):
                found.append(d)
        return found

    def _rs_added(self, rs: Obj) -> None:
        if (rs.get("metadata") or {}).get("deletionTimestamp"):
            self._rs_deleted(rs)
            return
        ref = controller_of(rs)
        if ref is not None:
            if (d := self._owner(namespace_of(rs), ref)) is not None:
                self.enqueue(d)
            return
        for d in self._selecting(rs):
            self.enqueue(d)

    def _rs_updated(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        cur_ref, old_ref = controller_of(cur), controller_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and (previous := self._owner(namespace_of(old), old_ref)) is not None:
            self.enqueue(previous)
        if cur_ref is not None:
            if (d := self._owner(namespace_of(cur), cur_ref)) is not None:
                self.enqueue(d)
            return
        if ref_changed or labels_of(old) != labels_of(cur):
            for d in self._selecting(cur):
                self.enqueue(d)

    def _rs_deleted(self, rs: Obj) -> None:
        if (d := self._owner(namespace_of(rs), controller_of(rs))) is not None:
            self.enqueue(d)

    def _pod_deleted(self, pod: Obj) -> None:
        """A Recreate rollout waits for old pods to go: look again when one does."""
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.store.get_by_name(str(ref.get("name", "")), namespace_of(pod))
        if rs is None:
            return
        d = self._owner(namespace_of(rs), controller_of(rs))
        if d is not None and (spec_of(d).get("strategy") or {}).get("type") == "Recreate":
            self.enqueue(d)

    # --- the sync --------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.deployments.store.get(key)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        try:
            selector = from_label_selector(spec_of(d).get("selector"))
        except SelectorError as exc:
            log.warning("invalid selector deployment=%s error=%s", key, exc)
            return
        r = self.reconciler
        if selector.is_empty:
            self.recorder.event(
                d,
                WARNING,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            )
            generation = int(d["metadata"].get("generation") or 0)
            if int(status_of(d).get("observedGeneration") or 0) < generation:
                d.setdefault("status", {})["observedGeneration"] = generation
                await r.write_status(d)
            return
        rs_list = await self._claim(d, selector)
        if d["metadata"].get("deletionTimestamp"):
            new, old = await r.new_and_old(d, rs_list, create=False)
            await r.sync_status([*old, new], new, d)
            return
        await r.check_paused(d)
        if spec_of(d).get("paused"):
            await r.sync(d, rs_list)
            return
        new, old = await r.new_and_old(d, rs_list, create=False)
        if r.is_scaling_event(d, new, old):
            await r.sync(d, rs_list)
            return
        if (spec_of(d).get("strategy") or {}).get("type") == "Recreate":
            await rollout_recreate(r, d, rs_list, self._pods_by_rs(d, rs_list))
        else:
            await rollout_rolling(r, d, rs_list)

    async def _claim(self, d: Obj, selector: Selector) -> list[Obj]:
        namespace, _ = split_key(key_of(d))
        manager = ControllerRefManager(
            self.client,
            REPLICASETS,
            d,
            new_controller_ref(d, "apps/v1", "Deployment"),
            selector,
            recheck_owner(self.client, DEPLOYMENTS, d),
        )
        return await manager.claim(self.replicasets.store.list_namespace(namespace))

    def _pods_by_rs(self, d: Obj, rs_list: list[Obj]) -> dict[str, list[Obj]]:
        """The Deployment's pods grouped by the uid of the ReplicaSet controlling them."""
        groups: dict[str, list[Obj]] = {uid_of(rs): [] for rs in rs_list}
        selector = from_label_selector(spec_of(d).get("selector"))
        for pod in self.pods.store.list_namespace(namespace_of(d)):
            ref = controller_of(pod)
            if ref is not None and ref.get("uid") in groups and selector.matches(labels_of(pod)):
                groups[str(ref["uid"])].append(pod)
        return groups
