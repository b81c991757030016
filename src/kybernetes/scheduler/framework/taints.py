"""Taints and tolerations as tuples, with upstream's matching rule (``ToleratesTaint``).

A taint is ``(key, value, effect)``; a toleration is ``(key, operator, value, effect)`` with the
operator defaulted to ``Equal``. Both are parsed once per node or pod so the Filter loop compares
strings only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "NO_EXECUTE",
    "NO_SCHEDULE",
    "PREFER_NO_SCHEDULE",
    "Taint",
    "Toleration",
    "find_untolerated",
    "parse_taints",
    "parse_tolerations",
    "tolerates",
]

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
PREFER_NO_SCHEDULE = "PreferNoSchedule"

Taint = tuple[str, str, str]
Toleration = tuple[str, str, str, str]


def parse_taints(raw: Iterable[Mapping[str, Any]] | None) -> tuple[Taint, ...]:
    return tuple(
        (str(t.get("key", "")), str(t.get("value", "")), str(t.get("effect", "")))
        for t in raw or ()
    )


def parse_tolerations(raw: Iterable[Mapping[str, Any]] | None) -> tuple[Toleration, ...]:
    return tuple(
        (
            str(t.get("key", "")),
            str(t.get("operator") or "Equal"),
            str(t.get("value", "")),
            str(t.get("effect", "")),
        )
        for t in raw or ()
    )


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """Whether one toleration tolerates one taint (``Toleration.ToleratesTaint``)."""
    key, operator, value, effect = toleration
    if effect and effect != taint[2]:
        return False
    if key and key != taint[0]:
        return False
    if operator == "Exists":
        return True
    return operator == "Equal" and value == taint[1]


def find_untolerated(
    taints: Sequence[Taint], tolerations: Sequence[Toleration], effects: Iterable[str]
) -> Taint | None:
    """The first taint with one of ``effects`` that no toleration tolerates."""
    wanted = frozenset(effects)
    for taint in taints:
        if taint[2] not in wanted:
            continue
        if not any(tolerates(toleration, taint) for toleration in tolerations):
            return taint
    return None
