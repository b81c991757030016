"""Service validation on create and update (``ValidateService``, ``ValidateServiceUpdate``).

The Service REST layer runs before this: it keeps ``clusterIP``/``clusterIPs`` in step
(``defaults.normalize_cluster_ips``) and allocates cluster IPs, node ports and the health-check
node port, so a Service reaching these checks carries what the allocator decided. On update the
primary cluster IP and IP family can never change; a secondary one may only be added or dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from kybernetes.api.validation.common import (
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    index,
    is_valid_cidr,
    is_valid_ip,
    is_valid_port_num,
    parse_ip,
    validate_dns1123_label,
    validate_dns1123_subdomain,
    validate_labels,
    validate_qualified_name,
)
from kybernetes.api.validation.containers import PROTOCOLS, validate_port_num_or_name
from kybernetes.api.validation.gofmt import GoValue, go_int_or_string, go_string_slice
from kybernetes.api.validation.names import name_is_dns1035_label
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update

__all__ = [
    "validate_node_port_range",
    "validate_non_special_ip",
    "validate_service",
    "validate_service_update",
]

_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_HINTS = "service.kubernetes.io/topology-aware-hints"
_TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"
_SOURCE_RANGES = "service.beta.kubernetes.io/load-balancer-source-ranges"


def _headless(spec: Mapping[str, Any]) -> bool:
    ips = as_list(spec.get("clusterIPs"))
    return len(ips) == 1 and ips[0] == "None"


def validate_non_special_ip(address: str, path: str) -> list[FieldError]:
    """``ValidateNonSpecialIP``: no unspecified, loopback or link-local addresses."""
    ip = parse_ip(address)
    if ip is None:
        return [invalid(path, address, "must be a valid IP address")]
    errs: list[FieldError] = []
    if ip.is_unspecified:
        errs.append(invalid(path, address, f"may not be unspecified ({address})"))
    if ip.is_loopback:
        errs.append(
            invalid(path, address, "may not be in the loopback range (127.0.0.0/8, ::1/128)")
        )
    if ip.is_link_local:
        errs.append(
            invalid(path, address, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        )
    link_local_multicast = (ip.version == 4 and str(ip).startswith("224.0.0.")) or (
        ip.version == 6 and ip.packed[0] == 0xFF and ip.packed[1] & 0x0F == 2
    )
    if link_local_multicast:
        errs.append(
            invalid(
                path,
                address,
                "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
            )
        )
    return errs


def _service_port_value(protocol: str, port: int) -> GoValue:
    return GoValue(
        f'core.ServicePort{{Name:"", Protocol:"{protocol}", AppProtocol:(*string)(nil), '
        f"Port:{port}, TargetPort:{go_int_or_string(0)}, NodePort:0}}"
    )


def _ports(spec: Mapping[str, Any], path: str) -> list[FieldError]:
    ports = [as_dict(p) for p in as_list(spec.get("ports"))]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        p = index(path, i)
        name = as_str(port.get("name"))
        if len(ports) > 1 and not name:
            errs.append(required(child(p, "name")))
        elif name:
            errs.extend(validate_dns1123_label(name, child(p, "name")))
            if name in names:
                errs.append(duplicate(child(p, "name"), name))
            names.add(name)
        number = as_int(port.get("port")) or 0
        errs.extend(invalid(child(p, "port"), number, m) for m in is_valid_port_num(number))
        protocol = as_str(port.get("protocol"))
        if not protocol:
            errs.append(required(child(p, "protocol")))
        elif protocol not in PROTOCOLS:
            errs.append(not_supported(child(p, "protocol"), protocol, PROTOCOLS))
        errs.extend(validate_port_num_or_name(port.get("targetPort"), child(p, "targetPort")))
        if port.get("appProtocol") is not None:
            errs.extend(
                validate_qualified_name(as_str(port["appProtocol"]), child(p, "appProtocol"))
            )
    return errs


def _cluster_ips(spec: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateServiceClusterIPsRelatedFields``."""
    if spec.get("type") == "ExternalName":
        return []
    errs: list[FieldError] = []
    ips_path, families_path = "spec.clusterIPs", "spec.ipFamilies"
    ip, ips = as_str(spec.get("clusterIP")), [as_str(x) for x in as_list(spec.get("clusterIPs"))]
    if ip:
        if not ips:
            errs.append(required(ips_path))
        elif ips[0] != ip:
            errs.append(
                invalid(ips_path, go_string_slice(ips), "first value must match `clusterIP`")
            )
    elif ips:
        errs.append(
            invalid(
                ips_path, go_string_slice(ips), "must be empty when `clusterIP` is not specified"
            )
        )
    families = [as_str(f) for f in as_list(spec.get("ipFamilies"))]
    seen: set[str] = set()
    for i, family in enumerate(families):
        if family not in ("IPv4", "IPv6"):
            errs.append(not_supported(index(families_path, i), family, ("IPv4", "IPv6")))
        if family in seen:
            errs.append(duplicate(index(families_path, i), family))
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    policies = ("PreferDualStack", "RequireDualStack", "SingleStack")
    if policy is not None and policy not in policies:
        errs.append(not_supported("spec.ipFamilyPolicy", as_str(policy), policies))
    bad_ips = False
    for i, address in enumerate(ips):
        if i == 0 and address == "None":
            if len(ips) > 1:
                bad_ips = True
                errs.append(
                    invalid(
                        ips_path, go_string_slice(ips), "'None' must be the first and only value"
                    )
                )
            continue
        ip_errs = is_valid_ip(index(ips_path, i), address)
        bad_ips = bad_ips or bool(ip_errs)
        errs.extend(ip_errs)
    if len(ips) > 2:
        errs.append(invalid(ips_path, go_string_slice(ips), "may only hold up to 2 values"))
    if bad_ips:
        return errs
    if len(ips) > 1:
        versions = [parse_ip(x) for x in ips]
        if len({v.version for v in versions if v is not None}) != 2 or len(ips) != 2:
            errs.append(
                invalid(
                    ips_path,
                    go_string_slice(ips),
                    "may specify no more than one IP for each IP family",
                )
            )
    if not _headless(spec) and ips and families:
        for i, address in enumerate(ips[: len(families)]):
            parsed = parse_ip(address)
            is_v6 = parsed is not None and parsed.version == 6
            if families[i] == "IPv4" and is_v6:
                errs.append(
                    invalid(
                        index(ips_path, i),
                        address,
                        f"expected an IPv4 value as indicated by `ipFamilies[{i}]`",
                    )
                )
            if families[i] == "IPv6" and not is_v6:
                errs.append(
                    invalid(
                        index(ips_path, i),
                        address,
                        f"expected an IPv6 value as indicated by `ipFamilies[{i}]`",
                    )
                )
    return errs


