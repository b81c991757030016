"""StatefulSet pod and claim writes, each recorded as upstream's ``StatefulPodControl`` does.

Creating a pod first creates the PersistentVolumeClaims it mounts (those not already there);
events are upstream's, on the StatefulSet: ``SuccessfulCreate`` "create Pod web-0 in
StatefulSet web successful", ``SuccessfulCreate`` "create Claim www-web-0 Pod web-0 in
StatefulSet web success", ``SuccessfulDelete``, ``SuccessfulUpdate``, and ``Failed<Verb>``
warnings carrying the error. A create that finds the pod already there raises ``AlreadyExists``
without an event (the cache was behind; the next sync sees the pod).

Invariant: deletions carry the pod's uid as a precondition, so a pod recreated under the same
name is never deleted by a decision made about its predecessor.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from typing import Any

from kybernetes.api import errors
from kybernetes.api.meta import name_of, namespace_of, uid_of
from kybernetes.client.events import NORMAL, WARNING, EventRecorder
from kybernetes.client.resource import PERSISTENTVOLUMECLAIMS, PODS
from kybernetes.client.rest import Client
from kybernetes.controllers.statefulset.identity import claim_owner_refs, claims_for

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ClaimLookup = Callable[[str, str], Obj | None]


class StatefulPodControl:
    """Creates, updates and deletes a StatefulSet's pods and claims, with events."""

    def __init__(self, client: Client, recorder: EventRecorder, claims: ClaimLookup) -> None:
        self.client = client
        self.recorder = recorder
        self._claim = claims  # (namespace, name) -> the cached claim, if any

    def _pod_event(
        self, verb: str, sts: Obj, pod: Mapping[str, Any], error: Exception | None
    ) -> None:
        subject = f"{verb} Pod {name_of(pod)} in StatefulSet {name_of(sts)}"
        if error is None:
            self.recorder.event(sts, NORMAL, f"Successful{verb.title()}", f"{subject} successful")
        else:
            self.recorder.event(
                sts, WARNING, f"Failed{verb.title()}", f"{subject} failed error: {error}"
            )

    async def create_claims(self, sts: Obj, pod: Mapping[str, Any]) -> None:
        """Create every claim the pod mounts that does not exist yet."""
        failures: list[Exception] = []
        for claim in claims_for(sts, pod).values():
            namespace, name = namespace_of(claim), name_of(claim)
            existing = self._claim(namespace, name)
            if existing is not None:
                if (existing.get("metadata") or {}).get("deletionTimestamp"):
                    failures.append(RuntimeError(f"pvc {name} is being deleted"))
                continue
            try:
                await self.client.create(PERSISTENTVOLUMECLAIMS, claim, namespace)
            except errors.AlreadyExists:
                continue
            except errors.StatusError as exc:
                failures.append(exc)
                self.recorder.event(
                    sts,
                    WARNING,
                    "FailedCreate",
                    f"create Claim {name} for Pod {name_of(pod)} in StatefulSet "
                    f"{name_of(sts)} failed error: {exc}",
                )
                continue
            self.recorder.event(
                sts,
                NORMAL,
                "SuccessfulCreate",
                f"create Claim {name} Pod {name_of(pod)} in StatefulSet {name_of(sts)} success",
            )
        if failures:
            raise failures[0]

    async def create(self, sts: Obj, pod: Obj) -> None:
        try:
            await self.create_claims(sts, pod)
        except (errors.StatusError, RuntimeError) as exc:
            self._pod_event("create", sts, pod, exc)
            raise
        try:
            await self.client.create(PODS, pod, namespace_of(sts))
        except errors.AlreadyExists:
            raise
        except errors.StatusError as exc:
            self._pod_event("create", sts, pod, exc)
            raise
        log.info(
            "stateful pod created statefulset=%s/%s pod=%s",
            namespace_of(sts),
            name_of(sts),
            name_of(pod),
        )
        self._pod_event("create", sts, pod, None)

    async def update(self, sts: Obj, pod: Obj) -> None:
        """Write the pod's corrected identity (and storage), creating missing claims first."""
        try:
            await self.create_claims(sts, pod)
            await self.client.update(PODS, pod)
        except (errors.StatusError, RuntimeError) as exc:
            self._pod_event("update", sts, pod, exc)
            raise
        self._pod_event("update", sts, pod, None)

    async def delete(self, sts: Obj, pod: Mapping[str, Any]) -> None:
        try:
            await self.client.delete(
                PODS, name_of(pod), namespace_of(pod), preconditions={"uid": uid_of(pod)}
            )
        except errors.NotFound:
            return
        except errors.StatusError as exc:
            self._pod_event("delete", sts, pod, exc)
            raise
        log.info(
            "stateful pod deleted statefulset=%s/%s pod=%s",
            namespace_of(sts),
            name_of(sts),
            name_of(pod),
        )
        self._pod_event("delete", sts, pod, None)

    async def sync_claim_owners(self, sts: Obj, pod: Mapping[str, Any]) -> None:
        """Point the pod's existing claims' owner references where the retention policy says."""
        for wanted in claims_for(sts, pod).values():
            claim = self._claim(namespace_of(wanted), name_of(wanted))
            if claim is None or (claim.get("metadata") or {}).get("deletionTimestamp"):
                continue
            refs = list((claim.get("metadata") or {}).get("ownerReferences") or ())
            fixed = claim_owner_refs(refs, sts, pod)
            if fixed == [dict(r) for r in refs]:
                continue
            updated = copy.deepcopy(claim)
            updated["metadata"]["ownerReferences"] = fixed
            try:
                await self.client.update(PERSISTENTVOLUMECLAIMS, updated)
            except errors.NotFound:
                continue
            log.info(
                "claim owners updated statefulset=%s/%s claim=%s owners=%s",
                namespace_of(sts),
                name_of(sts),
                name_of(claim),
                ",".join(f"{r['kind']}/{r['name']}" for r in fixed) or "-",
            )
