"""Admission: what happens to an object between decoding and storing, for built-in kinds.

Defaulting (upstream's ``SetDefaults_*``) and semantic validation (upstream's
``Validate*``) are pure functions of the ``api`` layer; this module adapts them to the
registry's hooks, and adds the admission plugins that need cluster state, for pods:

- **Priority**: ``spec.priorityClassName`` resolves to ``spec.priority`` and
  ``spec.preemptionPolicy`` from the named PriorityClass (403 Forbidden if there is none); a pod
  without a class gets the ``globalDefault`` class, or priority 0.
- **DefaultTolerationSeconds**: pods tolerate ``node.kubernetes.io/not-ready`` and
  ``node.kubernetes.io/unreachable`` (NoExecute) for 300 s unless they say otherwise, so the
  node lifecycle controller evicts them five minutes after their node goes silent.

Both read PriorityClasses from the API server's own watch cache (synchronously, no I/O).
Admission webhooks and policies plug in here when they arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.api.defaults import apply_defaults
from kybernetes.api.resources import ResourceInfo
from kybernetes.api.validation.semantic import validate_object

SYSTEM_PRIORITY_CLASSES: Final = (
    (
        "system-node-critical",
        2000001000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2000000000,
        "Used for system critical pods that must run in the"
        " cluster, but can be moved to another node if necessary.",
    ),
)
DEFAULT_TOLERATION_SECONDS: Final = 300
_NOT_READY: Final = "node.kubernetes.io/not-ready"
_UNREACHABLE: Final = "node.kubernetes.io/unreachable"

PriorityClassLookup = Callable[[str], dict[str, Any] | None]
ClassList = Callable[[], list[dict[str, Any]]]


def validate(
    info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None
) -> list[errors.FieldError]:
    """The kind's semantic validation (``old`` on updates, for immutable fields)."""
    return validate_object(info.group, info.kind, obj, old)


class Admission:
    """Defaulting plus the state-reading plugins; ``default`` is the registry's defaulter."""

    def __init__(self, priority_class: PriorityClassLookup, priority_classes: ClassList) -> None:
        self._priority_class = priority_class
        self._priority_classes = priority_classes

    def default(self, info: ResourceInfo, obj: dict[str, Any]) -> None:
        """Fill in the kind's defaults and run the mutating plugins, in place."""
        apply_defaults(info.group, info.version, info.kind, obj)
        if info.group == "" and info.kind == "Pod":
            spec = obj.get("spec")
            if isinstance(spec, dict):
                self._admit_priority(obj, spec)
                _default_tolerations(spec)

    def _admit_priority(self, pod: dict[str, Any], spec: dict[str, Any]) -> None:
        if "priority" in spec:
            return  # already resolved (an update, or a create that validation will check)
        name = spec.get("priorityClassName")
        if name:
            found = self._priority_class(name)
            if found is None:
                meta = pod.get("metadata") or {}
                raise errors.new_forbidden(
                    "pods",
                    str(meta.get("name") or meta.get("generateName") or ""),
                    f"no PriorityClass with name {name} was found",
                )
        else:
            found = next((c for c in self._priority_classes() if c.get("globalDefault")), None)
            if found is None:
                spec["priority"] = 0
                return
            spec["priorityClassName"] = found["metadata"]["name"]
        spec["priority"] = int(found.get("value", 0))
        spec.setdefault("preemptionPolicy", found.get("preemptionPolicy", "PreemptLowerPriority"))


def _tolerates(toleration: dict[str, Any], key: str) -> bool:
    """Whether an existing toleration already covers ``key:NoExecute`` (or every taint)."""
    if toleration.get("effect") not in (None, "", "NoExecute"):
        return False
    own_key = toleration.get("key") or ""
    return own_key == key or (own_key == "" and toleration.get("operator") == "Exists")


def _default_tolerations(spec: dict[str, Any]) -> None:
    tolerations = list(spec.get("tolerations") or [])
    for key in (_NOT_READY, _UNREACHABLE):
        if not any(_tolerates(t, key) for t in tolerations):
            tolerations.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                }
            )
    spec["tolerations"] = tolerations
