"""``spec.podFailurePolicy``: which rule a failed pod matches, and what that rule says.

Rules are tried in order; the first whose ``onExitCodes`` (a terminated container, init
containers after app containers, exit code not 0, ``In``/``NotIn`` the values, optionally one
named container) or ``onPodConditions`` (a pod condition of that type and status) matches
decides:

- ``FailJob``: the whole Job fails, with upstream's message naming the container or condition;
- ``Ignore``: the failure is not counted against ``backoffLimit``;
- ``Count``: counted, as without a policy; ``FailIndex``: counted, and the index fails.

No matching rule means ``Count``. Invariant: pure; the pod and policy are only read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Match", "match"]

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Match:
    """The action a failed pod gets, whether it counts, and the FailJob message if any."""

    action: str | None
    counts: bool = True
    message: str | None = None


def _exit_code_container(status: Mapping[str, Any], rule: Mapping[str, Any]) -> Obj | None:
    wanted = rule.get("containerName")
    values = set(rule.get("values") or ())
    operator = rule.get("operator")
    for key in ("containerStatuses", "initContainerStatuses"):
        for container in status.get(key) or ():
            terminated = (container.get("state") or {}).get("terminated")
            if terminated is None or (wanted is not None and container.get("name") != wanted):
                continue
            code = terminated.get("exitCode", 0)
            if code == 0:
                continue
            if (operator == "In" and code in values) or (
                operator == "NotIn" and code not in values
            ):
                return dict(container)
    return None


def _condition(status: Mapping[str, Any], patterns: list[Mapping[str, Any]]) -> Obj | None:
    for condition in status.get("conditions") or ():
        for pattern in patterns:
            if condition.get("type") == pattern.get("type") and condition.get(
                "status"
            ) == pattern.get("status", "True"):
                return dict(condition)
    return None


def match(policy: Mapping[str, Any] | None, pod: Mapping[str, Any]) -> Match:
    """What ``policy`` does with the failed ``pod`` (``Match(None)``: no rule matched)."""
    if not policy:
        return Match(None)
    status = pod.get("status") or {}
    meta = pod.get("metadata") or {}
    pod_name = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    for index, rule in enumerate(policy.get("rules") or ()):
        action = rule.get("action")
        if rule.get("onExitCodes") is not None:
            container = _exit_code_container(status, rule["onExitCodes"])
            if container is None:
                continue
            code = container["state"]["terminated"].get("exitCode")
            what = (
                f"Container {container.get('name')} for pod {pod_name} failed with exit code {code}"
            )
        elif rule.get("onPodConditions") is not None:
            condition = _condition(status, rule["onPodConditions"])
            if condition is None:
                continue
            what = f"Pod {pod_name} has condition {condition.get('type')}"
        else:
            continue
        if action == "Ignore":
            return Match(action, counts=False)
        if action == "FailJob":
            return Match(action, message=f"{what} matching FailJob rule at index {index}")
        return Match(action)
    return Match(None)
