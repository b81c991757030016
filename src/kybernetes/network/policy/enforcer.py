"""The NetworkPolicy enforcer of one node: Pods, Namespaces and NetworkPolicies in, one table out.

Three informers mirror the API; their handlers only mark the enforcer dirty (DESIGN.md §1 rule
2). One loop turns dirt into a sync: it reduces the caches to allow rules for this node's
isolated pods (``model``), renders the table (``table``) and, when the text differs from what is
in force, replaces the table in one ``nft -f -`` transaction. Bursts coalesce (syncs are at
least ``min_sync_interval`` apart). A failed apply is retried with backoff; the table is also
rewritten every ``sync_period``, repairing outside tampering. On shutdown the table stays (the
pods keep their isolation while the node's services restart); ``cleanup()`` removes it.

While no pod of this node is isolated the table does not exist (nothing to filter, nothing
left behind on a node that never used policies).

Pod changes that cannot change the table (status heartbeats of an unselected pod) still cause a
render, but never an apply: the text is compared first.

Invariant: after a successful sync the table implements exactly the policies in the caches at
the moment it was rendered, and never holds a half-applied change.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final

from kybernetes.client.informer import Handler, InformerFactory
from kybernetes.client.resource import NAMESPACES, PODS, Resource
from kybernetes.client.rest import Client
from kybernetes.network.policy.model import isolation
from kybernetes.network.policy.table import delete_script, render, replace_script
from kybernetes.network.proxy import nft
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)

NETWORKPOLICIES: Final = Resource(
    "networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True
)
_MAX_BACKOFF: Final = 30.0


@dataclass(frozen=True)
class PolicyConfig:
    node_name: str  # pods with this spec.nodeName are enforced here
    table: str = "kyb-policy"  # the nftables table (family ip) owned by the enforcer
    min_sync_interval: float = 0.02
    sync_period: float = 30.0


class Enforcer:
    """One node's NetworkPolicy enforcer; ``run()`` until cancelled."""

    def __init__(
        self,
        client: Client,
        config: PolicyConfig,
        *,
        informers: InformerFactory | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or RealClock()
        self._own_factory = informers is None
        self._factory = informers or InformerFactory(client, clock=self.clock)
        self.pods = self._factory.informer(PODS)
        self.namespaces = self._factory.informer(NAMESPACES)
        self.policies = self._factory.informer(NETWORKPOLICIES)
        handler = Handler(self._changed, lambda _old, _new: self._changed(_new), self._changed)
        for informer in (self.pods, self.namespaces, self.policies):
            informer.add_handler(handler)
        self._dirty = asyncio.Event()
        self._applied: str | None = None
        self._force = False
        self._last_sync = float("-inf")
        self.synced = asyncio.Event()  # set after the first successful sync
        self.syncs = 0

    def _changed(self, _obj: dict[str, Any]) -> None:
        self._dirty.set()

    async def run(self) -> None:
        """Mirror the API and keep the table in step until cancelled (the table stays)."""
        async with asyncio.TaskGroup() as group:
            if self._own_factory:
                group.create_task(self._factory.run(), name="policy informers")
            for informer in (self.pods, self.namespaces, self.policies):
                await informer.wait_synced()
            log.info(
                "network policy enforcer starting node=%s table=%s",
                self.config.node_name,
                self.config.table,
            )
            self._dirty.set()
            group.create_task(self._periodic(), name="policy resync")
            await self._loop()

    async def _loop(self) -> None:
        backoff = 0.5
        while True:
            await self._dirty.wait()
            wait = self._last_sync + self.config.min_sync_interval - self.clock.monotonic()
            if wait > 0:
                await self.clock.sleep(wait)
            self._dirty.clear()
            try:
                await self.sync()
                backoff = 0.5
            except (nft.NftError, OSError) as error:
                self._applied = None
                log.error("network policy sync failed error=%s retry_in=%.1fs", error, backoff)
                await self.clock.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                self._dirty.set()

    async def _periodic(self) -> None:
        while True:
            await self.clock.sleep(self.config.sync_period)
            self._force = True
            self._dirty.set()

    async def sync(self) -> None:
        """Render the table from the caches and replace it if the text changed (or is due)."""
        started = self._last_sync = self.clock.monotonic()
        force, self._force = self._force, False
        node = self.config.node_name
        everyone = self.pods.store.list()
        local = [p for p in everyone if (p.get("spec") or {}).get("nodeName") == node]
        rules = isolation(local, everyone, self.namespaces.store.list(), self.policies.store.list())
        body = render(rules) if rules else ""  # no isolated pod: no table at all
        if body == self._applied and not force:
            return
        table = self.config.table
        await nft.apply(replace_script(table, body) if body else delete_script(table))
        self._applied = body
        self.syncs += 1
        self.synced.set()
        log.info(
            "network policy synced table=%s isolated_pods=%d ms=%.1f",
            self.config.table,
            len(rules),
            (self.clock.monotonic() - started) * 1000,
        )


async def cleanup(table: str) -> None:
    """Remove the enforcer's table; safe when there is none."""
    await nft.apply(delete_script(table))


async def run_policy(client: Client, config: PolicyConfig) -> None:
    """Run the NetworkPolicy enforcer of one node until cancelled."""
    await Enforcer(client, config).run()
