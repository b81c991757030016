"""PodSpec and PodTemplateSpec validation (``ValidatePodSpec``, ``ValidatePodTemplateSpec``).

The walk follows upstream's order: volumes, resource claims, containers, init containers,
ephemeral containers, host-network ports, restart and DNS policies, node selector, security
context, affinity, DNS config, readiness and scheduling gates, topology spread, then the scalar
fields. ``resource_is_pod`` marks a Pod (not a template): a Pod's host ports must equal its
container ports under ``hostNetwork``, which templates leave to defaulting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from kybernetes.api.validation.common import (
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    inclusive_range_error,
    index,
    is_valid_ip,
    parse_ip,
    validate_dns1123_label,
    validate_dns1123_subdomain,
    validate_labels,
    validate_qualified_name,
)
from kybernetes.api.validation.containers import (
    validate_container_common,
    validate_lifecycle,
    validate_object_field_selector,
    validate_probe,
)
from kybernetes.api.validation.names import (
    is_dns1123_subdomain,
    name_is_dns_subdomain,
)
from kybernetes.api.validation.objectmeta import validate_annotations
from kybernetes.api.validation.placement import (
    validate_affinity,
    validate_tolerations,
    validate_topology_spread,
)
from kybernetes.api.validation.resourcelists import validate_resource_requirements
from kybernetes.api.validation.securitycontext import (
    validate_pod_security_context,
)
from kybernetes.api.validation.volumes import validate_volumes

__all__ = ["validate_pod_spec", "validate_pod_specific_annotations", "validate_pod_template_spec"]

_MAX_INT32 = 2**31 - 1
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_PROBES = (
    ("liveness", "livenessProbe"),
    ("readiness", "readinessProbe"),
    ("startup", "startupProbe"),
)
_INIT_ONLY = "may not be set for init containers without restartPolicy=Always"


def _field_selector(sel: Mapping[str, Any], exprs: tuple[str, ...], path: str) -> list[FieldError]:
    return validate_object_field_selector(sel, exprs, path)


def _host_ports(containers: list[dict[str, Any]], path: str) -> list[FieldError]:
    """``AccumulateUniqueHostPorts``: one (protocol, hostIP, hostPort) per pod."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for ci, ctr in enumerate(containers):
        for pi, raw in enumerate(as_list(ctr.get("ports"))):
            port = as_dict(raw)
            host_port = as_int(port.get("hostPort")) or 0
            if not host_port:
                continue
            token = f"{as_str(port.get('protocol'))}/{as_str(port.get('hostIP'))}/{host_port}"
            if token in seen:
                errs.append(
                    duplicate(child(index(child(index(path, ci), "ports"), pi), "hostPort"), token)
                )
            seen.add(token)
    return errs


def _containers(
    spec: Mapping[str, Any],
    volumes: Mapping[str, Any],
    claims: frozenset[str],
    host_users: bool,
    path: str,
) -> list[FieldError]:
    containers = [as_dict(c) for c in as_list(spec.get("containers"))]
    if not containers:
        return [required(child(path, "containers"))]
    grace = as_int(spec.get("terminationGracePeriodSeconds"))
    restart = as_str(spec.get("restartPolicy"))
    errs: list[FieldError] = []
    names: set[str] = set()
    base = child(path, "containers")
    for i, ctr in enumerate(containers):
        p = index(base, i)
        errs.extend(validate_container_common(ctr, volumes, claims, restart, host_users, p))
        name = as_str(ctr.get("name"))
        if name in names:
            errs.append(duplicate(child(p, "name"), name))
        names.add(name)
        if ctr.get("lifecycle") is not None:
            errs.extend(validate_lifecycle(ctr.get("lifecycle"), grace, child(p, "lifecycle")))
        for kind, field in _PROBES:
            if ctr.get(field) is not None:
                errs.extend(validate_probe(ctr.get(field), kind, grace, child(p, field)))
        if ctr.get("restartPolicy") is not None:
            errs.append(
                forbidden(child(p, "restartPolicy"), "may not be set for non-init containers")
            )
    return errs + _host_ports(containers, base)


