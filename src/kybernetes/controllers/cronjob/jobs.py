"""What the CronJob controller needs to know about Jobs: finished or not, names, references.

Pure helpers over Job dicts: ``finished_condition`` reads the terminal condition (``Complete``
or ``Failed`` with status True) the way upstream's ``getFinishedStatus`` does; ``job_name`` is
``<cronjob>-<scheduled time in minutes since the epoch>`` so one scheduled time can only ever
create one Job (the name is the lock); ``job_from_template`` builds that Job.

Invariant: nothing here modifies its arguments; ``job_from_template`` deep-copies the template.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any, Final

from kybernetes.api.meta import name_of, namespace_of, new_controller_ref, uid_of

__all__ = [
    "SCHEDULED_TIMESTAMP_ANNOTATION",
    "finished_condition",
    "job_from_template",
    "job_name",
    "job_ref",
    "rfc3339",
]

Obj = dict[str, Any]
SCHEDULED_TIMESTAMP_ANNOTATION: Final = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def finished_condition(job: Mapping[str, Any]) -> str | None:
    """``"Complete"`` or ``"Failed"`` when the Job has finished, else ``None``."""
    for condition in (job.get("status") or {}).get("conditions") or ():
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"])
    return None


def job_name(cronjob: Mapping[str, Any], scheduled: datetime) -> str:
    return f"{name_of(cronjob)}-{int(scheduled.timestamp()) // 60}"


def rfc3339(t: datetime) -> str:
    """Go's ``time.RFC3339`` (``Z`` for UTC, else the numeric offset)."""
    text = t.replace(microsecond=0).isoformat()
    return text[: -len("+00:00")] + "Z" if text.endswith("+00:00") else text


def job_ref(job: Mapping[str, Any]) -> Obj:
    """The ObjectReference ``status.active`` holds for a Job."""
    return {
        "kind": "Job",
        "namespace": namespace_of(job),
        "name": name_of(job),
        "uid": uid_of(job),
        "apiVersion": "batch/v1",
        "resourceVersion": (job.get("metadata") or {}).get("resourceVersion", ""),
    }


def job_from_template(cronjob: Mapping[str, Any], scheduled: datetime, zone: tzinfo) -> Obj:
    """The Job a CronJob creates for ``scheduled`` (labels and annotations from its template)."""
    template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
    template_meta = template.get("metadata") or {}
    annotations = dict(template_meta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = rfc3339(scheduled.astimezone(zone))
    metadata: Obj = {
        "name": job_name(cronjob, scheduled),
        "namespace": namespace_of(cronjob),
        "annotations": annotations,
        "ownerReferences": [new_controller_ref(cronjob, "batch/v1", "CronJob")],
    }
    if template_meta.get("labels"):
        metadata["labels"] = dict(template_meta["labels"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
