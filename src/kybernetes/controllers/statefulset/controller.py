"""The StatefulSet controller: stable, ordered pods with their own storage, rolled by revision.

A sync reads the set, claims its ControllerRevisions and its member pods (named
``<set>-<ordinal>`` and matching the selector; orphans are adopted, strays released), then:

1. finds the revisions: the *update revision* records the current ``spec.template`` (an equal
   older revision is reused and renumbered; otherwise a new one named ``<set>-<hash>`` is
   created, bumping ``collisionCount`` on a name clash), the *current revision* is the one
   ``status.currentRevision`` names (or the update revision when there is none);
2. executes ``plan.plan`` — creations, deletions and identity fixes in upstream's order — and
   keeps claims' owner references in line with the retention policy;
3. writes the status (replicas, ready/available/current/updated counts, revisions,
   ``collisionCount``, ``observedGeneration``) when it changed;
4. deletes revisions beyond ``revisionHistoryLimit`` that no pod uses.

Invariant: a set being deleted gets only status writes; its pods and revisions go with it
through their owner references (the garbage collector).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.api.meta import controller_of, labels_of, name_of, namespace_of
from kybernetes.api.selectors import Selector, SelectorError, from_label_selector
from kybernetes.client.cache import key_of, split_key
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.informer import Handler
from kybernetes.client.resource import (
    CONTROLLERREVISIONS,
    PERSISTENTVOLUMECLAIMS,
    PODS,
    STATEFULSETS,
)
from kybernetes.controllers import history
from kybernetes.controllers.base import ControllerContext, QueueController
from kybernetes.controllers.podcontrol import ControllerRefManager, recheck_owner
from kybernetes.controllers.statefulset.identity import controller_ref, is_member, pod_revision
from kybernetes.controllers.statefulset.plan import (
    CLAIMS,
    CREATE,
    DELETE,
    UPDATE,
    Plan,
    Revision,
    compute_status,
    is_monotonic,
    is_terminating,
    min_ready_seconds,
    plan,
)
from kybernetes.controllers.statefulset.pods import StatefulPodControl

log = logging.getLogger(__name__)

Obj = dict[str, Any]
DEFAULT_HISTORY_LIMIT: Final = 10


class StatefulSetController(QueueController):
    name = "statefulset"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        factory = context.informers
        self.sets = self.informer(factory.informer(STATEFULSETS))
        self.pods = self.informer(factory.informer(PODS))
        self.revisions = self.informer(factory.informer(CONTROLLERREVISIONS))
        self.claims = self.informer(factory.informer(PERSISTENTVOLUMECLAIMS))
        self.recorder = context.recorder("statefulset-controller")
        self.pod_control = StatefulPodControl(self.client, self.recorder, self._cached_claim)
        self.sets.add_handler(
            Handler(self.enqueue, lambda _old, new: self.enqueue(new), self.enqueue)
        )
        self.pods.add_handler(Handler(self._pod_event, self._pod_updated, self._pod_event))

    def _cached_claim(self, namespace: str, name: str) -> Obj | None:
        return self.claims.store.get_by_name(name, namespace)

    # --- event handlers: find the set(s) a pod belongs to ----------------------------------

    def _pod_event(self, pod: Obj) -> None:
        ref = controller_of(pod)
        if ref is not None:
            if ref.get("kind") == "StatefulSet":
                self.queue.add(f"{namespace_of(pod)}/{ref.get('name')}")
            return
        for sts in self.sets.store.list_namespace(namespace_of(pod)):
            selector = _selector(sts)
            if selector is not None and selector.matches(labels_of(pod)):
                self.enqueue(sts)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        self._pod_event(new)
        if controller_of(old) != controller_of(new) or labels_of(old) != labels_of(new):
            self._pod_event(old)

    # --- one set -----------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        sts = self.sets.store.get(key)
        if sts is None:
            return
        selector = _selector(sts)
        if selector is None or selector.is_empty:
            return
        namespace, _ = split_key(key)
        can_adopt = recheck_owner(self.client, STATEFULSETS, sts)
        ref = controller_ref(sts)
        owned_revisions = await ControllerRefManager(
            self.client, CONTROLLERREVISIONS, sts, ref, selector, can_adopt
        ).claim(self.revisions.store.list_namespace(namespace))
        members = [p for p in self.pods.store.list_namespace(namespace) if is_member(sts, p)]
        pods = await ControllerRefManager(self.client, PODS, sts, ref, selector, can_adopt).claim(
            members
        )
        current, update, collision_count, owned_revisions = await self._revisions(
            sts, owned_revisions
        )
        now = self.clock.now()
        failure: Exception | None = None
        requeue_after: float | None = None
        if not (sts.get("metadata") or {}).get("deletionTimestamp"):
            planned = plan(sts, pods, current, update, now)
            requeue_after = planned.requeue_after
            try:
                # Claims first: a pod about to be scaled away must already own its claims
                # when the retention policy says they go with it.
                if sts["spec"].get("volumeClaimTemplates"):
                    for pod in pods:
                        if not is_terminating(pod):
                            await self.pod_control.sync_claim_owners(sts, pod)
                await self._execute(sts, planned)
            except (errors.StatusError, RuntimeError) as exc:
                failure = exc
        status = compute_status(sts, pods, current, update, collision_count, now)
        await self._write_status(sts, status)
        if failure is not None:
            raise failure
        live = {current.name, update.name} | {pod_revision(p) for p in pods}
        limit = sts["spec"].get("revisionHistoryLimit")
        await history.truncate_history(
            self.client,
            owned_revisions,
            live,
            limit if isinstance(limit, int) else DEFAULT_HISTORY_LIMIT,
        )
        min_ready = min_ready_seconds(sts)
        if min_ready > 0 and status["readyReplicas"] != status["availableReplicas"]:
            requeue_after = min(requeue_after or float(min_ready), float(min_ready))
        if requeue_after is not None:
            self.queue.add_after(key, requeue_after + 0.01)

    async def _revisions(
        self, sts: Obj, owned: list[Obj]
    ) -> tuple[Revision, Revision, int, list[Obj]]:
        """The current and update revisions, the collision count, and the owned revisions."""
        revisions = history.by_revision(owned)
        status = sts.get("status") or {}
        collision_count = int(status.get("collisionCount") or 0)
        template = sts["spec"]["template"]
        wanted = history.new_revision(
            sts,
            controller_ref(sts),
            template,
            history.next_number(revisions),
            history.hash_revision(history.template_patch(template), collision_count),
        )
        equal = [r for r in revisions if history.same_data(r, wanted)]
        if equal and equal[-1] is revisions[-1]:
            update = equal[-1]
        elif equal:
            update = await history.renumber(self.client, equal[-1], wanted["revision"])
            revisions = [r for r in revisions if r is not equal[-1]] + [update]
        else:
            update, collision_count = await history.create_revision(
                self.client, sts, wanted, collision_count
            )
            log.info(
                "controller revision created statefulset=%s revision=%s number=%d",
                key_of(sts),
                name_of(update),
                update.get("revision", 0),
            )
            revisions = [*revisions, update]
        current = next(
            (r for r in revisions if name_of(r) == status.get("currentRevision")), update
        )
        return (
            Revision(name_of(current), history.template_of(current)),
            Revision(name_of(update), history.template_of(update)),
            collision_count,
            revisions,
        )

    async def _execute(self, sts: Obj, planned: Plan) -> None:
        """Carry out the plan in order; ordered sets stop at the first failure."""
        failures: list[Exception] = []
        for action in planned.actions:
            try:
                if action.verb == CREATE:
                    await self.pod_control.create(sts, action.pod)
                elif action.verb == DELETE:
                    self._announce(sts, action.pod, action.reason)
                    await self.pod_control.delete(sts, action.pod)
                elif action.verb == UPDATE:
                    await self.pod_control.update(sts, action.pod)
                elif action.verb == CLAIMS:
                    await self.pod_control.create_claims(sts, action.pod)
            except errors.AlreadyExists:
                return  # the cache is behind our own create; its event brings us back
            except (errors.StatusError, RuntimeError) as exc:
                if is_monotonic(sts):
                    raise
                failures.append(exc)
        if failures:
            raise failures[0]

    def _announce(self, sts: Obj, pod: Mapping[str, Any], reason: str) -> None:
        ident = f"{namespace_of(sts)}/{name_of(sts)}"
        if reason == "recreate-failed":
            self.recorder.event(
                sts,
                WARNING,
                "RecreatingFailedPod",
                f"StatefulSet {ident} is recreating failed Pod {name_of(pod)}",
            )
        elif reason == "recreate-succeeded":
            self.recorder.event(
                sts,
                NORMAL,
                "RecreatingTerminatedPod",
                f"StatefulSet {ident} is recreating terminated Pod {name_of(pod)}",
            )
        log.info(
            "stateful pod deleting statefulset=%s pod=%s reason=%s", ident, name_of(pod), reason
        )

    async def _write_status(self, sts: Obj, status: Obj) -> None:
        old = sts.get("status") or {}
        if all(old.get(k) == v for k, v in status.items()):
            return
        updated = copy.deepcopy(sts)
        updated["status"] = status
        try:
            await self.client.update_status(STATEFULSETS, updated)
        except errors.Conflict:
            fresh = await self.client.get(STATEFULSETS, name_of(sts), namespace_of(sts))
            fresh["status"] = status
            await self.client.update_status(STATEFULSETS, fresh)
        except errors.NotFound:
            return


def _selector(sts: Mapping[str, Any]) -> Selector | None:
    try:
        return from_label_selector((sts.get("spec") or {}).get("selector"))
    except SelectorError:
        return None
