"""The batch group: Jobs and CronJobs (``pkg/apis/batch/validation``).

A Job's pods must not restart in place: ``Always`` (or nothing) is refused with upstream's
``Required value: valid values: "OnFailure", "Never"`` and other values are unsupported. Unless
``manualSelector`` is set, the registry generates the selector and template labels from the
Job's name and uid before validation (``defaults.generate_job_selector``), and validation checks
they are intact. After creation a Job's selector, template, completion mode and failure policies
are fixed; the template's scheduling directives may change while a suspended Job has not
started. CronJob schedules are parsed like robfig/cron; time zones go in ``spec.timeZone``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import (
    ErrorType,
    FieldError,
    invalid,
    not_supported,
    required,
    too_many,
)
from kybernetes.api.validation.common import (
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    immutable,
    index,
    selector_of,
    semantic_equal,
    validate_label_selector,
    validate_nonnegative,
    validate_qualified_name,
)
from kybernetes.api.validation.cron import is_known_time_zone, parse_error
from kybernetes.api.validation.gofmt import GoValue, go_label_selector, go_string_map
from kybernetes.api.validation.names import is_dns1123_label, name_is_dns_subdomain
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update
from kybernetes.api.validation.podspec import validate_pod_template_spec

__all__ = ["validate_cron_job", "validate_job"]

Obj = Mapping[str, Any]
_MAX_PARALLELISM_INDEXED = 100_000
_LABELS = (
    ("controller-uid", "uid"),
    ("job-name", "name"),
    ("batch.kubernetes.io/controller-uid", "uid"),
    ("batch.kubernetes.io/job-name", "name"),
)
_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
_TZ_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")
# Upstream prints the whole template struct with %#v (pointers included); it cannot be matched.
_TEMPLATE_VALUE = GoValue("core.PodTemplateSpec{...}")


def _generated_selector(obj: Obj) -> list[FieldError]:
    """``validateGeneratedSelector``: the auto-generated labels and selector are intact."""
    spec, meta = as_dict(obj.get("spec")), as_dict(obj.get("metadata"))
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    errs: list[FieldError] = []
    if not as_str(meta.get("uid")):
        errs.append(required("metadata.uid"))
    labels = as_dict(as_dict(as_dict(spec.get("template")).get("metadata")).get("labels"))
    expected: dict[str, str] = {}
    for label, field in _LABELS:
        value = as_str(meta.get(field))
        expected[label] = value
        path = f"spec.template.metadata.labels[{label}]"
        if label not in labels:
            errs.append(required(path, f"must be '{value}'"))
        elif labels[label] != value:
            errs.append(invalid(path, go_string_map(labels), f"must be '{value}'"))
    parsed = selector_of(spec.get("selector"))
    if parsed is not None and not parsed.matches(expected):
        errs.append(
            invalid(
                "spec.selector",
                go_label_selector(spec.get("selector")),
                "`selector` not auto-generated",
            )
        )
    return errs


def _pod_failure_policy(spec: Obj, path: str) -> list[FieldError]:
    policy = as_dict(spec.get("podFailurePolicy"))
    rules = as_list(policy.get("rules"))
    errs: list[FieldError] = []
    rules_path = child(path, "rules")
    if len(rules) > 20:
        errs.append(too_many(rules_path, len(rules), 20))
    template_spec = as_dict(as_dict(spec.get("template")).get("spec"))
    names = {
        as_str(as_dict(c).get("name"))
        for k in ("containers", "initContainers")
        for c in as_list(template_spec.get(k))
    }
    for i, raw in enumerate(rules):
        rule, p = as_dict(raw), index(rules_path, i)
        action = as_str(rule.get("action"))
        if not action:
            errs.append(
                required(
                    child(p, "action"), 'valid values: ["Count" "FailIndex" "FailJob" "Ignore"]'
                )
            )
        elif action == "FailIndex":
            if spec.get("backoffLimitPerIndex") is None:
                errs.append(
                    invalid(
                        child(p, "action"), action, "requires the backoffLimitPerIndex to be set"
                    )
                )
        elif action not in _ACTIONS:
            errs.append(not_supported(child(p, "action"), action, _ACTIONS))
        on_exit, on_conditions = rule.get("onExitCodes"), as_list(rule.get("onPodConditions"))
        if on_exit is not None:
            errs.extend(_on_exit_codes(as_dict(on_exit), child(p, "onExitCodes"), names))
        for j, pattern in enumerate(on_conditions):
            pp = index(child(p, "onPodConditions"), j)
            errs.extend(
                validate_qualified_name(as_str(as_dict(pattern).get("type")), child(pp, "type"))
            )
            status = as_str(as_dict(pattern).get("status"))
            if not status:
                errs.append(
                    required(child(pp, "status"), 'valid values: ["False" "True" "Unknown"]')
                )
            elif status not in ("False", "True", "Unknown"):
                errs.append(
                    not_supported(child(pp, "status"), status, ("False", "True", "Unknown"))
                )
        if on_exit is not None and on_conditions:
            errs.append(
                FieldError(
                    ErrorType.INVALID,
                    p,
                    "",
                    "specifying both OnExitCodes and OnPodConditions is not supported",
                    True,
                )
            )
        if on_exit is None and not on_conditions:
            errs.append(
                FieldError(
                    ErrorType.INVALID,
                    p,
                    "",
                    "specifying one of OnExitCodes and OnPodConditions is required",
                    True,
                )
            )
    return errs


def _on_exit_codes(req: Obj, path: str, names: set[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    operator = as_str(req.get("operator"))
    if not operator:
        errs.append(required(child(path, "operator"), 'valid values: ["In" "NotIn"]'))
    elif operator not in ("In", "NotIn"):
        errs.append(not_supported(child(path, "operator"), operator, ("In", "NotIn")))
    name = req.get("containerName")
    if name is not None and as_str(name) not in names:
        errs.append(
            invalid(
                child(path, "containerName"),
                as_str(name),
                "must be one of the container or initContainer names in the pod template",
            )
        )
    values = [as_int(v) or 0 for v in as_list(req.get("values"))]
    values_path = child(path, "values")
    if not values:
        errs.append(invalid(values_path, GoValue("[]int32(nil)"), "at least one value is required"))
    seen: set[int] = set()
    for j, value in enumerate(values):
        if operator == "In" and value == 0:
            errs.append(invalid(index(values_path, j), value, "must not be 0 for the In operator"))
        if value in seen:
            errs.append(FieldError(ErrorType.DUPLICATE, index(values_path, j), value))
        seen.add(value)
    if values != sorted(values):
        errs.append(
            invalid(
                values_path,
                GoValue("[]int32{" + ", ".join(map(str, values)) + "}"),
                "must be ordered",
            )
        )
    return errs


def _job_spec(spec: Obj, path: str) -> list[FieldError]:
    """``validateJobSpec``: counts, completion mode, policies, the template and restart policy."""
    errs: list[FieldError] = []
    for field in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ):
        errs.extend(validate_nonnegative(as_int(spec.get(field)), child(path, field)))
    if spec.get("maxFailedIndexes") is not None:
        errs.extend(
            validate_nonnegative(
                as_int(spec.get("maxFailedIndexes")), child(path, "maxFailedIndexes")
            )
        )
        if spec.get("backoffLimitPerIndex") is None:
            errs.append(
                required(child(path, "backoffLimitPerIndex"), "when maxFailedIndexes is specified")
            )
    mode = spec.get("completionMode")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(
                not_supported(
                    child(path, "completionMode"), as_str(mode), ("NonIndexed", "Indexed")
                )
            )
        if mode == "Indexed":
            if spec.get("completions") is None:
                errs.append(required(child(path, "completions"), "when completion mode is Indexed"))
            parallelism = as_int(spec.get("parallelism"))
            if parallelism is not None and parallelism > _MAX_PARALLELISM_INDEXED:
                errs.append(
                    invalid(
                        child(path, "parallelism"),
                        parallelism,
                        "must be less than or equal to 100000 when completion mode is Indexed",
                    )
                )
    if mode in (None, "NonIndexed"):
        errs.extend(
            invalid(child(path, f), as_int(spec.get(f)), "requires indexed completion mode")
            for f in ("backoffLimitPerIndex", "maxFailedIndexes")
            if spec.get(f) is not None
        )
    if spec.get("podFailurePolicy") is not None:
        errs.extend(_pod_failure_policy(spec, child(path, "podFailurePolicy")))
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        if spec.get("podFailurePolicy") is not None:
            if replacement != "Failed":
                errs.append(
                    not_supported(
                        child(path, "podReplacementPolicy"), as_str(replacement), ("Failed",)
                    )
                )
        elif replacement not in ("Failed", "TerminatingOrFailed"):
            errs.append(
                not_supported(
                    child(path, "podReplacementPolicy"),
                    as_str(replacement),
                    ("Failed", "TerminatingOrFailed"),
                )
            )
    errs.extend(validate_pod_template_spec(spec.get("template"), child(path, "template")))
    restart = as_str(as_dict(as_dict(spec.get("template")).get("spec")).get("restartPolicy"))
    restart_path = child(path, "template", "spec", "restartPolicy")
    if restart in ("Always", ""):
        errs.append(required(restart_path, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(not_supported(restart_path, restart, ("OnFailure", "Never")))
    elif spec.get("podFailurePolicy") is not None and restart != "Never":
        errs.append(
            invalid(
                restart_path,
                restart,
                'only "Never" is supported when podFailurePolicy is specified',
            )
        )
    return errs


def _job_spec_with_selector(spec: Obj, path: str) -> list[FieldError]:
    """``ValidateJobSpec``: the spec plus a selector that matches the template."""
    errs = _job_spec(spec, path)
    selector = spec.get("selector")
    if selector is None:
        errs.append(required(child(path, "selector")))
    else:
        errs.extend(validate_label_selector(selector, child(path, "selector")))
    parsed = selector_of(selector)
    labels = as_dict(as_dict(as_dict(spec.get("template")).get("metadata")).get("labels"))
    if parsed is not None and not parsed.matches({k: as_str(v) for k, v in labels.items()}):
        errs.append(
            invalid(
                child(path, "template", "metadata", "labels"),
                go_string_map(labels or None),
                "`selector` does not match template `labels`",
            )
        )
    return errs


def validate_job(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    meta, spec = as_dict(obj.get("metadata")), as_dict(obj.get("spec"))
    if old is not None:
        return validate_object_meta_update(meta, old.get("metadata")) + _job_update(
            spec, as_dict(old.get("spec"))
        )
    errs = validate_object_meta(meta, True, name_is_dns_subdomain)
    errs.extend(_generated_selector(obj))
    errs.extend(_job_spec_with_selector(spec, "spec"))
    completions = as_int(spec.get("completions"))
    if spec.get("completionMode") == "Indexed" and completions:
        hostname = f"{as_str(meta.get('name'))}-{completions - 1}"
        if is_dns1123_label(hostname):
            errs.append(
                invalid(
                    "metadata.name",
                    as_str(meta.get("name")),
                    f"will not able to create pod with invalid DNS label: {hostname}",
                )
            )
    return errs


def _job_update(spec: Obj, old: Obj) -> list[FieldError]:
    errs = _job_spec_with_selector(spec, "spec")
    if spec.get("completionMode") == "Indexed" and spec.get("completions") != old.get(
        "completions"
    ):
        if spec.get("completions") is not None and spec.get("completions") != spec.get(
            "parallelism"
        ):
            errs.append(
                invalid(
                    "spec.completions",
                    as_int(spec.get("completions")),
                    "can only be modified in tandem with spec.parallelism",
                )
            )
    else:
        errs.extend(immutable(spec.get("completions"), old.get("completions"), "spec.completions"))
    if not semantic_equal(spec.get("selector"), old.get("selector")):
        errs.extend(
            immutable(
                spec.get("selector"),
                old.get("selector"),
                "spec.selector",
                go_label_selector(spec.get("selector")),
            )
        )
    template, old_template = as_dict(spec.get("template")), dict(as_dict(old.get("template")))
    suspended_unstarted = spec.get("suspend") is True
    if suspended_unstarted:
        # Scheduling directives of a suspended Job that never ran may change.
        tspec, old_tspec = as_dict(template.get("spec")), dict(as_dict(old_template.get("spec")))
        for field in ("nodeSelector", "tolerations", "schedulingGates", "affinity"):
            old_tspec[field] = tspec.get(field)
        old_template["spec"] = old_tspec
        old_meta = dict(as_dict(old_template.get("metadata")))
        for field in ("labels", "annotations"):
            old_meta[field] = as_dict(template.get("metadata")).get(field)
        old_template["metadata"] = old_meta
    if not semantic_equal(template, old_template):
        errs.append(invalid("spec.template", _TEMPLATE_VALUE, "field is immutable"))
    for field in (
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ):
        errs.extend(immutable(spec.get(field), old.get(field), f"spec.{field}"))
    return errs


def _schedule(schedule: str, time_zone: object, allow_tz: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    problem = parse_error(schedule)
    if problem:
        errs.append(invalid(path, schedule, problem))
    if allow_tz and "TZ" in schedule and time_zone is not None:
        errs.append(
            invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule")
        )
    elif not allow_tz and "TZ" in schedule:
        errs.append(
            invalid(
                path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
            )
        )
    return errs


def _time_zone(value: object, path: str) -> list[FieldError]:
    if value is None:
        return []
    zone = as_str(value)
    if not zone:
        return [invalid(path, zone, "timeZone must be nil or non-empty string")]
    for part in zone.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.fullmatch(part):
            return [invalid(path, zone, f"unknown time zone {zone}")]
    errs: list[FieldError] = []
    if zone.lower() == "local":
        errs.append(
            invalid(
                path,
                zone,
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
            )
        )
    elif not is_known_time_zone(zone):
        errs.append(invalid(path, zone, f"unknown time zone {zone}"))
    return errs


def validate_cron_job(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    meta, spec = as_dict(obj.get("metadata")), as_dict(obj.get("spec"))
    old_spec = as_dict(old.get("spec")) if old is not None else None
    if old is None:
        errs = validate_object_meta(meta, True, name_is_dns_subdomain)
    else:
        errs = validate_object_meta_update(meta, old.get("metadata"))
    schedule = as_str(spec.get("schedule"))
    if not schedule:
        errs.append(required("spec.schedule"))
    else:
        allow_tz = old_spec is not None and "TZ" in as_str(old_spec.get("schedule"))
        errs.extend(_schedule(schedule, spec.get("timeZone"), allow_tz, "spec.schedule"))
    errs.extend(
        validate_nonnegative(
            as_int(spec.get("startingDeadlineSeconds")), "spec.startingDeadlineSeconds"
        )
    )
    if old_spec is None or old_spec.get("timeZone") != spec.get("timeZone"):
        errs.extend(_time_zone(spec.get("timeZone"), "spec.timeZone"))
    policy = as_str(spec.get("concurrencyPolicy"))
    if not policy:
        errs.append(required("spec.concurrencyPolicy"))
    elif policy not in ("Allow", "Forbid", "Replace"):
        errs.append(not_supported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace")))
    job_spec = as_dict(as_dict(spec.get("jobTemplate")).get("spec"))
    errs.extend(_job_spec(job_spec, "spec.jobTemplate.spec"))
    if job_spec.get("selector") is not None:
        errs.append(
            invalid(
                "spec.jobTemplate.spec.selector",
                go_label_selector(job_spec.get("selector")),
                "`selector` will be auto-generated",
            )
        )
    if job_spec.get("manualSelector") is True:
        errs.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false")))
    for field in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs.extend(validate_nonnegative(as_int(spec.get(field)), f"spec.{field}"))
    if old is None and len(as_str(meta.get("name")).encode()) > 52:
        errs.append(
            invalid("metadata.name", as_str(meta.get("name")), "must be no more than 52 characters")
        )
    return errs
