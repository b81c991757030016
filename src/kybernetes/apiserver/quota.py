"""ResourceQuota admission: a create that would exceed a quota is refused with 403.

For each ResourceQuota in the object's namespace that limits something the object uses
(``api.quota.usage``; pods only when the quota's scopes match), the request is charged against
``status.used`` in one conditional write of the quota's status — so two concurrent creates cannot
both take the last unit — and refused, as upstream words it, when it would go over ``hard``:

    pods "web-1" is forbidden: exceeded quota: compute, requested: requests.cpu=500m,
    used: requests.cpu=1500m, limited: requests.cpu=2

A quota that limits compute resources also requires every container to state them
(``failed quota: compute: must specify requests.cpu for: web``). A quota the resourcequota
controller has not counted yet (no ``status.used`` for a limited resource) refuses the create
until it has, as upstream: ``status unknown for quota: compute, resources: pods``. The
resourcequota controller later recomputes ``used`` from what really exists, so a charge for a
create that then failed, or for an object since deleted, is corrected. Dry runs are checked but
never charged.
"""

from __future__ import annotations

from typing import Any, Final

from kybernetes.api import errors, quota
from kybernetes.api.quantity import Quantity, QuantityError, parse_quantity
from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.registry import Store

_COMPUTE: Final = ("cpu", "memory")


class QuotaAdmission:
    """Charges creates against the ResourceQuotas of their namespace."""

    def __init__(self, quotas: Store) -> None:
        self.quotas = quotas

    async def admit_create(
        self, info: ResourceInfo, namespace: str, obj: dict[str, Any], dry_run: bool
    ) -> None:
        # Asked on every create, and most clusters have no quotas: an empty cache answers
        # before a range scan of its index is set up.
        if not self.quotas.cache.objects:
            return
        found = [c.obj for c in self.quotas.cache.items(f"{namespace}/")]
        if not found:
            return
        usage = quota.usage(info.group, info.plural, obj)
        if not usage:
            return
        name = str(obj["metadata"].get("name", ""))
        is_pod = info.group == "" and info.plural == "pods"
        for resource_quota in found:
            spec = resource_quota.get("spec") or {}
            hard = spec.get("hard") or {}
            if is_pod and not quota.matches_scopes(spec.get("scopes") or (), obj):
                continue
            quota_name = resource_quota["metadata"]["name"]
            if is_pod:
                missing = _unstated(obj, hard)
                if missing:
                    raise errors.new_forbidden(
                        info.plural, name, f"failed quota: {quota_name}: must specify {missing}"
                    )
            covered = sorted(n for n in usage if n in hard)
            if not covered:
                continue

            def charge(current: dict[str, Any], covered: list[str] = covered) -> dict[str, Any]:
                status = current.setdefault("status", {})
                used = dict(status.get("used") or {})
                limits = (current.get("spec") or {}).get("hard") or {}
                unknown = [r for r in covered if r not in used]
                if unknown:
                    # Not yet counted by the resourcequota controller: charging from zero
                    # could let everything that already exists through again.
                    raise errors.new_forbidden(
                        info.plural,
                        name,
                        f"status unknown for quota: {current['metadata']['name']}, "
                        f"resources: {','.join(unknown)}",
                    )
                over = []
                for resource in covered:
                    before = _parse(used.get(resource, "0"))
                    after = before + usage[resource]
                    if after > _parse(limits.get(resource, "0")):
                        over.append((resource, before))
                    used[resource] = after.canonical()
                if over:
                    raise errors.new_forbidden(
                        info.plural, name, _exceeded(current, over, usage, limits)
                    )
                status["used"] = used
                status.setdefault("hard", limits)
                return current

            await self.quotas.update(
                namespace, quota_name, charge, subresource="status", dry_run=dry_run
            )


def _parse(text: object) -> Quantity:
    try:
        return parse_quantity(str(text))
    except (QuantityError, ValueError):
        return Quantity(0)


def _exceeded(
    resource_quota: dict[str, Any],
    over: list[tuple[str, Quantity]],
    usage: quota.Usage,
    limits: dict[str, Any],
) -> str:
    requested = ",".join(f"{r}={usage[r].canonical()}" for r, _ in over)
    used = ",".join(f"{r}={before.canonical()}" for r, before in over)
    limited = ",".join(f"{r}={limits[r]}" for r, _ in over)
    return (
        f"exceeded quota: {resource_quota['metadata']['name']}, requested: {requested}, "
        f"used: {used}, limited: {limited}"
    )


def _unstated(pod: dict[str, Any], hard: dict[str, Any]) -> str:
    """``requests.cpu for: a; limits.memory for: a,b`` for compute resources the quota limits
    but some container does not state; empty when every container states them."""
    parts = []
    containers = (pod.get("spec") or {}).get("containers") or ()
    for kind in ("limits", "requests"):
        for resource in _COMPUTE:
            limited = f"{kind}.{resource}" in hard or (kind == "requests" and resource in hard)
            if not limited:
                continue
            lacking = [
                str(c.get("name", ""))
                for c in containers
                if resource not in ((c.get("resources") or {}).get(kind) or {})
            ]
            if lacking:
                parts.append(f"{kind}.{resource} for: {','.join(lacking)}")
    return "; ".join(parts)
