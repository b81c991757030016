"""A StatefulSet pod's stable identity: its ordinal, name, labels, hostname and claims.

Pod ``<set>-<ordinal>`` for each ordinal in ``[start, start + replicas)`` (``spec.ordinals.start``,
default 0) carries the labels ``statefulset.kubernetes.io/pod-name`` and
``apps.kubernetes.io/pod-index``, ``hostname`` = its name and ``subdomain`` =
``spec.serviceName``, and mounts one PersistentVolumeClaim ``<template>-<set>-<ordinal>`` per
``volumeClaimTemplates`` entry as the volume named after the template. Claims carry owner
references following ``persistentVolumeClaimRetentionPolicy`` (upstream's
``updateClaimOwnerRefForSetAndPod``).

Everything here is pure: functions read objects and return new ones, never modifying their
arguments (they may come from an informer cache).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from kybernetes.api.meta import name_of, namespace_of, new_controller_ref, uid_of
from kybernetes.controllers.history import POD_REVISION_LABEL
from kybernetes.controllers.podcontrol import pod_from_template

Obj = dict[str, Any]

POD_NAME_LABEL: Final = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL: Final = "apps.kubernetes.io/pod-index"
RETAIN: Final = "Retain"
DELETE: Final = "Delete"
_ORDINAL: Final = re.compile(r"(.*)-([0-9]+)$")
_INT32_MAX: Final = 2**31 - 1


def _spec(sts: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = sts.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def controller_ref(sts: Mapping[str, Any]) -> Obj:
    return new_controller_ref(sts, "apps/v1", "StatefulSet")


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """The set name and ordinal a pod name spells (``("", -1)`` when it spells none)."""
    match = _ORDINAL.fullmatch(name)
    if match is None or int(match.group(2)) > _INT32_MAX:
        return "", -1
    return match.group(1), int(match.group(2))


def ordinal_of(pod: Mapping[str, Any]) -> int:
    return parent_and_ordinal(name_of(pod))[1]


def is_member(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether the pod's name makes it one of the set's pods (``isMemberOf``)."""
    return parent_and_ordinal(name_of(pod))[0] == name_of(sts)


def pod_name(sts: Mapping[str, Any], ordinal: int) -> str:
    return f"{name_of(sts)}-{ordinal}"


def replicas(sts: Mapping[str, Any]) -> int:
    value = _spec(sts).get("replicas")
    return value if isinstance(value, int) else 1


def start_ordinal(sts: Mapping[str, Any]) -> int:
    ordinals = _spec(sts).get("ordinals") or {}
    start = ordinals.get("start")
    return start if isinstance(start, int) else 0


def in_range(sts: Mapping[str, Any], ordinal: int) -> bool:
    """Whether ``ordinal`` is one the set should run now (``podInOrdinalRange``)."""
    start = start_ordinal(sts)
    return start <= ordinal < start + replicas(sts)


def claim_name(template_name: str, sts_name: str, ordinal: int) -> str:
    return f"{template_name}-{sts_name}-{ordinal}"


def retention_policy(sts: Mapping[str, Any]) -> tuple[str, str]:
    """``(whenDeleted, whenScaled)``, each ``Retain`` unless set to ``Delete``."""
    policy = _spec(sts).get("persistentVolumeClaimRetentionPolicy") or {}
    return (
        DELETE if policy.get("whenDeleted") == DELETE else RETAIN,
        DELETE if policy.get("whenScaled") == DELETE else RETAIN,
    )


def claim_owner_refs(
    refs: Sequence[Mapping[str, Any]], sts: Mapping[str, Any], pod: Mapping[str, Any]
) -> list[Obj]:
    """``refs`` with the references to the set and the pod made to follow the retention policy.

    A claim controlled by something else keeps no reference to either (it is not ours to
    delete). Otherwise: ``whenDeleted: Delete`` makes the set its controller while the pod is in
    range; ``whenScaled: Delete`` makes a scaled-down pod its controller, so the claim goes with
    the pod.
    """
    ours = {uid_of(sts), uid_of(pod)} - {""}
    kept = [dict(r) for r in refs if r.get("uid") not in ours]
    if any(r.get("controller") is True for r in kept):
        return kept
    when_deleted, when_scaled = retention_policy(sts)
    scaled_down = not in_range(sts, ordinal_of(pod))
    if scaled_down and when_scaled == DELETE:
        if uid_of(pod):
            kept.append(new_controller_ref(pod, "v1", "Pod"))
    elif when_deleted == DELETE:
        kept.append(controller_ref(sts))
    return kept


