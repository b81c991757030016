"""Discovery: which resources a server serves, read from its legacy discovery documents.

``server_resources(client)`` walks ``/api``, ``/api/v1``, ``/apis`` and each group's preferred
version, as client-go's discovery client does, and returns every top-level resource (not
subresources) with its verbs. Components that act on "every kind" — the garbage collector, the
namespace cleaner, quota — use it instead of a hard-coded list, so custom resources are included
as soon as their CRD is served.
"""

from __future__ import annotations

from dataclasses import dataclass

from kybernetes.client.resource import Resource
from kybernetes.client.rest import Client


@dataclass(frozen=True, slots=True)
class ServedResource:
    resource: Resource
    verbs: frozenset[str]


async def server_resources(client: Client) -> list[ServedResource]:
    """Every resource the server serves at its groups' preferred versions."""
    group_versions: list[tuple[str, str]] = [("", "v1")]
    groups = await client.request("GET", "/apis")
    for group in groups.get("groups") or ():
        preferred = (group.get("preferredVersion") or {}).get("version")
        if preferred:
            group_versions.append((group["name"], preferred))
    out: list[ServedResource] = []
    for group, version in group_versions:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        document = await client.request("GET", path)
        for entry in document.get("resources") or ():
            name = entry.get("name", "")
            if not name or "/" in name:
                continue
            resource = Resource(
                group, version, name, entry.get("kind", ""), bool(entry.get("namespaced"))
            )
            out.append(ServedResource(resource, frozenset(entry.get("verbs") or ())))
    return out
