"""A container's resources as the runtime applies them, and resource values for the downward API.

``runtime_resources`` converts ``resources.requests``/``limits`` the way the kubelet's
``generateLinuxContainerResources`` does for cgroup v1: cpu shares from the cpu request (the
limit when no request; 2, the kernel minimum, when neither), cfs quota from the cpu limit over a
100 ms period (at least 1 ms), the memory limit in bytes, and the node's pod pids limit.
``cgroup_parent`` places a pod under ``<root>/kubepods[/burstable|/besteffort]/pod<uid>`` by its
QoS class. ``resource_value`` answers a ``resourceFieldRef`` (env and downwardAPI volumes):
ceil(value / divisor) as a string, limits that are not set reading as the node's allocatable.

Invariant: pure functions of the pod spec and the node's allocatable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Final

from kybernetes.agent.qos import qos_class
from kybernetes.agent.runtime.interface import Resources
from kybernetes.api.quantity import QuantityError, parse_quantity

MIN_SHARES: Final = 2
MAX_SHARES: Final = 262144
SHARES_PER_CPU: Final = 1024
QUOTA_PERIOD: Final = 100_000  # microseconds
MIN_QUOTA: Final = 1000


class ResourceError(ValueError):
    """A resourceFieldRef names an unsupported resource or container."""


def _fraction(value: Any) -> Fraction | None:
    if value is None:
        return None
    try:
        return parse_quantity(value).as_fraction()
    except (QuantityError, TypeError):
        return None


def _milli(value: Any) -> int | None:
    amount = _fraction(value)
    return None if amount is None else math.ceil(amount * 1000)


def runtime_resources(container: Mapping[str, Any], pids_limit: int = 0) -> Resources:
    """The ``Resources`` of one container (see the module docstring)."""
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    cpu_request = _milli(requests.get("cpu"))
    cpu_limit = _milli(limits.get("cpu"))
    if cpu_request is None:
        cpu_request = cpu_limit
    shares = MIN_SHARES
    if cpu_request:
        shares = min(MAX_SHARES, max(MIN_SHARES, cpu_request * SHARES_PER_CPU // 1000))
    quota = 0
    if cpu_limit:
        quota = max(MIN_QUOTA, cpu_limit * QUOTA_PERIOD // 1000)
    memory = _fraction(limits.get("memory"))
    return Resources(
        cpu_shares=shares,
        cpu_quota=quota,
        cpu_period=QUOTA_PERIOD,
        memory_limit=math.ceil(memory) if memory else 0,
        pids_limit=max(0, pids_limit),
    )


def cgroup_parent(pod: Mapping[str, Any], root: str = "") -> str:
    """The pod's cgroup: ``/<root>/kubepods/<qos dir>/pod<uid>`` (Guaranteed has no qos dir)."""
    uid = str((pod.get("metadata") or {}).get("uid", ""))
    qos = qos_class(pod)
    parts = [root.strip("/"), "kubepods"]
    if qos != "Guaranteed":
        parts.append(qos.lower())
    parts.append(f"pod{uid}")
    return "/" + "/".join(p for p in parts if p)


_RESOURCES: Final = {
    "limits.cpu": ("limits", "cpu"),
    "limits.memory": ("limits", "memory"),
    "limits.ephemeral-storage": ("limits", "ephemeral-storage"),
    "requests.cpu": ("requests", "cpu"),
    "requests.memory": ("requests", "memory"),
    "requests.ephemeral-storage": ("requests", "ephemeral-storage"),
}


def resource_value(
    pod: Mapping[str, Any],
    ref: Mapping[str, Any],
    container_name: str,
    allocatable: Mapping[str, str],
) -> str:
    """The value of a ``resourceFieldRef`` (``ResourceError`` for what the API rejects)."""
    name = str(ref.get("containerName") or container_name)
    spec = pod.get("spec") or {}
    every = [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]
    container = next((c for c in every if c.get("name") == name), None)
    if container is None:
        raise ResourceError(f"container {name} not found")
    resource = str(ref.get("resource", ""))
    if resource not in _RESOURCES and not resource.startswith(("limits.", "requests.")):
        raise ResourceError(f"unsupported container resource : {resource}")
    kind, key = _RESOURCES.get(resource) or tuple(resource.split(".", 1))
    values = (container.get("resources") or {}).get(kind) or {}
    amount = _fraction(values.get(key))
    if amount is None and kind == "limits":
        amount = _fraction(allocatable.get(key))
    divisor = _fraction(ref.get("divisor")) or Fraction(1)
    if key == "cpu" and divisor < Fraction(1, 1000):
        divisor = Fraction(1)
    return str(math.ceil((amount or Fraction(0)) / divisor))
