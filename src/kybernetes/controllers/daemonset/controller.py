"""The DaemonSet controller: one pod on every eligible node, rolled by ControllerRevision.

A sync reads the DaemonSet and every node, claims its ControllerRevisions and pods, then:

1. builds the history (``revisions``): the revision recording the current template, and the
   old ones; new pods get the current hash as their ``controller-revision-hash`` label;
2. manages nodes (``nodes.manage``): creates pods pinned to the nodes that need one and deletes
   the pods that must go, in slow-start batches of at most ``BURST_REPLICAS``, recording
   expectations so a lagging cache never causes a second create or delete;
3. once the cache has caught up, takes one step of the rolling update (``rolling``) unless the
   strategy is ``OnDelete``, and deletes old revisions beyond ``revisionHistoryLimit``;
4. writes the status (with ``observedGeneration`` only when expectations were met).

Invariant: while expectations for a DaemonSet are unmet, its sync only refreshes the status.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.api.meta import controller_of, labels_of, name_of, namespace_of, new_controller_ref
from kybernetes.api.selectors import Selector, SelectorError, from_label_selector
from kybernetes.client.cache import key_of, split_key
from kybernetes.client.events import WARNING
from kybernetes.client.informer import Handler
from kybernetes.client.resource import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from kybernetes.controllers import history
from kybernetes.controllers.base import ControllerContext, QueueController
from kybernetes.controllers.daemonset import nodes as node_decisions
from kybernetes.controllers.daemonset import revisions
from kybernetes.controllers.daemonset.placement import daemon_tolerations, pinned_to
from kybernetes.controllers.daemonset.rolling import rolling_update
from kybernetes.controllers.expectations import Expectations
from kybernetes.controllers.podcontrol import (
    SLOW_START_INITIAL_BATCH,
    ControllerRefManager,
    PodControl,
    namespace_terminating,
    recheck_owner,
    slow_start_batch,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]
BURST_REPLICAS: Final = 250
DEFAULT_HISTORY_LIMIT: Final = 10
FAILED_BACKOFF_INITIAL: Final = 1.0
FAILED_BACKOFF_MAX: Final = 900.0


def controller_ref(ds: Mapping[str, Any]) -> Obj:
    return new_controller_ref(ds, "apps/v1", "DaemonSet")


def daemon_template(ds: Mapping[str, Any], hash_: str) -> Obj:
    """The DaemonSet's pod template with daemon tolerations and the revision hash label."""
    template = copy.deepcopy(dict(ds["spec"]["template"]))
    spec = template.setdefault("spec", {})
    spec["tolerations"] = daemon_tolerations(spec)
    template.setdefault("metadata", {}).setdefault("labels", {})[history.POD_REVISION_LABEL] = hash_
    return template


