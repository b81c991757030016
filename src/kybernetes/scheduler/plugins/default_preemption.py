"""DefaultPreemption (PostFilter): make room for a pod that fits nowhere by evicting pods of
lower priority, then nominate the node for it.

On each node where the pod was merely Unschedulable (not UnschedulableAndUnresolvable) it
removes every lower-priority pod, checks the pod would fit, then gives back ("reprieves") as
many pods as still leave room, most important first, PDB-violating ones before the others.
Among the candidate nodes it picks, in order: fewest PDB violations, lowest highest victim
priority, smallest priority sum, fewest victims, latest start of the most important victims,
then the first. Victims are evicted gracefully through the API; lower-priority pods nominated
to that node lose their nomination. Pods with ``preemptionPolicy: Never`` never preempt.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kybernetes.scheduler.framework.cycle_state import CycleState
from kybernetes.scheduler.framework.diagnosis import Diagnosis, fit_error_message
from kybernetes.scheduler.framework.interface import Handle, NodeToStatus, PostFilterResult
from kybernetes.scheduler.framework.node_info import NodeInfo
from kybernetes.scheduler.framework.pod_info import PodInfo, label_selector
from kybernetes.scheduler.framework.status import Code, Status
from kybernetes.scheduler.plugins.helper import expect_int

__all__ = ["DefaultPreemption", "PreemptionArgs", "parse_preemption_args"]

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
_INT32_OFFSET = 2**31


@dataclass(frozen=True, slots=True)
class PreemptionArgs:
    min_candidate_nodes_percentage: int = 10
    min_candidate_nodes_absolute: int = 100


def parse_preemption_args(raw: Mapping[str, Any]) -> PreemptionArgs:
    return PreemptionArgs(
        expect_int(
            raw.get("minCandidateNodesPercentage", 10), "minCandidateNodesPercentage", 0, 100
        ),
        expect_int(raw.get("minCandidateNodesAbsolute", 100), "minCandidateNodesAbsolute", 0),
    )


@dataclass(slots=True)
class Candidate:
    node_name: str
    victims: list[PodInfo]
    pdb_violations: int


def _importance(pod: PodInfo) -> tuple[int, str]:
    """Sort key: more important pods first (higher priority, then earlier start)."""
    return (-pod.priority, pod.start_time)


def _terminating_by_preemption(pod: PodInfo) -> bool:
    if not pod.terminating:
        return False
    for condition in (pod.pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "DisruptionTarget":
            return (
                condition.get("status") == "True"
                and condition.get("reason") == "PreemptionByScheduler"
            )
    return False


def _split_by_pdb(
    pods: Sequence[PodInfo], pdbs: Sequence[Mapping[str, Any]]
) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non-violating), keeping order (``filterPodsWithPDBViolation``)."""
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in pdbs]
    violating: list[PodInfo] = []
    fine: list[PodInfo] = []
    for pod in pods:
        violated = False
        if pod.labels:
            for i, pdb in enumerate(pdbs):
                if (pdb.get("metadata") or {}).get("namespace") != pod.namespace:
                    continue
                selector = label_selector((pdb.get("spec") or {}).get("selector"))
                if selector.is_empty or not selector.matches(pod.labels):
                    continue
                if pod.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else fine).append(pod)
    return violating, fine


def _earliest_start_of_most_important(victims: Sequence[PodInfo]) -> str:
    top = max(v.priority for v in victims)
    return min(v.start_time for v in victims if v.priority == top)


def pick_one_node(candidates: Sequence[Candidate]) -> Candidate:
    """Upstream's ``pickOneNodeForPreemption`` criteria, applied in turn to break ties."""
    criteria: list[Callable[[Candidate], Any]] = [
        lambda c: -c.pdb_violations,
        lambda c: -max(v.priority for v in c.victims),
        lambda c: -sum(v.priority + _INT32_OFFSET for v in c.victims),
        lambda c: -len(c.victims),
        lambda c: _earliest_start_of_most_important(c.victims),
    ]
    remaining = list(candidates)
    for criterion in criteria:
        best = max(criterion(c) for c in remaining)
        remaining = [c for c in remaining if criterion(c) == best]
        if len(remaining) == 1:
            break
    return remaining[0]


