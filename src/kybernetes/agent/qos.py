"""A pod's quality-of-service class, as upstream's ``ComputePodQOS`` decides it.

Only cpu and memory count, and only positive quantities: BestEffort when no container (init
containers included) requests or limits either; Guaranteed when every container limits both and
the pod's summed requests equal its summed limits; Burstable otherwise. The class goes into the
pod's status and decides how the node treats the pod under pressure.

Invariant: pure; a malformed quantity counts as absent (validation rejects it before this runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.quantity import Quantity, QuantityError, parse_quantity


def _positive(value: Any) -> Quantity | None:
    if value is None:
        return None
    try:
        quantity = parse_quantity(value)
    except (QuantityError, TypeError):
        return None
    return quantity if quantity.sign() > 0 else None


def qos_class(pod: Mapping[str, Any]) -> str:
    """The pod's QoS class as ``ComputePodQOS`` decides from cpu and memory requests and limits.

    BestEffort: no container requests or limits cpu or memory. Guaranteed: every container
    limits both, and the pod's summed requests equal its summed limits. Burstable otherwise.
    A limit without a request counts as that request, as API defaulting would have made it.
    """
    spec = pod.get("spec") or {}
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    guaranteed = True
    for container in [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]:
        resources = container.get("resources") or {}
        container_limits = resources.get("limits") or {}
        container_requests = {**container_limits, **(resources.get("requests") or {})}
        found = set()
        for into, values in ((requests, container_requests), (limits, container_limits)):
            for name in ("cpu", "memory"):
                quantity = _positive(values.get(name))
                if quantity is None:
                    continue
                into[name] = into[name] + quantity if name in into else quantity
                if into is limits:
                    found.add(name)
        if found != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if (
        guaranteed
        and len(requests) == len(limits)
        and all(limits.get(name) == value for name, value in requests.items())
    ):
        return "Guaranteed"
    return "Burstable"
