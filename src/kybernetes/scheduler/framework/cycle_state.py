"""``CycleState``: what plugins share within one scheduling cycle of one pod.

Plugins write their PreFilter/PreScore results under their own keys and read them back in
Filter/Score. ``clone()`` copies every value through its own ``clone()`` so that preemption can
simulate removing pods on one node without disturbing the cycle's state.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

__all__ = ["CycleState", "StateData"]


class StateData(Protocol):
    """A value kept in a ``CycleState``."""

    def clone(self) -> StateData: ...


_T = TypeVar("_T", bound=StateData)


class CycleState:
    """A per-cycle key/value store plus the plugins to skip at Filter and Score."""

    __slots__ = ("_data", "skip_filter_plugins", "skip_score_plugins")

    def __init__(self) -> None:
        self._data: dict[str, StateData] = {}
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()

    def write(self, key: str, value: StateData) -> None:
        self._data[key] = value

    def read(self, key: str, kind: type[_T]) -> _T:
        """The value under ``key``; ``KeyError`` when absent, ``TypeError`` when of another kind."""
        value = self._data[key]
        if not isinstance(value, kind):
            raise TypeError(f"{key!r} holds {type(value).__name__}, not {kind.__name__}")
        return value

    def get(self, key: str) -> StateData | None:
        return self._data.get(key)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> CycleState:
        copy = CycleState()
        copy._data = {key: value.clone() for key, value in self._data.items()}
        copy.skip_filter_plugins = set(self.skip_filter_plugins)
        copy.skip_score_plugins = set(self.skip_score_plugins)
        return copy
