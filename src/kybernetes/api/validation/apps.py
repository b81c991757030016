"""The apps group: Deployments, ReplicaSets, StatefulSets, DaemonSets, ControllerRevisions.

Every workload needs a non-empty selector that matches its pod template's labels; through
apps/v1 the selector is immutable after creation (upstream checks that in the registry
strategies; it is part of the update rules here). StatefulSet templates are checked for labels,
annotations and restart policy only, as upstream (which leaves their PodSpec unvalidated), and a
StatefulSet update may change only replicas, ordinals, template, update strategy, claim
retention policy and minReadySeconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported, required
from kybernetes.api.validation.common import (
    as_dict,
    as_int,
    as_str,
    child,
    immutable,
    is_valid_percent,
    selector_of,
    semantic_equal,
    validate_label_selector,
    validate_labels,
    validate_nonnegative,
)
from kybernetes.api.validation.gofmt import (
    GoValue,
    go_int_or_string,
    go_label_selector,
    go_pointer_placeholder,
    go_string_map,
)
from kybernetes.api.validation.names import name_is_dns_label, name_is_dns_subdomain
from kybernetes.api.validation.objectmeta import (
    validate_annotations,
    validate_object_meta,
    validate_object_meta_update,
)
from kybernetes.api.validation.podspec import (
    validate_pod_specific_annotations,
    validate_pod_template_spec,
)

__all__ = [
    "validate_controller_revision",
    "validate_daemon_set",
    "validate_deployment",
    "validate_positive_int_or_percent",
    "validate_replica_set",
    "validate_stateful_set",
]

Obj = Mapping[str, Any]
_MISMATCH = "`selector` does not match template `labels`"


def _percent(value: object) -> int | None:
    if isinstance(value, str) and not is_valid_percent(value):
        return int(value[:-1])
    return None


def _int_or_percent(value: object) -> int:
    """``getIntOrPercentValue``: the percentage, else ``IntValue()`` (strings through Atoi)."""
    percent = _percent(value)
    if percent is not None:
        return percent
    if isinstance(value, str):
        text = value
        return int(text) if text.lstrip("+-").isdigit() and text.isascii() else 0
    return as_int(value) or 0


def validate_positive_int_or_percent(value: object, path: str) -> list[FieldError]:
    if isinstance(value, str):
        return [invalid(path, go_int_or_string(value), m) for m in is_valid_percent(value)]
    return validate_nonnegative(as_int(value) or 0, path)


def _not_more_than_100_percent(value: object, path: str) -> list[FieldError]:
    percent = _percent(value)
    if percent is None or percent <= 100:
        return []
    return [invalid(path, go_int_or_string(value), "must not be greater than 100%")]


def _selector_and_template(
    spec: Obj, path: str, kind: str, validate_template: bool
) -> list[FieldError]:
    """Selector required and non-empty; template labels matched; template validated."""
    errs: list[FieldError] = []
    selector = spec.get("selector")
    if selector is None:
        errs.append(required(child(path, "selector")))
    else:
        errs.extend(validate_label_selector(selector, child(path, "selector")))
        s = as_dict(selector)
        if not as_dict(s.get("matchLabels")) and not s.get("matchExpressions"):
            errs.append(
                invalid(
                    child(path, "selector"),
                    go_label_selector(selector),
                    f"empty selector is invalid for {kind}",
                )
            )
    parsed = selector_of(selector)
    template = as_dict(spec.get("template"))
    if parsed is None:
        return [
            *errs,
            invalid(child(path, "selector"), go_label_selector(selector), "invalid label selector"),
        ]
    labels = as_dict(as_dict(template.get("metadata")).get("labels"))
    if not parsed.is_empty and not parsed.matches({k: as_str(v) for k, v in labels.items()}):
        errs.append(
            invalid(
                child(path, "template", "metadata", "labels"),
                go_string_map(labels or None),
                _MISMATCH,
            )
        )
    if validate_template:
        errs.extend(validate_pod_template_spec(template, child(path, "template")))
    return errs


def _always_restart(spec: Obj, path: str, kind: str) -> list[FieldError]:
    tspec = as_dict(as_dict(spec.get("template")).get("spec"))
    errs: list[FieldError] = []
    if tspec.get("restartPolicy") != "Always":
        errs.append(
            not_supported(
                child(path, "template", "spec", "restartPolicy"),
                as_str(tspec.get("restartPolicy")),
                ("Always",),
            )
        )
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            forbidden(
                child(path, "template", "spec", "activeDeadlineSeconds"),
                f"activeDeadlineSeconds in {kind} is not Supported",
            )
        )
    return errs


def _meta(obj: Obj, old: Obj | None, name_fn: Any = name_is_dns_subdomain) -> list[FieldError]:
    if old is None:
        return validate_object_meta(obj.get("metadata"), True, name_fn)
    return validate_object_meta_update(obj.get("metadata"), old.get("metadata"))


def _immutable_selector(obj: Obj, old: Obj | None) -> list[FieldError]:
    if old is None:
        return []
    new_sel, old_sel = (
        as_dict(obj.get("spec")).get("selector"),
        as_dict(old.get("spec")).get("selector"),
    )
    if semantic_equal(new_sel, old_sel):  # the Go rendering is only needed for the error
        return []
    return immutable(new_sel, old_sel, "spec.selector", go_label_selector(new_sel))


def _strategy_value(strategy: Obj, type_name: str, rolling_type: str) -> GoValue:
    rolling = go_pointer_placeholder(rolling_type, strategy.get("rollingUpdate"))
    return GoValue(f'{type_name}{{Type:"{as_str(strategy.get("type"))}", RollingUpdate:{rolling}}}')


def _deployment_strategy(strategy: Obj, path: str) -> list[FieldError]:
    kind = as_str(strategy.get("type"))
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [
                forbidden(
                    child(path, "rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            ]
        return []
    if kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            return [
                required(child(path, "rollingUpdate"), "this should be defaulted and never be nil")
            ]
        r, rp = as_dict(rolling), child(path, "rollingUpdate")
        unavailable, surge = r.get("maxUnavailable"), r.get("maxSurge")
        errs = validate_positive_int_or_percent(unavailable, child(rp, "maxUnavailable"))
        errs.extend(validate_positive_int_or_percent(surge, child(rp, "maxSurge")))
        if _int_or_percent(unavailable) == 0 and _int_or_percent(surge) == 0:
            errs.append(
                invalid(
                    child(rp, "maxUnavailable"),
                    go_int_or_string(unavailable),
                    "may not be 0 when `maxSurge` is 0",
                )
            )
        return errs + _not_more_than_100_percent(unavailable, child(rp, "maxUnavailable"))
    shown = _strategy_value(strategy, "apps.DeploymentStrategy", "apps.RollingUpdateDeployment")
    return [not_supported(path, shown, ("Recreate", "RollingUpdate"))]


def validate_deployment(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = _meta(obj, old)
    errs.extend(validate_nonnegative(as_int(spec.get("replicas")), "spec.replicas"))
    errs.extend(_selector_and_template(spec, "spec", "deployment", True))
    tspec = as_dict(as_dict(spec.get("template")).get("spec"))
    if tspec.get("restartPolicy") != "Always":
        errs.append(
            not_supported(
                "spec.template.spec.restartPolicy", as_str(tspec.get("restartPolicy")), ("Always",)
            )
        )
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in ReplicaSet is not Supported",
            )
        )
    errs.extend(_deployment_strategy(as_dict(spec.get("strategy")), "spec.strategy"))
    min_ready = as_int(spec.get("minReadySeconds")) or 0
    errs.extend(validate_nonnegative(min_ready, "spec.minReadySeconds"))
    errs.extend(
        validate_nonnegative(as_int(spec.get("revisionHistoryLimit")), "spec.revisionHistoryLimit")
    )
    deadline = as_int(spec.get("progressDeadlineSeconds"))
    if deadline is not None:
        errs.extend(validate_nonnegative(deadline, "spec.progressDeadlineSeconds"))
        if deadline <= min_ready:
            errs.append(
                invalid(
                    "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
                )
            )
    return errs + _immutable_selector(obj, old)


def validate_replica_set(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = _meta(obj, old)
    errs.extend(validate_nonnegative(as_int(spec.get("replicas")), "spec.replicas"))
    errs.extend(validate_nonnegative(as_int(spec.get("minReadySeconds")), "spec.minReadySeconds"))
    # Upstream's ReplicaSet message says "deployment"; kept as it is.
    errs.extend(_selector_and_template(spec, "spec", "deployment", True))
    errs.extend(_always_restart(spec, "spec", "ReplicaSet"))
    return errs + _immutable_selector(obj, old)


def _daemon_set_strategy(strategy: Obj, path: str) -> list[FieldError]:
    kind = as_str(strategy.get("type"))
    if kind == "OnDelete":
        return []
    if kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            return [required(child(path, "rollingUpdate"))]
        r, rp = as_dict(rolling), child(path, "rollingUpdate")
        unavailable, surge = r.get("maxUnavailable"), r.get("maxSurge")
        errs = validate_positive_int_or_percent(unavailable, child(rp, "maxUnavailable"))
        errs.extend(validate_positive_int_or_percent(surge, child(rp, "maxSurge")))
        errs.extend(_not_more_than_100_percent(unavailable, child(rp, "maxUnavailable")))
        errs.extend(_not_more_than_100_percent(surge, child(rp, "maxSurge")))
        has_unavailable, has_surge = _int_or_percent(unavailable) != 0, _int_or_percent(surge) != 0
        if has_unavailable and has_surge:
            errs.append(
                invalid(
                    child(rp, "maxSurge"),
                    go_int_or_string(surge),
                    "may not be set when maxUnavailable is non-zero",
                )
            )
        elif not has_unavailable and not has_surge:
            errs.append(required(child(rp, "maxUnavailable"), "cannot be 0 when maxSurge is 0"))
        return errs
    shown = _strategy_value(strategy, "apps.DaemonSetUpdateStrategy", "apps.RollingUpdateDaemonSet")
    return [not_supported(path, shown, ("RollingUpdate", "OnDelete"))]


def validate_daemon_set(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = _meta(obj, old)
    selector = spec.get("selector")
    errs.extend(validate_label_selector(selector, "spec.selector"))
    parsed = selector_of(selector)
    template = as_dict(spec.get("template"))
    labels = {
        k: as_str(v) for k, v in as_dict(as_dict(template.get("metadata")).get("labels")).items()
    }
    if parsed is not None and not parsed.matches(labels):
        errs.append(
            invalid("spec.template.metadata.labels", go_string_map(labels or None), _MISMATCH)
        )
    s = as_dict(selector)
    if selector is not None and not as_dict(s.get("matchLabels")) and not s.get("matchExpressions"):
        errs.append(
            invalid(
                "spec.selector",
                go_label_selector(selector),
                "empty selector is invalid for daemonset",
            )
        )
    errs.extend(validate_pod_template_spec(template, "spec.template"))
    errs.extend(_always_restart(spec, "spec", "DaemonSet"))
    errs.extend(validate_nonnegative(as_int(spec.get("minReadySeconds")), "spec.minReadySeconds"))
    errs.extend(_daemon_set_strategy(as_dict(spec.get("updateStrategy")), "spec.updateStrategy"))
    errs.extend(
        validate_nonnegative(as_int(spec.get("revisionHistoryLimit")), "spec.revisionHistoryLimit")
    )
    return errs + _immutable_selector(obj, old)


def _stateful_set_spec(spec: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    policy = as_str(spec.get("podManagementPolicy"))
    if not policy:
        errs.append(required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(
            invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'")
        )
    strategy = as_dict(spec.get("updateStrategy"))
    kind = as_str(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    if not kind:
        errs.append(required("spec.updateStrategy"))
    elif kind == "OnDelete":
        if rolling is not None:
            errs.append(
                invalid(
                    "spec.updateStrategy.rollingUpdate",
                    GoValue("apps.RollingUpdateStatefulSetStrategy{...}"),
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            )
    elif kind == "RollingUpdate":
        if rolling is not None:
            errs.extend(
                _stateful_rolling_update(as_dict(rolling), "spec.updateStrategy.rollingUpdate")
            )
    else:
        shown = _strategy_value(
            strategy, "apps.StatefulSetUpdateStrategy", "apps.RollingUpdateStatefulSetStrategy"
        )
        errs.append(invalid("spec.updateStrategy", shown, "must be 'RollingUpdate' or 'OnDelete'"))
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if retention is not None:
        for field in ("whenDeleted", "whenScaled"):
            value = as_str(as_dict(retention).get(field))
            if value not in ("Retain", "Delete"):
                errs.append(
                    not_supported(
                        child("spec.persistentVolumeClaimRetentionPolicy", field),
                        value,
                        ("Retain", "Delete"),
                    )
                )
    errs.extend(validate_nonnegative(as_int(spec.get("replicas")), "spec.replicas"))
    errs.extend(validate_nonnegative(as_int(spec.get("minReadySeconds")), "spec.minReadySeconds"))
    if spec.get("ordinals") is not None:
        errs.extend(
            validate_nonnegative(
                as_int(as_dict(spec["ordinals"]).get("start")), "spec.ordinals.start"
            )
        )
    errs.extend(_selector_and_template(spec, "spec", "statefulset", False))
    template_meta = as_dict(as_dict(spec.get("template")).get("metadata"))
    errs.extend(validate_labels(template_meta.get("labels"), "spec.template.labels"))
    errs.extend(validate_annotations(template_meta.get("annotations"), "spec.template.annotations"))
    errs.extend(
        validate_pod_specific_annotations(
            template_meta.get("annotations"),
            as_dict(spec.get("template")).get("spec"),
            "spec.template.annotations",
        )
    )
    errs.extend(_always_restart(spec, "spec", "StatefulSet"))
    return errs


def _stateful_rolling_update(rolling: Obj, path: str) -> list[FieldError]:
    errs = validate_nonnegative(as_int(rolling.get("partition")), child(path, "partition"))
    unavailable = rolling.get("maxUnavailable")
    if unavailable is not None:
        p = child(path, "maxUnavailable")
        errs.extend(validate_positive_int_or_percent(unavailable, p))
        if _int_or_percent(unavailable) == 0:
            errs.append(invalid(p, go_int_or_string(unavailable), "cannot be 0"))
        errs.extend(_not_more_than_100_percent(unavailable, p))
    return errs


_STS_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def validate_stateful_set(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = _meta(obj, old, name_is_dns_label)
    errs.extend(_stateful_set_spec(spec))
    if old is not None:
        new_rest = {k: v for k, v in spec.items() if k not in _STS_MUTABLE}
        old_rest = {k: v for k, v in as_dict(old.get("spec")).items() if k not in _STS_MUTABLE}
        if not semantic_equal(new_rest, old_rest):
            errs.append(
                forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                    "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                    "'minReadySeconds' are forbidden",
                )
            )
    return errs


def validate_controller_revision(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    errs = (
        [] if old is None else validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    )
    errs.extend(validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain))
    if obj.get("data") is None:
        errs.append(required("data", "data is mandatory"))
    errs.extend(validate_nonnegative(as_int(obj.get("revision")), "revision"))
    if old is not None and not semantic_equal(obj.get("data"), old.get("data")):
        errs.append(invalid("data", GoValue("runtime.RawExtension{...}"), "field is immutable"))
    return errs
