"""DefaultBinder: binds through the API (the pod's ``binding`` subresource)."""

from __future__ import annotations

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.interface import Handle
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.status import Status

__all__ = ["DefaultBinder"]


class DefaultBinder:
    name = "DefaultBinder"

    def __init__(self, handle: Handle) -> None:
        self._handle = handle

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        try:
            await self._handle.api.bind(pod.pod, node_name)
        except Exception as err:  # the API's error becomes the binding cycle's failure
            return Status.error(err)
        return None