def _init_containers(
    spec: Mapping[str, Any],
    volumes: Mapping[str, Any],
    claims: frozenset[str],
    host_users: bool,
    path: str,
) -> list[FieldError]:
    grace = as_int(spec.get("terminationGracePeriodSeconds"))
    restart = as_str(spec.get("restartPolicy"))
    names = {as_str(as_dict(c).get("name")) for c in as_list(spec.get("containers"))}
    errs: list[FieldError] = []
    base = child(path, "initContainers")
    for i, raw in enumerate(as_list(spec.get("initContainers"))):
        ctr, p = as_dict(raw), index(base, i)
        errs.extend(validate_container_common(ctr, volumes, claims, restart, host_users, p))
        always = False
        policy = ctr.get("restartPolicy")
        if policy is not None:
            if policy != "Always":
                errs.append(not_supported(child(p, "restartPolicy"), as_str(policy), ("Always",)))
            always = policy == "Always"
        name = as_str(ctr.get("name"))
        if name in names:
            errs.append(duplicate(child(p, "name"), name))
        elif name:
            names.add(name)
        errs.extend(_host_ports([ctr], base))
        if always:
            if ctr.get("lifecycle") is not None:
                errs.extend(validate_lifecycle(ctr.get("lifecycle"), grace, child(p, "lifecycle")))
            for kind, field in _PROBES:
                if ctr.get(field) is not None:
                    errs.extend(validate_probe(ctr.get(field), kind, grace, child(p, field)))
        else:
            hooks = ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe")
            errs.extend(forbidden(child(p, h), _INIT_ONLY) for h in hooks if ctr.get(h) is not None)
    return errs


