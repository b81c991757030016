"""``Snapshot``: the cluster as one scheduling cycle sees it.

The cache refreshes it incrementally before every cycle (``Cache.update_snapshot``). Invariants:
``node_infos`` maps every node name to its ``NodeInfo``; ``node_info_list`` holds the same objects
in the node tree's zone-interleaved order; the two ``have_pods_with_*`` lists are the nodes that
hold at least one pod with (anti-)affinity terms, in the same order (each rebuilt lazily, when
read after its membership changed). NodeInfos are updated in place so the lists stay valid.
``pod_index`` is the cache's live ``PodIndex`` and ``images`` its live image table;
``spread_domains`` memoises, until nodes change, which nodes carry a set of topology keys and
the domains they form. ``arrays`` (None without numpy) holds the same NodeInfos' numbers as
columns, row ``i`` for ``node_info_list[i]``, for the vectorised cycle.
"""

from __future__ import annotations

from kybernetes.scheduler.framework import node_arrays
from kybernetes.scheduler.framework.node_arrays import NodeArrays
from kybernetes.scheduler.framework.node_info import ImageState, NodeInfo
from kybernetes.scheduler.framework.pod_index import PodIndex

__all__ = ["Snapshot"]


class Snapshot:
    __slots__ = (
        "_domains",
        "_with_affinity",
        "_with_anti_affinity",
        "arrays",
        "generation",
        "images",
        "node_info_list",
        "node_infos",
        "pod_index",
    )

    def __init__(self) -> None:
        self.node_infos: dict[str, NodeInfo] = {}
        self.node_info_list: list[NodeInfo] = []
        self._with_affinity: list[NodeInfo] | None = []
        self._with_anti_affinity: list[NodeInfo] | None = []
        self.generation = 0
        self.pod_index = PodIndex()
        self.images: dict[str, ImageState] = {}
        self.arrays: NodeArrays | None = NodeArrays() if node_arrays.AVAILABLE else None
        self._domains: dict[tuple[str, ...], tuple[frozenset[str], list[dict[str, int]]]] = {}

    @classmethod
    def of(cls, node_infos: list[NodeInfo]) -> Snapshot:
        """A snapshot of these NodeInfos in this order (for tests and simulations)."""
        snapshot = cls()
        snapshot.node_info_list = list(node_infos)
        snapshot.node_infos = {n.name: n for n in node_infos}
        snapshot.refresh_affinity_lists()
        for node in node_infos:
            for pod in node.pods:
                snapshot.pod_index.add(pod)
            for name, state in node.image_states.items():
                snapshot.images[name] = state
        if snapshot.arrays is not None:
            snapshot.arrays.rebuild(snapshot.node_info_list)
        return snapshot

    def nodes_changed(self) -> None:
        """Forget the memoised domains (a node was added, removed or relabelled)."""
        self._domains.clear()
        if self.arrays is not None:
            self.arrays.labels_changed()

    def spread_domains(self, keys: tuple[str, ...]) -> tuple[frozenset[str], list[dict[str, int]]]:
        """The nodes carrying every key in ``keys``, and per key ``{value: 0}`` of their values."""
        found = self._domains.get(keys)
        if found is None:
            nodes = [n for n in self.node_info_list if all(k in n.labels for k in keys)]
            names = frozenset(n.name for n in nodes)
            templates = [dict.fromkeys((n.labels[k] for n in nodes), 0) for k in keys]
            found = self._domains[keys] = (names, templates)
        return found

    def refresh_affinity_lists(self, affinity: bool = True, anti_affinity: bool = True) -> None:
        """Mark the lists stale; each is rebuilt when next read."""
        if affinity:
            self._with_affinity = None
        if anti_affinity:
            self._with_anti_affinity = None

    @property
    def have_pods_with_affinity(self) -> list[NodeInfo]:
        if self._with_affinity is None:
            self._with_affinity = [n for n in self.node_info_list if n.pods_with_affinity]
        return self._with_affinity

    @property
    def have_pods_with_required_anti_affinity(self) -> list[NodeInfo]:
        if self._with_anti_affinity is None:
            self._with_anti_affinity = [
                n for n in self.node_info_list if n.pods_with_required_anti_affinity
            ]
        return self._with_anti_affinity

    def get(self, name: str) -> NodeInfo | None:
        return self.node_infos.get(name)

    def __len__(self) -> int:
        return len(self.node_info_list)
