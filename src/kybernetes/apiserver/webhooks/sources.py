"""What the webhooks read from the API server's own state, and nothing else.

``for_server`` builds the server's ``WebhookAdmission`` over its registry stores: the two kinds
of webhook configuration and the namespaces come from the watch caches (so a configuration
written a moment ago is seen by the next request, without a storage read); a webhook's Service
is resolved through its EndpointSlices (or, failing those, its Endpoints) to a ready pod
address and the port its ``targetPort`` names; the served versions of a group and resource are
the stores' (built-in, converted and custom), for ``matchPolicy: Equivalent``.

Invariant: every lookup here is a read of an in-memory cache; none waits or does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from kybernetes.api import conversion
from kybernetes.apiserver.registry import Store
from kybernetes.apiserver.webhooks.config import ServiceReference
from kybernetes.apiserver.webhooks.dispatcher import Object, WebhookAdmission

_ADMISSION: Final = "admissionregistration.k8s.io"
_SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"


class ServerSources:
    """Readers of one API server's stores (``custom`` holds the served custom versions)."""

    def __init__(
        self,
        stores: Mapping[tuple[str, str], Store],
        other_versions: Mapping[tuple[str, str, str], Store],
        custom: Mapping[tuple[str, str, str], Store],
    ) -> None:
        self.stores = stores
        self.other_versions = other_versions
        self.custom = custom

    def _objects(self, group: str, plural: str, namespace: str = "") -> Iterator[dict[str, Any]]:
        store = self.stores.get((group, plural))
        # Every write asks for the webhook configurations, and there are mostly none: an empty
        # cache answers before a range scan of its index is set up.
        if store is None or not store.cache.objects:
            return iter(())
        prefix = f"{namespace}/" if namespace and store.info.namespaced else ""
        return (cached.obj for cached in store.cache.items(prefix))

    def _object(self, group: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        store = self.stores.get((group, plural))
        cached = store.cache.get(store.key(namespace, name)) if store is not None else None
        return cached.obj if cached is not None else None

    def mutating(self) -> Iterator[dict[str, Any]]:
        return self._objects(_ADMISSION, "mutatingwebhookconfigurations")

    def validating(self) -> Iterator[dict[str, Any]]:
        return self._objects(_ADMISSION, "validatingwebhookconfigurations")

    def namespace_labels(self, name: str) -> Mapping[str, str] | None:
        namespace = self._object("", "namespaces", "", name)
        if namespace is None:
            return None
        labels = (namespace.get("metadata") or {}).get("labels")
        return labels if isinstance(labels, Mapping) else {}

    def equivalents(self, group: str, resource: str) -> Sequence[tuple[str, str]]:
        found = {}
        main = self.stores.get((group, resource))
        if main is not None:
            found[main.info.version] = main.info.kind
        for table in (self.other_versions, self.custom):
            for (g, version, plural), store in table.items():
                if (g, plural) == (group, resource):
                    found[version] = store.info.kind
        return sorted(found.items())

    def resolve_service(self, ref: ServiceReference) -> tuple[str, int] | None:
        """A ready endpoint of the Service ``ref`` names, at the port behind ``ref.port``."""
        service = self._object("", "services", ref.namespace, ref.name)
        if service is None:
            return None
        ports = (service.get("spec") or {}).get("ports") or []
        port = next((p for p in ports if p.get("port") == ref.port), None)
        if port is None:
            return None
        port_name = port.get("name") or ""
        target = port.get("targetPort")
        for slice_ in self._objects("discovery.k8s.io", "endpointslices", ref.namespace):
            labels = (slice_.get("metadata") or {}).get("labels") or {}
            if labels.get(_SERVICE_NAME_LABEL) != ref.name:
                continue
            number = next(
                (
                    p.get("port")
                    for p in slice_.get("ports") or []
                    if (p.get("name") or "") == port_name
                ),
                None,
            )
            for endpoint in slice_.get("endpoints") or []:
                ready = (endpoint.get("conditions") or {}).get("ready")
                addresses = endpoint.get("addresses") or []
                if ready is not False and addresses and isinstance(number, int):
                    return str(addresses[0]), number
        endpoints = self._object("", "endpoints", ref.namespace, ref.name)
        for subset in (endpoints or {}).get("subsets") or []:
            number = next(
                (
                    p.get("port")
                    for p in subset.get("ports") or []
                    if (p.get("name") or "") == port_name
                ),
                target if isinstance(target, int) else None,
            )
            addresses = subset.get("addresses") or []
            if addresses and isinstance(number, int):
                return str(addresses[0].get("ip")), number
        return None


def convert(obj: Mapping[str, Any], group: str, version: str, kind: str) -> Object | None:
    """An object in another served version of its resource (for ``matchPolicy: Equivalent``)."""
    if group == "autoscaling" and kind == "HorizontalPodAutoscaler":
        copy = dict(obj)
        return conversion.hpa_to_v1(copy) if version == "v1" else conversion.hpa_to_v2(copy)
    # Custom resources (conversion None) differ between versions in apiVersion only.
    return {**obj, "apiVersion": f"{group}/{version}" if group else version, "kind": kind}


def for_server(
    stores: Mapping[tuple[str, str], Store],
    other_versions: Mapping[tuple[str, str, str], Store],
    custom: Mapping[tuple[str, str, str], Store],
) -> WebhookAdmission:
    sources = ServerSources(stores, other_versions, custom)
    return WebhookAdmission(
        sources.mutating,
        sources.validating,
        sources.namespace_labels,
        resolve_service=sources.resolve_service,
        equivalents=sources.equivalents,
        convert=convert,
    )
