"""Shared workload-controller helpers: pod predicates, pod creation and deletion, ownership.

Every controller that owns pods (ReplicaSet, ReplicationController, and later StatefulSet,
DaemonSet, Job) builds on this module, as upstream's ``controller_utils.go`` and
``controller_ref_manager.go``:

- predicates: a pod is *active* until it is terminating or has finished; *ready* when its Ready
  condition is True; *available* once it has been ready for ``minReadySeconds``;
- ``PodControl`` creates pods from a template (``generateName: <owner>-``, the template's labels,
  annotations and finalizers, the owner's controller reference) and deletes them, recording the
  upstream events (``SuccessfulCreate`` "Created pod: x", ``SuccessfulDelete`` "Deleted pod: x",
  ``FailedCreate``/``FailedDelete`` on errors); ``slow_start_batch`` runs creations in batches
  of 1, 2, 4, ... so a failing create (quota, admission) costs one request, not hundreds;
- ``rank_for_deletion`` orders pods the way upstream picks victims on scale-down;
- ``ControllerRefManager`` adopts orphans that match a selector and releases owned objects that
  no longer match, with the strategic-merge patches (carrying the object's uid) upstream sends.

Invariant: nothing here mutates an object read from an informer cache; every change is a write
to the API server.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.api.meta import (
    controller_of,
    get_condition,
    labels_of,
    name_of,
    namespace_of,
    parse_time,
    uid_of,
)
from kybernetes.api.selectors import Selector
from kybernetes.client.events import NORMAL, WARNING, EventRecorder
from kybernetes.client.resource import PODS, Resource
from kybernetes.client.rest import Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SLOW_START_INITIAL_BATCH: Final = 1
DELETION_COST_ANNOTATION: Final = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDER: Final = {"Pending": 0, "Unknown": 1, "Running": 2}


# --------------------------------------------------------------------------------------------
# Predicates.


def is_pod_active(pod: Mapping[str, Any]) -> bool:
    """Not finished (Succeeded/Failed) and not terminating (``FilterActivePods``)."""
    phase = (pod.get("status") or {}).get("phase")
    deleting = (pod.get("metadata") or {}).get("deletionTimestamp")
    return phase not in ("Succeeded", "Failed") and not deleting


def _ready_condition(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    return get_condition((pod.get("status") or {}).get("conditions"), "Ready")


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    condition = _ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def ready_since(pod: Mapping[str, Any]) -> float | None:
    """Epoch seconds of the Ready condition's last transition, if the pod is ready."""
    condition = _ready_condition(pod)
    if condition is None or condition.get("status") != "True":
        return None
    stamp = condition.get("lastTransitionTime")
    return parse_time(stamp).timestamp() if stamp else None


