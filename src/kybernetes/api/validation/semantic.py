"""The single entry point of semantic validation: ``validate_object(group, kind, obj, old)``.

It runs what kube-apiserver runs for a create (``old is None``) or an update of a built-in
object, after decoding, defaulting and the registry's ``PrepareFor*`` steps:

- create (``rest.BeforeCreate``): the kind's rules; only when they pass, the checks every kind
  gets (metadata with path-segment names, namespace by scope), so specific messages win;
- update (``rest.BeforeUpdate``): the common metadata checks and metadata-update rules, then the
  kind's update rules (immutable fields included). Upstream reports an error found by both
  passes twice in the causes; it is reported once here.

``invalid(kind, name, errors, group=...)`` wraps a non-empty error list in the 422 ``Invalid``
``StatusError`` the API server returns. Kinds without rules of their own still get the common
checks; kinds the resource table does not know get none.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kybernetes.api import resources
from kybernetes.api.errors import FieldError, Invalid, new_invalid
from kybernetes.api.validation import (
    admissionregistration,
    apiextensions,
    apps,
    autoscaling,
    batch,
    coordination,
    core,
    corepolicy,
    discovery,
    events,
    networking,
    policy,
    rbac,
    scheduling,
    services,
    storage,
)
from kybernetes.api.validation.common import as_dict, is_valid_path_segment_name
from kybernetes.api.validation.objectmeta import (
    forget_checked_metadata,
    remember_checked_metadata,
    validate_object_meta,
    validate_object_meta_update,
)

__all__ = ["invalid", "validate_object"]

Validator = Callable[[Mapping[str, Any], Mapping[str, Any] | None], list[FieldError]]


def _hpa(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    # autoscaling/v1 has only a CPU target where v2 has metrics and behavior.
    version = "v1" if obj.get("apiVersion") == "autoscaling/v1" else "v2"
    return autoscaling.validate_horizontal_pod_autoscaler(obj, old, version=version)


def _service(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    return (
        services.validate_service(obj)
        if old is None
        else services.validate_service_update(obj, old)
    )


_VALIDATORS: dict[tuple[str, str], Validator] = {
    ("", "Pod"): core.validate_pod,
    ("", "PodTemplate"): core.validate_pod_template,
    ("", "ReplicationController"): core.validate_replication_controller,
    ("", "Service"): _service,
    ("", "ConfigMap"): core.validate_config_map,
    ("", "Secret"): core.validate_secret,
    ("", "ServiceAccount"): core.validate_service_account,
    ("", "Namespace"): core.validate_namespace,
    ("", "Node"): core.validate_node,
    ("", "Endpoints"): core.validate_endpoints,
    ("", "Event"): functools.partial(events.validate_event, group=""),
    ("", "PersistentVolumeClaim"): corepolicy.validate_pvc,
    ("", "PersistentVolume"): corepolicy.validate_pv,
    ("", "ResourceQuota"): corepolicy.validate_resource_quota,
    ("", "LimitRange"): corepolicy.validate_limit_range,
    ("apps", "Deployment"): apps.validate_deployment,
    ("apps", "ReplicaSet"): apps.validate_replica_set,
    ("apps", "StatefulSet"): apps.validate_stateful_set,
    ("apps", "DaemonSet"): apps.validate_daemon_set,
    ("apps", "ControllerRevision"): apps.validate_controller_revision,
    ("batch", "Job"): batch.validate_job,
    ("batch", "CronJob"): batch.validate_cron_job,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
    ("networking.k8s.io", "Ingress"): networking.validate_ingress,
    ("networking.k8s.io", "IngressClass"): networking.validate_ingress_class,
    ("networking.k8s.io", "NetworkPolicy"): networking.validate_network_policy,
    ("policy", "PodDisruptionBudget"): policy.validate_pod_disruption_budget,
    ("rbac.authorization.k8s.io", "Role"): rbac.validate_role,
    ("rbac.authorization.k8s.io", "ClusterRole"): functools.partial(
        rbac.validate_role, namespaced=False
    ),
    ("rbac.authorization.k8s.io", "RoleBinding"): rbac.validate_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): functools.partial(
        rbac.validate_binding, namespaced=False
    ),
    ("scheduling.k8s.io", "PriorityClass"): scheduling.validate_priority_class,
    ("coordination.k8s.io", "Lease"): coordination.validate_lease,
    ("storage.k8s.io", "StorageClass"): storage.validate_storage_class,
    ("discovery.k8s.io", "EndpointSlice"): discovery.validate_endpoint_slice,
    ("events.k8s.io", "Event"): functools.partial(events.validate_event, group="events.k8s.io"),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
    ): apiextensions.validate_custom_resource_definition,
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ): admissionregistration.validate_mutating_configuration,
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ): admissionregistration.validate_validating_configuration,
}


@functools.cache
def _namespaced(group: str, kind: str) -> bool | None:
    for info in resources.by_kind(kind):
        if info.group == group:
            return info.namespaced
    return None


def _path_segment(name: str, prefix: bool) -> list[str]:
    return is_valid_path_segment_name(name)


def _dedupe(errors: list[FieldError]) -> list[FieldError]:
    seen: set[tuple[str, str, str]] = set()
    out: list[FieldError] = []
    for error in errors:
        token = (error.type.value, error.field, str(error))
        if token not in seen:
            seen.add(token)
            out.append(error)
    return out


def validate_object(
    group: str, kind: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[FieldError]:
    """The field errors kube-apiserver would report for creating (or updating from ``old``)
    the defaulted object ``obj`` of ``group``/``kind``; empty when it is valid."""
    token = remember_checked_metadata()
    try:
        return _validate(group, kind, obj, old)
    finally:
        forget_checked_metadata(token)


def _validate(
    group: str, kind: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> list[FieldError]:
    namespaced = _namespaced(group, kind)
    validator = _VALIDATORS.get((group, kind))
    if old is None:
        errors = validator(obj, None) if validator is not None else []
        if not errors and namespaced is not None:
            errors = validate_object_meta(
                obj.get("metadata"), namespaced, _path_segment, kube_finalizers=False
            )
        return errors
    errors = []
    if namespaced is not None:
        meta, old_meta = as_dict(obj.get("metadata")), as_dict(old.get("metadata"))
        errors = validate_object_meta(meta, namespaced, _path_segment, kube_finalizers=False)
        errors.extend(validate_object_meta_update(meta, old_meta, kube_finalizers=False))
    if validator is not None:
        errors.extend(validator(obj, old))
    return _dedupe(errors)


def invalid(kind: str, name: str, errors: Sequence[FieldError], *, group: str = "") -> Invalid:
    """The 422 ``Invalid`` error for ``errors`` (``The Deployment "web" is invalid: ...``)."""
    return new_invalid(kind, name, list(errors), group=group)
