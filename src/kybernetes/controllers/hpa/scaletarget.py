"""The ``scale`` subresource of an HPA's ``scaleTargetRef``: finding it, reading it, writing it.

Built-in kinds (Deployment, ReplicaSet, StatefulSet, ReplicationController) are found in the
API table; any other kind (a custom resource with a scale subresource) through the discovery
document of its group-version, remembered per (apiVersion, kind).

Invariant: the scale is written with the resourceVersion it was read with, so a concurrent
change of the target makes the write fail with Conflict instead of being overwritten.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from kybernetes.api import errors
from kybernetes.api import resources as api_resources
from kybernetes.client.rest import Client


class ScaleTargetError(Exception):
    """The target's scale cannot be found or read; the message is the cause."""


class ScaleTargets:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._plurals: dict[tuple[str, str], str] = {}

    async def _plural(self, api_version: str, kind: str) -> str:
        group, _, version = api_version.rpartition("/")
        if not version:
            raise ScaleTargetError(
                f"invalid API version in scale target reference: {api_version!r}"
            )
        info = api_resources.for_kind(group, version, kind)
        if info is not None:
            return info.plural
        cached = self._plurals.get((api_version, kind))
        if cached is not None:
            return cached
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            listed = await self.client.request("GET", path)
        except errors.NotFound:
            listed = {}
        for entry in listed.get("resources") or ():
            name = str(entry.get("name", ""))
            if entry.get("kind") == kind and "/" not in name:
                self._plurals[(api_version, kind)] = name
                return name
        raise ScaleTargetError(f'no matches for kind "{kind}" in group "{group}"')

    async def path(self, namespace: str, ref: dict[str, Any]) -> str:
        api_version = str(ref.get("apiVersion", ""))
        plural = await self._plural(api_version, str(ref.get("kind", "")))
        base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        name = quote(str(ref.get("name", "")), safe="")
        return f"{base}/namespaces/{quote(namespace, safe='')}/{plural}/{name}/scale"

    async def get(self, namespace: str, ref: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        path = await self.path(namespace, ref)
        try:
            return path, await self.client.request("GET", path)
        except errors.StatusError as exc:
            raise ScaleTargetError(str(exc)) from exc

    async def set_replicas(self, path: str, scale: dict[str, Any], replicas: int) -> None:
        wanted = {
            "apiVersion": scale.get("apiVersion", "autoscaling/v1"),
            "kind": "Scale",
            "metadata": scale.get("metadata") or {},
            "spec": {**(scale.get("spec") or {}), "replicas": replicas},
        }
        await self.client.request("PUT", path, body=wanted)
