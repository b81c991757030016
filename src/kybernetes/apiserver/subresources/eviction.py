"""The ``eviction`` subresource of pods: a delete that respects disruption budgets.

``kubectl drain`` posts a ``policy/v1 Eviction``; the pod is deleted with the eviction's
delete options and the answer is 201 with a Success status. As upstream:

- A pod that is Pending, Succeeded, Failed or already being deleted is deleted without
  consulting any budget; so is a pod no PodDisruptionBudget selects.
- More than one budget selecting the pod is a 500 (the subresource does not support it).
- Otherwise the budget's status, kept by the disruption controller, decides: a budget not yet
  processed at its generation, or with ``disruptionsAllowed`` 0, answers 429 TooManyRequests
  (kubectl drain retries); else ``disruptionsAllowed`` is decremented and the pod recorded under
  ``disruptedPods`` — one conditional write, so two concurrent evictions cannot both spend the
  last allowed disruption — and then the pod is deleted. A not-Ready pod is evicted without
  spending a disruption when the budget's ``unhealthyPodEvictionPolicy`` is ``AlwaysAllow``, or
  (``IfHealthyBudget``, the default) while the budget is healthy.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.selectors import SelectorError, from_label_selector
from kybernetes.apiserver import encoding
from kybernetes.apiserver.registry import DeleteOptions

if TYPE_CHECKING:
    from kybernetes.apiserver.handlers import ResourceHandler
    from kybernetes.apiserver.registry import Store
    from kybernetes.apiserver.requestinfo import RequestInfo


async def handle(
    handler: ResourceHandler, request: web.Request, info: RequestInfo, store: Store
) -> web.Response:
    body = await encoding.read_body(request)
    eviction = encoding.decode_object(request.headers.get("Content-Type", encoding.JSON), body)
    name = (eviction.get("metadata") or {}).get("name") or info.name
    if name != info.name:
        raise errors.new_bad_request(
            f"name in URL does not match name in Eviction object: {info.name}, {name}"
        )
    options = eviction.get("deleteOptions") or {}
    grace = options.get("gracePeriodSeconds")
    preconditions = options.get("preconditions") or {}
    dry_run = bool(request.query.getall("dryRun", []))
    pod = (await store.get(info.namespace, info.name)).obj
    pdbs = handler.stores.get(("policy", "poddisruptionbudgets"))
    if pdbs is not None and not _ignores_budgets(pod):
        await _spend_disruption(pdbs, pod, handler.now(), dry_run)
    await store.delete(
        info.namespace,
        info.name,
        DeleteOptions(
            grace_period_seconds=int(grace) if grace is not None else None,
            precondition_uid=preconditions.get("uid") or "",
            precondition_resource_version=preconditions.get("resourceVersion") or "",
            dry_run=dry_run,
        ),
    )
    return encoding.json_response(encoding.success_status({}), status=201)


def _ignores_budgets(pod: dict[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Pending", "Succeeded", "Failed") or bool(
        pod["metadata"].get("deletionTimestamp")
    )


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def _spend_disruption(pdbs: Store, pod: dict[str, Any], now: datetime, dry_run: bool) -> None:
    namespace = pod["metadata"]["namespace"]
    labels = pod["metadata"].get("labels") or {}
    matching = []
    for cached in pdbs.cache.items(f"{namespace}/"):
        try:
            selector = from_label_selector((cached.obj.get("spec") or {}).get("selector"))
        except SelectorError:
            continue
        if selector.matches(labels):
            matching.append(cached.obj)
    if not matching:
        return
    if len(matching) > 1:
        raise errors.InternalError(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource "
            "does not support."
        )
    name = matching[0]["metadata"]["name"]
    pod_name = pod["metadata"]["name"]

    def spend(pdb: dict[str, Any]) -> dict[str, Any]:
        status = pdb.setdefault("status", {})
        if status.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1):
            raise _budget_refusal(
                f"The disruption budget {name} is still being processed by the server."
            )
        if not _ready(pod):
            policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy", "IfHealthyBudget")
            if policy == "AlwaysAllow" or status.get("currentHealthy", 0) >= status.get(
                "desiredHealthy", 0
            ):
                raise _NoSpend
        allowed = int(status.get("disruptionsAllowed", 0))
        if allowed < 0:
            raise errors.new_forbidden(
                "poddisruptionbudgets", name, "pdb disruptions allowed is negative"
            )
        if allowed == 0:
            raise _budget_refusal(
                f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy "
                f"pods and has {status.get('currentHealthy', 0)} currently"
            )
        status["disruptionsAllowed"] = allowed - 1
        disrupted = dict(status.get("disruptedPods") or {})
        disrupted[pod_name] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        status["disruptedPods"] = disrupted
        # Re-run on the latest budget after a concurrent write (upstream retries on conflict).
        pdb["metadata"].pop("resourceVersion", None)
        return pdb

    try:
        await pdbs.update(namespace, name, spend, subresource="status", dry_run=dry_run)
    except _NoSpend:
        return


class _NoSpend(Exception):
    """The pod may go without spending one of the budget's disruptions."""


def _budget_refusal(cause: str) -> errors.TooManyRequests:
    return errors.TooManyRequests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
        details=errors.StatusDetails(
            causes=(errors.StatusCause(type="DisruptionBudget", message=cause),)
        ),
    )
