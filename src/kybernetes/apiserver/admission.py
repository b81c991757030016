"""Admission: what happens to an object between decoding and storing, for built-in kinds.

Defaulting (upstream's ``SetDefaults_*``) and semantic validation (upstream's
``Validate*``) are pure functions of the ``api`` layer; this module adapts them to the
registry's hooks. Admission webhooks and policies plug in here when they arrive.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.defaults import apply_defaults
from kybernetes.api.resources import ResourceInfo
from kybernetes.api.validation.semantic import validate_object


def default(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Fill in the kind's defaults, in place."""
    apply_defaults(info.group, info.version, info.kind, obj)


def validate(
    info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None
) -> list[errors.FieldError]:
    """The kind's semantic validation (``old`` on updates, for immutable fields)."""
    return validate_object(info.group, info.kind, obj, old)
