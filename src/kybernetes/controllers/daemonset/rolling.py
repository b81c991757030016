"""A DaemonSet's rolling update: which old pods to delete, and where to surge new ones.

Upstream's ``rollingUpdate``, in its two shapes:

- **maxSurge 0**: delete old pods while fewer than ``maxUnavailable`` nodes are unavailable
  (a node counts as unavailable when it has no pod, an unavailable new pod, both an old and a
  new pod, or an unavailable old pod, which is replaced at once); the manage pass then creates
  the new pods on the emptied nodes.
- **maxSurge > 0**: create a new pod beside an old one on up to ``maxSurge`` nodes at a time
  (at once where the old pod is unavailable), and delete each old pod once its new pod is
  available; old pods on nodes that no longer fit go only while enough pods elsewhere are
  available.

When neither is set for a non-empty DaemonSet, one node may be unavailable (as upstream).
Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kybernetes.api.meta import name_of
from kybernetes.controllers.daemonset.nodes import (
    is_deleting,
    is_updated,
    min_ready_seconds,
    surge_count,
    unavailable_count,
)
from kybernetes.controllers.daemonset.placement import should_run
from kybernetes.controllers.podcontrol import is_pod_available

Obj = dict[str, Any]


def split_old_new(pods: Sequence[Obj], hash_: str) -> tuple[Obj | None, Obj | None, bool]:
    """``(new, old, ok)`` for one node; ``ok`` is false when it holds two of either kind."""
    new = old = None
    for pod in pods:
        if is_deleting(pod):
            continue
        if is_updated(pod, hash_):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def rolling_update(
    ds: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    node_pods: Mapping[str, list[Obj]],
    hash_: str,
    now: float,
) -> tuple[list[Obj], list[str]]:
    """``(pods to delete, nodes to create a new pod on)`` for one step of the update."""
    by_node = {name_of(n): n for n in nodes}
    wanted = {name for name, node in by_node.items() if should_run(node, ds)[0]}
    per_node: dict[str, list[Obj]] = {name: [] for name in wanted}
    per_node.update({name: list(pods) for name, pods in node_pods.items()})
    desired = len(wanted)
    max_surge = surge_count(ds, desired)
    max_unavailable = unavailable_count(ds, desired)
    if desired > 0 and max_surge == 0 and max_unavailable == 0:
        max_unavailable = 1
    min_ready = min_ready_seconds(ds)

    def available(pod: Obj) -> bool:
        return is_pod_available(pod, min_ready, now)

    if max_surge == 0:
        unavailable = 0
        replace: list[Obj] = []
        candidates: list[Obj] = []
        for name in sorted(per_node):
            new, old, ok = split_old_new(per_node[name], hash_)
            if not ok or (old is None) == (new is None):
                unavailable += 1  # the manage pass creates or deletes here
            elif new is not None:
                unavailable += 0 if available(new) else 1
            elif old is not None and not available(old):
                replace.append(old)
                unavailable += 1
            elif old is not None and unavailable < max_unavailable:
                candidates.append(old)
        room = min(max(max_unavailable - unavailable, 0), len(candidates))
        return replace + candidates[:room], []

    to_delete: list[Obj] = []
    cannot_stay: list[Obj] = []
    surge_now: list[str] = []
    surge_candidates: list[str] = []
    surging = 0
    available_count = 0
    for name in sorted(per_node):
        new, old, ok = split_old_new(per_node[name], hash_)
        if not ok:
            surging += 1
            continue
        present = old if old is not None else new
        if present is not None and available(present):
            available_count += 1
        if old is None:
            continue
        node = by_node.get(name)
        fits = node is not None and should_run(node, ds)[0]
        if new is None:
            if not available(old):
                if fits:
                    surge_now.append(name)
                else:
                    to_delete.append(old)
            elif not fits:
                cannot_stay.append(old)
            elif surging < max_surge:
                surge_candidates.append(name)
        elif not available(new):
            surging += 1
        else:
            to_delete.append(old)
    deletable = min(max(available_count - desired, 0), len(cannot_stay))
    to_delete.extend(cannot_stay[:deletable])
    room = min(max(max_surge - surging, 0), len(surge_candidates))
    return to_delete, surge_now + surge_candidates[:room]
