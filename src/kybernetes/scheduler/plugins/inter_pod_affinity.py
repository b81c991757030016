"""InterPodAffinity: required pod affinity/anti-affinity filter nodes by topology domain, and
the pods already placed keep their own required anti-affinity; preferred terms (the pod's and
the existing pods') score nodes.

PreFilter counts, per ``(topologyKey, value)`` domain, the existing pods matching the incoming
pod's required terms and the existing pods whose anti-affinity the incoming pod would violate;
Filter is then three dict look-ups per node. PreFilter (PreScore) returns Skip when there is
nothing to check (to score), which is the case for most pods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kybernetes.scheduler.framework import node_arrays
from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.events import ActionType, ClusterEvent, EventResource
from kybernetes.scheduler.framework.interface import Handle, NodeToStatus, PreFilterResult
from kybernetes.scheduler.framework.node_arrays import Batch, BoolArray, IntArray
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import AffinityTerm, PodInfo, WeightedAffinityTerm
from kybernetes.scheduler.framework.snapshot import Snapshot
from kybernetes.scheduler.framework.status import Code, Status
from kybernetes.scheduler.plugins.helper import expect_int

__all__ = [
    "ERR_REASON_AFFINITY",
    "ERR_REASON_ANTI_AFFINITY",
    "ERR_REASON_EXISTING_ANTI_AFFINITY",
    "InterPodAffinity",
    "InterPodAffinityArgs",
    "parse_inter_pod_affinity_args",
]

ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
_PRE_FILTER_KEY = "PreFilterInterPodAffinity"
_PRE_SCORE_KEY = "PreScoreInterPodAffinity"
_SKIP = Status(Code.SKIP)

Pair = tuple[str, str]
NsLabels = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class InterPodAffinityArgs:
    hard_pod_affinity_weight: int = 1
    ignore_preferred_terms_of_existing_pods: bool = False


def parse_inter_pod_affinity_args(raw: Mapping[str, Any]) -> InterPodAffinityArgs:
    weight = expect_int(raw.get("hardPodAffinityWeight", 1), "hardPodAffinityWeight", 0, 100)
    return InterPodAffinityArgs(weight, bool(raw.get("ignorePreferredTermsOfExistingPods")))


def _bump(counts: dict[Pair, int], pair: Pair, delta: int) -> None:
    value = counts.get(pair, 0) + delta
    if value:
        counts[pair] = value
    else:
        counts.pop(pair, None)


def _term_matches(term: AffinityTerm, pod: PodInfo, ns_labels: NsLabels) -> bool:
    return term.matches(pod, ns_labels.get(pod.namespace))


def _matches_all(terms: Sequence[AffinityTerm], pod: PodInfo, ns_labels: NsLabels) -> bool:
    return bool(terms) and all(_term_matches(t, pod, ns_labels) for t in terms)


class _PreFilterState:
    __slots__ = ("affinity", "anti_affinity", "existing_anti_affinity", "ns_labels", "pod")

    def __init__(self, pod: PodInfo, ns_labels: NsLabels) -> None:
        self.pod = pod
        self.ns_labels = ns_labels
        self.existing_anti_affinity: dict[Pair, int] = {}
        self.affinity: dict[Pair, int] = {}
        self.anti_affinity: dict[Pair, int] = {}

    def clone(self) -> _PreFilterState:
        copy = _PreFilterState(self.pod, self.ns_labels)
        copy.existing_anti_affinity = dict(self.existing_anti_affinity)
        copy.affinity = dict(self.affinity)
        copy.anti_affinity = dict(self.anti_affinity)
        return copy

    def update_with_pod(self, other: PodInfo, node: NodeInfo, delta: int) -> None:
        """Account for ``other`` placed on (delta 1) or removed from (delta -1) ``node``."""
        labels = node.labels
        own_ns = self.ns_labels.get(self.pod.namespace)
        for term in other.required_anti_affinity_terms:
            value = labels.get(term.topology_key)
            if value is not None and term.matches(self.pod, own_ns):
                _bump(self.existing_anti_affinity, (term.topology_key, value), delta)
        terms = self.pod.required_affinity_terms
        if _matches_all(terms, other, self.ns_labels):
            for term in terms:
                value = labels.get(term.topology_key)
                if value is not None:
                    _bump(self.affinity, (term.topology_key, value), delta)
        for term in self.pod.required_anti_affinity_terms:
            value = labels.get(term.topology_key)
            if value is not None and _term_matches(term, other, self.ns_labels):
                _bump(self.anti_affinity, (term.topology_key, value), delta)


class _PreScoreState:
    __slots__ = ("scores",)

    def __init__(self, scores: dict[str, dict[str, int]]) -> None:
        self.scores = scores

    def clone(self) -> _PreScoreState:
        return self


class InterPodAffinity:
    name = "InterPodAffinity"

    def __init__(self, handle: Handle, args: InterPodAffinityArgs | None = None) -> None:
        self._handle = handle
        self.args = args or InterPodAffinityArgs()

    # -- filtering -----------------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo
    ) -> tuple[PreFilterResult | None, Status | None]:
        snapshot = self._handle.snapshot()
        index = snapshot.pod_index
        incoming = bool(pod.required_affinity_terms or pod.required_anti_affinity_terms)
        if not incoming and not index.has_anti_affinity():
            return None, _SKIP
        s = _PreFilterState(pod, self._handle.api.namespace_labels())
        own_ns = s.ns_labels.get(pod.namespace)
        existing = s.existing_anti_affinity
        for group in index.anti_affinity_groups(pod):
            term = group.term
            if not term.matches(pod, own_ns):
                continue
            for node_name, count in group.nodes.items():
                node = snapshot.get(node_name)
                value = node.labels.get(term.topology_key) if node is not None else None
                if value is not None:
                    pair = (term.topology_key, value)
                    existing[pair] = existing.get(pair, 0) + count
        if not existing and not incoming:
            return None, _SKIP
        _count_incoming(s, snapshot)
        state.write(_PRE_FILTER_KEY, s)
        return None, None

    def pre_filter_extensions(self) -> InterPodAffinity:
        return self

    def add_pod(
        self, state: CycleState, pod: PodInfo, pod_to_add: PodInfo, node: NodeInfo
    ) -> Status | None:
        state.read(_PRE_FILTER_KEY, _PreFilterState).update_with_pod(pod_to_add, node, 1)
        return None

    def remove_pod(
        self, state: CycleState, pod: PodInfo, pod_to_remove: PodInfo, node: NodeInfo
    ) -> Status | None:
        state.read(_PRE_FILTER_KEY, _PreFilterState).update_with_pod(pod_to_remove, node, -1)
        return None

    def filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], rejected: NodeToStatus
    ) -> list[NodeInfo]:
        s = state.read(_PRE_FILTER_KEY, _PreFilterState)
        if pod.required_affinity_terms:
            passed = []
            for node in nodes:
                if _satisfies_affinity(s, node):
                    passed.append(node)
                else:
                    rejected[node.name] = Status(
                        Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_AFFINITY, plugin=self.name
                    )
            nodes = passed
        for counts, reason in (
            (s.anti_affinity, ERR_REASON_ANTI_AFFINITY),
            (s.existing_anti_affinity, ERR_REASON_EXISTING_ANTI_AFFINITY),
        ):
            if counts:
                nodes = self._exclude(nodes, _occupied(counts), reason, rejected)
        return nodes

    def filter_batch(
        self, state: CycleState, pod: PodInfo, batch: Batch
    ) -> BoolArray | bool | None:
        """The anti-affinity checks per topology domain; required affinity goes per node."""
        if pod.required_affinity_terms:
            return None
        s = state.read(_PRE_FILTER_KEY, _PreFilterState)
        mask: BoolArray | None = None
        for counts in (s.anti_affinity, s.existing_anti_affinity):
            if not counts:
                continue
            for key, values in _occupied(counts).items():
                table, ids = batch.domain_ids(key)
                free = node_arrays.domain_flags(table, True, dict.fromkeys(values, False), True)
                mask = free[ids] if mask is None else mask & free[ids]
        return True if mask is None else mask

    def _exclude(
        self,
        nodes: list[NodeInfo],
        occupied: dict[str, set[str]],
        reason: str,
        rejected: NodeToStatus,
    ) -> list[NodeInfo]:
        """Drop the nodes in an occupied ``(topologyKey, value)`` domain."""
        if len(occupied) == 1:
            ((key, values),) = occupied.items()
            passed = [n for n in nodes if n.labels.get(key) not in values]
        else:
            passed = [
                n
                for n in nodes
                if not any(n.labels.get(k) in values for k, values in occupied.items())
            ]
        if len(passed) != len(nodes):
            kept = {id(n) for n in passed}
            for node in nodes:
                if id(node) not in kept:
                    rejected[node.name] = Status(Code.UNSCHEDULABLE, reason, plugin=self.name)
        return passed

    # -- scoring -------------------------------------------------------------------------

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        has_preferred = bool(pod.preferred_affinity_terms or pod.preferred_anti_affinity_terms)
        if self.args.ignore_preferred_terms_of_existing_pods and not has_preferred:
            return _SKIP
        snapshot = self._handle.snapshot()
        index = snapshot.pod_index
        # Upstream walks every node's pods (or only those with affinity terms); the index
        # yields the same (pod, node) pairs that can contribute: the pods the incoming pod's
        # preferred terms select, and the groups of existing terms that may select it.
        groups = list(index.scoring_groups(pod))
        if not has_preferred and not groups:
            return _SKIP
        ns_labels = self._handle.api.namespace_labels()
        own_ns = ns_labels.get(pod.namespace)
        scores: dict[str, dict[str, int]] = {}
        get_node = snapshot.get
        for sign, terms in (
            (1, pod.preferred_affinity_terms),
            (-1, pod.preferred_anti_affinity_terms),
        ):
            for weighted in terms:
                term = weighted.term
                for existing in index.candidates(term.selector):
                    node = get_node(existing.node_name)
                    if node is not None and node.labels:
                        _add_score(
                            scores,
                            term,
                            sign * weighted.weight,
                            existing,
                            ns_labels.get(existing.namespace),
                            node.labels,
                        )
        hard_weight = self.args.hard_pod_affinity_weight
        for group in groups:
            if group.required and hard_weight <= 0:
                continue
            term = group.term
            if not term.matches(pod, own_ns):
                continue
            weight = hard_weight if group.required else group.weight
            key = term.topology_key
            by_value: dict[str, int] | None = None
            for node_name, count in group.nodes.items():
                node = get_node(node_name)
                value = node.labels.get(key) if node is not None else None
                if value is not None:
                    if by_value is None:
                        by_value = scores.setdefault(key, {})
                    by_value[value] = by_value.get(value, 0) + weight * count
        if not scores:
            return _SKIP
        state.write(_PRE_SCORE_KEY, _PreScoreState(scores))
        return None

    def score_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> IntArray:
        scores = state.read(_PRE_SCORE_KEY, _PreScoreState).scores
        totals = batch.zeros()
        for key, by_value in scores.items():
            table, ids = batch.domain_ids(key)
            totals += node_arrays.domain_scores(table, by_value)[ids]
        return node_arrays.min_max_normalize(totals)

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        scores = state.read(_PRE_SCORE_KEY, _PreScoreState).scores
        result: list[int] = []
        for node in nodes:
            labels = node.labels
            total = 0
            for key, by_value in scores.items():
                value = labels.get(key)
                if value is not None:
                    total += by_value.get(value, 0)
            result.append(total)
        return result

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        if not scores:
            return
        low, high = min(scores), max(scores)
        spread = high - low
        scores[:] = [int(100 * ((s - low) / spread)) if spread > 0 else 0 for s in scores]

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return [
            ClusterEvent(EventResource.POD, ActionType.ALL),
            ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL),
        ]


def _count_incoming(s: _PreFilterState, snapshot: Snapshot) -> None:
    """Count the existing pods matching the incoming pod's required (anti-)affinity terms."""
    index = snapshot.pod_index
    terms = s.pod.required_affinity_terms
    if terms:
        for existing in index.candidates(terms[0].selector):
            node = snapshot.get(existing.node_name)
            if node is None or not _matches_all(terms, existing, s.ns_labels):
                continue
            for term in terms:
                value = node.labels.get(term.topology_key)
                if value is not None:
                    pair = (term.topology_key, value)
                    s.affinity[pair] = s.affinity.get(pair, 0) + 1
    for term in s.pod.required_anti_affinity_terms:
        for existing in index.candidates(term.selector):
            node = snapshot.get(existing.node_name)
            if node is None or not _term_matches(term, existing, s.ns_labels):
                continue
            value = node.labels.get(term.topology_key)
            if value is not None:
                pair = (term.topology_key, value)
                s.anti_affinity[pair] = s.anti_affinity.get(pair, 0) + 1


