"""PodTopologySpread: keep matching pods evenly spread over topology domains.

Filter (``whenUnsatisfiable: DoNotSchedule``): placing the pod in a domain must keep
``matching pods there + 1 - the global minimum <= maxSkew``; with ``minDomains`` the minimum
counts as 0 while fewer domains exist. Score (``ScheduleAnyway``): fewer matching pods in a
node's domains is better, weighted by ``log(domains + 2)``. Nodes count only when they carry
every constraint's topology key and pass the inclusion policies (``nodeAffinityPolicy``,
default Honor; ``nodeTaintsPolicy``, default Ignore). A pod without constraints gets the
default constraints (the system's: hostname maxSkew 3 and zone maxSkew 5, ScheduleAnyway)
with the selector of the Services/ReplicaSets/StatefulSets that select it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kybernetes.api.selectors import Operator, Requirement, Selector
from kybernetes.scheduler.framework import node_arrays
from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.events import ActionType, ClusterEvent, EventResource
from kybernetes.scheduler.framework.interface import (
    MAX_NODE_SCORE,
    Handle,
    NodeToStatus,
    PreFilterResult,
)
from kybernetes.scheduler.framework.node_arrays import Batch, BoolArray
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo, label_selector
from kybernetes.scheduler.framework.snapshot import Snapshot
from kybernetes.scheduler.framework.status import Code, Status
from kybernetes.scheduler.framework.taints import NO_EXECUTE, NO_SCHEDULE, find_untolerated
from kybernetes.scheduler.plugins.helper import ArgsError, expect_int, expect_mapping

__all__ = [
    "ERR_REASON_CONSTRAINTS_NOT_MATCH",
    "ERR_REASON_NODE_LABEL_NOT_MATCH",
    "Constraint",
    "PodTopologySpread",
    "SpreadArgs",
    "parse_spread_args",
]

ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
_PRE_FILTER_KEY = "PreFilterPodTopologySpread"
_PRE_SCORE_KEY = "PreScorePodTopologySpread"
_SKIP = Status(Code.SKIP)
_HARD = (NO_SCHEDULE, NO_EXECUTE)


@dataclass(frozen=True, slots=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: Selector
    min_domains: int = 1
    honor_node_affinity: bool = True
    honor_taints: bool = False


SYSTEM_DEFAULT_CONSTRAINTS: tuple[Mapping[str, Any], ...] = (
    {"topologyKey": HOSTNAME, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 3},
    {"topologyKey": ZONE, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 5},
)


@dataclass(frozen=True, slots=True)
class SpreadArgs:
    default_constraints: tuple[Mapping[str, Any], ...] = SYSTEM_DEFAULT_CONSTRAINTS
    system_defaulted: bool = True


def parse_spread_args(raw: Mapping[str, Any]) -> SpreadArgs:
    defaulting = raw.get("defaultingType", "System")
    if defaulting not in ("System", "List"):
        raise ArgsError("defaultingType", f'unsupported value "{defaulting}"')
    constraints = tuple(raw.get("defaultConstraints") or ())
    if defaulting == "System":
        if constraints:
            raise ArgsError("defaultConstraints", 'must be empty when defaultingType is "System"')
        return SpreadArgs()
    for i, constraint in enumerate(constraints):
        field = f"defaultConstraints[{i}]"
        constraint = expect_mapping(constraint, field)
        expect_int(constraint.get("maxSkew"), f"{field}.maxSkew", 1)
        if not constraint.get("topologyKey"):
            raise ArgsError(f"{field}.topologyKey", "must not be empty")
        if constraint.get("whenUnsatisfiable") not in (DO_NOT_SCHEDULE, SCHEDULE_ANYWAY):
            raise ArgsError(f"{field}.whenUnsatisfiable", "must be DoNotSchedule or ScheduleAnyway")
        if constraint.get("labelSelector") is not None:
            raise ArgsError(f"{field}.labelSelector", "must not be set in default constraints")
    return SpreadArgs(constraints, system_defaulted=False)


def _constraints(
    raw: Sequence[Mapping[str, Any]], pod: PodInfo, action: str, default: Selector | None
) -> list[Constraint]:
    result: list[Constraint] = []
    for c in raw:
        if c.get("whenUnsatisfiable", DO_NOT_SCHEDULE) != action:
            continue
        selector = default if default is not None else label_selector(c.get("labelSelector"))
        extra = [
            Requirement(key, Operator.IN, (pod.labels[key],))
            for key in c.get("matchLabelKeys") or ()
            if key in pod.labels
        ]
        if extra:
            selector = selector.add(*extra)
        result.append(
            Constraint(
                max_skew=int(c.get("maxSkew", 1)),
                topology_key=str(c.get("topologyKey", "")),
                selector=selector,
                min_domains=int(c.get("minDomains") or 1),
                honor_node_affinity=c.get("nodeAffinityPolicy", "Honor") == "Honor",
                honor_taints=c.get("nodeTaintsPolicy", "Ignore") == "Honor",
            )
        )
    return result


def _has_all_keys(labels: Mapping[str, str], constraints: Sequence[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


def _included(c: Constraint, pod: PodInfo, node: NodeInfo) -> bool:
    """The node inclusion policies (``matchNodeInclusionPolicies``)."""
    required = pod.required_node_affinity
    if (
        c.honor_node_affinity
        and required is not None
        and not required.matches(node.labels, node.name)
    ):
        return False
    return not (c.honor_taints and find_untolerated(node.taints, pod.tolerations, _HARD))


def _matching_pods(snapshot: Snapshot, selector: Selector, namespace: str) -> list[PodInfo]:
    """The cached pods in ``namespace``, not terminating, that ``selector`` selects."""
    matches = selector.matches
    return [
        p
        for p in snapshot.pod_index.candidates(selector)
        if p.namespace == namespace and not p.terminating and matches(p.labels)
    ]


class _PreFilterState:
    __slots__ = ("constraints", "counts", "domains", "minimums")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.counts: list[dict[str, int]] = [{} for _ in constraints]
        self.minimums: list[int] = [0] * len(constraints)
        self.domains: list[int] = [0] * len(constraints)

    def refresh(self, index: int) -> None:
        counts = self.counts[index]
        self.domains[index] = len(counts)
        self.minimums[index] = min(counts.values(), default=0)

    def clone(self) -> _PreFilterState:
        copy = _PreFilterState(self.constraints)
        copy.counts = [dict(c) for c in self.counts]
        copy.minimums = list(self.minimums)
        copy.domains = list(self.domains)
        return copy


class _PreScoreState:
    __slots__ = ("constraints", "counts", "ignored", "ignored_mask", "weights")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.counts: list[dict[str, int]] = [{} for _ in constraints]
        self.ignored: set[str] = set()
        #: Per scored node, in Score's order: whether it was ignored (for NormalizeScore).
        self.ignored_mask: list[bool] = []
        self.weights: list[float] = []

    def clone(self) -> _PreScoreState:
        return self


class PodTopologySpread:
    name = "PodTopologySpread"

    def __init__(self, handle: Handle, args: SpreadArgs | None = None) -> None:
        self._handle = handle
        self.args = args or SpreadArgs()

    def _pod_constraints(self, pod: PodInfo, action: str) -> list[Constraint]:
        if pod.spread_constraints:
            return _constraints(pod.spread_constraints, pod, action, None)
        defaults = [
            c for c in self.args.default_constraints if c.get("whenUnsatisfiable") == action
        ]
        if not defaults:
            return []
        selector = self._handle.api.default_spread_selector(pod.pod)
        if selector.is_empty or selector.is_nothing:
            return []
        return _constraints(defaults, pod, action, selector)

    # -- filtering -----------------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo
    ) -> tuple[PreFilterResult | None, Status | None]:
        if not pod.spread_constraints and self.args.system_defaulted:
            return None, _SKIP  # the system defaults are all ScheduleAnyway
        constraints = self._pod_constraints(pod, DO_NOT_SCHEDULE)
        if not constraints:
            return None, _SKIP
        s = _PreFilterState(constraints)
        snapshot = self._handle.snapshot()
        keys = tuple(c.topology_key for c in constraints)
        per_node_policy = any(
            (c.honor_node_affinity and pod.required_node_affinity is not None) or c.honor_taints
            for c in constraints
        )
        if per_node_policy:
            for node in snapshot.node_info_list:
                if _has_all_keys(node.labels, constraints):
                    for i, c in enumerate(constraints):
                        if _included(c, pod, node):
                            s.counts[i].setdefault(node.labels[c.topology_key], 0)
        else:
            _, templates = snapshot.spread_domains(keys)
            s.counts = [dict(t) for t in templates]
        for i, c in enumerate(constraints):
            counts = s.counts[i]
            for other in _matching_pods(snapshot, c.selector, pod.namespace):
                host = snapshot.get(other.node_name)
                if host is None or not _has_all_keys(host.labels, constraints):
                    continue
                value = host.labels[c.topology_key]
                if value in counts and (not per_node_policy or _included(c, pod, host)):
                    counts[value] += 1
            s.refresh(i)
        state.write(_PRE_FILTER_KEY, s)
        return None, None

    def pre_filter_extensions(self) -> PodTopologySpread:
        return self

    def _update(
        self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int
    ) -> None:
        s = state.read(_PRE_FILTER_KEY, _PreFilterState)
        if other.namespace != pod.namespace or not _has_all_keys(node.labels, s.constraints):
            return
        for i, c in enumerate(s.constraints):
            if not c.selector.matches(other.labels) or not _included(c, pod, node):
                continue
            value = node.labels[c.topology_key]
            s.counts[i][value] = s.counts[i].get(value, 0) + delta
            s.refresh(i)

    def add_pod(
        self, state: CycleState, pod: PodInfo, pod_to_add: PodInfo, node: NodeInfo
    ) -> Status | None:
        self._update(state, pod, pod_to_add, node, 1)
        return None

    def remove_pod(
        self, state: CycleState, pod: PodInfo, pod_to_remove: PodInfo, node: NodeInfo
    ) -> Status | None:
        self._update(state, pod, pod_to_remove, node, -1)
        return None

    def filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], rejected: NodeToStatus
    ) -> list[NodeInfo]:
        s = state.read(_PRE_FILTER_KEY, _PreFilterState)
        missing = Status(
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_NODE_LABEL_NOT_MATCH, plugin=self.name
        )
        skewed = Status(Code.UNSCHEDULABLE, ERR_REASON_CONSTRAINTS_NOT_MATCH, plugin=self.name)
        for i, c in enumerate(s.constraints):
            # The domains where one more matching pod keeps the skew within maxSkew.
            self_match = 1 if c.selector.matches(pod.labels) else 0
            minimum = 0 if s.domains[i] < c.min_domains else s.minimums[i]
            limit = c.max_skew + minimum - self_match
            allowed = {value for value, count in s.counts[i].items() if count <= limit}
            key = c.topology_key
            passed = [n for n in nodes if n.labels.get(key) in allowed]
            if len(passed) != len(nodes):
                kept = {id(n) for n in passed}
                for node in nodes:
                    if id(node) not in kept:
                        value = node.labels.get(key)
                        if value is None:
                            rejected[node.name] = missing
                        elif 0 + self_match - minimum > c.max_skew or value in s.counts[i]:
                            rejected[node.name] = skewed
                        else:
                            # A domain no counted node forms: it holds no matching pod yet.
                            passed.append(node)
                if len(passed) != len(kept):
                    order = {id(n): j for j, n in enumerate(nodes)}
                    passed.sort(key=lambda n: order[id(n)])
            nodes = passed
        return nodes

    def filter_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> BoolArray | bool:
        """``filter`` per topology domain instead of per node: a domain passes when its count
        stays within the skew, or when no counted node forms it and the skew allows a first
        pod; nodes without the key never pass."""
        s = state.read(_PRE_FILTER_KEY, _PreFilterState)
        mask: BoolArray | None = None
        for i, c in enumerate(s.constraints):
            self_match = 1 if c.selector.matches(pod.labels) else 0
            minimum = 0 if s.domains[i] < c.min_domains else s.minimums[i]
            limit = c.max_skew + minimum - self_match
            uncounted = self_match - minimum <= c.max_skew
            allowed = {value: count <= limit for value, count in s.counts[i].items()}
            table, ids = batch.domain_ids(c.topology_key)
            passed = node_arrays.domain_flags(table, uncounted, allowed)[ids]
            mask = passed if mask is None else mask & passed
        return True if mask is None else mask

    # -- scoring -------------------------------------------------------------------------

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        snapshot = self._handle.snapshot()
        if not nodes or not len(snapshot):
            return None
        constraints = self._pod_constraints(pod, SCHEDULE_ANYWAY)
        if not constraints:
            return _SKIP
        require_all = bool(pod.spread_constraints) or not self.args.system_defaulted
        s = _PreScoreState(constraints)
        for node in nodes:
            labels = node.labels
            if require_all and not _has_all_keys(labels, constraints):
                s.ignored.add(node.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key != HOSTNAME:
                    s.counts[i].setdefault(labels.get(c.topology_key, ""), 0)
        for i, c in enumerate(constraints):
            size = len(nodes) - len(s.ignored) if c.topology_key == HOSTNAME else len(s.counts[i])
            s.weights.append(math.log(size + 2))
        scored = {n.name for n in nodes} - s.ignored
        for i, c in enumerate(constraints):
            counts = s.counts[i]
            hostname = c.topology_key == HOSTNAME
            for other in _matching_pods(snapshot, c.selector, pod.namespace):
                host = snapshot.get(other.node_name)
                if host is None or (require_all and not _has_all_keys(host.labels, constraints)):
                    continue
                if hostname:
                    if host.name in scored and _included(c, pod, host):
                        counts[host.name] = counts.get(host.name, 0) + 1
                    continue
                value = host.labels.get(c.topology_key, "")
                if value in counts and _included(c, pod, host):
                    counts[value] += 1
        state.write(_PRE_SCORE_KEY, s)
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        s = state.read(_PRE_SCORE_KEY, _PreScoreState)
        s.ignored_mask = [node.name in s.ignored for node in nodes]
        result: list[int] = []
        for node in nodes:
            if node.name in s.ignored:
                result.append(0)
                continue
            total = 0.0
            labels = node.labels
            for i, c in enumerate(s.constraints):
                value = labels.get(c.topology_key)
                if value is None:
                    continue
                # Hostname counts are keyed by node name (the value of that label).
                count = s.counts[i].get(node.name if c.topology_key == HOSTNAME else value, 0)
                total += count * s.weights[i] + (c.max_skew - 1)
            result.append(round(total))
        return result

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        ignored = state.read(_PRE_SCORE_KEY, _PreScoreState).ignored_mask
        valid = [v for v, skip in zip(scores, ignored, strict=True) if not skip]
        if not valid:
            scores[:] = [0] * len(scores)
            return
        low, high = min(valid), max(valid)
        for i, v in enumerate(scores):
            if ignored[i]:
                scores[i] = 0
            elif high == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (high + low - v) // high

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return [
            ClusterEvent(EventResource.POD, ActionType.ALL),
            ClusterEvent(
                EventResource.NODE,
                ActionType.ADD
                | ActionType.DELETE
                | ActionType.UPDATE_NODE_LABEL
                | ActionType.UPDATE_NODE_TAINT,
            ),
        ]
