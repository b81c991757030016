"""Helpers shared by score plugins (upstream ``plugins/helper``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.scheduler.framework.interface import MAX_NODE_SCORE

__all__ = ["ArgsError", "default_normalize_score", "expect_int", "expect_mapping"]


class ArgsError(ValueError):
    """A plugin's ``args`` are invalid; ``field`` is the path under ``args``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message


def default_normalize_score(
    scores: list[int], reverse: bool, max_priority: int = MAX_NODE_SCORE
) -> None:
    """Scale ``scores`` in place to ``[0, max_priority]`` by the highest; ``reverse`` flips."""
    highest = max(scores, default=0)
    if highest == 0:
        if reverse:
            scores[:] = [max_priority] * len(scores)
        return
    if reverse:
        scores[:] = [max_priority - max_priority * s // highest for s in scores]
    else:
        scores[:] = [max_priority * s // highest for s in scores]


def expect_mapping(value: object, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ArgsError(field, "must be an object")
    return value


def expect_int(
    value: object, field: str, minimum: int | None = None, maximum: int | None = None
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgsError(field, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ArgsError(field, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ArgsError(field, f"must be at most {maximum}, got {value}")
    return value