def claims_for(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> dict[str, Obj]:
    """The claims the pod needs, by template name (``getPersistentVolumeClaims``).

    Each is the template named for the pod, in the set's namespace, with the set's
    ``matchLabels`` added to the template's labels and the retention policy's owners.
    """
    ordinal = ordinal_of(pod)
    match_labels = ((_spec(sts).get("selector") or {}).get("matchLabels")) or {}
    claims: dict[str, Obj] = {}
    for template in _spec(sts).get("volumeClaimTemplates") or ():
        claim = copy.deepcopy(dict(template))
        meta = dict(claim.get("metadata") or {})
        template_name = str(meta.get("name") or "")
        meta["name"] = claim_name(template_name, name_of(sts), ordinal)
        meta["namespace"] = namespace_of(sts)
        meta["labels"] = {**(meta.get("labels") or {}), **match_labels}
        refs = claim_owner_refs([], sts, pod)
        if refs:
            meta["ownerReferences"] = refs
        claim.update(apiVersion="v1", kind="PersistentVolumeClaim", metadata=meta)
        claim.pop("status", None)
        claims[template_name] = claim
    return claims


def identity_matches(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether the pod has the name, namespace and identity labels of its ordinal."""
    parent, ordinal = parent_and_ordinal(name_of(pod))
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return (
        ordinal >= 0
        and parent == name_of(sts)
        and namespace_of(pod) == namespace_of(sts)
        and labels.get(POD_NAME_LABEL) == name_of(pod)
        and labels.get(POD_INDEX_LABEL) == str(ordinal)
    )


def storage_matches(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether every claim template is mounted from the pod's own claim."""
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or ()}
    for template in _spec(sts).get("volumeClaimTemplates") or ():
        template_name = str((template.get("metadata") or {}).get("name") or "")
        source = (volumes.get(template_name) or {}).get("persistentVolumeClaim") or {}
        if source.get("claimName") != claim_name(template_name, name_of(sts), ordinal):
            return False
    return True


def with_identity(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj:
    """A copy of the pod with its ordinal's name, namespace and identity labels."""
    out = copy.deepcopy(dict(pod))
    ordinal = ordinal_of(pod)
    meta = out.setdefault("metadata", {})
    meta["name"] = pod_name(sts, ordinal)
    meta["namespace"] = namespace_of(sts)
    labels = meta.setdefault("labels", {})
    labels[POD_NAME_LABEL] = meta["name"]
    labels[POD_INDEX_LABEL] = str(ordinal)
    return out


def with_storage(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj:
    """A copy of the pod whose claim volumes replace any volumes of the same names."""
    out = copy.deepcopy(dict(pod))
    spec = out.setdefault("spec", {})
    claims = claims_for(sts, pod)
    volumes: list[Obj] = [
        {"name": name, "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
        for name, claim in claims.items()
    ]
    volumes.extend(v for v in spec.get("volumes") or () if v.get("name") not in claims)
    if volumes:
        spec["volumes"] = volumes
    return out


def new_pod(
    sts: Mapping[str, Any], template: Mapping[str, Any], ordinal: int, revision: str
) -> Obj:
    """The pod of ``ordinal`` built from ``template`` at ``revision`` (``newStatefulSetPod``)."""
    pod = pod_from_template(template, sts, controller_ref(sts))
    meta = pod["metadata"]
    del meta["generateName"]
    meta["name"] = pod_name(sts, ordinal)
    pod = with_identity(sts, pod)
    pod["spec"]["hostname"] = name_of(pod)
    service = _spec(sts).get("serviceName")
    if service:
        pod["spec"]["subdomain"] = service
    pod = with_storage(sts, pod)
    pod["metadata"]["labels"][POD_REVISION_LABEL] = revision
    return pod


def pod_revision(pod: Mapping[str, Any]) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(POD_REVISION_LABEL) or "")
