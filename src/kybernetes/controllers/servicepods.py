"""What a Service selects: its pods, which of them may serve, and on which ports.

Shared by the Endpoints and EndpointSlice controllers so both always agree. The rules are
upstream's (``endpointutil`` in kube-controller-manager):

- A Service with no selector is managed by its user; controllers leave its endpoints alone.
- A pod is a candidate when it matches the selector map, has a pod IP, is not terminal
  (Succeeded/Failed) and — unless the Service publishes not-ready addresses — is not being
  deleted. Terminating pods still appear in EndpointSlices, marked ``terminating``.
- A named ``targetPort`` resolves per pod through its containers' named ports (protocol must
  match); a pod without such a port is left out of that port's endpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kybernetes.api.meta import is_condition_true
from kybernetes.client.informer import Handler, Informer

Obj = dict[str, Any]


def selector_of(service: Obj) -> Mapping[str, str] | None:
    """The Service's selector map, or None when the Service has none (user-managed)."""
    selector = (service.get("spec") or {}).get("selector")
    return selector or None


def selects(selector: Mapping[str, str], pod: Obj) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def pods_of(service: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """Candidate pods of ``service`` among ``pods`` (all in the Service's namespace)."""
    selector = selector_of(service)
    if selector is None:
        return []
    publish_not_ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    out = []
    for pod in pods:
        status = pod.get("status") or {}
        if not status.get("podIP") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        if pod["metadata"].get("deletionTimestamp") and publish_not_ready:
            continue
        if selects(selector, pod):
            out.append(pod)
    return out


def pod_ready(pod: Obj) -> bool:
    return is_condition_true((pod.get("status") or {}).get("conditions"), "Ready")


def resolve_port(service_port: Mapping[str, Any], pod: Obj) -> int | None:
    """The pod's port for one Service port (None when a named port is not found)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def endpoint_port(service_port: Mapping[str, Any], number: int) -> dict[str, Any]:
    """An EndpointPort (also the EndpointSlice port shape) for a resolved Service port."""
    out: dict[str, Any] = {}
    if service_port.get("name"):
        out["name"] = service_port["name"]
    out["port"] = number
    out["protocol"] = service_port.get("protocol", "TCP")
    if service_port.get("appProtocol"):
        out["appProtocol"] = service_port["appProtocol"]
    return out


def target_ref(pod: Obj) -> dict[str, Any]:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}


def hostname_for(service: Obj, pod: Obj) -> str | None:
    """A pod's DNS hostname under the Service, when its ``subdomain`` names the Service."""
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == service["metadata"]["name"]:
        return str(spec["hostname"])
    return None


def services_selecting(pod: Obj, services: Iterable[Obj]) -> list[Obj]:
    """The Services (of the pod's namespace) whose selector matches the pod's labels."""
    out = []
    for service in services:
        selector = selector_of(service)
        if selector is not None and selects(selector, pod):
            out.append(service)
    return out


PortSignature = tuple[tuple[str, int, str, str], ...]


def resolved_ports(service: Obj, pod: Obj) -> PortSignature | None:
    """The Service's ports resolved for ``pod``, sorted; None when a Service with ports has none
    this pod can serve (it is then left out of the endpoints)."""
    service_ports = (service.get("spec") or {}).get("ports") or []
    resolved = []
    for service_port in service_ports:
        number = resolve_port(service_port, pod)
        if number is not None:
            port = endpoint_port(service_port, number)
            resolved.append(
                (port.get("name", ""), port["port"], port["protocol"], port.get("appProtocol", ""))
            )
    if service_ports and not resolved:
        return None
    return tuple(sorted(resolved))


def port_dict(signature: tuple[str, int, str, str], *, always_name: bool = False) -> Obj:
    """One port of a signature as an EndpointPort (Endpoints omit an empty name; slices keep it)."""
    name, port, protocol, app_protocol = signature
    out: Obj = {}
    if name or always_name:
        out["name"] = name
    out["port"] = port
    out["protocol"] = protocol
    if app_protocol:
        out["appProtocol"] = app_protocol
    return out


def ip_sort_key(ip: str) -> tuple[int, ...] | tuple[str]:
    """IPv4 addresses in numeric order (others after, as text)."""
    parts = ip.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return tuple(int(p) for p in parts)
    return (ip,)


class ServicePodEvents:
    """Informer handlers shared by the endpoint controllers: a pod change enqueues the Services
    that select it, before and after a label change."""

    def __init__(self, services: Informer, enqueue: Callable[[Obj], None]) -> None:
        self._services = services
        self._enqueue = enqueue

    def changed(self, pod: Obj) -> None:
        namespace = pod["metadata"].get("namespace")
        for service in services_selecting(pod, self._services.store.list_namespace(namespace)):
            self._enqueue(service)

    def updated(self, old: Obj, new: Obj) -> None:
        self.changed(new)
        if (old["metadata"].get("labels") or {}) != (new["metadata"].get("labels") or {}):
            self.changed(old)

    def handler(self) -> Handler:
        return Handler(self.changed, self.updated, self.changed)
