"""The registry store of one served version of a custom resource.

It is the generic ``Store`` (same storage layout, watch cache, optimistic concurrency,
finalizers and managedFields as built-ins, so custom objects cost what ConfigMaps cost) with
the custom resource's own rules plugged into its hooks, as upstream's ``customresource``
strategy does:

- objects are stored under ``/registry/<group>/<plural>/`` in the CRD's storage version and
  read in the version asked for (conversion ``None``: only ``apiVersion`` is rewritten);
- schema defaults are applied on every write and on every read from storage;
- validation is ObjectMeta's plus the schema's (``api/customresource/validate.py``);
- with a ``status`` subresource the main resource ignores status and ``/status`` everything
  else; ``metadata.generation`` grows with every change outside ``metadata`` (and outside
  ``status`` when status is a subresource).

It also answers the handler's questions about custom resources (``structure``, ``printer``,
the patch types, ``scale``) so the handlers stay generic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kybernetes.api import errors
from kybernetes.api.customresource import defaulting, validate
from kybernetes.api.resources import ResourceInfo
from kybernetes.api.schema import OBJECT_META_DEFINITION
from kybernetes.api.tables import Printer
from kybernetes.api.validation import structural
from kybernetes.api.validation.names import name_is_dns_subdomain
from kybernetes.api.validation.objectmeta import (
    validate_object_meta,
    validate_object_meta_update,
)
from kybernetes.apiserver.crd.versions import ServedVersion
from kybernetes.apiserver.registry import Store
from kybernetes.apiserver.strategy import Strategy, spec_changed
from kybernetes.apiserver.watchcache import CachedObject, decode
from kybernetes.storage.interface import Storage

#: Strategic merge patch needs Go struct tags that custom resources do not have (415).
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)


def custom_strategy(has_status: bool) -> Strategy:
    def on_create(obj: dict[str, Any]) -> None:
        if has_status:
            obj.pop("status", None)

    def on_update(new: dict[str, Any], old: Mapping[str, Any]) -> None:
        if has_status:
            return
        # Without a status subresource upstream counts any change outside metadata.
        if new.get("status") != old.get("status") and not spec_changed(new, old):
            meta = new["metadata"]
            meta["generation"] = (old.get("metadata", {}).get("generation") or 1) + 1

    return Strategy(
        has_status=has_status,
        initial_status=None,
        tracks_generation=True,
        on_create=on_create,
        on_update=on_update,
    )


class CustomResourceStore(Store):
    """One served version of a custom resource."""

    patch_types = PATCH_TYPES

    def __init__(
        self,
        version: ServedVersion,
        storage: Storage,
        *,
        now: Callable[[], datetime],
    ) -> None:
        self.version = version
        super().__init__(
            version.info,
            storage,
            validator=self._validate_custom,
            defaulter=self._default_custom,
            now=now,
            strategy=custom_strategy(version.has_status),
        )

    @property
    def printer(self) -> Printer:
        return self.version.printer

    # ----- encoding: conversion None, defaults on read -------------------------------------

    def _decode_stored(self, key: str, value: bytes, revision: int) -> CachedObject:
        cached = decode(key, value, revision)
        obj = cached.obj
        obj["apiVersion"] = self.info.api_version
        defaulting.apply_defaults(self.version.schema, obj)
        return cached

    def _encode(self, obj: dict[str, Any]) -> bytes:
        stored_as = self.version.storage_api_version
        if obj.get("apiVersion") == stored_as:
            return super()._encode(obj)
        return super()._encode({**obj, "apiVersion": stored_as})

    # ----- hooks --------------------------------------------------------------------------

    def _default_custom(self, _info: ResourceInfo, obj: dict[str, Any]) -> None:
        defaulting.apply_defaults(self.version.schema, obj)

    def _validate_custom(
        self, info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[errors.FieldError]:
        if old is None:
            errs = validate_object_meta(
                obj.get("metadata"), info.namespaced, name_is_dns_subdomain, kube_finalizers=False
            )
        else:
            errs = validate_object_meta_update(
                obj.get("metadata"), old.get("metadata"), kube_finalizers=False
            )
        errs.extend(validate.validate(self.version.schema, obj, old))
        return errs

    def structure(self, obj: dict[str, Any]) -> list[structural.Problem]:
        """Prune ``obj`` as the handler decodes it: unknown fields (reported for
        ``fieldValidation``) and ObjectMeta's structure; value types are validation's (422)."""
        problems: list[structural.Problem] = []
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            problems.extend(
                structural.Problem(
                    problem.kind,
                    f"metadata.{problem.path}" if problem.path else "metadata",
                    problem.expected,
                    problem.actual,
                )
                for problem in structural.validate_and_prune(meta, OBJECT_META_DEFINITION)
            )
        unknown = structural.ProblemKind.UNKNOWN_FIELD
        problems.extend(
            structural.Problem(unknown, path) for path in defaulting.prune(self.version.schema, obj)
        )
        return problems
