"""``PodIndex``: the cached pods by label, and the required anti-affinity terms by target.

Counting the pods that match a selector, or the existing anti-affinity terms that match an
incoming pod, by scanning every pod costs milliseconds at 5,000 nodes. This index answers from
the few candidates instead: pods are indexed by each ``(label key, value)``; anti-affinity
terms are grouped by identical content (the replicas of one workload share one group) and
filed under the label a pod must carry to match them, or under ``None`` when no single label
is required. The terms that score an incoming pod (existing pods' required affinity and
preferred affinity/anti-affinity terms, with their signed weights) are grouped the same way.
Invariant: it holds exactly the pods the cache counts on nodes (assumed ones included), so
during the synchronous part of a scheduling cycle it agrees with the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kybernetes.api.selectors import Operator, Selector
from kybernetes.scheduler.framework.pod_info import AffinityTerm, PodInfo

__all__ = ["AntiAffinityGroup", "PodIndex", "ScoringGroup", "exact_label"]

_EXACT = (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS)


def exact_label(selector: Selector) -> tuple[str, str] | None:
    """A ``(key, value)`` every pod matching ``selector`` must carry, if there is one."""
    for requirement in selector.requirements:
        if requirement.operator in _EXACT and len(requirement.values) == 1:
            return requirement.key, requirement.values[0]
    return None


def _term_key(term: AffinityTerm) -> tuple[Any, ...]:
    return (
        term.topology_key,
        term.selector,
        term.namespaces,
        term.namespace_selector,
    )


class AntiAffinityGroup:
    """Identical required anti-affinity terms, and how many pods carry one on each node."""

    __slots__ = ("nodes", "term")

    def __init__(self, term: AffinityTerm) -> None:
        self.term = term
        self.nodes: dict[str, int] = {}


class ScoringGroup:
    """Identical scoring terms of existing pods, and how many pods carry one on each node.
    ``required`` terms weigh InterPodAffinity's ``hardPodAffinityWeight``, the others
    ``weight`` (negative for preferred anti-affinity)."""

    __slots__ = ("nodes", "required", "term", "weight")

    def __init__(self, term: AffinityTerm, weight: int, required: bool) -> None:
        self.term = term
        self.weight = weight
        self.required = required
        self.nodes: dict[str, int] = {}


def _scoring_terms(pod: PodInfo) -> list[tuple[AffinityTerm, int, bool]]:
    terms = [(t, 1, True) for t in pod.required_affinity_terms]
    terms.extend((w.term, w.weight, False) for w in pod.preferred_affinity_terms)
    terms.extend((w.term, -w.weight, False) for w in pod.preferred_anti_affinity_terms)
    return terms


class PodIndex:
    def __init__(self) -> None:
        self._by_label: dict[tuple[str, str], dict[str, PodInfo]] = {}
        self._all: dict[str, PodInfo] = {}
        self._anti: dict[tuple[str, str] | None, dict[tuple[Any, ...], AntiAffinityGroup]] = {}
        self._scoring: dict[tuple[str, str] | None, dict[tuple[Any, ...], ScoringGroup]] = {}

    def add(self, pod: PodInfo) -> None:
        self._all[pod.uid] = pod
        for item in pod.labels.items():
            self._by_label.setdefault(item, {})[pod.uid] = pod
        for term in pod.required_anti_affinity_terms:
            bucket = self._anti.setdefault(exact_label(term.selector), {})
            group = bucket.get(key := _term_key(term))
            if group is None:
                group = bucket[key] = AntiAffinityGroup(term)
            group.nodes[pod.node_name] = group.nodes.get(pod.node_name, 0) + 1
        if pod.has_affinity:
            self._count_scoring(pod, 1)

    def _count_scoring(self, pod: PodInfo, delta: int) -> None:
        node = pod.node_name
        for term, weight, required in _scoring_terms(pod):
            label = exact_label(term.selector)
            key = (*_term_key(term), weight, required)
            bucket = self._scoring.setdefault(label, {})
            group = bucket.get(key)
            if group is None:
                if delta < 0:
                    if not bucket:
                        del self._scoring[label]
                    continue
                group = bucket[key] = ScoringGroup(term, weight, required)
            left = group.nodes.get(node, 0) + delta
            if left > 0:
                group.nodes[node] = left
                continue
            group.nodes.pop(node, None)
            if not group.nodes:
                del bucket[key]
            if not bucket:
                del self._scoring[label]

    def remove(self, pod: PodInfo) -> None:
        if self._all.pop(pod.uid, None) is None:
            return
        for item in pod.labels.items():
            pods = self._by_label.get(item)
            if pods is not None:
                pods.pop(pod.uid, None)
                if not pods:
                    del self._by_label[item]
        if pod.has_affinity:
            self._count_scoring(pod, -1)
        for term in pod.required_anti_affinity_terms:
            label = exact_label(term.selector)
            bucket = self._anti.get(label, {})
            group = bucket.get(key := _term_key(term))
            if group is None:
                continue
            left = group.nodes.get(pod.node_name, 0) - 1
            if left > 0:
                group.nodes[pod.node_name] = left
            else:
                group.nodes.pop(pod.node_name, None)
                if not group.nodes:
                    del bucket[key]
                    if not bucket:
                        del self._anti[label]

    def candidates(self, selector: Selector) -> Iterable[PodInfo]:
        """A superset of the pods ``selector`` matches (callers still check each one)."""
        label = exact_label(selector)
        if label is None:
            return self._all.values()
        return self._by_label.get(label, {}).values()

    def anti_affinity_groups(self, pod: PodInfo) -> Iterator[AntiAffinityGroup]:
        """The groups whose terms might match ``pod`` (by the label they require)."""
        yield from self._anti.get(None, {}).values()
        for item in pod.labels.items():
            bucket = self._anti.get(item)
            if bucket:
                yield from bucket.values()

    def scoring_groups(self, pod: PodInfo) -> Iterator[ScoringGroup]:
        """The groups of existing pods' scoring terms that might match ``pod``."""
        yield from self._scoring.get(None, {}).values()
        for item in pod.labels.items():
            bucket = self._scoring.get(item)
            if bucket:
                yield from bucket.values()

    def has_anti_affinity(self) -> bool:
        return bool(self._anti)