class DefaultPreemption:
    name = "DefaultPreemption"

    def __init__(
        self, handle: Handle, args: PreemptionArgs | None = None, rng: random.Random | None = None
    ) -> None:
        self._handle = handle
        self.args = args or PreemptionArgs()
        self._rng = rng or random.Random()

    async def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status | None]:
        result, status = await self._preempt(state, pod, statuses)
        if status.message():
            return result, Status(status.code, f"preemption: {status.message()}")
        return result, status

    def _eligible(self, pod: PodInfo, statuses: NodeToStatus) -> str:
        if pod.preemption_policy == "Never":
            return "not eligible due to preemptionPolicy=Never."
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName") or ""
        if nominated:
            status = statuses.get(nominated)
            if status is not None and status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return ""
            node = self._handle.snapshot().get(nominated)
            if node is not None and any(
                p.priority < pod.priority and _terminating_by_preemption(p) for p in node.pods
            ):
                return "not eligible due to a terminating pod on the nominated node."
        return ""

    async def _preempt(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        reason = self._eligible(pod, statuses)
        if reason:
            return None, Status(Code.UNSCHEDULABLE, reason)
        all_nodes = self._handle.snapshot().node_info_list
        potential = [
            n
            for n in all_nodes
            if n.name in statuses and statuses[n.name].code == Code.UNSCHEDULABLE
        ]
        node_statuses: NodeToStatus = {}
        candidates = self._dry_run(state, pod, potential, node_statuses) if potential else []
        if not candidates:
            diagnosis = Diagnosis(
                node_to_status=node_statuses,
                absent_status=Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, NOT_HELPFUL),
            )
            message = fit_error_message(len(all_nodes), diagnosis)
            return PostFilterResult(""), Status(Code.UNSCHEDULABLE, message)
        best = pick_one_node(candidates)
        api = self._handle.api
        message = f"{pod.scheduler_name}: preempting to accommodate a higher priority pod"
        for victim in best.victims:
            if not victim.terminating:
                await api.evict(victim.pod, pod.pod, message)
        for nominated in self._handle.nominated_pods_for_node(best.node_name):
            if nominated.priority < pod.priority:
                await api.set_nominated_node_name(nominated.pod, "")
        return PostFilterResult(best.node_name), Status(Code.SUCCESS)

    def _dry_run(
        self, state: CycleState, pod: PodInfo, potential: list[NodeInfo], statuses: NodeToStatus
    ) -> list[Candidate]:
        count = len(potential)
        wanted = max(
            count * self.args.min_candidate_nodes_percentage // 100,
            self.args.min_candidate_nodes_absolute,
        )
        wanted = min(wanted, count)
        offset = self._rng.randrange(count)
        fine: list[Candidate] = []
        violating: list[Candidate] = []
        for i in range(count):
            node = potential[(offset + i) % count].clone()
            victims, violations, status = self.select_victims_on_node(state.clone(), pod, node)
            if status is None and victims:
                (violating if violations else fine).append(
                    Candidate(node.name, victims, violations)
                )
                if fine and len(fine) + len(violating) >= wanted:
                    break
                continue
            statuses[node.name] = status or Status.error(
                f'expected at least one victim pod on node "{node.name}"'
            )
        return fine + violating

    def select_victims_on_node(
        self, state: CycleState, pod: PodInfo, node: NodeInfo
    ) -> tuple[list[PodInfo], int, Status | None]:
        """The fewest, least important pods to evict from ``node`` (a copy) for ``pod``."""
        handle = self._handle
        potential = [p for p in node.pods if p.priority < pod.priority]
        for victim in potential:
            node.remove_pod(victim)
            status = handle.run_pre_filter_extension_remove_pod(state, pod, victim, node)
            if status is not None:
                return [], 0, status
        if not potential:
            return [], 0, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, NO_VICTIMS)
        status = handle.run_filter_plugins_with_nominated_pods(state, pod, node)
        if status is not None:
            return [], 0, status
        potential.sort(key=_importance)
        violating, fine = _split_by_pdb(potential, handle.api.pod_disruption_budgets())
        victims: list[PodInfo] = []
        violations = 0
        for group, is_violating in ((violating, True), (fine, False)):
            for candidate in group:
                node.add_pod(candidate)
                handle.run_pre_filter_extension_add_pod(state, pod, candidate, node)
                if handle.run_filter_plugins_with_nominated_pods(state, pod, node) is not None:
                    node.remove_pod(candidate)
                    handle.run_pre_filter_extension_remove_pod(state, pod, candidate, node)
                    victims.append(candidate)
                    violations += is_violating
        if violating and fine:
            victims.sort(key=_importance)
        return victims, violations, None
