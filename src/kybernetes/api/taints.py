"""Taints and tolerations on plain objects (``v1.Toleration.ToleratesTaint``).

Controllers that reason about node taints (the DaemonSet controller's eligibility, the node
lifecycle controller's eviction) share this one definition. The scheduler keeps its own parsed,
tuple-based form for speed (``scheduler/framework/taints.py``) with the same rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Whether ``toleration`` tolerates ``taint``: an empty effect or key matches any; the
    ``Exists`` operator matches any value, ``Equal`` (the default) only the same value."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")
