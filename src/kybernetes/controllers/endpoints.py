"""The Endpoints controller: each selector Service's ready and not-ready pod addresses.

For a Service with a selector it keeps an Endpoints object of the same name whose subsets list
the matching pods' IPs — ready pods (or all, with ``publishNotReadyAddresses``) under
``addresses``, the others under ``notReadyAddresses`` — with the Service's ports resolved per
pod. Subsets are packed as upstream's ``RepackSubsets``: addresses with identical port sets
share one subset; addresses sorted by IP, ports by name and number.

Pod events map to the Services selecting the pod (before and after the change), so a readiness
flip reaches the Endpoints within one sync. Deleting a Service deletes its Endpoints. Writes
happen only when the computed object differs from the cached one.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.client.cache import split_key
from kybernetes.client.informer import Handler
from kybernetes.client.resource import ENDPOINTS, PODS, SERVICES
from kybernetes.controllers import servicepods
from kybernetes.controllers.base import ControllerContext, QueueController

Obj = dict[str, Any]
HEADLESS_LABEL: Final = "service.kubernetes.io/headless"
MAX_ADDRESSES: Final = 1000
OVER_CAPACITY: Final = "endpoints.kubernetes.io/over-capacity"


class EndpointsController(QueueController):
    name = "endpoints"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        factory = context.informers
        self.services = self.informer(factory.informer(SERVICES))
        self.pods = self.informer(factory.informer(PODS))
        self.endpoints = self.informer(factory.informer(ENDPOINTS))
        self.services.add_handler(
            Handler(self.enqueue, lambda _old, new: self.enqueue(new), self.enqueue)
        )
        self.pods.add_handler(servicepods.ServicePodEvents(self.services, self.enqueue).handler())
        self.endpoints.add_handler(Handler(on_delete=self.enqueue))

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.store.get(key)
        current = self.endpoints.store.get(key)
        if service is None:
            if current is not None:
                with contextlib.suppress(errors.NotFound):
                    await self.client.delete(ENDPOINTS, name, namespace)
            return
        if servicepods.selector_of(service) is None:
            return
        desired = desired_endpoints(service, self.pods.store.list_namespace(namespace))
        if current is None:
            try:
                await self.client.create(ENDPOINTS, desired, namespace)
            except errors.AlreadyExists:
                self.queue.add(key)  # the cache lags; look again with the stored object
            return
        if _same(current, desired):
            return
        updated = dict(current)
        updated["metadata"] = dict(current["metadata"])
        updated["metadata"]["labels"] = desired["metadata"].get("labels") or {}
        annotations = dict(current["metadata"].get("annotations") or {})
        annotations.pop(OVER_CAPACITY, None)
        annotations.update(desired["metadata"].get("annotations") or {})
        updated["metadata"]["annotations"] = annotations
        updated["subsets"] = desired.get("subsets") or []
        await self.client.update(ENDPOINTS, updated)


def _same(current: Obj, desired: Obj) -> bool:
    if (current.get("subsets") or []) != (desired.get("subsets") or []):
        return False
    if (current["metadata"].get("labels") or {}) != (desired["metadata"].get("labels") or {}):
        return False
    over = (current["metadata"].get("annotations") or {}).get(OVER_CAPACITY)
    return over == (desired["metadata"].get("annotations") or {}).get(OVER_CAPACITY)


def desired_endpoints(service: Obj, namespace_pods: list[Obj]) -> Obj:
    """The Endpoints object ``service`` should have, given the pods of its namespace."""
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    # port set -> (ready addresses, not-ready addresses)
    packed: dict[servicepods.PortSignature, tuple[list[Obj], list[Obj]]] = {}
    for pod in servicepods.pods_of(service, namespace_pods):
        if pod["metadata"].get("deletionTimestamp"):
            continue  # terminating pods leave Endpoints (EndpointSlices keep them, marked)
        signature = servicepods.resolved_ports(service, pod)
        if signature is None:
            continue
        address: Obj = {"ip": pod["status"]["podIP"]}
        hostname = servicepods.hostname_for(service, pod)
        if hostname:
            address["hostname"] = hostname
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            address["nodeName"] = node
        address["targetRef"] = servicepods.target_ref(pod)
        ready, not_ready = packed.setdefault(signature, ([], []))
        (ready if publish_not_ready or servicepods.pod_ready(pod) else not_ready).append(address)
    subsets: list[Obj] = []
    total = 0
    for signature in sorted(packed):
        ready, not_ready = packed[signature]
        subset: Obj = {}
        if ready:
            subset["addresses"] = sorted(ready, key=_ip_key)
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=_ip_key)
        if signature:
            subset["ports"] = [servicepods.port_dict(p) for p in signature]
        total += len(ready) + len(not_ready)
        subsets.append(subset)
    meta = service["metadata"]
    labels = dict(meta.get("labels") or {})
    if spec.get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    metadata: Obj = {"name": meta["name"], "namespace": meta["namespace"]}
    if labels:
        metadata["labels"] = labels
    if total > MAX_ADDRESSES:
        subsets = _truncate(subsets)
        metadata["annotations"] = {OVER_CAPACITY: "truncated"}
    out: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata}
    if subsets:
        out["subsets"] = subsets
    return out


def _ip_key(address: Obj) -> tuple[int, ...] | tuple[str]:
    return servicepods.ip_sort_key(str(address["ip"]))


def _truncate(subsets: list[Obj]) -> list[Obj]:
    """Keep at most ``MAX_ADDRESSES`` addresses, ready ones first, as upstream does."""
    budget = MAX_ADDRESSES
    out = []
    for subset in subsets:
        kept = dict(subset)
        for field in ("addresses", "notReadyAddresses"):
            if field in kept:
                kept[field] = kept[field][: max(budget, 0)]
                budget -= len(kept[field])
                if not kept[field]:
                    del kept[field]
        if "addresses" in kept or "notReadyAddresses" in kept:
            out.append(kept)
    return out