def _satisfies_affinity(s: _PreFilterState, node: NodeInfo) -> bool:
    terms = s.pod.required_affinity_terms
    if not terms:
        return True
    labels = node.labels
    pods_exist = True
    for term in terms:
        value = labels.get(term.topology_key)
        if value is None:
            return False
        if s.affinity.get((term.topology_key, value), 0) <= 0:
            pods_exist = False
    if pods_exist:
        return True
    # The first pod of a group with affinity to itself may go anywhere with the topology keys.
    return not s.affinity and _matches_all(terms, s.pod, s.ns_labels)


def _occupied(counts: Mapping[Pair, int]) -> dict[str, set[str]]:
    """Topology key -> the values of the domains holding at least one counted pod."""
    occupied: dict[str, set[str]] = {}
    for (key, value), count in counts.items():
        if count > 0:
            occupied.setdefault(key, set()).add(value)
    return occupied


def _add_score(
    scores: dict[str, dict[str, int]],
    term: AffinityTerm,
    weight: int,
    pod: PodInfo,
    ns_labels: Mapping[str, str] | None,
    labels: Mapping[str, str],
) -> None:
    value = labels.get(term.topology_key)
    if value is not None and term.matches(pod, ns_labels):
        by_value = scores.setdefault(term.topology_key, {})
        by_value[value] = by_value.get(value, 0) + weight


def _score_terms(
    scores: dict[str, dict[str, int]],
    terms: Sequence[WeightedAffinityTerm],
    existing: PodInfo,
    ns_labels: NsLabels,
    labels: Mapping[str, str],
    sign: int,
) -> None:
    for weighted in terms:
        _add_score(
            scores,
            weighted.term,
            sign * weighted.weight,
            existing,
            ns_labels.get(existing.namespace),
            labels,
        )