class DaemonSetController(QueueController):
    name = "daemonset"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        factory = context.informers
        self.sets = self.informer(factory.informer(DAEMONSETS))
        self.pods = self.informer(factory.informer(PODS))
        self.nodes = self.informer(factory.informer(NODES))
        self.revisions = self.informer(factory.informer(CONTROLLERREVISIONS))
        self.recorder = context.recorder("daemonset-controller")
        self.pod_control = PodControl(self.client, self.recorder)
        self.expectations = Expectations(context.clock)
        # "<ds key>/<node>" -> (current delay, monotonic time of the last failed-pod deletion)
        self._failed_backoff: dict[str, tuple[float, float]] = {}
        self.sets.add_handler(
            Handler(self.enqueue, lambda _old, new: self.enqueue(new), self._set_deleted)
        )
        self.pods.add_handler(Handler(self._pod_added, self._pod_updated, self._pod_deleted))
        self.nodes.add_handler(Handler(self._node_changed, self._node_updated, self._node_changed))

    # --- event handlers ------------------------------------------------------------------------

    def _set_deleted(self, ds: Obj) -> None:
        self.expectations.forget(key_of(ds))
        self.enqueue(ds)

    def _owner_key(self, pod: Obj) -> str | None:
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "DaemonSet":
            return None
        return f"{namespace_of(pod)}/{ref.get('name')}"

    def _enqueue_matching(self, pod: Obj) -> None:
        for ds in self.sets.store.list_namespace(namespace_of(pod)):
            selector = _selector(ds)
            if selector is not None and selector.matches(labels_of(pod)):
                self.enqueue(ds)

    def _pod_added(self, pod: Obj) -> None:
        owner = self._owner_key(pod)
        if owner is not None:
            self.expectations.creation_observed(owner)
            self.queue.add(owner)
        elif controller_of(pod) is None:
            self._enqueue_matching(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        for pod in (old, new) if controller_of(old) != controller_of(new) else (new,):
            owner = self._owner_key(pod)
            if owner is not None:
                self.queue.add(owner)
            elif controller_of(pod) is None:
                self._enqueue_matching(pod)

    def _pod_deleted(self, pod: Obj) -> None:
        owner = self._owner_key(pod)
        if owner is not None:
            self.expectations.deletion_observed(owner, key_of(pod))
            self.queue.add(owner)

    def _node_changed(self, _node: Obj) -> None:
        for ds in self.sets.store.list():
            self.enqueue(ds)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if labels_of(old) != labels_of(new) or old.get("spec") != new.get("spec"):
            self._node_changed(new)

    # --- one DaemonSet ---------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        ds = self.sets.store.get(key)
        if ds is None:
            self.expectations.forget(key)
            return
        selector = _selector(ds)
        if selector is None:
            return
        if selector.is_empty:
            self.recorder.event(
                ds,
                WARNING,
                "SelectingAll",
                "This daemon set is selecting all pods. A non-empty selector is required.",
            )
            return
        if (ds.get("metadata") or {}).get("deletionTimestamp"):
            return
        namespace, _ = split_key(key)
        can_adopt = recheck_owner(self.client, DAEMONSETS, ds)
        owned = await ControllerRefManager(
            self.client, CONTROLLERREVISIONS, ds, controller_ref(ds), selector, can_adopt
        ).claim(self.revisions.store.list_namespace(namespace))
        current, old = await revisions.construct_history(
            self.client, ds, controller_ref(ds), owned, self.pods.store.list_namespace(namespace)
        )
        hash_ = labels_of(current).get(history.POD_REVISION_LABEL, "")
        nodes = self.nodes.store.list()
        if not self.expectations.satisfied(key):
            await self._write_status(ds, nodes, await self._node_pods(ds, selector), hash_, False)
            return
        now = self.clock.now()
        node_pods = await self._node_pods(ds, selector)
        decided = node_decisions.manage(ds, nodes, node_pods, hash_, now)
        to_delete = decided.delete + self._failed_to_delete(ds, decided.failed)
        await self._sync_nodes(ds, to_delete, decided.create_on, hash_)
        if self.expectations.satisfied(key):
            strategy = (ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
            if strategy == "RollingUpdate":
                delete, create_on = rolling_update(ds, nodes, node_pods, hash_, now)
                await self._sync_nodes(ds, delete, create_on, hash_)
            live_hashes = {
                labels_of(pod).get(history.POD_REVISION_LABEL)
                for pods in node_pods.values()
                for pod in pods
            }
            live = {
                name_of(r)
                for r in old
                if labels_of(r).get(history.POD_REVISION_LABEL) in live_hashes
            }
            limit = ds["spec"].get("revisionHistoryLimit")
            await history.truncate_history(
                self.client, old, live, limit if isinstance(limit, int) else DEFAULT_HISTORY_LIMIT
            )
        await self._write_status(ds, nodes, await self._node_pods(ds, selector), hash_, True)

    async def _node_pods(self, ds: Obj, selector: Selector) -> dict[str, list[Obj]]:
        can_adopt = recheck_owner(self.client, DAEMONSETS, ds)
        pods = await ControllerRefManager(
            self.client, PODS, ds, controller_ref(ds), selector, can_adopt
        ).claim(self.pods.store.list_namespace(namespace_of(ds)))
        return node_decisions.pods_by_node(pods)

    def _failed_to_delete(self, ds: Obj, failed: list[tuple[str, Obj]]) -> list[Obj]:
        """Failed pods to replace now; a node whose pods keep failing backs off exponentially."""
        now = self.clock.monotonic()
        out: list[Obj] = []
        for node_name, pod in failed:
            backoff_key = f"{key_of(ds)}/{node_name}"
            delay, last = self._failed_backoff.get(backoff_key, (0.0, 0.0))
            if delay and now - last < delay:
                self.enqueue_after(ds, delay - (now - last))
                continue
            expired = not delay or now - last > 2 * FAILED_BACKOFF_MAX
            delay = FAILED_BACKOFF_INITIAL if expired else min(delay * 2, FAILED_BACKOFF_MAX)
            self._failed_backoff[backoff_key] = (delay, now)
            self.recorder.event(
                ds,
                WARNING,
                "FailedDaemonPod",
                f"Found failed daemon pod {namespace_of(pod)}/{name_of(pod)} on node "
                f"{node_name}, will try to kill it",
            )
            out.append(pod)
        return out

    async def _sync_nodes(
        self, ds: Obj, to_delete: list[Obj], create_on: list[str], hash_: str
    ) -> None:
        """Create pods on ``create_on`` and delete ``to_delete``, under expectations."""
        key = key_of(ds)
        create_on = create_on[:BURST_REPLICAS]
        to_delete = to_delete[:BURST_REPLICAS]
        self.expectations.expect(key, adds=len(create_on), deletes={key_of(p) for p in to_delete})
        if create_on or to_delete:
            log.info(
                "daemon pods syncing daemonset=%s create=%d delete=%d",
                key,
                len(create_on),
                len(to_delete),
            )
        template = daemon_template(ds, hash_)
        pending = iter(create_on)
        attempted = 0

        async def create_one() -> None:
            nonlocal attempted
            attempted += 1
            node_name = next(pending)
            try:
                await self.pod_control.create(
                    pinned_to(template, node_name), ds, controller_ref(ds)
                )
            except errors.StatusError as exc:
                self.expectations.creation_failed(key)
                if not namespace_terminating(exc):
                    raise

        _, create_error = await slow_start_batch(
            len(create_on), SLOW_START_INITIAL_BATCH, create_one
        )
        for _ in range(len(create_on) - attempted):
            self.expectations.creation_failed(key)

        async def delete_one(pod: Obj) -> None:
            try:
                await self.pod_control.delete(namespace_of(pod), name_of(pod), ds)
            except errors.StatusError as exc:
                self.expectations.deletion_observed(key, key_of(pod))
                if not isinstance(exc, errors.NotFound):
                    raise

        results = await asyncio.gather(*(delete_one(p) for p in to_delete), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            if not isinstance(failure, Exception):
                raise failure
        if create_error is not None:
            raise create_error
        if failures:
            raise failures[0]

    # --- status ----------------------------------------------------------------------------

    async def _write_status(
        self,
        ds: Obj,
        nodes: list[Obj],
        node_pods: dict[str, list[Obj]],
        hash_: str,
        observed: bool,
    ) -> None:
        now = self.clock.now()
        counts: dict[str, Any] = node_decisions.status(ds, nodes, node_pods, hash_, now)
        old = ds.get("status") or {}
        generation = (ds.get("metadata") or {}).get("generation", 0)
        if observed:
            counts["observedGeneration"] = generation
        min_ready = node_decisions.min_ready_seconds(ds)
        if min_ready > 0 and counts["numberReady"] != counts["numberAvailable"]:
            self.enqueue_after(ds, float(min_ready))
        if all(old.get(k, 0) == v for k, v in counts.items()):
            return
        for attempt in range(2):
            target = (
                ds
                if attempt == 0
                else await self.client.get(DAEMONSETS, name_of(ds), namespace_of(ds))
            )
            updated = copy.deepcopy(target)
            updated["status"] = {**(target.get("status") or {}), **counts}
            try:
                await self.client.update_status(DAEMONSETS, updated)
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                if attempt == 1:
                    raise


def _selector(ds: Mapping[str, Any]) -> Selector | None:
    try:
        return from_label_selector((ds.get("spec") or {}).get("selector"))
    except SelectorError:
        return None
