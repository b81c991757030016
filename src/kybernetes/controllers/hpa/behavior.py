"""From a metric's proposal to the replica count applied: stabilization and scaling rates.

Two regimes, as upstream:

- no ``spec.behavior``: the highest recommendation of the downscale stabilization window
  (300 s) wins, then the count is clamped to [minReplicas, min(maxReplicas, max(2 * current,
  4))] (``normalizeDesiredReplicas``);
- with ``spec.behavior`` (defaults filled in as the API defaults them): the recommendation is
  held between the lowest of the scale-up window and the highest of the scale-down window, then
  limited by the policies (``Pods``/``Percent`` per ``periodSeconds``, combined by
  ``selectPolicy`` Max/Min, or ``Disabled``) counted against the scale events of each period
  (``normalizeDesiredReplicasWithBehaviors``).

Each call reports the AbleToScale and ScalingLimited conditions with upstream's reasons and
messages. State (recommendations, scale events) is per HPA key and lives in memory, like
upstream's controller; ``forget`` drops it when an HPA is deleted.

Invariant: time is an argument (``now``, seconds), so windows and periods are tested with no
waiting; a recommendation older than every window is overwritten in place, never leaked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

DOWNSCALE_STABILIZATION_WINDOW: Final = 300.0
SCALE_UP_LIMIT_FACTOR: Final = 2.0
SCALE_UP_LIMIT_MINIMUM: Final = 4.0


@dataclass(frozen=True, slots=True)
class Policy:
    type: str  # Pods | Percent
    value: int
    period: int


@dataclass(frozen=True, slots=True)
class Rules:
    window: float
    select: str  # Max | Min | Disabled
    policies: tuple[Policy, ...]


def _rules(raw: Mapping[str, Any] | None, window: float, policies: tuple[Policy, ...]) -> Rules:
    raw = raw or {}
    stated = raw.get("stabilizationWindowSeconds")
    parsed = tuple(
        Policy(str(p.get("type")), int(p.get("value", 0)), int(p.get("periodSeconds", 0)))
        for p in raw.get("policies") or ()
    )
    return Rules(
        float(stated) if isinstance(stated, int) else window,
        str(raw.get("selectPolicy") or "Max"),
        parsed or policies,
    )


def scale_up_rules(behavior: Mapping[str, Any]) -> Rules:
    """``GenerateHPAScaleUpRules``: window 0, Max of 4 pods or 100 % per 15 s."""
    return _rules(behavior.get("scaleUp"), 0.0, (Policy("Pods", 4, 15), Policy("Percent", 100, 15)))


def scale_down_rules(behavior: Mapping[str, Any], window: float) -> Rules:
    """``GenerateHPAScaleDownRules``: the controller's window, 100 % per 15 s."""
    return _rules(behavior.get("scaleDown"), window, (Policy("Percent", 100, 15),))


@dataclass(frozen=True, slots=True)
class Outcome:
    replicas: int
    able_reason: str
    able_message: str
    limited: bool
    limited_reason: str
    limited_message: str


@dataclass(slots=True)
class _Event:
    change: int
    at: float
    outdated: bool = False


@dataclass(slots=True)
class _State:
    recommendations: list[list[float]] = field(default_factory=list)  # [replicas, at]
    up: list[_Event] = field(default_factory=list)
    down: list[_Event] = field(default_factory=list)


_STABLE = ("ReadyForNewScale", "recommended size matches current size")
_WITHIN = ("DesiredWithinRange", "the desired count is within the acceptable range")
_TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
_TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
_UP_LIMIT = (
    "ScaleUpLimit",
    "the desired replica count is increasing faster than the maximum scale rate",
)
_DOWN_LIMIT = (
    "ScaleDownLimit",
    "the desired replica count is decreasing faster than the maximum scale rate",
)
_DOWN_STABILIZED = (
    "ScaleDownStabilized",
    "recent recommendations were higher than current one, applying the highest recent "
    "recommendation",
)
_UP_STABILIZED = (
    "ScaleUpStabilized",
    "recent recommendations were lower than current one, applying the lowest recent recommendation",
)


def _changed(period: int, events: list[_Event], now: float) -> int:
    cutoff = now - period
    return sum(e.change for e in events if e.at > cutoff)


def scale_up_limit(
    current: int, up: list[_Event], down: list[_Event], rules: Rules, now: float
) -> int:
    if rules.select == "Disabled":
        return current
    pick = min if rules.select == "Min" else max
    result: int | None = None
    for policy in rules.policies:
        start = current - _changed(policy.period, up, now) + _changed(policy.period, down, now)
        if policy.type == "Pods":
            proposed = start + policy.value
        else:
            proposed = math.ceil(start * (1 + policy.value / 100))
        result = proposed if result is None else pick(result, proposed)
    return current if result is None else result


