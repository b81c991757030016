"""Backend endpoints: a Service port resolved to the addresses that may take a request now.

``resolve(ref, services, slices_of)`` follows an Ingress backend through its Service to the
EndpointSlices labelled ``kubernetes.io/service-name``: the Service port is chosen by number or
name, and the slices' port of the same name gives the target port (slices already carry named
``targetPort``s resolved per pod). Only ready endpoints are used; when none is ready, endpoints
that are serving while terminating are used instead (kube-proxy's fallback, so a rolling update
with a preStop hook keeps a target until its replacement is ready).

``Upstream`` holds the result for one backend and hands out addresses: ``candidates()`` yields
every address once, starting at the next one in round-robin (or random) order, so a caller that
fails to connect moves on to another endpoint instead of failing the request.

Invariant: an ``Upstream`` is never mutated after it is built except for its rotation counter;
the controller builds new ones when Services or slices change, so a request in flight keeps the
list it started with.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from kybernetes.network.ingress.routes import BackendRef

Obj = dict[str, Any]
SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"

ROUND_ROBIN: Final = "round_robin"
RANDOM: Final = "random"
FAIL_PERIOD: Final = 5.0  # seconds an endpoint that refused a connection goes to the back


class Address(NamedTuple):
    """``(ip, port)`` of one endpoint."""

    ip: str
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(slots=True)
class Upstream:
    """The endpoints of one backend, and the rotation that spreads requests over them."""

    ref: BackendRef
    addresses: tuple[Address, ...]
    reason: str = ""  # why there are no addresses (for logs and the 503 page)
    policy: str = ROUND_ROBIN
    counter: Iterator[int] | None = None
    failed: dict[Address, float] = field(default_factory=dict)  # address -> retry after

    def candidates(self) -> list[Address]:
        """Every address once, starting with the one whose turn it is; addresses that failed
        to connect recently go last (nginx's ``max_fails``/``fail_timeout``, passively)."""
        addresses = self.addresses
        n = len(addresses)
        if n <= 1:
            return list(addresses)
        if self.policy == RANDOM:
            start = random.randrange(n)
        else:
            if self.counter is None:
                self.counter = itertools.count(random.randrange(n))
            start = next(self.counter) % n
        ordered = [*addresses[start:], *addresses[:start]]
        if self.failed:
            now = time.monotonic()
            for address, until in list(self.failed.items()):
                if until <= now:
                    del self.failed[address]
            ordered.sort(key=lambda a: a in self.failed)  # stable: keeps the rotation
        return ordered

    def mark_failed(self, address: Address, period: float = FAIL_PERIOD) -> bool:
        """Put ``address`` last for ``period`` seconds; True when it was not marked already."""
        fresh = address not in self.failed
        self.failed[address] = time.monotonic() + period
        return fresh


def slice_service_key(obj: Obj) -> tuple[str, ...]:
    """Index function: EndpointSlices by ``namespace/service``."""
    meta = obj.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return (f"{meta.get('namespace')}/{service}",) if service else ()


def resolve(
    ref: BackendRef,
    service: Mapping[str, Any] | None,
    slices: Sequence[Mapping[str, Any]],
    *,
    policy: str = ROUND_ROBIN,
) -> Upstream:
    """The addresses ``ref`` reaches now (empty, with a reason, when none)."""
    if service is None:
        return Upstream(ref, (), "service not found", policy)
    port_name = _service_port_name(service, ref.port)
    if port_name is None:
        return Upstream(ref, (), f"service has no port {ref.port}", policy)
    ready: dict[Address, None] = {}
    fallback: dict[Address, None] = {}
    for item in slices:
        if item.get("addressType") == "FQDN":
            continue
        target = _slice_port(item, port_name)
        if target is None:
            continue
        for endpoint in item.get("endpoints") or ():
            conditions = endpoint.get("conditions") or {}
            # A missing "ready" means unknown, which consumers treat as ready (API docs).
            is_ready = conditions.get("ready") is not False
            serving = conditions.get("serving", is_ready) is not False
            terminating = conditions.get("terminating") is True
            for ip in endpoint.get("addresses") or ():
                if is_ready:
                    ready[Address(ip, target)] = None
                elif serving and terminating:
                    fallback[Address(ip, target)] = None
    chosen = ready or fallback
    reason = "" if chosen else "no ready endpoints"
    return Upstream(ref, tuple(sorted(chosen)), reason, policy)


def _service_port_name(service: Mapping[str, Any], port: int | str) -> str | None:
    """The name ("" when unnamed) of the Service port ``port`` (a number or a name)."""
    for item in (service.get("spec") or {}).get("ports") or ():
        if item.get("protocol", "TCP") != "TCP":
            continue
        if (isinstance(port, int) and item.get("port") == port) or (
            isinstance(port, str) and item.get("name") == port
        ):
            return str(item.get("name") or "")
    return None


def _slice_port(item: Mapping[str, Any], name: str) -> int | None:
    for port in item.get("ports") or ():
        if (port.get("name") or "") == name and port.get("protocol", "TCP") == "TCP":
            number = port.get("port")
            return number if isinstance(number, int) else None
    return None
