"""What one CRD serves: a ``ServedVersion`` per served version, read from the CRD once.

Each carries the ``ResourceInfo`` discovery and the handlers use, the compiled schema
(``api/customresource``), the Table printer, the scale subresource's paths and the version
objects are stored in. Names come from ``status.acceptedNames`` (what the naming rules
accepted), as upstream serves them, not from ``spec.names``.

Invariant: built from one CRD revision and never changed; a changed CRD gets new ones.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.customresource.schema import Node, compile_schema
from kybernetes.api.resources import ResourceInfo, version_priority
from kybernetes.api.tables import Printer, custom_resource_printer
from kybernetes.apiserver.openapi import custom_group_version


@dataclass(frozen=True, slots=True)
class ScalePaths:
    """``subresources.scale`` of a CRD version (JSON paths such as ``.spec.replicas``)."""

    spec_replicas: str
    status_replicas: str
    label_selector: str = ""


@dataclass(frozen=True, slots=True)
class ServedVersion:
    info: ResourceInfo
    schema: Node
    printer: Printer
    storage_version: str
    has_status: bool
    scale: ScalePaths | None
    crd_name: str
    crd_uid: str

    @property
    def storage_api_version(self) -> str:
        return f"{self.info.group}/{self.storage_version}"


def accepted_view(crd: Mapping[str, Any]) -> dict[str, Any]:
    """The CRD with ``spec.names`` replaced by ``status.acceptedNames`` (what is served)."""
    view = copy.deepcopy(dict(crd))
    accepted = (view.get("status") or {}).get("acceptedNames")
    if isinstance(accepted, dict) and accepted.get("plural"):
        view.setdefault("spec", {})["names"] = accepted
    return view


def served_versions(crd: Mapping[str, Any]) -> list[ServedVersion]:
    """The versions ``crd`` serves, preferred first (Kubernetes' version priority)."""
    view = accepted_view(crd)
    spec = view.get("spec") or {}
    group = str(spec.get("group", ""))
    entries = [v for v in spec.get("versions") or [] if isinstance(v, dict)]
    storage = next((str(v.get("name")) for v in entries if v.get("storage") is True), "")
    meta = view.get("metadata") or {}
    out: list[ServedVersion] = []
    for entry in entries:
        if entry.get("served") is False:
            continue
        version = str(entry.get("name", ""))
        _, infos = custom_group_version([view], group, version)
        if not infos:
            continue
        raw_schema = (entry.get("schema") or {}).get("openAPIV3Schema") or {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }
        subresources = entry.get("subresources") or {}
        scale = subresources.get("scale")
        out.append(
            ServedVersion(
                info=infos[0],
                schema=compile_schema(raw_schema),
                printer=custom_resource_printer(entry),
                storage_version=storage,
                has_status="status" in subresources,
                scale=(
                    ScalePaths(
                        str(scale.get("specReplicasPath", "")),
                        str(scale.get("statusReplicasPath", "")),
                        str(scale.get("labelSelectorPath") or ""),
                    )
                    if isinstance(scale, dict)
                    else None
                ),
                crd_name=str(meta.get("name", "")),
                crd_uid=str(meta.get("uid", "")),
            )
        )
    out.sort(key=lambda v: version_priority(v.info.version), reverse=True)
    return out
