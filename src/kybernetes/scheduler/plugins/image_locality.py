"""ImageLocality: prefer nodes that already have the pod's images, weighted by image size and
by how widely the image is spread (an image on every node says nothing about this one)."""

from __future__ import annotations

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.interface import MAX_NODE_SCORE, Handle
from kybernetes.scheduler.framework.node_arrays import FLAG_IMAGES, Batch
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo

__all__ = ["ImageLocality"]

_MB = 1024 * 1024
MIN_THRESHOLD = 23 * _MB
MAX_CONTAINER_THRESHOLD = 1000 * _MB


class ImageLocality:
    name = "ImageLocality"

    def __init__(self, handle: Handle) -> None:
        self._handle = handle

    def score_batch(self, state: CycleState, pod: PodInfo, batch: Batch) -> int | None:
        """0 everywhere when no node of the batch has any image, or none has the pod's (the
        per-node score is then the floor of the clamp, 0); otherwise per node."""
        if not batch.any_flagged(FLAG_IMAGES):
            return 0
        images = self._handle.snapshot().images
        for image in pod.images:
            found = images.get(image)
            if found is not None and found.nodes:
                return None
        return 0

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        if not [n for n in nodes if n.image_states]:
            return [0] * len(nodes)
        images = pod.images
        total_nodes = len(self._handle.snapshot()) or 1
        max_threshold = MAX_CONTAINER_THRESHOLD * len(images)
        scores: list[int] = []
        for node in nodes:
            states = node.image_states
            if not states:
                scores.append(0)
                continue
            total = 0
            for image in images:
                found = states.get(image)
                if found is not None:
                    total += int(found.size * (len(found.nodes) / total_nodes))
            total = min(max(total, MIN_THRESHOLD), max_threshold)
            scores.append(
                MAX_NODE_SCORE * (total - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)
            )
        return scores