def is_pod_available(pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> bool:
    """Ready for more than ``min_ready_seconds`` (``podutil.IsPodAvailable``)."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready_seconds < now


def _timestamp(pod: Mapping[str, Any]) -> float | None:
    stamp = (pod.get("metadata") or {}).get("creationTimestamp")
    return parse_time(stamp).timestamp() if stamp else None


def _max_restarts(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or ()
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _deletion_cost(pod: Mapping[str, Any]) -> int:
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(DELETION_COST_ANNOTATION)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


# --------------------------------------------------------------------------------------------
# Choosing pods to delete (``ActivePodsWithRanks``).


def _after_or_zero(t1: float | None, t2: float | None) -> bool:
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


def _log_rank(t: float, now: float) -> int:
    age_ns = (now - t) * 1e9
    return int(math.log2(age_ns)) if age_ns > 0 else -1


def _compare_times(t1: float | None, t2: float | None, now: float, uids: tuple[str, str]) -> int:
    """Newer first, ages bucketed by powers of two (``LogarithmicScaleDown``), uid tie-break."""
    if t1 is None or t2 is None:
        return -1 if _after_or_zero(t1, t2) else 1
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    if diff == 0:
        return -1 if uids[0] < uids[1] else (1 if uids[0] > uids[1] else 0)
    return -1 if diff < 0 else 1


def _compare(a: tuple[Obj, int], b: tuple[Obj, int], now: float) -> int:
    """Negative when ``a`` should be deleted before ``b``."""
    (pa, rank_a), (pb, rank_b) = a, b
    node_a, node_b = (pa.get("spec") or {}).get("nodeName"), (pb.get("spec") or {}).get("nodeName")
    if node_a != node_b and (not node_a or not node_b):
        return -1 if not node_a else 1  # unassigned first
    phase_a = _PHASE_ORDER.get((pa.get("status") or {}).get("phase", ""), 0)
    phase_b = _PHASE_ORDER.get((pb.get("status") or {}).get("phase", ""), 0)
    if phase_a != phase_b:
        return phase_a - phase_b  # Pending < Unknown < Running
    ready_a, ready_b = is_pod_ready(pa), is_pod_ready(pb)
    if ready_a != ready_b:
        return -1 if not ready_a else 1
    cost_a, cost_b = _deletion_cost(pa), _deletion_cost(pb)
    if cost_a != cost_b:
        return -1 if cost_a < cost_b else 1
    if rank_a != rank_b:
        return -1 if rank_a > rank_b else 1  # doubled-up pods first
    uids = (uid_of(pa), uid_of(pb))
    if ready_a and ready_b:
        since_a, since_b = ready_since(pa), ready_since(pb)
        if since_a != since_b:
            return _compare_times(since_a, since_b, now, uids)
    restarts_a, restarts_b = _max_restarts(pa), _max_restarts(pb)
    if restarts_a != restarts_b:
        return -1 if restarts_a > restarts_b else 1
    created_a, created_b = _timestamp(pa), _timestamp(pb)
    if created_a != created_b:
        return _compare_times(created_a, created_b, now, uids)
    return 0


def rank_for_deletion(
    pods: Sequence[Obj], related: Iterable[Mapping[str, Any]], now: float
) -> list[Obj]:
    """``pods`` in the order they should be deleted.

    Each pod's rank is the number of active ``related`` pods (those of the owner's siblings,
    itself included) on its node, so doubled-up nodes lose pods first.
    """
    on_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(pod, on_node.get((pod.get("spec") or {}).get("nodeName") or "", 0)) for pod in pods]
    ranked.sort(key=functools.cmp_to_key(functools.partial(_compare, now=now)))
    return [pod for pod, _ in ranked]


# --------------------------------------------------------------------------------------------
# Creating and deleting pods.


async def slow_start_batch(
    count: int, initial: int, create: Callable[[], Awaitable[None]]
) -> tuple[int, Exception | None]:
    """Call ``create`` ``count`` times in concurrent batches of 1, 2, 4, ... (``slowStartBatch``).

    Stops after the first batch with a failure; returns how many calls succeeded and the first
    error, if any.
    """
    done, batch = 0, min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(create() for _ in range(batch)), return_exceptions=True)
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
        failures = [r for r in results if isinstance(r, Exception)]
        done += batch - len(failures)
        if failures:
            return done, failures[0]
        remaining = count - done
        batch = min(2 * batch, remaining)
    return done, None


def pod_from_template(
    template: Mapping[str, Any], owner: Mapping[str, Any], controller_ref: Mapping[str, Any]
) -> Obj:
    """A pod to create from ``template`` for ``owner`` (``GetPodFromTemplate``)."""
    tmeta = template.get("metadata") or {}
    meta: Obj = {"generateName": f"{name_of(owner)}-", "namespace": namespace_of(owner)}
    for field in ("labels", "annotations", "finalizers"):
        if tmeta.get(field):
            meta[field] = copy.deepcopy(tmeta[field])
    meta["ownerReferences"] = [dict(controller_ref)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def namespace_terminating(error: errors.StatusError) -> bool:
    details = error.details
    causes = details.causes if details is not None else ()
    return any(cause.type == "NamespaceTerminating" for cause in causes)


class PodControl:
    """Creates and deletes an owner's pods, recording an event on the owner for each."""

    def __init__(self, client: Client, recorder: EventRecorder) -> None:
        self.client = client
        self.recorder = recorder

    async def create(
        self, template: Mapping[str, Any], owner: Obj, controller_ref: Mapping[str, Any]
    ) -> Obj:
        pod = pod_from_template(template, owner, controller_ref)
        if not pod["metadata"].get("labels"):
            raise ValueError("unable to create pods, no labels")
        try:
            created = await self.client.create(PODS, pod, namespace_of(owner))
        except errors.StatusError as exc:
            if not namespace_terminating(exc):
                self.recorder.event(owner, WARNING, "FailedCreate", f"Error creating: {exc}")
            raise
        log.debug("pod created owner=%s pod=%s", name_of(owner), name_of(created))
        self.recorder.event(owner, NORMAL, "SuccessfulCreate", f"Created pod: {name_of(created)}")
        return created

    async def delete(self, namespace: str, name: str, owner: Obj) -> None:
        """Delete one pod; a pod already gone raises ``NotFound`` without an event."""
        try:
            await self.client.delete(PODS, name, namespace)
        except errors.StatusError as exc:
            if not isinstance(exc, errors.NotFound):
                self.recorder.event(owner, WARNING, "FailedDelete", f"Error deleting: {exc}")
            raise
        self.recorder.event(owner, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")


# --------------------------------------------------------------------------------------------
# Adoption and release (``ControllerRefManager``).


def owner_ref_patch(obj_uid: str, controller_ref: Mapping[str, Any]) -> Obj:
    """Strategic-merge patch making ``controller_ref`` the object's controller."""
    return {"metadata": {"ownerReferences": [dict(controller_ref)], "uid": obj_uid}}


def release_patch(obj_uid: str, owner_uid: str) -> Obj:
    """Strategic-merge patch dropping the owner reference to ``owner_uid``."""
    return {
        "metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": obj_uid}
    }


