"""The EndpointSlice controller: each selector Service's endpoints, in slices of at most 100.

For a Service with a selector it keeps the EndpointSlices labelled
``kubernetes.io/service-name=<svc>`` and ``endpointslice.kubernetes.io/managed-by=
endpointslice-controller.k8s.io``, owned by the Service. Endpoints with the same resolved
ports share slices; each endpoint carries upstream's conditions (``ready`` only when serving and
not terminating, unless the Service publishes not-ready addresses; ``serving`` = pod Ready;
``terminating`` = being deleted), its node, zone, hostname and pod reference.

Reconciling reuses existing slices in order (an update only when its content differs), creates
what is missing and deletes what is left over; a Service with no endpoints keeps one empty
placeholder slice, as upstream. Slices of deleted Services go with them through their owner
reference (the garbage collector).

Invariant: the controller never acts on a cache older than its own writes. It remembers the
resourceVersion of every slice it wrote (or that it deleted one) per Service — upstream's
``EndpointSliceTracker`` — and while the informer has not caught up, it waits instead of
creating a duplicate slice.
"""

from __future__ import annotations

from typing import Any, Final

from kybernetes.api import errors
from kybernetes.client.cache import split_key
from kybernetes.client.informer import Handler
from kybernetes.client.resource import ENDPOINTSLICES, NODES, PODS, SERVICES
from kybernetes.controllers import servicepods
from kybernetes.controllers.base import ControllerContext, QueueController

Obj = dict[str, Any]
SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"
MANAGED_BY_LABEL: Final = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY: Final = "endpointslice-controller.k8s.io"
HEADLESS_LABEL: Final = "service.kubernetes.io/headless"
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
MAX_ENDPOINTS: Final = 100
_BY_SERVICE: Final = "service"


def _slice_service(obj: Obj) -> tuple[str, ...]:
    labels = obj["metadata"].get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY or SERVICE_NAME_LABEL not in labels:
        return ()
    return (f"{obj['metadata']['namespace']}/{labels[SERVICE_NAME_LABEL]}",)


class EndpointSliceController(QueueController):
    name = "endpointslice"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        factory = context.informers
        self.services = self.informer(factory.informer(SERVICES))
        self.pods = self.informer(factory.informer(PODS))
        self.nodes = self.informer(factory.informer(NODES))
        self.slices = self.informer(factory.informer(ENDPOINTSLICES))
        self.slices.add_indexer(_BY_SERVICE, _slice_service)
        self.services.add_handler(
            Handler(self.enqueue, lambda _old, new: self.enqueue(new), self.enqueue)
        )
        self.pods.add_handler(servicepods.ServicePodEvents(self.services, self.enqueue).handler())
        self.slices.add_handler(
            Handler(self._slice_event, lambda _old, new: self._slice_event(new), self._slice_event)
        )
        # service key -> slice name -> resourceVersion we wrote (None: we deleted it)
        self._written: dict[str, dict[str, int | None]] = {}

    def _slice_event(self, obj: Obj) -> None:
        for key in _slice_service(obj):
            self.queue.add(key)

    def _cache_is_behind(self, key: str) -> bool:
        written = self._written.get(key)
        if not written:
            return False
        namespace, _ = split_key(key)
        for name, rv in written.items():
            cached = self.slices.store.get_by_name(name, namespace)
            if rv is None:
                if cached is not None:
                    return True
            elif cached is None or int(cached["metadata"]["resourceVersion"]) < rv:
                return True
        del self._written[key]
        return False

    def _wrote(self, key: str, obj: Obj) -> None:
        meta = obj["metadata"]
        self._written.setdefault(key, {})[meta["name"]] = int(meta["resourceVersion"])

    async def sync(self, key: str) -> None:
        namespace, _ = split_key(key)
        service = self.services.store.get(key)
        if service is None or servicepods.selector_of(service) is None:
            self._written.pop(key, None)
            return  # owned slices follow a deleted Service through the garbage collector
        if service["metadata"].get("deletionTimestamp"):
            return
        if self._cache_is_behind(key):
            self.queue.add_after(key, 0.05)
            return
        desired = self._desired(service, self.pods.store.list_namespace(namespace))
        existing = sorted(
            self.slices.store.by_index(_BY_SERVICE, key), key=lambda s: s["metadata"]["name"]
        )
        for index, wanted in enumerate(desired):
            if index < len(existing):
                current = existing[index]
                if _content(current) != _content(wanted):
                    updated = dict(wanted)
                    updated["metadata"] = {**current["metadata"], **_meta_fields(wanted)}
                    self._wrote(key, await self.client.update(ENDPOINTSLICES, updated))
            else:
                self._wrote(key, await self.client.create(ENDPOINTSLICES, wanted, namespace))
        for stale in existing[len(desired) :]:
            try:
                await self.client.delete(
                    ENDPOINTSLICES,
                    stale["metadata"]["name"],
                    namespace,
                    preconditions={"uid": stale["metadata"]["uid"]},
                )
            except (errors.NotFound, errors.Conflict):
                continue
            self._written.setdefault(key, {})[stale["metadata"]["name"]] = None

    def _desired(self, service: Obj, namespace_pods: list[Obj]) -> list[Obj]:
        spec = service.get("spec") or {}
        publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
        groups: dict[servicepods.PortSignature, list[Obj]] = {}
        for pod in servicepods.pods_of(service, namespace_pods):
            signature = servicepods.resolved_ports(service, pod)
            if signature is None:
                continue
            groups.setdefault(signature, []).append(self._endpoint(service, pod, publish_not_ready))
        slices: list[Obj] = []
        for signature in sorted(groups):
            endpoints = sorted(
                groups[signature], key=lambda e: servicepods.ip_sort_key(e["addresses"][0])
            )
            slices.extend(
                _slice(service, endpoints[start : start + MAX_ENDPOINTS], list(signature))
                for start in range(0, len(endpoints), MAX_ENDPOINTS)
            )
        return slices or [_slice(service, [], [])]

    def _endpoint(self, service: Obj, pod: Obj, publish_not_ready: bool) -> Obj:
        serving = servicepods.pod_ready(pod)
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        endpoint: Obj = {
            "addresses": [pod["status"]["podIP"]],
            "conditions": {
                "ready": publish_not_ready or (serving and not terminating),
                "serving": serving,
                "terminating": terminating,
            },
        }
        hostname = servicepods.hostname_for(service, pod)
        if hostname:
            endpoint["hostname"] = hostname
        endpoint["targetRef"] = servicepods.target_ref(pod)
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name:
            endpoint["nodeName"] = node_name
            node = self.nodes.store.get(node_name)
            zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(ZONE_LABEL)
            if zone:
                endpoint["zone"] = zone
        return endpoint


def _slice(service: Obj, endpoints: list[Obj], ports: list[tuple[str, int, str, str]]) -> Obj:
    meta = service["metadata"]
    labels = dict(meta.get("labels") or {})
    labels[SERVICE_NAME_LABEL] = meta["name"]
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    out: Obj = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{meta['name']}-",
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
    }
    if ports:
        out["ports"] = [servicepods.port_dict(p, always_name=True) for p in ports]
    return out


def _meta_fields(obj: Obj) -> Obj:
    return {k: obj["metadata"][k] for k in ("labels", "ownerReferences")}


def _content(obj: Obj) -> tuple[Any, ...]:
    meta = obj["metadata"]
    return (
        obj.get("endpoints") or [],
        obj.get("ports") or [],
        meta.get("labels") or {},
        obj.get("addressType"),
    )
