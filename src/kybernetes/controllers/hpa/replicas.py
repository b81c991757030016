"""The replica count a resource metric asks for (upstream's ``ReplicaCalculator``), pure.

Given the pods the target's selector matches, their metrics from ``metrics.k8s.io`` (in milli
units: millicores, milli-bytes) and the target, return the proposed replica count:

- pods being deleted or Failed are ignored; Pending pods are *unready*; for CPU, so are pods
  never Ready, pods inside the CPU initialization period (300 s after start) that are not Ready
  or whose sample predates one window after their last readiness change, and pods unready that
  never became Ready within the initial readiness delay (30 s);
- with every pod measured and ready, the usage ratio (usage / target) within the tolerance
  (10 %) keeps the current count, otherwise ``ceil(ratio * ready pods)``;
- otherwise upstream's conservative rebalancing: on a scale-down, pods without metrics count as
  using 100 % of their request (or the target, if higher); on a scale-up they count as zero, as
  do unready pods; a change of direction or a ratio now within tolerance keeps the count.

Invariant: no I/O and no clock here; ``now`` is an argument, so the table-driven tests cover
every branch in zero time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from kybernetes.api.meta import get_condition, parse_time
from kybernetes.api.quantity import QuantityError, parse_quantity

DEFAULT_TOLERANCE: Final = 0.1
CPU_INITIALIZATION_PERIOD: Final = 300.0
INITIAL_READINESS_DELAY: Final = 30.0

Obj = dict[str, Any]


class ReplicaCalcError(Exception):
    """The metric cannot propose a replica count; the message is upstream's."""


@dataclass(frozen=True, slots=True)
class PodMetric:
    """One pod's usage (milli units) sampled at ``timestamp`` (epoch seconds) over ``window``."""

    value: int
    timestamp: float
    window: float


@dataclass(frozen=True, slots=True)
class Proposal:
    replicas: int
    utilization: int | None  # percent of requests (Utilization targets only)
    raw_average: int  # milli units per pod
    timestamp: float


@dataclass(frozen=True, slots=True)
class Settings:
    tolerance: float = DEFAULT_TOLERANCE
    cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD
    initial_readiness_delay: float = INITIAL_READINESS_DELAY


def _time(text: object) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_time(text).timestamp()
    except ValueError:
        return None


def group_pods(
    pods: Iterable[Obj],
    metrics: Mapping[str, PodMetric],
    resource: str,
    now: float,
    settings: Settings,
) -> tuple[int, set[str], set[str], set[str]]:
    """(ready pod count, unready, missing, ignored) as upstream's ``groupPods``."""
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        name = str(pod["metadata"]["name"])
        status = pod.get("status") or {}
        phase = status.get("phase")
        if pod["metadata"].get("deletionTimestamp") or phase == "Failed":
            ignored.add(name)
            continue
        if phase == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            condition = get_condition(status.get("conditions"), "Ready")
            started = _time(status.get("startTime"))
            if condition is None or started is None:
                unready.add(name)
                continue
            transition = _time(condition.get("lastTransitionTime")) or 0.0
            not_ready = condition.get("status") == "False"
            if started + settings.cpu_initialization_period > now:
                if not_ready or metric.timestamp < transition + metric.window:
                    unready.add(name)
                    continue
            elif not_ready and started + settings.initial_readiness_delay > transition:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def _milli(value: object) -> int | None:
    try:
        return parse_quantity(value).milli_value() if isinstance(value, str | int) else None
    except QuantityError:
        return None


def pod_requests(pods: Iterable[Obj], resource: str, container: str = "") -> dict[str, int]:
    """Each pod's summed request of ``resource`` (milli); a container without one is an error."""
    out: dict[str, int] = {}
    for pod in pods:
        total = 0
        name = str(pod["metadata"]["name"])
        for c in (pod.get("spec") or {}).get("containers") or ():
            if container and c.get("name") != container:
                continue
            request = _milli(((c.get("resources") or {}).get("requests") or {}).get(resource))
            if request is None:
                raise ReplicaCalcError(
                    f"missing request for {resource} in container {c.get('name')} of Pod {name}"
                )
            total += request
        out[name] = total
    return out


def utilization_ratio(
    metrics: Mapping[str, PodMetric], requests: Mapping[str, int], target: int
) -> tuple[float, int, int]:
    """(usage ratio, utilization %, raw average) as ``GetResourceUtilizationRatio``."""
    used = requested = entries = 0
    for name, metric in metrics.items():
        request = requests.get(name)
        if request is None:
            continue
        used += metric.value
        requested += request
        entries += 1
    if requested == 0:
        raise ReplicaCalcError("no metrics returned matched known pods")
    utilization = used * 100 // requested
    return utilization / target, utilization, used // entries


