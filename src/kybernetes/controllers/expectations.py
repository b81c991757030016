"""Expectations: what a controller has asked for and not yet seen in its informer cache.

A ReplicaSet controller that creates 3 pods must not, on its next sync, still see 0 pods in a
cache that lags behind its own writes and create 3 more. Before writing, it records "expect 3
creations for key K"; the informer's add handler calls ``creation_observed(K)`` for each pod it
sees; until the count reaches zero (or the expectation is older than ``TTL``, in case an event
was lost), ``satisfied(K)`` is false and the controller leaves the replica count alone.

Deletions are tracked by pod key, so a delete event observed twice, or for a pod the controller
did not delete, is not miscounted (upstream's ``UIDTrackingControllerExpectations``).

Invariant: counts never go below zero; an expectation past its TTL counts as satisfied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from kybernetes.util.clock import Clock, RealClock

TTL: Final = 300.0


@dataclass
class _Expectation:
    adds: int
    deleting: set[str] = field(default_factory=set)
    at: float = 0.0


class Expectations:
    """Pending creations (counted) and deletions (by object key), per controller key."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or RealClock()
        self._by_key: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        exp = self._by_key.get(key)
        if exp is None:
            return True
        if exp.adds <= 0 and not exp.deleting:
            return True
        return self.clock.monotonic() - exp.at > TTL

    def expect(self, key: str, *, adds: int = 0, deletes: set[str] | None = None) -> None:
        """Record what the next writes will be (replacing any older expectation for ``key``)."""
        self._by_key[key] = _Expectation(adds, set(deletes or ()), self.clock.monotonic())

    def creation_observed(self, key: str) -> None:
        exp = self._by_key.get(key)
        if exp is not None and exp.adds > 0:
            exp.adds -= 1

    def creation_failed(self, key: str) -> None:
        """A create that errored will never be observed: stop waiting for it."""
        self.creation_observed(key)

    def deletion_observed(self, key: str, object_key: str) -> None:
        exp = self._by_key.get(key)
        if exp is not None:
            exp.deleting.discard(object_key)

    def forget(self, key: str) -> None:
        self._by_key.pop(key, None)
