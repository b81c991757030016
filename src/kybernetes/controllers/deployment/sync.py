"""The Deployment controller's writes: the new ReplicaSet, scaling, cleanup, status.

``Reconciler`` holds what one sync needs (client, event recorder, clock, the ReplicaSet cache)
and carries out the steps every strategy shares, after upstream's ``sync.go``:

- ``new_and_old`` finds (or creates) the ReplicaSet whose template is the Deployment's, keeping
  revision annotations in step; a name clash with a foreign ReplicaSet bumps
  ``status.collisionCount`` so the next hash differs;
- ``scale`` resizes a Deployment: the single active ReplicaSet takes the new size, or the change
  is spread proportionally over all of them during a rollout (``replicas.proportional_sizes``);
- ``cleanup`` deletes the oldest fully scaled-down ReplicaSets beyond ``revisionHistoryLimit``;
- ``sync_status`` and ``sync_rollout_status`` write the status computed by ``progress``.

The API server's ``/status`` endpoint keeps metadata as stored, so the Deployment's own
``deployment.kubernetes.io/revision`` annotation (which upstream sends along with its status
writes) is written by a separate merge patch after the status.

Invariant: the Deployment dict passed around is the sync's private copy; its resourceVersion
follows every write, so one sync's writes never conflict with each other.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

from kybernetes.api import errors
from kybernetes.api.meta import (
    annotations_of,
    controller_of,
    get_condition,
    name_of,
    namespace_of,
    new_controller_ref,
)
from kybernetes.client.cache import Indexer
from kybernetes.client.events import NORMAL, WARNING, EventRecorder
from kybernetes.client.resource import DEPLOYMENTS, REPLICASETS
from kybernetes.client.rest import Client
from kybernetes.controllers.deployment import progress
from kybernetes.controllers.deployment.replicas import new_rs_new_replicas, proportional_sizes
from kybernetes.controllers.deployment.util import (
    DESIRED_REPLICAS,
    HASH_LABEL,
    REVISION,
    ROLLBACK_TO,
    active,
    compute_hash,
    equal_ignore_hash,
    find_active_or_latest,
    find_new,
    find_old,
    has_deadline,
    has_history_limit,
    is_rolling,
    is_saturated,
    max_revision,
    max_surge,
    replicas,
    revision_key,
    set_new_rs_annotations,
    set_replicas_annotations,
    spec_of,
    status_of,
)
from kybernetes.util.clock import Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class Reconciler:
    """The shared steps of a Deployment sync, writing through the API."""

    def __init__(
        self,
        client: Client,
        recorder: EventRecorder,
        clock: Clock,
        replicasets: Indexer,
        requeue_after: Callable[[Obj, float], None],
        requeue_rate_limited: Callable[[Obj], None],
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.replicasets = replicasets
        self.requeue_after = requeue_after
        self.requeue_rate_limited = requeue_rate_limited

    # --- the Deployment --------------------------------------------------------------------

    async def write_status(self, d: Obj) -> None:
        """Write ``d``'s status, then its revision annotation if the server's differs."""
        body = {**d, "status": progress.wire(status_of(d))}
        written = await self.client.update_status(DEPLOYMENTS, body)
        want = annotations_of(d).get(REVISION)
        if want is not None and annotations_of(written).get(REVISION) != want:
            patch = {
                "metadata": {
                    "annotations": {REVISION: want},
                    "resourceVersion": written["metadata"]["resourceVersion"],
                }
            }
            written = await self.client.patch(DEPLOYMENTS, name_of(d), patch, namespace_of(d))
        d["metadata"]["resourceVersion"] = written["metadata"]["resourceVersion"]

    def _set_revision(self, d: Obj, value: str) -> bool:
        notes = d["metadata"].setdefault("annotations", {})
        if notes.get(REVISION) == value:
            return False
        notes[REVISION] = value
        return True

    async def check_paused(self, d: Obj) -> None:
        cond = progress.paused_condition(d, self.clock.now())
        if cond is not None:
            status = d.setdefault("status", {})
            progress.set_condition(status, cond)
            await self.write_status(d)

    # --- the new ReplicaSet ----------------------------------------------------------------

    async def new_and_old(
        self, d: Obj, rs_list: Sequence[Obj], create: bool
    ) -> tuple[Obj | None, list[Obj]]:
        """(the new ReplicaSet, or None; every old one) (``getAllReplicaSetsAndSyncRevision``)."""
        _, all_old = find_old(find_new(d, rs_list), rs_list)
        new = await self._new_rs(d, rs_list, all_old, create)
        return new, all_old

    async def _new_rs(
        self, d: Obj, rs_list: Sequence[Obj], old: list[Obj], create: bool
    ) -> Obj | None:
        existing = find_new(d, rs_list)
        new_revision = str(max_revision(old) + 1)
        if existing is not None:
            return await self._sync_existing(d, existing, new_revision)
        if not create:
            return None
        spec = spec_of(d)
        template = copy.deepcopy(spec.get("template") or {})
        pod_hash = compute_hash(template, status_of(d).get("collisionCount"))
        labels = {**(template.get("metadata") or {}).get("labels", {}), HASH_LABEL: pod_hash}
        template.setdefault("metadata", {})["labels"] = labels
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
        name = f"{name_of(d)}-{pod_hash}"
        rs_spec: Obj = {"replicas": 0, "selector": selector, "template": template}
        if spec.get("minReadySeconds"):
            rs_spec["minReadySeconds"] = spec["minReadySeconds"]
        new: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": namespace_of(d),
                "labels": dict(labels),
                "ownerReferences": [new_controller_ref(d, "apps/v1", "Deployment")],
            },
            "spec": rs_spec,
        }
        count = new_rs_new_replicas(d, [*old, new], new)
        rs_spec["replicas"] = count
        set_new_rs_annotations(d, new, new_revision, exists=False)
        already_exists = False
        try:
            created = await self.client.create(REPLICASETS, new, namespace_of(d))
        except errors.AlreadyExists:
            found = self.replicasets.get_by_name(name, namespace_of(d))
            ref = controller_of(found) if found is not None else None
            if (
                found is None
                or ref is None
                or ref.get("uid") != d["metadata"].get("uid")
                or not equal_ignore_hash(
                    spec.get("template") or {}, spec_of(found).get("template") or {}
                )
            ):
                status = d.setdefault("status", {})
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                await self.write_status(d)
                log.info("hash collision deployment=%s/%s rs=%s", namespace_of(d), name_of(d), name)
                raise
            created, already_exists = found, True
        except errors.StatusError as exc:
            message = f'Failed to create new replica set "{name}": {exc}'
            if has_deadline(d):
                status = d.setdefault("status", {})
                now = self.clock.now()
                cond = progress.condition(
                    progress.PROGRESSING, "False", progress.FAILED_RS_CREATE, message, now
                )
                progress.set_condition(status, cond)
                with contextlib.suppress(errors.StatusError):  # the create error is what matters
                    await self.write_status(d)
            self.recorder.event(d, WARNING, progress.FAILED_RS_CREATE, message)
            raise
        if not already_exists and count > 0:
            self.recorder.event(
                d, NORMAL, "ScalingReplicaSet", f"Scaled up replica set {name} to {count}"
            )
        needs_update = self._set_revision(d, new_revision)
        if not already_exists and has_deadline(d):
            message = f'Created new replica set "{name}"'
            cond = progress.condition(
                progress.PROGRESSING, "True", progress.NEW_RS_CREATED, message, self.clock.now()
            )
            progress.set_condition(d.setdefault("status", {}), cond)
            needs_update = True
        if needs_update:
            await self.write_status(d)
        return created

    async def _sync_existing(self, d: Obj, existing: Obj, new_revision: str) -> Obj:
        rs = copy.deepcopy(existing)
        changed = set_new_rs_annotations(d, rs, new_revision, exists=True)
        want_min_ready = int(spec_of(d).get("minReadySeconds") or 0)
        if changed or int(spec_of(rs).get("minReadySeconds") or 0) != want_min_ready:
            rs["spec"]["minReadySeconds"] = want_min_ready
            return await self.client.update(REPLICASETS, rs)
        needs_update = self._set_revision(d, annotations_of(rs).get(REVISION, ""))
        current = get_condition(status_of(d).get("conditions"), progress.PROGRESSING)
        if has_deadline(d) and current is None:
            cond = progress.condition(
                progress.PROGRESSING,
                "True",
                progress.FOUND_NEW_RS,
                f'Found new replica set "{name_of(rs)}"',
                self.clock.now(),
            )
            progress.set_condition(d.setdefault("status", {}), cond)
            needs_update = True
        if needs_update:
            await self.write_status(d)
        return rs

    # --- scaling ---------------------------------------------------------------------------

    async def scale_rs(self, rs: Obj, size: int, d: Obj, operation: str) -> tuple[bool, Obj]:
        """Set ``rs`` to ``size`` replicas and refresh its replica annotations."""
        body = copy.deepcopy(rs)
        resize = replicas(rs) != size
        notes_changed = set_replicas_annotations(body, replicas(d), replicas(d) + max_surge(d))
        if not resize and not notes_changed:
            return False, rs
        body["spec"]["replicas"] = size
        updated = await self.client.update(REPLICASETS, body)
        if resize:
            message = f"Scaled {operation} replica set {name_of(rs)} to {size} from {replicas(rs)}"
            self.recorder.event(d, NORMAL, "ScalingReplicaSet", message)
        return resize, updated

    async def scale_and_record(self, rs: Obj, size: int, d: Obj) -> tuple[bool, Obj]:
        if replicas(rs) == size:
            return False, rs
        return await self.scale_rs(rs, size, d, "up" if replicas(rs) < size else "down")

    async def scale(self, d: Obj, new: Obj | None, old: list[Obj]) -> None:
        """Bring the ReplicaSets to the Deployment's size (``scale``)."""
        target = find_active_or_latest(new, old)
        if target is not None:
            if replicas(target) != replicas(d):
                await self.scale_and_record(target, replicas(d), d)
            return
        if is_saturated(d, new):
            for rs in active(old):
                await self.scale_and_record(rs, 0, d)
            return
        if is_rolling(d):
            sizes, operation = proportional_sizes(d, active([*old, new]))
            for rs, size in sizes:
                await self.scale_rs(rs, size, d, operation)

    def is_scaling_event(self, d: Obj, new: Obj | None, old: list[Obj]) -> bool:
        """Some active ReplicaSet was sized for a different ``spec.replicas``."""
        for rs in active([*old, new]):
            try:
                desired = int(annotations_of(rs)[DESIRED_REPLICAS])
            except (KeyError, ValueError):
                continue
            if desired != replicas(d):
                return True
        return False

    # --- history and status ----------------------------------------------------------------

    async def cleanup(self, old: list[Obj], d: Obj) -> None:
        """Delete the oldest scaled-down ReplicaSets beyond ``revisionHistoryLimit``."""
        if not has_history_limit(d):
            return
        alive = [rs for rs in old if not rs["metadata"].get("deletionTimestamp")]
        excess = len(alive) - int(spec_of(d)["revisionHistoryLimit"])
        for rs in sorted(alive, key=revision_key)[: max(excess, 0)]:
            status = status_of(rs)
            if (
                int(status.get("replicas") or 0) != 0
                or replicas(rs) != 0
                or int(rs["metadata"].get("generation") or 0)
                > int(status.get("observedGeneration") or 0)
            ):
                continue
            log.info("deleting old replica set deployment=%s rs=%s", name_of(d), name_of(rs))
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(REPLICASETS, name_of(rs), namespace_of(rs))

    async def sync_status(self, all_rss: Sequence[Obj | None], new: Obj | None, d: Obj) -> None:
        status = progress.calculate_status(d, all_rss, new)
        status = progress.with_available(d, status, self.clock.now())
        if progress.wire(status) != progress.wire(status_of(d)):
            d["status"] = status
            await self.write_status(d)

    async def sync(self, d: Obj, rs_list: Sequence[Obj]) -> None:
        """Scale only, no rollout step (paused Deployments and scaling events)."""
        new, old = await self.new_and_old(d, rs_list, create=False)
        await self.scale(d, new, old)
        if spec_of(d).get("paused") and ROLLBACK_TO not in annotations_of(d):
            await self.cleanup(old, d)
        await self.sync_status([*old, new], new, d)

    async def sync_rollout_status(
        self, all_rss: Sequence[Obj | None], new: Obj | None, d: Obj
    ) -> None:
        now = self.clock.now()
        status = progress.rollout_status(d, all_rss, new, now)
        if progress.wire(status) == progress.wire(status_of(d)):
            delay = progress.requeue_delay(d, status, now)
            if delay == 0.0:
                self.requeue_rate_limited(d)
            elif delay is not None:
                self.requeue_after(d, delay)
            return
        d["status"] = status
        await self.write_status(d)
