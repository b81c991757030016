"""PrioritySort: the queue's order — higher priority first, then earlier queue timestamp."""

from __future__ import annotations

from kybernetes.scheduler.framework.pod_info import QueuedPodInfo

__all__ = ["PrioritySort"]


class PrioritySort:
    name = "PrioritySort"

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        pa, pb = a.pod_info.priority, b.pod_info.priority
        return pa > pb or (pa == pb and a.timestamp < b.timestamp)
