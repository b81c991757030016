"""A Job's view of its pods: phases, readiness, completion indexes, finish times, new pods.

Pure helpers over pod dicts, as upstream's job controller reads them:

- a pod is *active* while it has not finished and is not being deleted; *terminating* while it
  is being deleted and has not finished; *failed* when its phase is Failed, or (unless the Job
  only replaces Failed pods) when it is being deleted before it succeeded;
- Indexed Jobs file each pod's index under ``batch.kubernetes.io/job-completion-index`` (an
  annotation, mirrored as a label); a missing or malformed index reads as ``None``;
- ``finish_time`` is the latest container ``finishedAt``, else the time Ready turned False, else
  the deletion timestamp, else the creation time (the order the pod-failure backoff uses);
- ``new_pod`` builds a pod from the Job's template with the tracking finalizer and the Job's
  controller reference (and, for an index, the annotation, label, ``JOB_COMPLETION_INDEX`` env
  variable, hostname ``<job>-<index>`` and ``generateName`` ``<job>-<index>-``).

Invariant: nothing here modifies its arguments.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from kybernetes.api.meta import name_of, new_controller_ref, parse_time

__all__ = [
    "COMPLETION_INDEX",
    "TRACKING_FINALIZER",
    "completion_index",
    "finish_time",
    "has_finalizer",
    "is_active",
    "is_failed",
    "is_ready",
    "is_terminating",
    "new_pod",
    "only_replaces_failed",
    "phase",
]

Obj = dict[str, Any]
TRACKING_FINALIZER: Final = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX: Final = "batch.kubernetes.io/job-completion-index"
_MAX_GENERATED_NAME: Final = 58  # 63 minus the 5 random characters generateName appends


def phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _deleting(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_active(pod: Mapping[str, Any]) -> bool:
    return phase(pod) not in ("Succeeded", "Failed") and not _deleting(pod)


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return phase(pod) not in ("Succeeded", "Failed") and _deleting(pod)


def is_ready(pod: Mapping[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def has_finalizer(pod: Mapping[str, Any]) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or ())


def only_replaces_failed(job: Mapping[str, Any]) -> bool:
    """Whether replacement pods wait for the old one to reach Failed (not just terminating)."""
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or bool(spec.get("podFailurePolicy"))


def is_failed(pod: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
    if phase(pod) == "Failed":
        return True
    if only_replaces_failed(job):
        return False
    # A pod deleted before it succeeded counts as failed: orphans may never reach Failed.
    return _deleting(pod) and phase(pod) != "Succeeded"


def completion_index(pod: Mapping[str, Any]) -> int | None:
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX)
    if not isinstance(text, str) or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        return None
    return int(text)


def finish_time(pod: Mapping[str, Any]) -> float:
    status = pod.get("status") or {}
    finished = [
        parse_time(terminated["finishedAt"]).timestamp()
        for key in ("containerStatuses", "initContainerStatuses")
        for container in status.get(key) or ()
        if (terminated := (container.get("state") or {}).get("terminated"))
        and terminated.get("finishedAt")
    ]
    if finished:
        return max(finished)
    for condition in status.get("conditions") or ():
        if (
            condition.get("type") == "Ready"
            and condition.get("status") == "False"
            and condition.get("lastTransitionTime")
        ):
            return parse_time(condition["lastTransitionTime"]).timestamp()
    meta = pod.get("metadata") or {}
    stamp = meta.get("deletionTimestamp") or meta.get("creationTimestamp")
    return parse_time(stamp).timestamp() if stamp else 0.0


def _generate_name(job_name: str, index: int | None) -> str:
    if index is None:
        return f"{job_name}-"
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > _MAX_GENERATED_NAME:
        prefix = job_name[: _MAX_GENERATED_NAME - len(suffix)] + suffix
    return prefix


def new_pod(job: Mapping[str, Any], index: int | None) -> Obj:
    """A pod for ``job`` (for completion ``index`` of an Indexed Job), ready to POST."""
    template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    template_meta = template.get("metadata") or {}
    spec: Obj = template.get("spec") or {}
    metadata: Obj = {
        "generateName": _generate_name(name_of(job), index),
        "namespace": (job.get("metadata") or {}).get("namespace", ""),
        "labels": dict(template_meta.get("labels") or {}),
        "annotations": dict(template_meta.get("annotations") or {}),
        "finalizers": [
            *[f for f in template_meta.get("finalizers") or () if f != TRACKING_FINALIZER],
            TRACKING_FINALIZER,
        ],
        "ownerReferences": [new_controller_ref(job, "batch/v1", "Job")],
    }
    if index is not None:
        metadata["annotations"][COMPLETION_INDEX] = str(index)
        metadata["labels"][COMPLETION_INDEX] = str(index)
        spec["hostname"] = f"{name_of(job)}-{index}"
        env = {
            "name": "JOB_COMPLETION_INDEX",
            "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{COMPLETION_INDEX}']"}},
        }
        for key in ("initContainers", "containers"):
            for container in spec.get(key) or ():
                variables = container.setdefault("env", [])
                if not any(v.get("name") == "JOB_COMPLETION_INDEX" for v in variables):
                    variables.append(env)
    for key in ("labels", "annotations"):
        if not metadata[key]:
            del metadata[key]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
