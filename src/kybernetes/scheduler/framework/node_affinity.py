"""Node selection terms compiled once per pod (upstream ``component-helpers`` nodeaffinity).

``RequiredNodeAffinity`` is a pod's ``nodeSelector`` AND its required node affinity terms (an OR
of terms, each an AND of ``matchExpressions`` on labels and ``matchFields`` on
``metadata.name``). An empty term, or one whose requirements do not compile (an unknown operator,
``In`` without values, ``Gt`` without exactly one value), matches nothing, as upstream's lazy
error selectors do. ``PreferredTerms`` sums the weights of the preferred terms a node matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kybernetes.api.selectors import Operator, Requirement, Selector, from_set

__all__ = ["NodeSelectorTerm", "PreferredTerms", "RequiredNodeAffinity"]

_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
    "Gt": Operator.GREATER_THAN,
    "Lt": Operator.LESS_THAN,
}
_NAME_FIELD = "metadata.name"


def _requirements(raw: Iterable[Mapping[str, Any]], fields: bool) -> Selector | None:
    requirements: list[Requirement] = []
    for expression in raw:
        operator = _OPERATORS.get(str(expression.get("operator", "")))
        values = tuple(str(v) for v in expression.get("values") or ())
        key = str(expression.get("key", ""))
        if operator is None or (fields and (key != _NAME_FIELD or operator not in _FIELD_OPS)):
            return None
        if operator in (Operator.IN, Operator.NOT_IN) and not values:
            return None
        if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
            return None
        if operator in (Operator.GREATER_THAN, Operator.LESS_THAN) and len(values) != 1:
            return None
        requirements.append(Requirement(key, operator, values))
    return Selector(requirements)


_FIELD_OPS = (Operator.IN, Operator.NOT_IN)


class NodeSelectorTerm:
    """One compiled ``NodeSelectorTerm``."""

    __slots__ = ("_fields", "_labels", "_valid", "name_in")

    def __init__(self, raw: Mapping[str, Any]) -> None:
        expressions = raw.get("matchExpressions") or ()
        fields = raw.get("matchFields") or ()
        self._labels = _requirements(expressions, fields=False) if expressions else None
        self._fields = _requirements(fields, fields=True) if fields else None
        self._valid = bool(expressions or fields) and not (
            (expressions and self._labels is None) or (fields and self._fields is None)
        )
        #: The node names this term is limited to, when it pins ``metadata.name In (...)``.
        self.name_in: frozenset[str] | None = None
        if self._valid and self._fields is not None:
            for requirement in self._fields.requirements:
                if requirement.operator is Operator.IN:
                    self.name_in = frozenset(requirement.values)

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        if not self._valid:
            return False
        if self._labels is not None and not self._labels.matches(labels):
            return False
        return self._fields is None or self._fields.matches({_NAME_FIELD: name})


class RequiredNodeAffinity:
    """``nodeSelector`` AND required node affinity; ``matches`` is the NodeAffinity filter."""

    __slots__ = ("_selector", "_terms")

    def __init__(
        self, node_selector: Mapping[str, str] | None, terms: Sequence[NodeSelectorTerm] | None
    ) -> None:
        self._selector = from_set(node_selector) if node_selector else None
        self._terms = tuple(terms) if terms is not None else None

    @classmethod
    def from_pod_spec(cls, spec: Mapping[str, Any]) -> RequiredNodeAffinity | None:
        """The pod's requirement, or ``None`` when it places no constraint on nodes."""
        node_selector = spec.get("nodeSelector") or None
        affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
        required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        terms = None
        if required is not None:
            terms = [NodeSelectorTerm(t) for t in required.get("nodeSelectorTerms") or ()]
        if node_selector is None and terms is None:
            return None
        return cls(node_selector, terms)

    @property
    def terms(self) -> tuple[NodeSelectorTerm, ...] | None:
        return self._terms

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        if self._selector is not None and not self._selector.matches(labels):
            return False
        if self._terms is None:
            return True
        return any(term.matches(labels, name) for term in self._terms)


class PreferredTerms:
    """Weighted preferred node affinity terms (terms with weight 0 are dropped, as upstream)."""

    __slots__ = ("_terms",)

    def __init__(self, raw: Iterable[Mapping[str, Any]]) -> None:
        self._terms = tuple(
            (int(t.get("weight", 0)), NodeSelectorTerm(t.get("preference") or {}))
            for t in raw
            if t.get("weight")
        )

    def __bool__(self) -> bool:
        return bool(self._terms)

    def score(self, labels: Mapping[str, str], name: str) -> int:
        return sum(weight for weight, term in self._terms if term.matches(labels, name))
