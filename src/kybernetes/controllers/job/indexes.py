"""Sets of completion indexes in the compressed text form Job status uses (``"1,3-5,7"``).

``parse(text, completions)`` reads ``status.completedIndexes`` (dropping anything malformed or
outside ``[0, completions)``, as upstream does); ``format_indexes(indexes)`` writes a set back as
sorted, merged intervals.

Invariant: ``parse(format_indexes(s), n) == s`` for every set ``s`` of indexes below ``n``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["format_indexes", "parse"]


def parse(text: str | None, completions: int) -> set[int]:
    out: set[int] = set()
    for part in (text or "").split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            continue
        first, last = int(low), int(high) if high else int(low)
        out.update(range(first, min(last, completions - 1) + 1))
    return out


def format_indexes(indexes: Iterable[int]) -> str:
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)
