"""Leader election through a coordination.k8s.io/v1 Lease, as client-go's ``leaderelection``.

Several copies of a component (two schedulers, two controller-managers) contend for one Lease;
the holder renews it every ``retry_period`` and runs the work, the others poll. A candidate takes
the Lease only when it is free or when the record it last observed has not changed for a whole
``lease_duration`` *on the candidate's own clock* — never by comparing the holder's timestamps
with local time, so clock skew between machines cannot make two leaders.

Invariants: the work runs only while this process holds a Lease it renewed less than
``renew_deadline`` ago; if renewal fails for that long the work is cancelled before anyone else
may take over (``renew_deadline < lease_duration``). Every write is conditional on the Lease's
resourceVersion, so two candidates racing for a free Lease cannot both win.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from kybernetes.api import errors
from kybernetes.api.meta import micro_time
from kybernetes.client.resource import LEASES
from kybernetes.client.rest import Client
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)


class LeaderElector:
    """Contend for ``namespace/name`` as ``identity``; run the work while leading."""

    def __init__(
        self,
        client: Client,
        name: str,
        identity: str,
        *,
        namespace: str = "kube-system",
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Clock | None = None,
    ) -> None:
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError("need retry_period < renew_deadline < lease_duration")
        self.client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock: Clock = clock or RealClock()
        self._observed: dict[str, Any] | None = None  # the Lease spec last seen
        self._observed_at = 0.0  # our monotonic time when it last changed
        self._leading = False

    @property
    def _key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def is_leader(self) -> bool:
        return self._leading

    async def run(self, work: Callable[[], Awaitable[None]]) -> None:
        """Forever: acquire, run ``work`` while renewing, and contend again if leadership is lost.

        If ``work`` returns or raises, leadership is released and the error propagates.
        """
        while True:
            await self._acquire()
            log.info("became leader lease=%s identity=%s", self._key, self.identity)
            task = asyncio.ensure_future(work())
            renewer = asyncio.ensure_future(self._renew_until_lost())
            try:
                done, _ = await asyncio.wait({task, renewer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._leading = False
                for pending in (task, renewer):
                    pending.cancel()
                for pending in (task, renewer):
                    with contextlib.suppress(asyncio.CancelledError):
                        await pending
            if task in done:
                await self._release()
                task.result()
                return
            log.warning("lost leadership lease=%s identity=%s", self._key, self.identity)

    async def _acquire(self) -> None:
        while not await self._try_acquire_or_renew():
            await self.clock.sleep(self.retry_period)
        self._leading = True

    async def _renew_until_lost(self) -> None:
        last_renewed = self.clock.monotonic()
        while True:
            await self.clock.sleep(self.retry_period)
            if await self._try_acquire_or_renew():
                last_renewed = self.clock.monotonic()
            elif self.clock.monotonic() - last_renewed >= self.renew_deadline:
                return

    async def _try_acquire_or_renew(self) -> bool:
        now_text = micro_time(datetime.fromtimestamp(self.clock.now(), UTC))
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except errors.NotFound:
            return await self._create(now_text)
        except (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("cannot read lease lease=%s/%s error=%s", self.namespace, self.name, exc)
            return False
        spec = lease.get("spec") or {}
        if spec != self._observed:
            self._observed = spec
            self._observed_at = self.clock.monotonic()
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        expired = self.clock.monotonic() - self._observed_at >= duration
        if holder and holder != self.identity and not expired:
            return False
        new_spec = dict(spec)
        if holder != self.identity:
            new_spec["acquireTime"] = now_text
            new_spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (
                1 if holder else 0
            )
        new_spec["holderIdentity"] = self.identity
        new_spec["leaseDurationSeconds"] = int(self.lease_duration)
        new_spec["renewTime"] = now_text
        lease["spec"] = new_spec
        try:
            updated = await self.client.update(LEASES, lease)
        except (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("lease update failed lease=%s/%s error=%s", self.namespace, self.name, exc)
            return False
        self._observed = updated.get("spec") or {}
        self._observed_at = self.clock.monotonic()
        return True

    async def _create(self, now_text: str) -> bool:
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": now_text,
                "renewTime": now_text,
                "leaseTransitions": 0,
            },
        }
        try:
            created = await self.client.create(LEASES, lease)
        except (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("lease create failed lease=%s/%s error=%s", self.namespace, self.name, exc)
            return False
        self._observed = created.get("spec") or {}
        self._observed_at = self.clock.monotonic()
        return True

    async def _release(self) -> None:
        """Give the Lease up on a clean exit so a successor need not wait out the duration."""
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            spec["holderIdentity"] = ""
            spec["leaseDurationSeconds"] = 1
            await self.client.update(LEASES, lease)
        except (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("lease release failed lease=%s/%s error=%s", self.namespace, self.name, exc)
