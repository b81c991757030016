"""coordination.k8s.io: Leases (leader election and node heartbeats).

A lease's duration is positive and its transition count never negative; a preferred holder
needs a coordinated-election strategy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported
from kybernetes.api.validation.common import as_dict, as_int, as_str
from kybernetes.api.validation.names import name_is_dns_subdomain
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update

__all__ = ["validate_lease"]


def validate_lease(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[FieldError]:
    errs = (
        [] if old is None else validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    )
    errs.extend(validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain))
    spec = as_dict(obj.get("spec"))
    duration = as_int(spec.get("leaseDurationSeconds"))
    if duration is not None and duration <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = as_int(spec.get("leaseTransitions"))
    if transitions is not None and transitions < 0:
        errs.append(
            invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
        )
    strategy = spec.get("strategy")
    if strategy is not None and strategy != "OldestEmulationVersion":
        errs.append(not_supported("spec.strategy", as_str(strategy), ("OldestEmulationVersion",)))
    if as_str(spec.get("preferredHolder")) and not as_str(strategy):
        errs.append(
            forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined")
        )
    return errs
