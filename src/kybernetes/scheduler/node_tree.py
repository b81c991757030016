"""``NodeTree``: node names grouped by zone, listed zone-interleaved (upstream nodeTree).

``list()`` takes one node from each zone in turn (zones in the order first seen), so the first
nodes a cycle examines spread over the zones. The zone of a node is its region and zone labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["NodeTree", "zone_key"]

_REGION = "topology.kubernetes.io/region"
_ZONE = "topology.kubernetes.io/zone"
_LEGACY_REGION = "failure-domain.beta.kubernetes.io/region"
_LEGACY_ZONE = "failure-domain.beta.kubernetes.io/zone"


def zone_key(node: Mapping[str, Any]) -> str:
    labels: Mapping[str, str] = (node.get("metadata") or {}).get("labels") or {}
    region = labels.get(_REGION) or labels.get(_LEGACY_REGION) or ""
    zone = labels.get(_ZONE) or labels.get(_LEGACY_ZONE) or ""
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


class NodeTree:
    def __init__(self) -> None:
        self._zones: dict[str, list[str]] = {}
        self._zone_of: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._zone_of)

    def add(self, name: str, node: Mapping[str, Any]) -> None:
        if name in self._zone_of:
            return
        zone = zone_key(node)
        self._zones.setdefault(zone, []).append(name)
        self._zone_of[name] = zone

    def remove(self, name: str) -> None:
        zone = self._zone_of.pop(name, None)
        if zone is None:
            return
        names = self._zones[zone]
        names.remove(name)
        if not names:
            del self._zones[zone]

    def update(self, name: str, node: Mapping[str, Any]) -> bool:
        """Move the node if its zone changed; True when it moved."""
        if self._zone_of.get(name) == zone_key(node):
            return False
        self.remove(name)
        self.add(name, node)
        return True

    def list(self) -> list[str]:
        zones = list(self._zones.values())
        result: list[str] = []
        depth = 0
        while len(result) < len(self._zone_of):
            result.extend(names[depth] for names in zones if depth < len(names))
            depth += 1
        return result