def _externally_accessible(spec: Mapping[str, Any]) -> bool:
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(as_list(spec.get("externalIPs")))
    )


def _traffic_policies(spec: Mapping[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    external = as_str(spec.get("externalTrafficPolicy"))
    if not _externally_accessible(spec):
        if external:
            errs.append(
                invalid(
                    "spec.externalTrafficPolicy",
                    external,
                    "may only be set for externally-accessible services",
                )
            )
    elif not external:
        errs.append(required("spec.externalTrafficPolicy"))
    elif external not in ("Cluster", "Local"):
        errs.append(not_supported("spec.externalTrafficPolicy", external, ("Cluster", "Local")))
    health = as_int(spec.get("healthCheckNodePort")) or 0
    if not (spec.get("type") == "LoadBalancer" and external == "Local"):
        if health:
            errs.append(
                invalid(
                    "spec.healthCheckNodePort",
                    health,
                    "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` "
                    "is 'Local'",
                )
            )
    elif not health:
        errs.append(required("spec.healthCheckNodePort"))
    else:
        errs.extend(
            invalid("spec.healthCheckNodePort", health, m) for m in is_valid_port_num(health)
        )
    internal = spec.get("internalTrafficPolicy")
    if internal is None and spec.get("type") in ("NodePort", "LoadBalancer", "ClusterIP"):
        errs.append(required("spec.internalTrafficPolicy"))
    if internal is not None and internal not in ("Cluster", "Local"):
        errs.append(
            not_supported("spec.internalTrafficPolicy", as_str(internal), ("Cluster", "Local"))
        )
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution != "PreferClose":
        errs.append(
            not_supported("spec.trafficDistribution", as_str(distribution), ("PreferClose",))
        )
    return errs


def validate_service(obj: Mapping[str, Any]) -> list[FieldError]:
    meta, spec = as_dict(obj.get("metadata")), as_dict(obj.get("spec"))
    errs = validate_object_meta(meta, True, name_is_dns1035_label)
    annotations = as_dict(meta.get("annotations"))
    if (
        _HINTS in annotations
        and _TOPOLOGY_MODE in annotations
        and annotations[_HINTS] != annotations[_TOPOLOGY_MODE]
    ):
        errs.append(
            invalid(
                f"metadata.annotations[{_TOPOLOGY_MODE}]",
                as_str(annotations[_TOPOLOGY_MODE]),
                f"must match annotations[{_HINTS}] when both are specified",
            )
        )
    kind = as_str(spec.get("type"))
    ports = [as_dict(p) for p in as_list(spec.get("ports"))]
    headless = _headless(spec)
    if not ports and not headless and kind != "ExternalName":
        errs.append(required("spec.ports"))
    if kind in ("LoadBalancer", "NodePort") and headless:
        errs.append(
            invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services")
        )
    elif kind == "ExternalName":
        for field in ("clusterIPs", "ipFamilies"):
            if as_list(spec.get(field)):
                errs.append(forbidden(f"spec.{field}", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(
                forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")
            )
        cname = as_str(spec.get("externalName")).removesuffix(".")
        if cname:
            errs.extend(validate_dns1123_subdomain(cname, "spec.externalName"))
        else:
            errs.append(required("spec.externalName"))
    errs.extend(_ports(spec, "spec.ports"))
    if spec.get("selector") is not None:
        errs.extend(validate_labels(spec.get("selector"), "spec.selector"))
    errs.extend(_session_affinity(spec))
    errs.extend(_cluster_ips(spec))
    for i, address in enumerate(as_list(spec.get("externalIPs"))):
        p = index("spec.externalIPs", i)
        ip_errs = is_valid_ip(p, as_str(address))
        errs.extend(ip_errs or validate_non_special_ip(as_str(address), p))
    if not kind:
        errs.append(required("spec.type"))
    elif kind not in _TYPES:
        errs.append(not_supported("spec.type", kind, _TYPES))
    if kind == "ClusterIP":
        for i, port in enumerate(ports):
            if as_int(port.get("nodePort")):
                errs.append(
                    forbidden(
                        child(index("spec.ports", i), "nodePort"),
                        "may not be used when `type` is 'ClusterIP'",
                    )
                )
    errs.extend(_duplicate_ports(ports))
    errs.extend(_load_balancer_fields(spec, annotations))
    errs.extend(_traffic_policies(spec))
    return errs


def _session_affinity(spec: Mapping[str, Any]) -> list[FieldError]:
    affinity = as_str(spec.get("sessionAffinity"))
    if not affinity:
        return [required("spec.sessionAffinity")]
    if affinity not in ("ClientIP", "None"):
        return [not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None"))]
    config = spec.get("sessionAffinityConfig")
    path = "spec.sessionAffinityConfig"
    if affinity == "None":
        if config is not None:
            return [forbidden(path, "must not be set when session affinity is None")]
        return []
    when = "when session affinity type is ClientIP"
    if config is None:
        return [required(path, when)]
    client_ip = as_dict(config).get("clientIP")
    if client_ip is None:
        return [required(child(path, "clientIP"), when)]
    timeout = as_dict(client_ip).get("timeoutSeconds")
    if timeout is None:
        return [required(child(path, "clientIP", "timeoutSeconds"), when)]
    seconds = as_int(timeout) or 0
    if not 0 < seconds <= 86400:
        return [
            invalid(
                child(path, "clientIP", "timeoutSeconds"),
                seconds,
                "must be greater than 0 and less than 86400",
            )
        ]
    return []


def _duplicate_ports(ports: list[dict[str, Any]]) -> list[FieldError]:
    errs: list[FieldError] = []
    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        node_port = as_int(port.get("nodePort")) or 0
        if not node_port:
            continue
        k = (as_str(port.get("protocol")), node_port)
        if k in node_ports:
            errs.append(duplicate(child(index("spec.ports", i), "nodePort"), node_port))
        node_ports.add(k)
    seen: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        k = (as_str(port.get("protocol")), as_int(port.get("port")) or 0)
        if k in seen:
            errs.append(duplicate(index("spec.ports", i), _service_port_value(*k)))
        seen.add(k)
    return errs


def _load_balancer_fields(
    spec: Mapping[str, Any], annotations: Mapping[str, Any]
) -> list[FieldError]:
    errs: list[FieldError] = []
    is_lb = spec.get("type") == "LoadBalancer"
    ranges = as_list(spec.get("loadBalancerSourceRanges"))
    only_lb = "may only be used when `type` is 'LoadBalancer'"
    if ranges:
        path = "spec.LoadBalancerSourceRanges"
        if not is_lb:
            errs.append(forbidden(path, only_lb))
        for i, value in enumerate(ranges):
            errs.extend(is_valid_cidr(index(path, i), as_str(value).strip()))
    elif _SOURCE_RANGES in annotations:
        path = f"metadata.annotations[{_SOURCE_RANGES}]"
        if not is_lb:
            errs.append(forbidden(path, only_lb))
        value = as_str(annotations[_SOURCE_RANGES]).strip()
        if value:
            for cidr in value.split(","):
                errs.extend(is_valid_cidr(path, cidr.strip()))
    if spec.get("allocateLoadBalancerNodePorts") is not None and not is_lb:
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts", only_lb))
    if is_lb and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(required("allocateLoadBalancerNodePorts"))
    lb_class = spec.get("loadBalancerClass")
    if lb_class is not None:
        if is_lb:
            errs.extend(validate_qualified_name(as_str(lb_class), "spec.loadBalancerClass"))
        else:
            errs.append(forbidden("spec.loadBalancerClass", only_lb))
    return errs


def _upgrade_downgrade(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    if "ExternalName" in (new.get("type"), old.get("type")):
        return errs
    new_ips, old_ips = as_list(new.get("clusterIPs")), as_list(old.get("clusterIPs"))
    shown = go_string_slice(new_ips) if new.get("clusterIPs") is not None else go_string_slice(None)
    if not (_headless(new) and _headless(old)):
        if len(old_ips) == len(new_ips):
            errs.extend(
                invalid(index("spec.clusterIPs", i), shown, "may not change once set")
                for i, ip in enumerate(old_ips)
                if ip != new_ips[i]
            )
        elif len(old_ips) > len(new_ips):
            if not new_ips:
                errs.append(
                    invalid("spec.clusterIPs[0]", shown, "primary clusterIP can not be unset")
                )
            elif new_ips[0] != old_ips[0]:
                errs.append(invalid("spec.clusterIPs[0]", shown, "may not change once set"))
            if len(new_ips) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
                errs.append(
                    invalid(
                        "spec.ipFamilyPolicy",
                        new.get("ipFamilyPolicy"),
                        "must be set to 'SingleStack' when releasing the secondary clusterIP",
                    )
                )
        elif old_ips and new_ips[0] != old_ips[0]:
            errs.append(invalid("spec.clusterIPs[0]", shown, "may not change once set"))
    if _headless(new) != _headless(old) or _headless(new):
        return errs
    new_fam, old_fam = as_list(new.get("ipFamilies")), as_list(old.get("ipFamilies"))
    fam_shown = (
        go_string_slice(new_fam) if new.get("ipFamilies") is not None else go_string_slice(None)
    )
    if len(old_fam) == len(new_fam):
        errs.extend(
            invalid("spec.ipFamilies[0]", fam_shown, "may not change once set")
            for i, fam in enumerate(old_fam)
            if fam != new_fam[i]
        )
    elif len(old_fam) > len(new_fam):
        if not new_ips:
            errs.append(
                invalid("spec.ipFamilies[0]", fam_shown, "primary ipFamily can not be unset")
            )
        if new_fam and new_fam[0] != old_fam[0]:
            errs.append(invalid("spec.ipFamilies[0]", shown, "may not change once set"))
        if len(new_fam) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            errs.append(
                invalid(
                    "spec.ipFamilyPolicy",
                    new.get("ipFamilyPolicy"),
                    "must be set to 'SingleStack' when releasing the secondary ipFamily",
                )
            )
    elif old_fam and new_fam and new_fam[0] != old_fam[0]:
        errs.append(invalid("spec.ipFamilies[0]", shown, "may not change once set"))
    return errs


def validate_service_update(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    new_spec, old_spec = as_dict(obj.get("spec")), as_dict(old.get("spec"))
    errs = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    errs.extend(_upgrade_downgrade(new_spec, old_spec))
    both_lb = new_spec.get("type") == old_spec.get("type") == "LoadBalancer"
    if both_lb and new_spec.get("loadBalancerClass") != old_spec.get("loadBalancerClass"):
        errs.append(
            invalid(
                "spec.loadBalancerClass",
                new_spec.get("loadBalancerClass"),
                "may not change once set",
            )
        )
    needs_health = [
        s.get("type") == "LoadBalancer" and s.get("externalTrafficPolicy") == "Local"
        for s in (old_spec, new_spec)
    ]
    if all(needs_health) and new_spec.get("healthCheckNodePort") != old_spec.get(
        "healthCheckNodePort"
    ):
        errs.append(forbidden("spec.healthCheckNodePort", "field is immutable"))
    return errs + validate_service(obj)


def validate_node_port_range(
    obj: Mapping[str, Any], low: int = 30000, high: int = 32767
) -> list[FieldError]:
    """What the node-port allocator answers for requested ports outside its range.

    Upstream reports this from the Service REST layer while allocating (before validation),
    as a 422 with this exact detail; ports already taken are the allocator's to report.
    """
    detail = f"provided port is not in the valid range. The range of valid ports is {low}-{high}"
    errs: list[FieldError] = []
    for i, port in enumerate(as_list(as_dict(obj.get("spec")).get("ports"))):
        node_port = as_int(as_dict(port).get("nodePort")) or 0
        if node_port and not low <= node_port <= high:
            errs.append(invalid(child(index("spec.ports", i), "nodePort"), node_port, detail))
    return errs
