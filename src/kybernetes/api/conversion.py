"""Conversions between API versions that are one resource in storage.

``events.k8s.io/v1`` Events are core ``v1`` Events with renamed fields (upstream stores both as
one resource and converts on the way in and out). Each function returns a new dict and never
changes its argument; a round trip through both directions gives back the same object.
"""

from __future__ import annotations

from typing import Any

# events.k8s.io/v1 field -> core v1 field; fields not listed have the same name in both.
_EVENT_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "reportingController": "reportingComponent",
}
_EVENT_RENAMES_BACK = {core: new for new, core in _EVENT_RENAMES.items()}


def _renamed(obj: dict[str, Any], renames: dict[str, str], api_version: str) -> dict[str, Any]:
    out = {renames.get(key, key): value for key, value in obj.items()}
    out["apiVersion"] = api_version
    out["kind"] = "Event"
    return out


def event_to_core(event: dict[str, Any]) -> dict[str, Any]:
    """An ``events.k8s.io/v1`` Event as the core ``v1`` Event it is stored as."""
    return _renamed(event, _EVENT_RENAMES, "v1")


def event_from_core(event: dict[str, Any]) -> dict[str, Any]:
    """A stored core ``v1`` Event as an ``events.k8s.io/v1`` Event."""
    return _renamed(event, _EVENT_RENAMES_BACK, "events.k8s.io/v1")
