"""Resource amounts as integers: what a pod requests and what a node can hold.

Quantities are parsed once, when a pod or node enters the scheduler, into integers (millicores
for ``cpu``, plain units for everything else) so that the per-node Filter and Score loops only
compare ints. ``Requests`` follows upstream's ``resourcehelper.PodRequests``: the sum of the
containers, raised to the largest init container (counting the sidecars started before it),
plus the sidecars (init containers with ``restartPolicy: Always``) and ``spec.overhead``.
The non-zero variant gives containers without a cpu or memory request upstream's defaults
(100m, 200Mi); it is used only for scoring, as upstream does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from kybernetes.api.quantity import QuantityError, parse_quantity

__all__ = [
    "CPU",
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "EPHEMERAL_STORAGE",
    "MEMORY",
    "PODS",
    "Requests",
    "parse_amount",
    "parse_resource_list",
    "pod_requests",
]

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

#: Upstream's ``DefaultMilliCPURequest`` and ``DefaultMemoryRequest`` (scoring only).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


@lru_cache(maxsize=4096)
def _parse(name: str, text: str | int | float) -> int:
    try:
        quantity = parse_quantity(text)
    except (QuantityError, TypeError, ValueError):
        return 0
    return quantity.milli_value() if name == CPU else quantity.value()


def parse_amount(name: str, value: object) -> int:
    """``value`` of resource ``name`` as an int (millicores for cpu); 0 when unparseable."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return 0
    return _parse(name, value)


def parse_resource_list(resources: Mapping[str, Any] | None) -> dict[str, int]:
    """A ``ResourceList`` as ``{name: int}``."""
    if not resources:
        return {}
    return {name: parse_amount(name, value) for name, value in resources.items()}


@dataclass(slots=True)
class Requests:
    """What a pod asks for: the exact requests, and cpu/memory with upstream's defaults."""

    cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    scalar: dict[str, int] = field(default_factory=dict)
    non_zero_cpu: int = 0
    non_zero_memory: int = 0

    def amount(self, name: str) -> int:
        if name == CPU:
            return self.cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        return self.scalar.get(name, 0)


def _add(total: dict[str, int], extra: Mapping[str, int]) -> None:
    for name, amount in extra.items():
        total[name] = total.get(name, 0) + amount


def _raise_to(total: dict[str, int], other: Mapping[str, int]) -> None:
    for name, amount in other.items():
        if amount > total.get(name, 0):
            total[name] = amount


def _container_requests(container: Mapping[str, Any], non_zero: bool) -> dict[str, int]:
    resources = container.get("resources") or {}
    requests = parse_resource_list(resources.get("requests"))
    if non_zero:
        requests.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
        requests.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return requests


def _sum_requests(spec: Mapping[str, Any], non_zero: bool) -> dict[str, int]:
    total: dict[str, int] = {}
    for container in spec.get("containers") or ():
        _add(total, _container_requests(container, non_zero))
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for container in spec.get("initContainers") or ():
        requests = _container_requests(container, non_zero)
        if container.get("restartPolicy") == "Always":
            _add(total, requests)
            _add(sidecars, requests)
            step = dict(sidecars)
        else:
            step = dict(requests)
            _add(step, sidecars)
        _raise_to(init_peak, step)
    _raise_to(total, init_peak)
    _add(total, parse_resource_list(spec.get("overhead")))
    return total


def pod_requests(spec: Mapping[str, Any]) -> Requests:
    """The requests of a pod spec, computed once (see the module docstring)."""
    exact = _sum_requests(spec, non_zero=False)
    defaulted = _sum_requests(spec, non_zero=True)
    scalar = {
        name: amount
        for name, amount in exact.items()
        if name not in (CPU, MEMORY, EPHEMERAL_STORAGE, PODS) and amount
    }
    return Requests(
        cpu=exact.get(CPU, 0),
        memory=exact.get(MEMORY, 0),
        ephemeral_storage=exact.get(EPHEMERAL_STORAGE, 0),
        scalar=scalar,
        non_zero_cpu=defaulted.get(CPU, 0),
        non_zero_memory=defaulted.get(MEMORY, 0),
    )
