"""Events, in the core group (legacy rules) and in events.k8s.io (strict rules).

Both APIs store the same object; an ``events.k8s.io`` Event is read through the core field
names here, because upstream validates the internal type and reports its field paths
(``involvedObject.namespace``, ``reportingController``). Core ``v1`` requests get only the
legacy checks, for compatibility with old clients; ``events.k8s.io`` requests also get the
strict ones (an event time, a series of at least two, no deprecated fields) and, on update,
immutability of everything but the series.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, invalid, required
from kybernetes.api.validation.common import (
    as_dict,
    as_int,
    as_str,
    immutable,
    validate_qualified_name,
)
from kybernetes.api.validation.names import is_dns1123_subdomain, name_is_dns_subdomain
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update

__all__ = ["as_core_event", "validate_event"]

_LIMITS = (("reportingInstance", 128), ("action", 128), ("reason", 128))
_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}


def as_core_event(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An ``events.k8s.io/v1`` Event under its core (internal) field names."""
    core = {_RENAMES.get(k, k): v for k, v in obj.items()}
    if "reportingComponent" not in core and "reportingController" in core:
        core["reportingComponent"] = core["reportingController"]
    return core


def _legacy(event: Mapping[str, Any], controller_field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    namespace = as_str(as_dict(event.get("metadata")).get("namespace"))
    involved_ns = as_str(as_dict(event.get("involvedObject")).get("namespace"))
    mismatch = invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
    if not event.get("eventTime"):
        if not involved_ns:
            if namespace not in ("", "default"):
                errs.append(mismatch)
        elif namespace != involved_ns:
            errs.append(mismatch)
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            errs.append(mismatch)
        controller = as_str(event.get("reportingComponent"))
        if not controller:
            errs.append(required(controller_field))
        errs.extend(validate_qualified_name(controller, controller_field))
        for field, limit in _LIMITS:
            value = as_str(event.get(field))
            if not value:
                errs.append(required(field))
            if len(value) > limit:
                errs.append(invalid(field, "", f"can have at most {limit} characters"))
        if len(as_str(event.get("message"))) > 1024:
            errs.append(invalid("message", "", "can have at most 1024 characters"))
    errs.extend(invalid("namespace", namespace, m) for m in is_dns1123_subdomain(namespace))
    return errs


def _series(event: Mapping[str, Any]) -> list[FieldError]:
    series = event.get("series")
    if series is None:
        return []
    errs: list[FieldError] = []
    if (as_int(as_dict(series).get("count")) or 0) < 2:
        errs.append(invalid("series.count", "", "should be at least 2"))
    if not as_dict(series).get("lastObservedTime"):
        errs.append(required("series.lastObservedTime"))
    return errs


_IMMUTABLE = (
    "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
    "type", "eventTime", "action", "related", "reportingComponent", "reportingInstance",
)  # fmt: skip


def validate_event(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None = None, *, group: str = ""
) -> list[FieldError]:
    """``ValidateEventCreate`` / ``ValidateEventUpdate`` for a request to ``group``."""
    strict = group == "events.k8s.io"
    event = as_core_event(obj) if strict else dict(obj)
    errs = _legacy(event, "reportingController" if strict else "reportingComponent")
    if not strict:
        return errs
    if old is not None:
        previous = as_core_event(old)
        errs.extend(validate_object_meta_update(event.get("metadata"), previous.get("metadata")))
        if event.get("series") != previous.get("series"):
            errs.extend(_series(event))
        for field in _IMMUTABLE:
            path = "reportingController" if field == "reportingComponent" else field
            errs.extend(immutable(event.get(field), previous.get(field), path))
        return errs
    errs.extend(validate_object_meta(event.get("metadata"), True, name_is_dns_subdomain))
    errs.extend(_series(event))
    if not event.get("eventTime"):
        errs.append(required("eventTime"))
    kind = as_str(event.get("type"))
    if kind not in ("Normal", "Warning"):
        errs.append(invalid("type", "", f"has invalid value: {kind}"))
    for field in ("firstTimestamp", "lastTimestamp", "count"):
        if event.get(field):
            errs.append(invalid(field, "", "needs to be unset"))
    source = as_dict(event.get("source"))
    if as_str(source.get("component")) or as_str(source.get("host")):
        errs.append(invalid("source", "", "needs to be unset"))
    return errs
