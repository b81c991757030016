"""The ResourceQuota controller: each quota's ``status.used``, recomputed from what exists.

For every ResourceQuota it sums ``api.quota.usage`` over the objects of its namespace (pods
filtered by the quota's scopes) for exactly the names in ``spec.hard``, and writes
``status.hard`` and ``status.used`` when they differ. Any change to a counted object
re-queues the quotas of its namespace, so usage falls as soon as something is deleted; the API
server's quota admission raises ``used`` at create time, and this controller corrects it to the
truth (an admitted create that then failed, a deletion).

Counted kinds: the core ones the quota names refer to, plus any ``count/<plural>[.<group>]``
named in a quota, whose informer is started on first use.
"""

from __future__ import annotations

from typing import Any, Final

from kybernetes.api import quota
from kybernetes.client.informer import Handler, Informer
from kybernetes.client.resource import (
    CONFIGMAPS,
    PERSISTENTVOLUMECLAIMS,
    PODS,
    REPLICATIONCONTROLLERS,
    RESOURCEQUOTAS,
    SECRETS,
    SERVICES,
    Resource,
    for_plural,
)
from kybernetes.controllers.base import ControllerContext, QueueController

Obj = dict[str, Any]
_CORE: Final = (PODS, SERVICES, CONFIGMAPS, SECRETS, PERSISTENTVOLUMECLAIMS, REPLICATIONCONTROLLERS)
_RESYNC: Final = 300.0


class ResourceQuotaController(QueueController):
    name = "resourcequota"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self.quotas = self.informer(context.informers.informer(RESOURCEQUOTAS))
        self.quotas.add_handler(Handler(self.enqueue, lambda _o, new: self.enqueue(new)))
        self.counted: dict[tuple[str, str], Informer] = {}
        for resource in _CORE:
            self._count(resource)

    def _count(self, resource: Resource) -> Informer:
        key = (resource.group, resource.plural)
        informer = self.counted.get(key)
        if informer is None:
            informer = self.context.informers.informer(resource)
            handler = self._namespace_changed
            informer.add_handler(Handler(handler, lambda _o, new: handler(new), handler))
            self.counted[key] = informer
            self._informers.append(informer)
        return informer

    def _namespace_changed(self, obj: Obj) -> None:
        namespace = obj["metadata"].get("namespace")
        for found in self.quotas.store.list_namespace(namespace):
            self.enqueue(found)

    async def sync(self, key: str) -> None:
        resource_quota = self.quotas.store.get(key)
        if resource_quota is None:
            return
        spec = resource_quota.get("spec") or {}
        hard = dict(spec.get("hard") or {})
        scopes = spec.get("scopes") or ()
        namespace = resource_quota["metadata"]["namespace"]
        usages: list[quota.Usage] = []
        for group, plural in self._kinds_for(hard):
            informer = self.counted.get((group, plural))
            if informer is None:
                try:
                    informer = self._count(for_plural(plural, group))
                except LookupError:
                    continue
                await informer.wait_synced()
            for obj in informer.store.list_namespace(namespace):
                if plural == "pods" and not group and not quota.matches_scopes(scopes, obj):
                    continue
                usages.append(quota.usage(group, plural, obj))
        used = {k: v.canonical() for k, v in quota.total(usages, hard).items()}
        status = resource_quota.get("status") or {}
        if status.get("hard") != hard or status.get("used") != used:
            updated = {**resource_quota, "status": {"hard": hard, "used": used}}
            await self.client.update_status(RESOURCEQUOTAS, updated)
        self.queue.add_after(key, _RESYNC)

    def _kinds_for(self, hard: dict[str, Any]) -> set[tuple[str, str]]:
        kinds = {(r.group, r.plural) for r in _CORE}
        for name in hard:
            if name.startswith("count/"):
                plural, _, group = name.removeprefix("count/").partition(".")
                kinds.add((group, plural))
        if "resourcequotas" in hard:
            kinds.add(("", "resourcequotas"))
            self.counted.setdefault(("", "resourcequotas"), self.quotas)
        return kinds
