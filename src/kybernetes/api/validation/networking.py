"""networking.k8s.io: Ingresses, IngressClasses and NetworkPolicies.

Ingress hosts are DNS names (a leading ``*.`` wildcard allowed, IP addresses refused); every
HTTP path has a ``pathType``, and ``Exact``/``Prefix`` paths are absolute without ``//``,
``/./``, ``/../`` or encoded slashes. A backend names a Service (DNS-1035 name, and a port name
or number) or a typed resource, never both. On update, rules that were already invalid under
a wildcard host and unusable TLS secret names are tolerated, as upstream.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported, required, too_long
from kybernetes.api.validation.common import (
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    immutable,
    index,
    is_valid_path_segment_name,
    is_valid_port_name,
    is_valid_port_num,
    is_wildcard_dns1123_subdomain,
    parse_ip,
    validate_label_selector,
)
from kybernetes.api.validation.gofmt import GoValue
from kybernetes.api.validation.names import (
    is_dns1123_subdomain,
    name_is_dns1035_label,
    name_is_dns_label,
    name_is_dns_subdomain,
)
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update

__all__ = [
    "is_domain_prefixed_path",
    "validate_ingress",
    "validate_ingress_class",
    "validate_network_policy",
]

Obj = Mapping[str, Any]
_PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_BAD_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_HTTP_PATH_FMT = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"


def is_domain_prefixed_path(path: str, value: str) -> list[FieldError]:
    """``IsDomainPrefixedPath``: ``acme.io/foo``-shaped controller names."""
    if not value:
        return [required(path)]
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [invalid(path, host, m) for m in is_dns1123_subdomain(host)]
    if not re.fullmatch(_HTTP_PATH_FMT, rest):
        errs.append(
            invalid(path, rest, f"Invalid path (regex used for validation is '{_HTTP_PATH_FMT}')")
        )
    return errs


def _backend(backend: Obj, path: str) -> list[FieldError]:
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_reference(as_dict(resource), child(path, "resource"))
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    svc = as_dict(service)
    errs: list[FieldError] = []
    name = as_str(svc.get("name"))
    if not name:
        errs.append(required(child(path, "service", "name")))
    else:
        errs.extend(
            invalid(child(path, "service", "name"), name, m) for m in name_is_dns1035_label(name)
        )
    port = as_dict(svc.get("port"))
    port_name, number = as_str(port.get("name")), as_int(port.get("number")) or 0
    if port_name and number:
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        errs.extend(
            invalid(child(path, "service", "port", "name"), port_name, m)
            for m in is_valid_port_name(port_name)
        )
    elif number:
        errs.extend(
            invalid(child(path, "service", "port", "number"), number, m)
            for m in is_valid_port_num(number)
        )
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def _typed_reference(ref: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if ref.get("apiGroup") is not None:
        group = as_str(ref["apiGroup"])
        errs.extend(invalid(child(path, "apiGroup"), group, m) for m in is_dns1123_subdomain(group))
    for field in ("kind", "name"):
        value = as_str(ref.get(field))
        if not value:
            errs.append(required(child(path, field), f"{field} is required"))
        else:
            errs.extend(
                invalid(child(path, field), value, m) for m in is_valid_path_segment_name(value)
            )
    return errs


def _http_path(item: Obj, path: str) -> list[FieldError]:
    kind = item.get("pathType")
    if kind is None:
        return [required(child(path, "pathType"), "pathType must be specified")]
    value = as_str(item.get("path"))
    errs: list[FieldError] = []
    if kind in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(invalid(child(path, "path"), value, "must be an absolute path"))
        if value:
            errs.extend(
                invalid(child(path, "path"), value, f"must not contain '{s}'")
                for s in _BAD_SEQUENCES
                if s in value
            )
            errs.extend(
                invalid(child(path, "path"), value, f"cannot end with '{s}'")
                for s in ("/..", "/.")
                if value.endswith(s)
            )
    elif kind == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(invalid(child(path, "path"), value, "must be an absolute path"))
    else:
        errs.append(not_supported(child(path, "pathType"), as_str(kind), _PATH_TYPES))
    return errs + _backend(as_dict(item.get("backend")), child(path, "backend"))


def _rule_value(rule: Obj, path: str) -> list[FieldError]:
    if rule.get("http") is None:
        return []
    paths = as_list(as_dict(rule["http"]).get("paths"))
    errs = [] if paths else [required(child(path, "http", "paths"))]
    for i, item in enumerate(paths):
        errs.extend(_http_path(as_dict(item), index(child(path, "http", "paths"), i)))
    return errs


def _host_errors(host: str, path: str) -> list[FieldError]:
    if "*" in host:
        return [invalid(path, host, m) for m in is_wildcard_dns1123_subdomain(host)]
    return [invalid(path, host, m) for m in is_dns1123_subdomain(host)]


def _ingress_spec(
    spec: Obj, allow_bad_secrets: bool, allow_bad_wildcards: bool
) -> list[FieldError]:
    errs: list[FieldError] = []
    rules = [as_dict(r) for r in as_list(spec.get("rules"))]
    if not rules and spec.get("defaultBackend") is None:
        errs.append(
            invalid(
                "spec",
                GoValue("[]networking.IngressRule(nil)"),
                "either `defaultBackend` or `rules` must be specified",
            )
        )
    if spec.get("defaultBackend") is not None:
        errs.extend(_backend(as_dict(spec["defaultBackend"]), "spec.defaultBackend"))
    for i, rule in enumerate(rules):
        p = index("spec.rules", i)
        host = as_str(rule.get("host"))
        if host:
            if parse_ip(host) is not None:
                errs.append(
                    invalid(child(p, "host"), host, "must be a DNS name, not an IP address")
                )
            errs.extend(_host_errors(host, child(p, "host")))
        if "*" not in host or not allow_bad_wildcards:
            errs.extend(_rule_value(rule, p))
    for i, raw in enumerate(as_list(spec.get("tls"))):
        tls, p = as_dict(raw), index("spec.tls", i)
        for j, host in enumerate(as_list(tls.get("hosts"))):
            errs.extend(_host_errors(as_str(host), index(child(p, "hosts"), j)))
        secret = as_str(tls.get("secretName"))
        if secret and not allow_bad_secrets:
            errs.extend(
                invalid(child(p, "secretName"), secret, m) for m in name_is_dns_subdomain(secret)
            )
    if spec.get("ingressClassName") is not None:
        name = as_str(spec["ingressClassName"])
        errs.extend(invalid("spec.ingressClassName", name, m) for m in name_is_dns_subdomain(name))
    return errs


def validate_ingress(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    meta, spec = as_dict(obj.get("metadata")), as_dict(obj.get("spec"))
    if old is None:
        errs = validate_object_meta(meta, True, name_is_dns_subdomain)
        errs.extend(_ingress_spec(spec, False, False))
        annotation = as_dict(meta.get("annotations")).get("kubernetes.io/ingress.class")
        if annotation is not None and spec.get("ingressClassName") is not None:
            errs.append(
                invalid(
                    "annotations.kubernetes.io/ingress.class",
                    as_str(annotation),
                    "can not be set when the class field is also set",
                )
            )
        return errs
    old_spec = as_dict(old.get("spec"))
    bad_secrets = any(
        name_is_dns_subdomain(as_str(as_dict(t).get("secretName")))
        for t in as_list(old_spec.get("tls"))
        if as_str(as_dict(t).get("secretName"))
    )
    bad_wildcards = any(
        "*" in as_str(as_dict(r).get("host")) and _rule_value(as_dict(r), "")
        for r in as_list(old_spec.get("rules"))
    )
    errs = validate_object_meta_update(meta, old.get("metadata"))
    errs.extend(validate_object_meta(meta, True, name_is_dns_subdomain))
    return errs + _ingress_spec(spec, bad_secrets, bad_wildcards)


def validate_ingress_class(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs: list[FieldError] = []
    if old is not None:
        errs.extend(validate_object_meta_update(obj.get("metadata"), old.get("metadata")))
        errs.extend(
            immutable(
                as_str(spec.get("controller")),
                as_str(as_dict(old.get("spec")).get("controller")),
                "spec.controller",
            )
        )
    errs.extend(validate_object_meta(obj.get("metadata"), False, name_is_dns_subdomain))
    controller = as_str(spec.get("controller"))
    if len(controller) > 250:
        errs.append(too_long("spec.controller", 250))
    errs.extend(is_domain_prefixed_path("spec.controller", controller))
    params = spec.get("parameters")
    if params is not None:
        p = as_dict(params)
        errs.extend(_typed_reference(p, "spec.parameters"))
        scope = p.get("scope")
        if scope is None:
            errs.append(required("spec.parameters.scope"))
        elif scope not in ("Cluster", "Namespace"):
            errs.append(
                not_supported("spec.parameters.scope", as_str(scope), ("Cluster", "Namespace"))
            )
        elif scope == "Namespace":
            if p.get("namespace") is None:
                errs.append(
                    required(
                        "spec.parameters.namespace", "`parameters.scope` is set to 'Namespace'"
                    )
                )
            else:
                ns = as_str(p["namespace"])
                errs.extend(
                    invalid("spec.parameters.namespace", ns, m) for m in name_is_dns_label(ns)
                )
        elif p.get("namespace") is not None:
            errs.append(
                forbidden("spec.parameters.namespace", "`parameters.scope` is set to 'Cluster'")
            )
    return errs


def _cidr(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    address, sep, bits = value.partition("/")
    ip = parse_ip(address)
    if ip is None or not sep or not bits.isdigit() or int(bits) > ip.max_prefixlen:
        return None
    return ipaddress.ip_network(f"{ip}/{bits}", strict=False)


def _ip_block(block: Obj, path: str) -> list[FieldError]:
    cidr_text = as_str(block.get("cidr"))
    if not cidr_text:
        return [required(child(path, "cidr"))]
    cidr = _cidr(cidr_text)
    if cidr is None:
        return [invalid(child(path, "cidr"), cidr_text, "not a valid CIDR")]
    errs: list[FieldError] = []
    for i, raw in enumerate(as_list(block.get("except"))):
        text, p = as_str(raw), index(child(path, "except"), i)
        inner = _cidr(text)
        if inner is None:
            return [*errs, invalid(p, text, "not a valid CIDR")]
        contained = inner.version == cidr.version and inner.network_address in cidr
        if not contained or cidr.prefixlen >= inner.prefixlen:
            errs.append(invalid(p, text, "must be a strict subset of `cidr`"))
    return errs


def _np_port(port: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in ("TCP", "UDP", "SCTP"):
        errs.append(
            not_supported(child(path, "protocol"), as_str(protocol), ("TCP", "UDP", "SCTP"))
        )
    value, end = port.get("port"), port.get("endPort")
    if value is None:
        if end is not None:
            errs.append(
                invalid(
                    child(path, "endPort"),
                    as_int(end),
                    "may not be specified when `port` is not specified",
                )
            )
    elif isinstance(value, str):
        if end is not None:
            errs.append(
                invalid(
                    child(path, "endPort"),
                    as_int(end),
                    "may not be specified when `port` is non-numeric",
                )
            )
        errs.extend(invalid(child(path, "port"), value, m) for m in is_valid_port_name(value))
    else:
        number = as_int(value) or 0
        errs.extend(invalid(child(path, "port"), number, m) for m in is_valid_port_num(number))
        if end is not None:
            end_number = as_int(end) or 0
            if end_number < number:
                errs.append(
                    invalid(
                        child(path, "endPort"), number, "must be greater than or equal to `port`"
                    )
                )
            errs.extend(
                invalid(child(path, "endPort"), end_number, m)
                for m in is_valid_port_num(end_number)
            )
    return errs


def _peer(peer: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for field in ("podSelector", "namespaceSelector"):
        if peer.get(field) is not None:
            count += 1
            errs.extend(validate_label_selector(peer[field], child(path, field)))
    if peer.get("ipBlock") is not None:
        count += 1
        errs.extend(_ip_block(as_dict(peer["ipBlock"]), child(path, "ipBlock")))
    if count == 0:
        errs.append(required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_network_policy(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    if old is None:
        errs = validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    else:
        errs = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    errs.extend(validate_label_selector(spec.get("podSelector"), "spec.podSelector"))
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, raw in enumerate(as_list(spec.get(direction))):
            rule, p = as_dict(raw), index(f"spec.{direction}", i)
            for j, port in enumerate(as_list(rule.get("ports"))):
                errs.extend(_np_port(as_dict(port), index(child(p, "ports"), j)))
            for j, peer in enumerate(as_list(rule.get(peers))):
                errs.extend(_peer(as_dict(peer), index(child(p, peers), j)))
    types = [as_str(t) for t in as_list(spec.get("policyTypes"))]
    if len(types) > 2:
        return [
            *errs,
            invalid("spec.policyTypes", types, "may not specify more than two policyTypes"),
        ]
    errs.extend(
        not_supported(index("spec.policyTypes", i), t, ("Ingress", "Egress"))
        for i, t in enumerate(types)
        if t not in ("Ingress", "Egress")
    )
    return errs
