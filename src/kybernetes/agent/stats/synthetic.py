"""Configurable usage for simulated nodes, read from pod annotations.

A simulated pod has no processes, so its usage is what the user says it is:

- ``kybernetes.io/fake-cpu-millicores``: ``250`` (every container uses 250m) or
  ``app=250,sidecar=10`` (per container; containers not named use ``DEFAULT_CPU_MILLICORES``);
- ``kybernetes.io/fake-memory``: a quantity such as ``64Mi``, or ``app=64Mi,sidecar=8Mi``.

Tests and demos drive load by changing these annotations (``kubectl annotate pod ...
--overwrite``, or on a Deployment's pod template). A node's usage is the sum of its running
pods'.

Invariant: a malformed annotation counts as absent (the default), never as an error that stops
the node from reporting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from kybernetes.agent.stats.summary import ContainerSample, PodSample, Sample, build_summary
from kybernetes.api.quantity import QuantityError, parse_quantity

CPU_ANNOTATION: Final = "kybernetes.io/fake-cpu-millicores"
MEMORY_ANNOTATION: Final = "kybernetes.io/fake-memory"
DEFAULT_CPU_MILLICORES: Final = 0
DEFAULT_MEMORY_BYTES: Final = 0

Obj = dict[str, Any]


def _per_container(text: str) -> tuple[str | None, dict[str, str]]:
    """``"250"`` -> ("250", {}); ``"a=1,b=2"`` -> (None, {"a": "1", "b": "2"})."""
    text = text.strip()
    if "=" not in text:
        return text, {}
    named: dict[str, str] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name.strip():
            named[name.strip()] = value.strip()
    return None, named


def _value(annotations: Mapping[str, str], key: str, container: str) -> str | None:
    text = annotations.get(key)
    if text is None:
        return None
    every, named = _per_container(text)
    return every if every is not None else named.get(container)


def _cpu_nanocores(text: str | None) -> int:
    if text is None:
        return DEFAULT_CPU_MILLICORES * 1_000_000
    try:
        return max(0, int(float(text) * 1_000_000))
    except ValueError:
        return DEFAULT_CPU_MILLICORES * 1_000_000


def _memory_bytes(text: str | None) -> int:
    if text is None:
        return DEFAULT_MEMORY_BYTES
    try:
        return max(0, parse_quantity(text).value())
    except (QuantityError, ValueError):
        return DEFAULT_MEMORY_BYTES


def pod_sample(pod: Obj) -> PodSample | None:
    """The usage of a running simulated pod (None unless it is Running)."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return None
    meta = pod.get("metadata") or {}
    annotations: Mapping[str, str] = meta.get("annotations") or {}
    running = {
        s.get("name")
        for s in status.get("containerStatuses") or ()
        if "running" in (s.get("state") or {})
    }
    containers = []
    for container in (pod.get("spec") or {}).get("containers") or ():
        name = str(container.get("name", ""))
        if name not in running:
            continue
        sample = Sample(
            _cpu_nanocores(_value(annotations, CPU_ANNOTATION, name)),
            _memory_bytes(_value(annotations, MEMORY_ANNOTATION, name)),
        )
        containers.append(ContainerSample(name, sample))
    if not containers:
        return None
    return PodSample(
        str(meta.get("name", "")),
        str(meta.get("namespace", "")),
        str(meta.get("uid", "")),
        tuple(containers),
    )


def synthetic_summaries(
    nodes: Iterable[str], pods: Iterable[Obj], now: float, window: float
) -> list[dict[str, Any]]:
    """One summary per simulated node from its pods' annotations."""
    by_node: dict[str, list[PodSample]] = {name: [] for name in nodes}
    for pod in pods:
        samples = by_node.get((pod.get("spec") or {}).get("nodeName", ""))
        sample = pod_sample(pod) if samples is not None else None
        if samples is not None and sample is not None:
            samples.append(sample)
    out = []
    for name, samples in by_node.items():
        node = Sample(
            sum(c.sample.cpu_nanocores or 0 for p in samples for c in p.containers),
            sum(c.sample.memory_bytes or 0 for p in samples for c in p.containers),
        )
        out.append(build_summary(name, node, samples, now, window))
    return out