def _dns_config(config: object, policy: str, path: str) -> list[FieldError]:
    if policy == "None":
        if config is None:
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not as_list(as_dict(config).get("nameservers")):
            return [
                required(
                    child(path, "nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )
            ]
    if config is None:
        return []
    c = as_dict(config)
    errs: list[FieldError] = []
    servers = [as_str(s) for s in as_list(c.get("nameservers"))]
    if len(servers) > 3:
        errs.append(
            invalid(child(path, "nameservers"), servers, "must not have more than 3 nameservers")
        )
    for i, server in enumerate(servers):
        if parse_ip(server) is None:  # the path is only built for an error
            errs.extend(is_valid_ip(index(child(path, "nameservers"), i), server))
    searches = [as_str(s) for s in as_list(c.get("searches"))]
    if len(searches) > 32:
        errs.append(
            invalid(child(path, "searches"), searches, "must not have more than 32 search paths")
        )
    if len(" ".join(searches)) > 2048:
        errs.append(
            invalid(
                child(path, "searches"),
                searches,
                "must not have more than 2048 characters (including spaces) in the search list",
            )
        )
    for i, search in enumerate(searches):
        if is_dns1123_subdomain(search.removesuffix(".")):
            errs.extend(
                validate_dns1123_subdomain(
                    search.removesuffix("."), index(child(path, "searches"), i)
                )
            )
    for i, option in enumerate(as_list(c.get("options"))):
        if not as_str(as_dict(option).get("name")):
            errs.append(required(index(child(path, "options"), i), "must not be empty"))
    return errs


def validate_pod_spec(
    spec_value: object, path: str, *, pod_name: str = "", resource_is_pod: bool = False
) -> list[FieldError]:
    """``ValidatePodSpec``; ``pod_name`` names ephemeral volume claims (Pods only)."""
    spec = as_dict(spec_value)
    errs: list[FieldError] = []
    if spec.get("terminationGracePeriodSeconds") is None:
        errs.append(required(child(path, "terminationGracePeriodSeconds")))
    sc = as_dict(spec.get("securityContext"))
    host_users = sc.get("hostUsers") is not False
    volumes, vol_errs = validate_volumes(
        spec.get("volumes"), pod_name, child(path, "volumes"), _field_selector
    )
    errs.extend(vol_errs)
    claims = frozenset(
        as_str(as_dict(c).get("name"))
        for c in as_list(spec.get("resourceClaims"))
        if as_str(as_dict(c).get("name"))
    )
    if spec.get("resourceClaims"):  # the list checks report nothing for an empty list
        errs.extend(_resource_claims(spec.get("resourceClaims"), child(path, "resourceClaims")))
    errs.extend(_containers(spec, volumes, claims, host_users, path))
    if spec.get("initContainers"):
        errs.extend(_init_containers(spec, volumes, claims, host_users, path))
    if as_bool(spec.get("hostNetwork")):
        for i, ctr in enumerate(as_list(spec.get("containers"))):
            for j, raw in enumerate(as_list(as_dict(ctr).get("ports"))):
                port = as_dict(raw)
                host_port, ctr_port = (
                    as_int(port.get("hostPort")) or 0,
                    as_int(port.get("containerPort")) or 0,
                )
                if (resource_is_pod or host_port != 0) and host_port != ctr_port:
                    p = child(
                        index(child(index(child(path, "containers"), i), "ports"), j), "hostPort"
                    )
                    errs.append(
                        invalid(
                            p, host_port, "must match `containerPort` when `hostNetwork` is true"
                        )
                    )
    restart, dns = as_str(spec.get("restartPolicy")), as_str(spec.get("dnsPolicy"))
    if not restart:
        errs.append(required(child(path, "restartPolicy")))
    elif restart not in _RESTART_POLICIES:
        errs.append(not_supported(child(path, "restartPolicy"), restart, _RESTART_POLICIES))
    if not dns:
        errs.append(required(child(path, "dnsPolicy")))
    elif dns not in _DNS_POLICIES:
        errs.append(not_supported(child(path, "dnsPolicy"), dns, _DNS_POLICIES))
    if spec.get("nodeSelector"):
        errs.extend(validate_labels(spec.get("nodeSelector"), child(path, "nodeSelector")))
    if as_bool(sc.get("shareProcessNamespace")) and as_bool(spec.get("hostPID")):
        errs.append(
            invalid(
                child(path, "securityContext", "shareProcessNamespace"),
                True,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            )
        )
    if spec.get("securityContext") is not None:
        errs.extend(
            validate_pod_security_context(
                spec.get("securityContext"), child(path, "securityContext")
            )
        )
    if spec.get("affinity"):  # an empty affinity has nothing to check
        errs.extend(validate_affinity(spec.get("affinity"), child(path, "affinity")))
    if spec.get("dnsConfig") is not None or dns == "None":
        errs.extend(_dns_config(spec.get("dnsConfig"), dns, child(path, "dnsConfig")))
    for i, gate in enumerate(as_list(spec.get("readinessGates"))):
        errs.extend(
            validate_qualified_name(
                as_str(as_dict(gate).get("conditionType")),
                child(index(child(path, "readinessGates"), i), "conditionType"),
            )
        )
    seen_gates: set[str] = set()
    for i, gate in enumerate(as_list(spec.get("schedulingGates"))):
        name, p = as_str(as_dict(gate).get("name")), index(child(path, "schedulingGates"), i)
        errs.extend(validate_qualified_name(name, p))
        if name in seen_gates:
            errs.append(duplicate(p, name))
        seen_gates.add(name)
    if spec.get("topologySpreadConstraints"):
        errs.extend(
            validate_topology_spread(
                spec.get("topologySpreadConstraints"), child(path, "topologySpreadConstraints")
            )
        )
    if not host_users:
        for field, shown in (
            ("hostNetwork", "hostNetwork"),
            ("hostPID", "HostPID"),
            ("hostIPC", "HostIPC"),
        ):
            if as_bool(spec.get(field)):
                errs.append(forbidden(child(path, shown), "when `pod.Spec.HostUsers` is false"))
    errs.extend(_scalar_fields(spec, path))
    return errs


def _resource_claims(claims: object, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, raw in enumerate(as_list(claims)):
        claim, p = as_dict(raw), index(path, i)
        name = as_str(claim.get("name"))
        if not name:
            errs.append(required(child(p, "name")))
        elif name in names:
            errs.append(duplicate(child(p, "name"), name))
        else:
            errs.extend(validate_dns1123_label(name, child(p, "name")))
            names.add(name)
        has_claim, has_template = (
            claim.get("resourceClaimName") is not None,
            claim.get("resourceClaimTemplateName") is not None,
        )
        if has_claim and has_template:
            errs.append(
                invalid(
                    p,
                    "",
                    "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be "
                    "specified",
                )
            )
        if not has_claim and not has_template:
            errs.append(
                invalid(
                    p, "", "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"
                )
            )
    return errs


def _name_field(
    spec: Mapping[str, Any], field: str, path: str, fn: Any = name_is_dns_subdomain
) -> list[FieldError]:
    value = as_str(spec.get(field))
    if not value:
        return []
    return [invalid(child(path, field), value, m) for m in fn(value, False)]


def _scalar_fields(spec: Mapping[str, Any], path: str) -> list[FieldError]:
    errs = _name_field(spec, "serviceAccountName", path)
    errs.extend(_name_field(spec, "nodeName", path))
    deadline = as_int(spec.get("activeDeadlineSeconds"))
    if spec.get("activeDeadlineSeconds") is not None and not 1 <= (deadline or 0) <= _MAX_INT32:
        errs.append(
            invalid(
                child(path, "activeDeadlineSeconds"), deadline, inclusive_range_error(1, _MAX_INT32)
            )
        )
    for field in ("hostname", "subdomain"):
        if as_str(spec.get(field)):
            errs.extend(validate_dns1123_label(as_str(spec.get(field)), child(path, field)))
    if spec.get("tolerations"):
        errs.extend(validate_tolerations(spec.get("tolerations"), child(path, "tolerations")))
    for i, raw in enumerate(as_list(spec.get("hostAliases"))):
        alias, p = as_dict(raw), index(child(path, "hostAliases"), i)
        ip = as_str(alias.get("ip"))
        if parse_ip(ip) is None:  # paths are only built for errors
            errs.extend(is_valid_ip(child(p, "ip"), ip))
        for j, host in enumerate(as_list(alias.get("hostnames"))):
            if is_dns1123_subdomain(as_str(host)):
                errs.extend(
                    validate_dns1123_subdomain(as_str(host), index(child(p, "hostnames"), j))
                )
    errs.extend(_name_field(spec, "priorityClassName", path))
    if spec.get("runtimeClassName") is not None:
        runtime = as_str(spec.get("runtimeClassName"))
        errs.extend(
            invalid(child(path, "runtimeClassName"), runtime, m)
            for m in name_is_dns_subdomain(runtime)
        )
    preemption = spec.get("preemptionPolicy")
    if preemption is not None:
        if not preemption:
            errs.append(required(child(path, "preemptionPolicy")))
        elif preemption not in ("PreemptLowerPriority", "Never"):
            errs.append(
                not_supported(
                    child(path, "preemptionPolicy"),
                    as_str(preemption),
                    ("PreemptLowerPriority", "Never"),
                )
            )
    if spec.get("overhead") is not None:
        errs.extend(
            validate_resource_requirements(
                {"limits": spec.get("overhead")}, child(path, "overhead")
            )
        )
    if spec.get("os") is not None:
        name = as_str(as_dict(spec.get("os")).get("name"))
        if not name:
            errs.append(required(child(path, "os", "name"), "cannot be empty"))
        elif name not in ("linux", "windows"):
            errs.append(not_supported(child(path, "os"), name, ("linux", "windows")))
    return errs


def validate_pod_template_spec(template: object, path: str) -> list[FieldError]:
    """``ValidatePodTemplateSpec``: template labels and annotations, then the spec."""
    t = as_dict(template)
    meta = as_dict(t.get("metadata"))
    errs = validate_labels(meta.get("labels"), child(path, "labels"))
    errs.extend(validate_annotations(meta.get("annotations"), child(path, "annotations")))
    errs.extend(
        validate_pod_specific_annotations(
            meta.get("annotations"), t.get("spec"), child(path, "annotations")
        )
    )
    errs.extend(validate_pod_spec(t.get("spec"), child(path, "spec")))
    if as_list(as_dict(t.get("spec")).get("ephemeralContainers")):
        errs.append(
            forbidden(
                child(path, "spec", "ephemeralContainers"),
                "ephemeral containers not allowed in pod template",
            )
        )
    return errs


def validate_pod_specific_annotations(
    annotations: object, spec: object, path: str
) -> list[FieldError]:
    """``ValidatePodSpecificAnnotations``: mirror-pod and deletion-cost annotations."""
    a = as_dict(annotations)
    errs: list[FieldError] = []
    if "kubernetes.io/config.mirror" in a and not as_str(as_dict(spec).get("nodeName")):
        errs.append(
            invalid(
                f"{path}[kubernetes.io/config.mirror]",
                as_str(a["kubernetes.io/config.mirror"]),
                "must set spec.nodeName if mirror pod annotation is set",
            )
        )
    cost_key = "controller.kubernetes.io/pod-deletion-cost"
    if cost_key in a:
        text = as_str(a[cost_key])
        ok = text.lstrip("+-").isdigit() and text.isascii() and -(2**31) <= int(text) <= _MAX_INT32
        if not ok:
            errs.append(invalid(f"{path}[{cost_key}]", text, "must be a 32bit integer"))
    return errs
