"""discovery.k8s.io: EndpointSlices.

An address type of IPv4, IPv6 or FQDN fixed for life; up to 1000 endpoints of 1 to 100
addresses of that type; up to 100 uniquely named ports with a protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import (
    FieldError,
    duplicate,
    invalid,
    not_supported,
    required,
    too_many,
)
from kybernetes.api.validation.common import (
    as_dict,
    as_list,
    as_str,
    child,
    immutable,
    index,
    parse_ip,
    validate_dns1123_label,
    validate_qualified_name,
)
from kybernetes.api.validation.containers import PROTOCOLS
from kybernetes.api.validation.names import (
    is_dns1123_label,
    is_dns1123_subdomain,
    name_is_dns_subdomain,
)
from kybernetes.api.validation.objectmeta import validate_object_meta, validate_object_meta_update

__all__ = ["validate_endpoint_slice"]

_ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")


def _address(kind: str, address: str, path: str) -> list[FieldError]:
    ip = parse_ip(address)
    if kind == "IPv4" and (ip is None or ip.version != 4):
        return [invalid(path, address, "must be a valid IPv4 address")]
    if kind == "IPv6" and (ip is None or ip.version != 6):
        return [invalid(path, address, "must be a valid IPv6 address")]
    if kind == "FQDN":
        name = address.removesuffix(".")
        errs = is_dns1123_subdomain(name)
        if errs:
            return [invalid(path, name, ",".join(errs))]
        if len(name.split(".")) < 2:
            return [
                invalid(
                    path, name, "should be a domain with at least two segments separated by dots"
                )
            ]
        for label in name.split("."):
            label_errs = is_dns1123_label(label)
            if label_errs:
                return [invalid(path, label, ",".join(label_errs))]
    return []


def validate_endpoint_slice(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[FieldError]:
    errs = (
        [] if old is None else validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    )
    errs.extend(validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain))
    kind = as_str(obj.get("addressType"))
    if not kind:
        errs.append(required("addressType"))
    elif kind not in _ADDRESS_TYPES:
        errs.append(not_supported("addressType", kind, _ADDRESS_TYPES))
    endpoints = as_list(obj.get("endpoints"))
    if len(endpoints) > 1000:
        errs.append(too_many("endpoints", len(endpoints), 1000))
    for i, raw in enumerate(endpoints):
        endpoint, p = as_dict(raw), index("endpoints", i)
        addresses = as_list(endpoint.get("addresses"))
        if not addresses:
            errs.append(required(child(p, "addresses"), "must contain at least 1 address"))
        elif len(addresses) > 100:
            errs.append(too_many(child(p, "addresses"), len(addresses), 100))
        for j, address in enumerate(addresses):
            errs.extend(_address(kind, as_str(address), index(child(p, "addresses"), j)))
        node = endpoint.get("nodeName")
        if node is not None:
            errs.extend(
                invalid(child(p, "nodeName"), as_str(node), m)
                for m in name_is_dns_subdomain(as_str(node))
            )
        if endpoint.get("hostname") is not None:
            errs.extend(validate_dns1123_label(as_str(endpoint["hostname"]), child(p, "hostname")))
    ports = as_list(obj.get("ports"))
    if len(ports) > 100:
        errs.append(too_many("ports", len(ports), 100))
    names: set[str] = set()
    for i, raw in enumerate(ports):
        port, p = as_dict(raw), index("ports", i)
        name = as_str(port.get("name"))
        if name:
            errs.extend(validate_dns1123_label(name, child(p, "name")))
        if name in names:
            errs.append(duplicate(child(p, "name"), name))
        names.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            errs.append(required(child(p, "protocol")))
        elif protocol not in PROTOCOLS:
            errs.append(not_supported(child(p, "protocol"), as_str(protocol), PROTOCOLS))
        if port.get("appProtocol") is not None:
            errs.extend(
                validate_qualified_name(as_str(port["appProtocol"]), child(p, "appProtocol"))
            )
    if old is not None:
        errs.extend(immutable(kind, as_str(old.get("addressType")), "addressType"))
    return errs
