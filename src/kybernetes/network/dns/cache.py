"""Bounded caches for the DNS server: answers from upstream by TTL, cluster answers by wire.

``TTLCache`` holds forwarded answers until their TTL runs out (capped, as CoreDNS's
``cache 30`` does), evicting the least recently used entry when full. ``WireCache`` holds whole
packed cluster answers keyed by the query's bytes after its ID, valid for one index generation:
a repeated query is answered by prefixing the cached bytes with the query's ID, without parsing.

Invariants: neither cache ever holds more than ``capacity`` entries; a ``TTLCache`` entry is
never returned after its expiry; a ``WireCache`` entry is never returned for another
generation than the one it was stored under.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """LRU with per-entry expiry; ``get`` returns the value and the seconds it has been held."""

    def __init__(self, capacity: int, now: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self._now = now
        self._items: OrderedDict[K, tuple[V, float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> tuple[V, float] | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        value, stored, expires = entry
        now = self._now()
        if now >= expires:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value, now - stored

    def put(self, key: K, value: V, ttl: float) -> None:
        if ttl <= 0 or self.capacity <= 0:
            return
        now = self._now()
        self._items[key] = (value, now, now + ttl)
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


class WireCache:
    """Packed answers for one index generation; entries of an older generation are dropped."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.generation = -1
        self._items: dict[bytes, bytes] = {}

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: bytes, generation: int) -> bytes | None:
        if generation != self.generation:
            return None
        return self._items.get(key)

    def put(self, key: bytes, value: bytes, generation: int) -> None:
        if generation != self.generation:
            self._items.clear()
            self.generation = generation
        if len(self._items) >= self.capacity:
            # Cheaper than LRU bookkeeping on the hot path; the set refills in one round.
            self._items.clear()
        self._items[key] = value