def scale_down_limit(
    current: int, up: list[_Event], down: list[_Event], rules: Rules, now: float
) -> int:
    if rules.select == "Disabled":
        return current
    # For scaling down, the smallest change (policy Min) is the highest count.
    pick = max if rules.select == "Min" else min
    result: int | None = None
    for policy in rules.policies:
        start = current - _changed(policy.period, up, now) + _changed(policy.period, down, now)
        if policy.type == "Pods":
            proposed = start - policy.value
        else:
            proposed = int(start * (1 - policy.value / 100))
        result = proposed if result is None else pick(result, proposed)
    return current if result is None else result


class Normalizer:
    """Remembers recommendations and scale events per HPA and turns proposals into counts."""

    def __init__(self, downscale_window: float = DOWNSCALE_STABILIZATION_WINDOW) -> None:
        self.downscale_window = downscale_window
        self._states: dict[str, _State] = {}

    def forget(self, key: str) -> None:
        self._states.pop(key, None)

    def record_initial(self, key: str, current: int, now: float) -> None:
        """Seed a new HPA's history with the target's current count
        (``recordInitialRecommendation``): no scale-down within a window of first sight."""
        state = self._state(key)
        if not state.recommendations:
            state.recommendations.append([current, now])

    def _state(self, key: str) -> _State:
        return self._states.setdefault(key, _State())

    def normalize(
        self,
        key: str,
        behavior: Mapping[str, Any] | None,
        current: int,
        desired: int,
        min_replicas: int,
        max_replicas: int,
        now: float,
    ) -> Outcome:
        if behavior is None:
            return self._without_behavior(key, current, desired, min_replicas, max_replicas, now)
        return self._with_behavior(key, behavior, current, desired, min_replicas, max_replicas, now)

    def _record(self, state: _State, index: int | None, desired: int, now: float) -> None:
        if index is not None:
            state.recommendations[index] = [desired, now]
        else:
            state.recommendations.append([desired, now])

    def _without_behavior(
        self, key: str, current: int, desired: int, low: int, high: int, now: float
    ) -> Outcome:
        state = self._state(key)
        stabilized = desired
        old: int | None = None
        cutoff = now - self.downscale_window
        for i, (replicas, at) in enumerate(state.recommendations):
            if at < cutoff:
                old = i
            elif replicas > stabilized:
                stabilized = int(replicas)
        self._record(state, old, desired, now)
        able = _DOWN_STABILIZED if stabilized != desired else _STABLE
        up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
        maximum, limiting = (up_limit, _UP_LIMIT) if high > up_limit else (high, _TOO_MANY)
        if stabilized < low:
            replicas, limiting = low, _TOO_FEW
        elif stabilized > maximum:
            replicas = maximum
        else:
            replicas, limiting = stabilized, _WITHIN
        return Outcome(replicas, *able, replicas != stabilized, *limiting)

    def _with_behavior(
        self,
        key: str,
        behavior: Mapping[str, Any],
        current: int,
        desired: int,
        low: int,
        high: int,
        now: float,
    ) -> Outcome:
        up_rules = scale_up_rules(behavior)
        down_rules = scale_down_rules(behavior, self.downscale_window)
        state = self._state(key)
        up_rec = down_rec = desired
        up_cutoff, down_cutoff = now - up_rules.window, now - down_rules.window
        old: int | None = None
        for i, (replicas, at) in enumerate(state.recommendations):
            if at > up_cutoff:
                up_rec = min(int(replicas), up_rec)
            if at > down_cutoff:
                down_rec = max(int(replicas), down_rec)
            if at < up_cutoff and at < down_cutoff:
                old = i
        stabilized = min(max(current, up_rec), down_rec)
        self._record(state, old, desired, now)
        if stabilized != desired:
            able = _UP_STABILIZED if desired >= current else _DOWN_STABILIZED
        else:
            able = _STABLE
        replicas, limiting = stabilized, _WITHIN
        if stabilized > current:
            limit = max(scale_up_limit(current, state.up, state.down, up_rules, now), current)
            maximum, reason = (limit, _UP_LIMIT) if high > limit else (high, _TOO_MANY)
            if stabilized > maximum:
                replicas, limiting = maximum, reason
        elif stabilized < current:
            limit = min(scale_down_limit(current, state.up, state.down, down_rules, now), current)
            minimum, reason = (limit, _DOWN_LIMIT) if low < limit else (low, _TOO_FEW)
            if stabilized < minimum:
                replicas, limiting = minimum, reason
        return Outcome(replicas, *able, replicas != stabilized, *limiting)

    def record_scale(
        self, key: str, behavior: Mapping[str, Any] | None, before: int, after: int, now: float
    ) -> None:
        """Remember a rescale for the rate policies (``storeScaleEvent``)."""
        if behavior is None or before == after:
            return
        state = self._state(key)
        if after > before:
            rules, events, change = scale_up_rules(behavior), state.up, after - before
        else:
            rules = scale_down_rules(behavior, self.downscale_window)
            events, change = state.down, before - after
        longest = max((p.period for p in rules.policies), default=0)
        for event in events:
            if event.at < now - longest:
                event.outdated = True
        for i, event in enumerate(events):
            if event.outdated:
                events[i] = _Event(change, now)
                return
        events.append(_Event(change, now))
