"""How many replicas each ReplicaSet of a Deployment should have: the pure scaling arithmetic.

- ``new_rs_new_replicas``: how far the new ReplicaSet may grow now (RollingUpdate: up to
  ``replicas + maxSurge`` pods in all; Recreate: straight to ``replicas``).
- ``proportional_sizes``: when a Deployment is resized mid-rollout, the difference is spread
  over the active ReplicaSets in proportion to their size (``max-replicas`` annotation as the
  reference), largest first, newer first on scale-up and older first on scale-down, leftovers to
  the first one: upstream's ``scale``, ``GetReplicaSetProportion`` and ``getReplicaSetFraction``.

Invariant: the sizes returned add up to exactly ``replicas + maxSurge`` (or zero for a
Deployment scaled to zero), and none is negative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kybernetes.api import intstr
from kybernetes.api.meta import annotations_of, name_of
from kybernetes.controllers.deployment.util import (
    MAX_REPLICAS,
    creation_key,
    is_rolling,
    max_surge,
    replicas,
    spec_of,
    spec_total,
    status_of,
)

Obj = dict[str, Any]


def go_round(value: float) -> int:
    """Round half away from zero (Go's ``math.Round``; Python's ``round`` is banker's)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def new_rs_new_replicas(d: Mapping[str, Any], all_rss: Sequence[Obj | None], new_rs: Obj) -> int:
    """The size the new ReplicaSet may scale up to now (``NewRSNewReplicas``)."""
    want = replicas(d)
    if not is_rolling(d):
        return want
    rolling = (spec_of(d).get("strategy") or {}).get("rollingUpdate") or {}
    surge = intstr.scaled_value_from_int_or_percent(rolling.get("maxSurge", "25%"), want, True)
    current = spec_total(all_rss)
    ceiling = want + surge
    if current >= ceiling:
        return replicas(new_rs)
    grow = min(ceiling - current, want - replicas(new_rs))
    return replicas(new_rs) + grow


def _fraction(rs: Obj, d: Mapping[str, Any]) -> int:
    """How many replicas ``rs`` gains (or loses) to keep its share (``getReplicaSetFraction``)."""
    if replicas(d) == 0:
        return -replicas(rs)
    target = replicas(d) + max_surge(d)
    try:
        annotated = int(annotations_of(rs)[MAX_REPLICAS])
    except (KeyError, ValueError):
        annotated = int(status_of(d).get("replicas") or 0)
    if annotated == 0:
        return 0
    return go_round(replicas(rs) * target / annotated) - replicas(rs)


def _proportion(rs: Obj, d: Mapping[str, Any], to_add: int, added: int) -> int:
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def proportional_sizes(
    d: Mapping[str, Any], active_rss: Sequence[Obj]
) -> tuple[list[tuple[Obj, int]], str]:
    """Each active ReplicaSet with its new size, in the order to apply them, and "up"/"down"."""
    total = spec_total(active_rss)
    allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
    to_add = allowed - total
    operation = ""
    ordered = list(active_rss)
    if to_add > 0:
        # Largest first; among equals the newest first.
        ordered.sort(key=creation_key, reverse=True)
        ordered.sort(key=replicas, reverse=True)
        operation = "up"
    elif to_add < 0:
        # Largest first; among equals the oldest first.
        ordered.sort(key=creation_key)
        ordered.sort(key=replicas, reverse=True)
        operation = "down"
    sizes: dict[str, int] = {}
    added = 0
    for rs in ordered:
        if to_add != 0:
            share = _proportion(rs, d, to_add, added)
            sizes[name_of(rs)] = replicas(rs) + share
            added += share
        else:
            sizes[name_of(rs)] = replicas(rs)
    if ordered and to_add != 0:
        first = name_of(ordered[0])
        sizes[first] = max(sizes[first] + to_add - added, 0)
    return [(rs, sizes[name_of(rs)]) for rs in ordered], operation