def usage_ratio(metrics: Mapping[str, PodMetric], target: int) -> tuple[float, int]:
    """(usage ratio, average usage) as ``GetMetricUsageRatio``."""
    average = sum(m.value for m in metrics.values()) // len(metrics)
    return average / target, average


def _timestamp(metrics: Mapping[str, PodMetric]) -> float:
    return min((m.timestamp for m in metrics.values()), default=0.0)


def resource_replicas(
    current: int,
    target_utilization: int,
    resource: str,
    pods: list[Obj],
    metrics: Mapping[str, PodMetric],
    now: float,
    settings: Settings = Settings(),
    container: str = "",
) -> Proposal:
    """``GetResourceReplicas``: an ``averageUtilization`` target (percent of requests)."""
    timestamp, ready, unready, missing, kept = _usable_metrics(
        resource, pods, metrics, now, settings
    )
    requests = pod_requests(pods, resource, container)
    ratio, utilization, raw = utilization_ratio(kept, requests, target_utilization)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= settings.tolerance:
            return Proposal(current, utilization, raw, timestamp)
        return Proposal(math.ceil(ratio * ready), utilization, raw, timestamp)
    if missing:
        fallback = max(100, target_utilization)
        for name in missing:
            value = requests[name] * fallback // 100 if ratio < 1.0 else 0
            kept[name] = PodMetric(value, timestamp, 0.0)
    if scale_up_with_unready:
        for name in unready:
            kept[name] = PodMetric(0, timestamp, 0.0)
    new_ratio, _, _ = utilization_ratio(kept, requests, target_utilization)
    return Proposal(
        _rebalanced(current, ratio, new_ratio, len(kept), settings), utilization, raw, timestamp
    )


def _usable_metrics(
    resource: str,
    pods: list[Obj],
    metrics: Mapping[str, PodMetric],
    now: float,
    settings: Settings,
) -> tuple[float, int, set[str], set[str], dict[str, PodMetric]]:
    """What both resource calculations start from: the metrics' timestamp, the ready count,
    the unready and missing pods, and the metrics of the pods that count (upstream's errors
    when there is nothing to count)."""
    if not metrics:
        raise ReplicaCalcError(
            f"unable to get metrics for resource {resource}: "
            "no metrics returned from resource metrics API"
        )
    if not pods:
        raise ReplicaCalcError("no pods returned by selector while calculating replica count")
    timestamp = _timestamp(metrics)
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now, settings)
    kept = {n: m for n, m in metrics.items() if n not in ignored and n not in unready}
    if not kept:
        raise ReplicaCalcError("did not receive metrics for any ready pods")
    return timestamp, ready, unready, missing, kept


def raw_resource_replicas(
    current: int,
    target_average: int,
    resource: str,
    pods: list[Obj],
    metrics: Mapping[str, PodMetric],
    now: float,
    settings: Settings = Settings(),
) -> Proposal:
    """``GetRawResourceReplicas``: an ``averageValue`` target (milli units per pod)."""
    timestamp, ready, unready, missing, kept = _usable_metrics(
        resource, pods, metrics, now, settings
    )
    ratio, average = usage_ratio(kept, target_average)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= settings.tolerance:
            return Proposal(current, None, average, timestamp)
        return Proposal(math.ceil(ratio * ready), None, average, timestamp)
    for name in missing:
        kept[name] = PodMetric(target_average if ratio < 1.0 else 0, timestamp, 0.0)
    if scale_up_with_unready:
        for name in unready:
            kept[name] = PodMetric(0, timestamp, 0.0)
    new_ratio, _ = usage_ratio(kept, target_average)
    return Proposal(
        _rebalanced(current, ratio, new_ratio, len(kept), settings), None, average, timestamp
    )


def _rebalanced(
    current: int, ratio: float, new_ratio: float, count: int, settings: Settings
) -> int:
    if (
        abs(1.0 - new_ratio) <= settings.tolerance
        or (ratio < 1.0 < new_ratio)
        or (ratio > 1.0 > new_ratio)
    ):
        return current
    proposed = math.ceil(new_ratio * count)
    if (new_ratio < 1.0 and proposed > current) or (new_ratio > 1.0 and proposed < current):
        return current
    return proposed
