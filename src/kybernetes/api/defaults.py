"""Per-kind defaulting, as kube-apiserver 1.32 applies it when it decodes a request body.

``apply_defaults(group, version, kind, obj)`` fills in what upstream's ``SetDefaults_*``
functions and the ``+default=`` markers of ``k8s.io/api`` fill in, in place, for the built-in
kinds the API server serves. Invariants:

- Idempotent: defaulting a defaulted object changes nothing (tests check every manifest).
- Only absent (or Go-zero) fields are set; nothing present is overwritten, except where upstream
  itself normalises (a Service with ``sessionAffinity: None`` loses ``sessionAffinityConfig``,
  resource lists are rounded up to milli-units and written in canonical quantity form).
- Pod templates get PodSpec defaults but not the Pod-only ones (requests from limits,
  ``enableServiceLinks``, host ports under ``hostNetwork``), as upstream.

What upstream does in registry strategies or allocators rather than in defaulting is kept out of
``apply_defaults`` and offered as separate helpers the registry calls at the same points:
``prepare_namespace_for_create`` (the ``kubernetes`` finalizer, phase Active),
``generate_job_selector`` (``PrepareForCreate`` of Jobs), ``normalize_cluster_ips`` and
``default_service_ip_families`` (the Service REST layer and its IP allocator).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from kybernetes.api.podspec_defaults import (
    DECLARATIVE_VOLUME_DEFAULTS,
    Obj,
    dict_at,
    dicts,
    image_tag,
    pod,
    pvc_spec,
    resource_list,
    setdefault,
    template,
)

__all__ = [
    "apply_defaults",
    "default_service_ip_families",
    "generate_job_selector",
    "image_tag",
    "normalize_cluster_ips",
    "prepare_namespace_for_create",
]

# --------------------------------------------------------------------------------------------
# Other core kinds.


def _pvc(obj: Obj) -> None:
    setdefault(dict_at(obj, "status"), "phase", "Pending")
    pvc_spec(dict_at(obj, "spec"))
    status = obj["status"]
    resource_list(status.get("capacity"))
    resource_list(status.get("allocatedResources"))


def _pv(obj: Obj) -> None:
    setdefault(dict_at(obj, "status"), "phase", "Pending")
    spec = dict_at(obj, "spec")
    setdefault(spec, "persistentVolumeReclaimPolicy", "Retain")
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    resource_list(spec.get("capacity"))
    if isinstance(spec.get("hostPath"), dict) and spec["hostPath"].get("type") is None:
        spec["hostPath"]["type"] = ""
    for source, defaults in DECLARATIVE_VOLUME_DEFAULTS.items():
        if isinstance(spec.get(source), dict):
            for field, default in defaults:
                if field != "iscsiInterface" or source == "iscsi":
                    spec[source].setdefault(field, default)


def _service(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    setdefault(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        client_ip = config.get("clientIP") if isinstance(config, dict) else None
        if not isinstance(client_ip, dict) or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    setdefault(spec, "type", "ClusterIP")
    for port in dicts(spec.get("ports")):
        setdefault(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port", 0)
    kind = spec["type"]
    accessible = kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if accessible:
        setdefault(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and kind in (
        "NodePort",
        "LoadBalancer",
        "ClusterIP",
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if kind == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True
        ingress = (
            obj.get("status", {}).get("loadBalancer", {}).get("ingress")
            if isinstance(obj.get("status"), dict)
            else None
        )
        for item in dicts(ingress):
            if item.get("ip") and item.get("ipMode") is None:
                item["ipMode"] = "VIP"


def _namespace(obj: Obj) -> None:
    name = dict_at(obj, "metadata").get("name")
    if name:
        dict_at(obj["metadata"], "labels")["kubernetes.io/metadata.name"] = name
    setdefault(dict_at(obj, "status"), "phase", "Active")


def _node(obj: Obj) -> None:
    status = obj.get("status")
    if not isinstance(status, dict):
        return
    if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])
    resource_list(status.get("capacity"))
    resource_list(status.get("allocatable"))


def _limit_range(obj: Obj) -> None:
    for item in dicts(dict_at(obj, "spec").get("limits")):
        if item.get("type") == "Container":
            default, request = dict_at(item, "default"), dict_at(item, "defaultRequest")
            for name, value in (item.get("max") or {}).items():
                default.setdefault(name, value)
            for name, value in default.items():
                request.setdefault(name, value)
            for name, value in (item.get("min") or {}).items():
                request.setdefault(name, value)
        for field in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            resource_list(item.get(field))


def _resource_quota(obj: Obj) -> None:
    resource_list(dict_at(obj, "spec").get("hard"))
    status = obj.get("status")
    if isinstance(status, dict):
        resource_list(status.get("hard"))
        resource_list(status.get("used"))


def _endpoints(obj: Obj) -> None:
    for subset in dicts(obj.get("subsets")):
        for port in dicts(subset.get("ports")):
            setdefault(port, "protocol", "TCP")


def _replication_controller(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    tmpl = spec.get("template")
    labels = tmpl.get("metadata", {}).get("labels") if isinstance(tmpl, dict) else None
    if isinstance(labels, dict):
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        if not dict_at(obj, "metadata").get("labels"):
            obj["metadata"]["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    template(spec)


def _secret(obj: Obj) -> None:
    setdefault(obj, "type", "Opaque")


# --------------------------------------------------------------------------------------------
# apps, batch.


def _deployment(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = dict_at(spec, "strategy")
    setdefault(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = dict_at(strategy, "rollingUpdate")
        for field in ("maxUnavailable", "maxSurge"):
            if rolling.get(field) is None:
                rolling[field] = "25%"
    for field, default in (("revisionHistoryLimit", 10), ("progressDeadlineSeconds", 600)):
        if spec.get(field) is None:
            spec[field] = default
    template(spec)


def _daemon_set(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    strategy = dict_at(spec, "updateStrategy")
    setdefault(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = dict_at(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = 1
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    template(spec)


def _stateful_set(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    setdefault(spec, "podManagementPolicy", "OrderedReady")
    strategy = dict_at(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        dict_at(strategy, "rollingUpdate")
    rolling = strategy.get("rollingUpdate")
    if (
        strategy["type"] == "RollingUpdate"
        and isinstance(rolling, dict)
        and rolling.get("partition") is None
    ):
        rolling["partition"] = 0
    retention = dict_at(spec, "persistentVolumeClaimRetentionPolicy")
    setdefault(retention, "whenDeleted", "Retain")
    setdefault(retention, "whenScaled", "Retain")
    for field, default in (("replicas", 1), ("revisionHistoryLimit", 10)):
        if spec.get(field) is None:
            spec[field] = default
    template(spec)
    for claim in dicts(spec.get("volumeClaimTemplates")):
        _pvc(claim)


def _replica_set(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    template(spec)


def _job(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2**31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6
    tmpl = spec.get("template")
    labels = tmpl.get("metadata", {}).get("labels") if isinstance(tmpl, dict) else None
    if isinstance(labels, dict) and not dict_at(obj, "metadata").get("labels"):
        obj["metadata"]["labels"] = dict(labels)
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    policy = spec.get("podFailurePolicy")
    if isinstance(policy, dict):
        for rule in dicts(policy.get("rules")):
            for pattern in dicts(rule.get("onPodConditions")):
                setdefault(pattern, "status", "True")
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = (
            "Failed" if isinstance(policy, dict) else "TerminatingOrFailed"
        )
    template(spec)


def _cron_job(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    setdefault(spec, "concurrencyPolicy", "Allow")
    for field, default in (
        ("suspend", False),
        ("successfulJobsHistoryLimit", 3),
        ("failedJobsHistoryLimit", 1),
    ):
        if spec.get(field) is None:
            spec[field] = default
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        template(dict_at(job_template, "spec"))


# --------------------------------------------------------------------------------------------
# The other groups.


def _hpa_v1(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1


_SCALE_UP: Obj = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_SCALE_DOWN: Obj = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _scaling_rules(given: object, defaults: Obj) -> Obj:
    """``copyHPAScalingRules``: the defaults, overridden by every non-nil given field."""
    rules = copy.deepcopy(defaults)
    if isinstance(given, dict):
        rules.update({k: v for k, v in given.items() if v is not None})
    return rules


def _hpa_v2(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _scaling_rules(behavior.get("scaleUp"), _SCALE_UP)
        behavior["scaleDown"] = _scaling_rules(behavior.get("scaleDown"), _SCALE_DOWN)


def _network_policy(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    for direction in ("ingress", "egress"):
        for rule in dicts(spec.get(direction)):
            for port in dicts(rule.get("ports")):
                setdefault(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _ingress_class(obj: Obj) -> None:
    parameters = dict_at(obj, "spec").get("parameters")
    if isinstance(parameters, dict) and parameters.get("scope") is None:
        parameters["scope"] = "Cluster"


def _role_binding(obj: Obj) -> None:
    role_ref = obj.get("roleRef")
    if isinstance(role_ref, dict):
        setdefault(role_ref, "apiGroup", "rbac.authorization.k8s.io")
    for subject in dicts(obj.get("subjects")):
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"


def _priority_class(obj: Obj) -> None:
    if obj.get("preemptionPolicy") is None:
        obj["preemptionPolicy"] = "PreemptLowerPriority"


def _storage_class(obj: Obj) -> None:
    if obj.get("reclaimPolicy") is None:
        obj["reclaimPolicy"] = "Delete"
    if obj.get("volumeBindingMode") is None:
        obj["volumeBindingMode"] = "Immediate"


def _endpoint_slice(obj: Obj) -> None:
    for port in dicts(obj.get("ports")):
        if port.get("name") is None:
            port["name"] = ""
        if port.get("protocol") is None:
            port["protocol"] = "TCP"


def _crd(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    names = dict_at(spec, "names")
    kind = names["kind"] if isinstance(names.get("kind"), str) else ""
    if not names.get("singular"):
        names["singular"] = kind.lower()
    if not names.get("listKind") and kind:
        names["listKind"] = kind + "List"
    conversion = spec.get("conversion")
    if conversion is None:
        spec["conversion"] = {"strategy": "None"}
    elif isinstance(conversion, dict):
        service = (
            conversion.get("webhook", {}).get("clientConfig", {}).get("service")
            if isinstance(conversion.get("webhook"), dict)
            else None
        )
        if isinstance(service, dict) and service.get("port") is None:
            service["port"] = 443
    status = obj.get("status")
    if not isinstance(status, dict) or not status.get("storedVersions"):
        for version in dicts(spec.get("versions")):
            if version.get("storage") is True:
                dict_at(obj, "status")["storedVersions"] = [version.get("name", "")]
                break


def _webhooks(obj: Obj, *, mutating: bool) -> None:
    """``SetDefaults_{Mutating,Validating}Webhook``, ``_Rule`` and ``_ServiceReference``."""
    for hook in dicts(obj.get("webhooks")):
        setdefault(hook, "failurePolicy", "Fail")
        setdefault(hook, "matchPolicy", "Equivalent")
        setdefault(hook, "namespaceSelector", {})
        setdefault(hook, "objectSelector", {})
        setdefault(hook, "timeoutSeconds", 10)
        if mutating:
            setdefault(hook, "reinvocationPolicy", "Never")
        for rule in dicts(hook.get("rules")):
            setdefault(rule, "scope", "*")
        client = hook.get("clientConfig")
        service = client.get("service") if isinstance(client, dict) else None
        if isinstance(service, dict):
            setdefault(service, "port", 443)


def _mutating_webhooks(obj: Obj) -> None:
    _webhooks(obj, mutating=True)


def _validating_webhooks(obj: Obj) -> None:
    _webhooks(obj, mutating=False)


_DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Pod"): pod,
    ("", "PodTemplate"): template,
    ("", "ReplicationController"): _replication_controller,
    ("", "Service"): _service,
    ("", "Secret"): _secret,
    ("", "Namespace"): _namespace,
    ("", "Node"): _node,
    ("", "PersistentVolume"): _pv,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "Endpoints"): _endpoints,
    ("", "LimitRange"): _limit_range,
    ("", "ResourceQuota"): _resource_quota,
    ("apps", "Deployment"): _deployment,
    ("apps", "DaemonSet"): _daemon_set,
    ("apps", "StatefulSet"): _stateful_set,
    ("apps", "ReplicaSet"): _replica_set,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cron_job,
    ("networking.k8s.io", "NetworkPolicy"): _network_policy,
    ("networking.k8s.io", "IngressClass"): _ingress_class,
    ("rbac.authorization.k8s.io", "RoleBinding"): _role_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _role_binding,
    ("scheduling.k8s.io", "PriorityClass"): _priority_class,
    ("storage.k8s.io", "StorageClass"): _storage_class,
    ("discovery.k8s.io", "EndpointSlice"): _endpoint_slice,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _mutating_webhooks,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _validating_webhooks,
}


def apply_defaults(group: str, version: str, kind: str, obj: Obj) -> None:
    """Default ``obj`` (a ``group/version`` ``kind``) in place; unknown kinds are left alone."""
    if group == "autoscaling" and kind == "HorizontalPodAutoscaler":
        (_hpa_v1 if version == "v1" else _hpa_v2)(obj)
        return
    defaulter = _DEFAULTERS.get((group, kind))
    if defaulter is not None:
        defaulter(obj)


# --------------------------------------------------------------------------------------------
# Registry-strategy steps (not SetDefaults_*): the registry calls these at create/update time.


def prepare_namespace_for_create(obj: Obj) -> None:
    """Namespace ``PrepareForCreate``: status Active, and the ``kubernetes`` finalizer added."""
    obj["status"] = {"phase": "Active"}
    finalizers = dict_at(obj, "spec").get("finalizers")
    if not isinstance(finalizers, list):
        finalizers = []
    if "kubernetes" not in finalizers:
        obj["spec"]["finalizers"] = [*finalizers, "kubernetes"]


def generate_job_selector(obj: Obj) -> None:
    """Job ``PrepareForCreate``: unless ``manualSelector``, label the template with the job's
    name and uid and select on ``batch.kubernetes.io/controller-uid``. Needs ``metadata.uid``."""
    spec = dict_at(obj, "spec")
    if spec.get("manualSelector") is True:
        return
    meta = dict_at(obj, "metadata")
    name, uid = meta.get("name", ""), meta.get("uid", "")
    labels = dict_at(dict_at(dict_at(spec, "template"), "metadata"), "labels")
    for label in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(label, name)
    for label in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(label, uid)
    match_labels = dict_at(dict_at(spec, "selector"), "matchLabels")
    match_labels.setdefault("batch.kubernetes.io/controller-uid", uid)


def normalize_cluster_ips(new: Obj, old: Obj | None = None) -> None:
    """``normalizeClusterIPs``: keep ``spec.clusterIP`` and ``spec.clusterIPs`` in step the way
    the Service REST layer does before validation (old clients only send ``clusterIP``)."""
    spec = dict_at(new, "spec")
    ip, ips = spec.get("clusterIP") or "", spec.get("clusterIPs") or []
    if old is None:
        if ip and not ips:
            spec["clusterIPs"] = [ip]
        return
    old_spec = dict_at(old, "spec")
    old_ip, old_ips = old_spec.get("clusterIP") or "", old_spec.get("clusterIPs") or []
    if old_ips and not ips and old_ip == ip:
        spec["clusterIPs"] = ips = list(old_ips)
    if old_ip != ip:
        same = ips == old_ips
        if old_ip and not ip:
            if same:
                spec.pop("clusterIPs", None)
        elif same:
            spec["clusterIPs"] = [ip]


def default_service_ip_families(obj: Obj, cluster_families: tuple[str, ...] = ("IPv4",)) -> None:
    """What the 1.32 IP allocator records on create: ``ipFamilyPolicy`` (SingleStack unless
    asked) and ``ipFamilies`` (the cluster's primary family, both when dual-stack is required
    and the cluster has two). ExternalName services get neither."""
    spec = dict_at(obj, "spec")
    if spec.get("type") == "ExternalName":
        return
    policy = spec.get("ipFamilyPolicy") or "SingleStack"
    spec["ipFamilyPolicy"] = policy
    if not spec.get("ipFamilies"):
        wants_two = policy in ("PreferDualStack", "RequireDualStack") and len(cluster_families) > 1
        spec["ipFamilies"] = list(cluster_families[:2] if wants_two else cluster_families[:1])
