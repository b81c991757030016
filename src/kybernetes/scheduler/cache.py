"""The scheduler cache: nodes and the pods on them, including pods assumed but not yet bound.

Invariants:
- Every pod the cache knows is counted on exactly one NodeInfo (its node's, even before the
  node itself arrives; such a NodeInfo has no node and stays out of snapshots).
- An assumed pod is counted as if bound. ``finish_binding`` starts its expiry (``ttl`` seconds,
  0 = never); ``cleanup_expired_assumed_pods`` drops the ones whose add event never came.
  ``add_pod`` for an assumed pod confirms it (moving it if it was bound elsewhere). When the
  pod it is given would make the same PodInfo (the binding echoed back, a status update), the
  PodInfo only takes the new dict: nothing is recounted and no NodeInfo changes.
- Every change stamps the NodeInfo with the next generation and moves it to the end of
  ``_nodes`` (most recently changed last), so ``update_snapshot`` walks back from the end only
  until it meets a generation the snapshot already has: it copies only what changed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.types import Node, Pod
from kybernetes.scheduler.framework.node_info import ImageState, NodeInfo
from kybernetes.scheduler.framework.pod_index import PodIndex
from kybernetes.scheduler.framework.pod_info import (
    NOT_STARTED,
    PodInfo,
    normalized_image_name,
    pod_uid,
)
from kybernetes.scheduler.framework.snapshot import Snapshot
from kybernetes.scheduler.node_tree import NodeTree
from kybernetes.util.clock import Clock

__all__ = ["Cache", "CacheError"]


class CacheError(RuntimeError):
    """An operation that contradicts what the cache holds (a bug in the caller)."""


@dataclass(slots=True)
class _PodState:
    info: PodInfo
    deadline: float | None = None
    binding_finished: bool = False


def _same_in_place(info: PodInfo, pod: Pod, priority: int | None) -> PodInfo | None:
    """``info`` now holding ``pod``, when ``pod`` is the same as far as a PodInfo goes: same
    node, spec, labels, priority, start time and no deletion (e.g. the assumed pod as bound,
    or a status update)."""
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    if (
        spec.get("nodeName") != info.node_name
        or meta.get("deletionTimestamp") is not None
        or (status.get("startTime") or NOT_STARTED) != info.start_time
        or (priority if priority is not None else int(spec.get("priority") or 0)) != info.priority
        or (meta.get("labels") or {}) != info.labels
        or spec != (info.pod.get("spec") or {})
    ):
        return None
    info.pod = pod
    return info


class Cache:
    def __init__(self, clock: Clock, ttl: float = 0.0) -> None:
        self._clock = clock
        self._ttl = ttl
        self._nodes: OrderedDict[str, NodeInfo] = OrderedDict()
        self._pods: dict[str, _PodState] = {}
        self._assumed: set[str] = set()
        self._tree = NodeTree()
        self._nodes_in_tree: set[str] = set()
        #: The node tree's order changed since the last snapshot (nodes added, removed, moved).
        self._order_changed = False
        self._images: dict[str, ImageState] = {}
        self._generation = 0
        self._index = PodIndex()
        #: A node's own object changed since the last snapshot (labels may have moved).
        self._nodes_changed = False

    # -- bookkeeping ---------------------------------------------------------------------

    def _touch(self, node: NodeInfo) -> None:
        self._generation += 1
        node.generation = self._generation
        self._nodes.move_to_end(node.name)

    def _node_info(self, name: str) -> NodeInfo:
        node = self._nodes.get(name)
        if node is None:
            node = NodeInfo(name=name)
            self._nodes[name] = node
        return node

    @property
    def node_count(self) -> int:
        return len(self._tree)

    @property
    def pod_count(self) -> int:
        return len(self._pods)

    def is_assumed(self, uid: str) -> bool:
        return uid in self._assumed

    def get_pod(self, uid: str) -> PodInfo | None:
        state = self._pods.get(uid)
        return state.info if state is not None else None

    def node_info(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name)

    # -- nodes ---------------------------------------------------------------------------

    def _set_images(self, info: NodeInfo, node: Mapping[str, Any] | None) -> None:
        for state in info.image_states.values():
            state.nodes.discard(info.name)
        info.image_states = {}
        for image in ((node or {}).get("status") or {}).get("images") or ():
            size = int(image.get("sizeBytes") or 0)
            for raw_name in image.get("names") or ():
                name = normalized_image_name(raw_name)
                shared = self._images.get(name)
                if shared is None:
                    shared = self._images[name] = ImageState(size)
                shared.nodes.add(info.name)
                info.image_states[name] = shared

    def add_node(self, node: Node) -> None:
        name = (node.get("metadata") or {}).get("name") or ""
        info = self._node_info(name)
        labels = info.labels if info.node is not None else None
        info.set_node(node)
        if labels is None or labels != info.labels:
            # Only labels shape topology domains: status heartbeats keep the memoised ones.
            self._nodes_changed = True
        self._set_images(info, node)
        if name not in self._nodes_in_tree:
            self._tree.add(name, node)
            self._nodes_in_tree.add(name)
            self._order_changed = True
        elif self._tree.update(name, node):
            self._order_changed = True
        self._touch(info)

    def update_node(self, node: Node) -> None:
        self.add_node(node)

    def remove_node(self, name: str) -> None:
        info = self._nodes.get(name)
        if info is None:
            return
        self._tree.remove(name)
        self._nodes_changed = True
        self._nodes_in_tree.discard(name)
        self._order_changed = True
        self._set_images(info, None)
        if info.pods:
            info.node = None  # pods still point here; the NodeInfo goes when they do
            self._touch(info)
        else:
            del self._nodes[name]
            self._generation += 1

    # -- pods ----------------------------------------------------------------------------

    def _add(self, info: PodInfo) -> None:
        self._index.add(info)
        node = self._node_info(info.node_name)
        node.add_pod(info)
        self._touch(node)

    def _remove(self, info: PodInfo) -> None:
        node = self._nodes.get(info.node_name)
        if node is None or not node.remove_pod(info):
            raise CacheError(f"pod {info.key} is not on node {info.node_name!r}")
        self._index.remove(info)
        if node.node is None and not node.pods:
            del self._nodes[node.name]
            self._generation += 1
        else:
            self._touch(node)

    def assume_pod(self, info: PodInfo) -> None:
        """Count ``info`` (already given its node) as bound until told otherwise."""
        if info.uid in self._pods:
            raise CacheError(f"pod {info.key} is already in the cache")
        self._add(info)
        self._pods[info.uid] = _PodState(info)
        self._assumed.add(info.uid)

    def finish_binding(self, info: PodInfo) -> None:
        state = self._pods.get(info.uid)
        if state is None or info.uid not in self._assumed:
            return
        state.binding_finished = True
        if self._ttl > 0:
            state.deadline = self._clock.monotonic() + self._ttl

    def forget_pod(self, info: PodInfo) -> None:
        state = self._pods.get(info.uid)
        if state is None or info.uid not in self._assumed:
            return
        self._remove(state.info)
        del self._pods[info.uid]
        self._assumed.discard(info.uid)

    def add_pod(self, pod: Pod, priority: int | None = None) -> PodInfo:
        """A bound pod from the informer (confirms an assumed one)."""
        state = self._pods.get(pod_uid(pod))
        if state is not None:
            same = _same_in_place(state.info, pod, priority)
            if same is not None:
                # The binding came back as assumed, or only the pod's status moved: it is
                # already counted where it is, as it is.
                if same.uid in self._assumed:
                    self._assumed.discard(same.uid)
                    self._pods[same.uid] = _PodState(same)
                return same
        info = PodInfo(pod, priority)
        state = self._pods.get(info.uid)
        if state is not None:
            self._remove(state.info)
            self._assumed.discard(info.uid)
        self._add(info)
        self._pods[info.uid] = _PodState(info)
        return info

    def update_pod(self, pod: Pod, priority: int | None = None) -> PodInfo:
        return self.add_pod(pod, priority)

    def remove_pod(self, pod: Pod) -> None:
        uid = pod_uid(pod)
        state = self._pods.pop(uid, None)
        if state is None:
            return
        self._assumed.discard(uid)
        self._remove(state.info)

    def cleanup_expired_assumed_pods(self) -> list[PodInfo]:
        """Drop assumed pods whose binding finished more than ``ttl`` ago; return them."""
        now = self._clock.monotonic()
        expired = [
            state.info
            for uid in self._assumed
            if (state := self._pods[uid]).binding_finished
            and state.deadline is not None
            and now >= state.deadline
        ]
        for info in expired:
            self.forget_pod(info)
        return expired

    # -- snapshot ------------------------------------------------------------------------

    def update_snapshot(self, snapshot: Snapshot) -> None:
        """Bring ``snapshot`` up to date, copying only the NodeInfos changed since its last
        update; rebuild its lists only when the set of nodes (or of affinity holders) moved."""
        rebuild_all = False
        rebuild_affinity = rebuild_anti = False
        infos = snapshot.node_infos
        changed: list[NodeInfo] = []
        for name, info in reversed(self._nodes.items()):
            if info.generation <= snapshot.generation:
                break
            if info.node is None:
                continue
            existing = infos.get(name)
            if existing is None:
                existing = infos[name] = NodeInfo(name=name)
                rebuild_all = True
            had_affinity = bool(existing.pods_with_affinity)
            had_anti = bool(existing.pods_with_required_anti_affinity)
            existing.assign_from(info)
            changed.append(existing)
            rebuild_affinity |= had_affinity != bool(existing.pods_with_affinity)
            rebuild_anti |= had_anti != bool(existing.pods_with_required_anti_affinity)
        arrays = snapshot.arrays
        if rebuild_all or self._order_changed:
            for name in [n for n in infos if n not in self._nodes_in_tree]:
                del infos[name]
            snapshot.node_info_list = [infos[name] for name in self._tree.list() if name in infos]
            self._order_changed = False
            rebuild_affinity = rebuild_anti = True
            if arrays is not None:
                arrays.rebuild(snapshot.node_info_list)
        elif arrays is not None:
            for existing in changed:
                arrays.update(existing)
        if rebuild_affinity or rebuild_anti:
            snapshot.refresh_affinity_lists(rebuild_affinity, rebuild_anti)
        if self._nodes_changed:
            snapshot.nodes_changed()
            self._nodes_changed = False
        snapshot.pod_index = self._index
        snapshot.images = self._images
        snapshot.generation = self._generation
