"""VolumeBinding (hook only): a pod whose PersistentVolumeClaims are not all bound waits.

Pods without PVC volumes are skipped at PreFilter. A claim that does not exist, or whose
phase is not ``Bound``, makes the pod UnschedulableAndUnresolvable until a PVC event arrives.
Topology-aware provisioning belongs to the storage work; this is its seam.
"""

from __future__ import annotations

from collections.abc import Sequence

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.events import ActionType, ClusterEvent, EventResource
from kybernetes.scheduler.framework.interface import Handle, PreFilterResult
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.status import Code, Status

__all__ = ["ERR_REASON_UNBOUND", "VolumeBinding"]

ERR_REASON_UNBOUND = "pod has unbound immediate PersistentVolumeClaims"
_SKIP = Status(Code.SKIP)


class VolumeBinding:
    name = "VolumeBinding"

    def __init__(self, handle: Handle) -> None:
        self._handle = handle

    def pre_filter(
        self, state: CycleState, pod: PodInfo
    ) -> tuple[PreFilterResult | None, Status | None]:
        volumes = (pod.pod.get("spec") or {}).get("volumes") or ()
        claims = [
            v["persistentVolumeClaim"].get("claimName", "")
            for v in volumes
            if v.get("persistentVolumeClaim")
        ]
        if not claims:
            return None, _SKIP
        api = self._handle.api
        for claim in claims:
            pvc = api.persistent_volume_claim(pod.namespace, claim)
            if pvc is None:
                return None, Status(
                    Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                    f'persistentvolumeclaim "{claim}" not found',
                )
            if (pvc.get("status") or {}).get("phase") != "Bound":
                return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_UNBOUND)
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return [
            ClusterEvent(EventResource.PERSISTENT_VOLUME_CLAIM, ActionType.ADD | ActionType.UPDATE),
            ClusterEvent(EventResource.PERSISTENT_VOLUME, ActionType.ADD | ActionType.UPDATE),
        ]