class ControllerRefManager:
    """Claims the objects of ``resource`` that ``owner`` should control.

    ``can_adopt`` re-reads the owner from the API server (not the cache) and raises if it was
    deleted or replaced, so a stale owner never adopts; it runs at most once per manager.
    """

    def __init__(
        self,
        client: Client,
        resource: Resource,
        owner: Mapping[str, Any],
        controller_ref: Mapping[str, Any],
        selector: Selector,
        can_adopt: Callable[[], Awaitable[None]],
    ) -> None:
        self.client = client
        self.resource = resource
        self.owner = owner
        self.controller_ref = dict(controller_ref)
        self.selector = selector
        self._can_adopt = can_adopt
        self._adoptable: bool | None = None

    async def claim(self, objs: Iterable[Obj]) -> list[Obj]:
        """The objects the owner controls after adopting and releasing (``ClaimObject``)."""
        claimed: list[Obj] = []
        failures: list[Exception] = []
        owner_uid = uid_of(self.owner)
        owner_deleting = bool((self.owner.get("metadata") or {}).get("deletionTimestamp"))
        for obj in objs:
            ref = controller_of(obj)
            matches = self.selector.matches(labels_of(obj))
            try:
                if ref is not None:
                    if ref.get("uid") != owner_uid:
                        continue
                    if matches:
                        claimed.append(obj)
                    elif not owner_deleting:
                        await self._release(obj)
                    continue
                if owner_deleting or not matches:
                    continue
                if (obj.get("metadata") or {}).get("deletionTimestamp"):
                    continue
                if namespace_of(obj) != namespace_of(self.owner):
                    continue
                adopted = await self._adopt(obj)
                if adopted is not None:
                    claimed.append(adopted)
            except (errors.StatusError, RuntimeError) as exc:
                failures.append(exc)
        if failures:
            raise failures[0]
        return claimed

    async def _adopt(self, obj: Obj) -> Obj | None:
        if self._adoptable is None:
            try:
                await self._can_adopt()
                self._adoptable = True
            except (errors.StatusError, RuntimeError):
                self._adoptable = False
                raise
        if not self._adoptable:
            return None
        try:
            adopted = await self.client.patch(
                self.resource,
                name_of(obj),
                owner_ref_patch(uid_of(obj), self.controller_ref),
                namespace_of(obj),
                patch_type="strategic",
            )
        except errors.NotFound:
            return None
        log.info("adopted owner=%s %s=%s", name_of(self.owner), self.resource.kind, name_of(obj))
        return adopted

    async def _release(self, obj: Obj) -> None:
        try:
            await self.client.patch(
                self.resource,
                name_of(obj),
                release_patch(uid_of(obj), uid_of(self.owner)),
                namespace_of(obj),
                patch_type="strategic",
            )
        except (errors.NotFound, errors.Invalid):
            # Gone, or recreated under another uid / no longer owned: nothing to release.
            return
        log.info("released owner=%s %s=%s", name_of(self.owner), self.resource.kind, name_of(obj))


def recheck_owner(
    client: Client, resource: Resource, owner: Mapping[str, Any]
) -> Callable[[], Awaitable[None]]:
    """A ``can_adopt`` check: the live owner still has this uid and is not being deleted."""

    async def check() -> None:
        fresh = await client.get(resource, name_of(owner), namespace_of(owner) or None)
        if uid_of(fresh) != uid_of(owner):
            raise RuntimeError(
                f"original {namespace_of(owner)}/{name_of(owner)} is gone: "
                f"got uid {uid_of(fresh)}, wanted {uid_of(owner)}"
            )
        deleted = (fresh.get("metadata") or {}).get("deletionTimestamp")
        if deleted:
            raise RuntimeError(
                f"{namespace_of(owner)}/{name_of(owner)} has just been deleted at {deleted}"
            )

    return check
