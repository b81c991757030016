"""Which nodes a DaemonSet's pod belongs on, and how its pods are pinned there.

``should_run(node, ds)`` is upstream's ``NodeShouldRunDaemonPod``: the pod the DaemonSet would
create (its template plus the tolerations every daemon pod gets) must match the node's name
(``spec.nodeName``, when the template sets one), its labels (``nodeSelector`` and the required
node affinity) and tolerate its NoSchedule and NoExecute taints. It answers two questions: should
a pod be *started* there, and may an existing one *keep running* (a pod tolerating the node's
NoExecute taints stays even when a NoSchedule taint would keep a new one out).

Daemon pods are created unbound with a required node affinity ``metadata.name In [node]``
(replacing any required terms of the template, which eligibility already checked) so the
scheduler binds them; ``target_node`` reads that back.

Everything here is pure and never modifies its arguments.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from kybernetes.api.meta import name_of
from kybernetes.api.taints import tolerates

Obj = dict[str, Any]

NOT_READY: Final = "node.kubernetes.io/not-ready"
UNREACHABLE: Final = "node.kubernetes.io/unreachable"
DISK_PRESSURE: Final = "node.kubernetes.io/disk-pressure"
MEMORY_PRESSURE: Final = "node.kubernetes.io/memory-pressure"
PID_PRESSURE: Final = "node.kubernetes.io/pid-pressure"
UNSCHEDULABLE: Final = "node.kubernetes.io/unschedulable"
NETWORK_UNAVAILABLE: Final = "node.kubernetes.io/network-unavailable"
NAME_FIELD: Final = "metadata.name"


def daemon_tolerations(spec: Mapping[str, Any]) -> list[Obj]:
    """The pod spec's tolerations with the ones every daemon pod gets added or overriding.

    As upstream's ``AddOrUpdateDaemonPodTolerations``: not-ready and unreachable NoExecute
    (forever, so node problems never evict daemon pods), the pressure and unschedulable
    NoSchedule taints, and network-unavailable for host-network pods. A toleration with the
    same key, operator, value and effect is replaced (dropping its ``tolerationSeconds``).
    """
    wanted = [(NOT_READY, "NoExecute"), (UNREACHABLE, "NoExecute")]
    wanted += [
        (key, "NoSchedule") for key in (DISK_PRESSURE, MEMORY_PRESSURE, PID_PRESSURE, UNSCHEDULABLE)
    ]
    if spec.get("hostNetwork"):
        wanted.append((NETWORK_UNAVAILABLE, "NoSchedule"))
    tolerations = [dict(t) for t in spec.get("tolerations") or ()]
    for key, effect in wanted:
        added: Obj = {"key": key, "operator": "Exists", "effect": effect}
        same = [i for i, t in enumerate(tolerations) if _same_toleration(t, added)]
        if same:
            tolerations[same[0]] = added
        else:
            tolerations.append(added)
    return tolerations


def _same_toleration(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """``Toleration.MatchToleration``: key, operator, value and effect all equal."""
    return all((a.get(f) or "") == (b.get(f) or "") for f in ("key", "operator", "value", "effect"))


def untolerated(
    taints: Iterable[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]], effects: set[str]
) -> Mapping[str, Any] | None:
    """The first taint with one of ``effects`` that no toleration tolerates."""
    for taint in taints:
        if taint.get("effect") in effects and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def _requirement_matches(requirement: Mapping[str, Any], value: str | None) -> bool:
    operator = requirement.get("operator")
    values = [str(v) for v in requirement.get("values") or ()]
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            have, bound = int(value), int(values[0])
        except ValueError:
            return False
        return have > bound if operator == "Gt" else have < bound
    return False


def term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """One ``NodeSelectorTerm``: every expression on labels and on fields holds (and one exists)."""
    expressions = term.get("matchExpressions") or ()
    fields = term.get("matchFields") or ()
    if not expressions and not fields:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    for requirement in expressions:
        if not _requirement_matches(requirement, labels.get(requirement.get("key"))):
            return False
    for requirement in fields:
        value = name_of(node) if requirement.get("key") == NAME_FIELD else None
        if value is None or not _requirement_matches(requirement, value):
            return False
    return True


def _required_terms(spec: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity")) or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return None
    return list(required.get("nodeSelectorTerms") or ())


def matches_node_affinity(spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """``nodeSelector`` and the required node affinity both accept the node."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    terms = _required_terms(spec)
    return terms is None or any(term_matches(t, node) for t in terms)


def should_run(node: Mapping[str, Any], ds: Mapping[str, Any]) -> tuple[bool, bool]:
    """``(should run, should continue running)`` a daemon pod of ``ds`` on ``node``."""
    spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    wanted_node = spec.get("nodeName")
    if wanted_node and wanted_node != name_of(node):
        return False, False
    if not matches_node_affinity(spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or ()
    tolerations = daemon_tolerations(spec)
    if untolerated(taints, tolerations, {"NoSchedule", "NoExecute"}) is None:
        return True, True
    return False, untolerated(taints, tolerations, {"NoExecute"}) is None


def pinned_to(template: Mapping[str, Any], node_name: str) -> Obj:
    """A copy of the pod template whose required node affinity names only ``node_name``."""
    out = copy.deepcopy(dict(template))
    spec = out.setdefault("spec", {})
    term = {"matchFields": [{"key": NAME_FIELD, "operator": "In", "values": [node_name]}]}
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    return out


def target_node(pod: Mapping[str, Any]) -> str | None:
    """The node a daemon pod is bound or pinned to (``GetTargetNodeName``), if any."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    for term in _required_terms(spec) or ():
        for requirement in term.get("matchFields") or ():
            if requirement.get("key") == NAME_FIELD and requirement.get("operator") == "In":
                values = list(requirement.get("values") or ())
                return str(values[0]) if len(values) == 1 else None
    return None
