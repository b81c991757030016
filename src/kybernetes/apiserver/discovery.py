"""API discovery documents, in both forms clients use.

* Aggregated (``apidiscovery.k8s.io/v2``): ``/api`` and ``/apis`` answered with one
  ``APIGroupDiscoveryList`` when, and only when, the Accept header asks for it; the exact
  Content-Type and an ETag (kubectl re-checks with If-None-Match) are part of the contract.
* Legacy: ``/api`` (APIVersions), ``/apis`` (APIGroupList), ``/apis/<g>`` (APIGroup),
  ``/api/v1`` and ``/apis/<g>/<v>`` (APIResourceList) — kopf and kr8s read only these.

Documents are built once per change of the served resources and kept as bytes.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

import orjson

from kybernetes.api.resources import ResourceInfo

AGGREGATED_MEDIA_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
_AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str) -> str | None:
    """The aggregated media type the Accept header asks for (v2 preferred), or None."""
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if "as=APIGroupDiscoveryList" in params and "g=apidiscovery.k8s.io" in params:
            if "v=v2" in params:
                return AGGREGATED_MEDIA_TYPE
            if "v=v2beta1" in params:
                return _AGGREGATED_V2BETA1
    return None


def storage_version_hash(info: ResourceInfo) -> str:
    digest = hashlib.sha256(f"{info.group}/{info.version}/{info.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _dump(doc: Any) -> tuple[bytes, str]:
    body = orjson.dumps(doc)
    return body, '"' + hashlib.sha256(body).hexdigest()[:32].upper() + '"'


class Discovery:
    """The discovery documents for a set of served resources (in discovery order)."""

    def __init__(self, resources: Iterable[ResourceInfo], server_address: str) -> None:
        self.server_address = server_address
        self.set_resources(resources)

    def set_resources(self, resources: Iterable[ResourceInfo]) -> None:
        """Rebuild every document for a new set of resources (CRDs come and go)."""
        self.resources = list(resources)
        groups: dict[str, dict[str, list[ResourceInfo]]] = {}
        for info in self.resources:
            groups.setdefault(info.group, {}).setdefault(info.version, []).append(info)
        self._groups = groups
        self._legacy_gv: dict[tuple[str, str], tuple[bytes, str]] = {}
        for group, versions in groups.items():
            for version, infos in versions.items():
                self._legacy_gv[(group, version)] = _dump(
                    self._resource_list(group, version, infos)
                )
        self._api = _dump(
            {
                "kind": "APIVersions",
                "versions": list(groups.get("", {})),
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}
                ],
            }
        )
        named = [g for g in groups if g]
        self._group_docs = {g: self._group(g) for g in named}
        self._apis = _dump(
            {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [self._group_docs[g] for g in named],
            }
        )
        self._group_bodies = {
            g: _dump({"kind": "APIGroup", "apiVersion": "v1", **doc})
            for g, doc in self._group_docs.items()
        }
        self._aggregated_api = _dump(self._aggregated([""]))
        self._aggregated_apis = _dump(self._aggregated(named))

    # ----- legacy --------------------------------------------------------------------------

    def _group(self, group: str) -> dict[str, Any]:
        versions = list(self._groups[group])
        return {
            "name": group,
            "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
            "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
        }

    @staticmethod
    def _resource_list(group: str, version: str, infos: list[ResourceInfo]) -> dict[str, Any]:
        resources: list[dict[str, Any]] = []
        for info in infos:
            entry: dict[str, Any] = {
                "name": info.plural,
                "singularName": info.singular,
                "namespaced": info.namespaced,
                "kind": info.kind,
                "verbs": list(info.verbs),
            }
            if info.short_names:
                entry["shortNames"] = list(info.short_names)
            if info.categories:
                entry["categories"] = list(info.categories)
            entry["storageVersionHash"] = storage_version_hash(info)
            resources.append(entry)
            for sub in info.subresources:
                sub_entry: dict[str, Any] = {
                    "name": f"{info.plural}/{sub.name}",
                    "singularName": "",
                    "namespaced": info.namespaced,
                    "kind": sub.kind,
                    "verbs": list(sub.verbs),
                }
                if (sub.group, sub.version) != (group, version):
                    sub_entry["group"] = sub.group
                    sub_entry["version"] = sub.version
                resources.append(sub_entry)
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def api_versions(self) -> tuple[bytes, str]:
        return self._api

    def api_group_list(self) -> tuple[bytes, str]:
        return self._apis

    def api_group(self, group: str) -> tuple[bytes, str] | None:
        return self._group_bodies.get(group)

    def resource_list(self, group: str, version: str) -> tuple[bytes, str] | None:
        return self._legacy_gv.get((group, version))

    # ----- aggregated ----------------------------------------------------------------------

    def _aggregated(self, groups: list[str]) -> dict[str, Any]:
        items = []
        for group in groups:
            versions = []
            for version, infos in self._groups.get(group, {}).items():
                versions.append(
                    {
                        "version": version,
                        "resources": [self._aggregated_resource(info) for info in infos],
                        "freshness": "Current",
                    }
                )
            item: dict[str, Any] = {
                "metadata": {"name": group} if group else {},
                "versions": versions,
            }
            items.append(item)
        return {
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        }

    @staticmethod
    def _aggregated_resource(info: ResourceInfo) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "resource": info.plural,
            "responseKind": {"group": "", "version": "", "kind": info.kind},
            "scope": "Namespaced" if info.namespaced else "Cluster",
            "singularResource": info.singular,
            "verbs": sorted(info.verbs),
        }
        if info.short_names:
            entry["shortNames"] = list(info.short_names)
        if info.categories:
            entry["categories"] = list(info.categories)
        if info.subresources:
            entry["subresources"] = [
                {
                    "subresource": sub.name,
                    "responseKind": {
                        "group": sub.group if sub.group != info.group else "",
                        "version": sub.version if sub.version != info.version else "",
                        "kind": sub.kind,
                    },
                    "verbs": sorted(sub.verbs),
                }
                for sub in info.subresources
            ]
        return entry

    def aggregated(self, core: bool) -> tuple[bytes, str]:
        return self._aggregated_api if core else self._aggregated_apis
