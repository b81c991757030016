"""The in-tree plugin registry: name -> how to parse its args and how to build it.

``DEFAULT_PLUGINS`` is upstream's default ``multiPoint`` list for kubescheduler.config.k8s.io/v1
(1.32), in order, with the default score weights; plugins that belong to features this project
does not have (volume limits and zones, dynamic resources) are left out.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.scheduler.framework.interface import Handle
from kybernetes.scheduler.plugins.balanced_allocation import (
    BalancedAllocationArgs,
    NodeResourcesBalancedAllocation,
    parse_balanced_args,
)
from kybernetes.scheduler.plugins.default_binder import DefaultBinder
from kybernetes.scheduler.plugins.default_preemption import (
    DefaultPreemption,
    PreemptionArgs,
    parse_preemption_args,
)
from kybernetes.scheduler.plugins.image_locality import ImageLocality
from kybernetes.scheduler.plugins.inter_pod_affinity import (
    InterPodAffinity,
    InterPodAffinityArgs,
    parse_inter_pod_affinity_args,
)
from kybernetes.scheduler.plugins.node_affinity import NodeAffinity
from kybernetes.scheduler.plugins.node_name import NodeName
from kybernetes.scheduler.plugins.node_ports import NodePorts
from kybernetes.scheduler.plugins.node_resources_fit import (
    FitArgs,
    NodeResourcesFit,
    parse_fit_args,
)
from kybernetes.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kybernetes.scheduler.plugins.pod_topology_spread import (
    PodTopologySpread,
    SpreadArgs,
    parse_spread_args,
)
from kybernetes.scheduler.plugins.priority_sort import PrioritySort
from kybernetes.scheduler.plugins.scheduling_gates import SchedulingGates
from kybernetes.scheduler.plugins.taint_toleration import TaintToleration
from kybernetes.scheduler.plugins.volume_binding import VolumeBinding

__all__ = ["DEFAULT_PLUGINS", "POINT_METHODS", "REGISTRY", "PluginSpec", "implements"]

Builder = Callable[[Handle, Any, random.Random], object]


def _no_args(raw: Mapping[str, Any]) -> None:
    return None


@dataclass(frozen=True, slots=True)
class PluginSpec:
    cls: type
    parse_args: Callable[[Mapping[str, Any]], Any]
    build: Builder


def _args(kind: type, args: object) -> Any:
    return args if isinstance(args, kind) else kind()


REGISTRY: dict[str, PluginSpec] = {
    "SchedulingGates": PluginSpec(SchedulingGates, _no_args, lambda h, a, r: SchedulingGates()),
    "PrioritySort": PluginSpec(PrioritySort, _no_args, lambda h, a, r: PrioritySort()),
    "NodeUnschedulable": PluginSpec(
        NodeUnschedulable, _no_args, lambda h, a, r: NodeUnschedulable()
    ),
    "NodeName": PluginSpec(NodeName, _no_args, lambda h, a, r: NodeName()),
    "TaintToleration": PluginSpec(TaintToleration, _no_args, lambda h, a, r: TaintToleration()),
    "NodeAffinity": PluginSpec(NodeAffinity, _no_args, lambda h, a, r: NodeAffinity()),
    "NodePorts": PluginSpec(NodePorts, _no_args, lambda h, a, r: NodePorts()),
    "NodeResourcesFit": PluginSpec(
        NodeResourcesFit, parse_fit_args, lambda h, a, r: NodeResourcesFit(_args(FitArgs, a))
    ),
    "VolumeBinding": PluginSpec(VolumeBinding, _no_args, lambda h, a, r: VolumeBinding(h)),
    "PodTopologySpread": PluginSpec(
        PodTopologySpread,
        parse_spread_args,
        lambda h, a, r: PodTopologySpread(h, _args(SpreadArgs, a)),
    ),
    "InterPodAffinity": PluginSpec(
        InterPodAffinity,
        parse_inter_pod_affinity_args,
        lambda h, a, r: InterPodAffinity(h, _args(InterPodAffinityArgs, a)),
    ),
    "DefaultPreemption": PluginSpec(
        DefaultPreemption,
        parse_preemption_args,
        lambda h, a, r: DefaultPreemption(h, _args(PreemptionArgs, a), r),
    ),
    "NodeResourcesBalancedAllocation": PluginSpec(
        NodeResourcesBalancedAllocation,
        parse_balanced_args,
        lambda h, a, r: NodeResourcesBalancedAllocation(_args(BalancedAllocationArgs, a)),
    ),
    "ImageLocality": PluginSpec(ImageLocality, _no_args, lambda h, a, r: ImageLocality(h)),
    "DefaultBinder": PluginSpec(DefaultBinder, _no_args, lambda h, a, r: DefaultBinder(h)),
}

#: Upstream's default plugins (multiPoint) and score weights, in upstream's order.
DEFAULT_PLUGINS: tuple[tuple[str, int], ...] = (
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeBinding", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
)

#: The method that makes a plugin class implement each extension point.
POINT_METHODS = {
    "preEnqueue": "pre_enqueue",
    "queueSort": "less",
    "preFilter": "pre_filter",
    "filter": "filter",
    "postFilter": "post_filter",
    "preScore": "pre_score",
    "score": "score",
    "reserve": "reserve",
    "permit": "permit",
    "preBind": "pre_bind",
    "bind": "bind",
}


def implements(name: str, point: str) -> bool:
    spec = REGISTRY.get(name)
    return spec is not None and hasattr(spec.cls, POINT_METHODS[point])
