"""A key index with cheap writes and sorted ranges on demand.

Point lookups go to a dict. Key order lives in a ``SortedList`` that is brought up to date
only when a range is asked for: new and removed keys wait in two sets and are merged in one
bulk update. Writes (every create and delete) cost a dict and a set operation; the sorting
cost is paid by range reads, which a store with a watch cache in front of it makes rarely.

Invariant: ``set(sorted keys) - removed | added == set(dict)`` at all times, with ``added``
and ``removed`` disjoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from sortedcontainers import SortedList

V = TypeVar("V")


class KeyIndex(Generic[V]):
    """Keys to values, with ordered ranges."""

    def __init__(self, items: dict[str, V] | None = None) -> None:
        self._values: dict[str, V] = dict(items or {})
        self._sorted: SortedList[str] = SortedList(self._values)
        self._added: set[str] = set()
        self._removed: set[str] = set()

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def get(self, key: str) -> V | None:
        return self._values.get(key)

    def __getitem__(self, key: str) -> V:
        return self._values[key]

    def set(self, key: str, value: V) -> None:
        if key not in self._values:
            if key in self._removed:
                self._removed.discard(key)  # still in the sorted list
            else:
                self._added.add(key)
        self._values[key] = value

    def delete(self, key: str) -> None:
        del self._values[key]
        if key in self._added:
            self._added.discard(key)
        else:
            self._removed.add(key)

    def _settle(self) -> SortedList[str]:
        if self._removed:
            for key in self._removed:
                self._sorted.remove(key)
            self._removed.clear()
        if self._added:
            self._sorted.update(self._added)
            self._added.clear()
        return self._sorted

    def irange(self, lo: str, hi: str) -> Iterator[str]:
        """Keys in ``[lo, hi)``, in order."""
        return self._settle().irange(lo, hi, inclusive=(True, False))

    def count(self, lo: str, hi: str) -> int:
        """How many keys are in ``[lo, hi)``."""
        keys = self._settle()
        return keys.bisect_left(hi) - keys.bisect_left(lo)
