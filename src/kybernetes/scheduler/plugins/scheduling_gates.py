"""SchedulingGates: a pod with ``spec.schedulingGates`` stays out of the active queue."""

from __future__ import annotations

from collections.abc import Sequence

from kybernetes.scheduler.framework.events import ActionType, ClusterEvent, EventResource
from kybernetes.scheduler.framework.pod_info import PodInfo
from kybernetes.scheduler.framework.status import Code, Status

__all__ = ["SchedulingGates"]


class SchedulingGates:
    name = "SchedulingGates"

    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        gates = (pod.pod.get("spec") or {}).get("schedulingGates") or ()
        if not gates:
            return None
        names = " ".join(str(g.get("name", "")) for g in gates)
        return Status(
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"waiting for scheduling gates: [{names}]"
        )

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return [ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED)]
