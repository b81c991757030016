"""Per-kind rules of the core group (``pkg/apis/core/validation``).

Each ``validate_<kind>(obj, old)`` returns the field errors of a create (``old`` is ``None``) or
an update, in upstream's order. Pods and their specs live in ``podspec``, Services in
``services``; this module holds the remaining core kinds and the Pod-level wrapper. Names follow
each kind's rule (DNS-1123 subdomains, DNS-1123 labels for namespaces, DNS-1035 for services).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
    too_long,
)
from kybernetes.api.validation.common import (
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    immutable,
    index,
    is_config_map_key,
    is_valid_cidr,
    is_valid_ip,
    is_valid_port_num,
    semantic_equal,
    validate_dns1123_label,
    validate_label_name,
    validate_nonnegative,
    validate_qualified_name,
)
from kybernetes.api.validation.containers import PROTOCOLS
from kybernetes.api.validation.gofmt import GoValue, go_string_map
from kybernetes.api.validation.names import (
    is_qualified_name,
    is_valid_label_value,
    name_is_dns_label,
    name_is_dns_subdomain,
)
from kybernetes.api.validation.objectmeta import (
    validate_finalizer_name,
    validate_object_meta,
    validate_object_meta_update,
)
from kybernetes.api.validation.placement import TAINT_EFFECTS
from kybernetes.api.validation.podspec import (
    validate_pod_spec,
    validate_pod_specific_annotations,
    validate_pod_template_spec,
)
from kybernetes.api.validation.resourcelists import (
    validate_resource_quantity,
)
from kybernetes.api.validation.services import validate_non_special_ip

__all__ = [
    "MAX_SECRET_SIZE",
    "validate_config_map",
    "validate_endpoints",
    "validate_namespace",
    "validate_node",
    "validate_pod",
    "validate_pod_template",
    "validate_replication_controller",
    "validate_secret",
    "validate_service_account",
]

MAX_SECRET_SIZE = 1024 * 1024
Obj = Mapping[str, Any]


def _meta(
    obj: Obj, old: Obj | None, namespaced: bool, name_fn: Any = name_is_dns_subdomain
) -> list[FieldError]:
    if old is None:
        return validate_object_meta(obj.get("metadata"), namespaced, name_fn)
    return validate_object_meta_update(obj.get("metadata"), old.get("metadata"))


# --------------------------------------------------------------------------------------------
# Pods, templates, replication controllers.


def validate_pod(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    """``ValidatePodCreate`` / the spec part of ``ValidatePodUpdate``."""
    meta, spec = as_dict(obj.get("metadata")), as_dict(obj.get("spec"))
    errs = [] if old is None else validate_object_meta_update(meta, old.get("metadata"))
    errs.extend(validate_object_meta(meta, True, name_is_dns_subdomain))
    errs.extend(
        validate_pod_specific_annotations(meta.get("annotations"), spec, "metadata.annotations")
    )
    errs.extend(
        validate_pod_spec(spec, "spec", pod_name=as_str(meta.get("name")), resource_is_pod=True)
    )
    if not as_str(spec.get("serviceAccountName")):
        for vi, volume in enumerate(as_list(spec.get("volumes"))):
            for si, source in enumerate(
                as_list(as_dict(as_dict(volume).get("projected")).get("sources"))
            ):
                if as_dict(source).get("serviceAccountToken") is not None:
                    path = f"spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken"
                    errs.append(
                        forbidden(path, "must not be specified when serviceAccountName is not set")
                    )
    for kind in ("containers", "initContainers"):
        for i, ctr in enumerate(as_list(spec.get(kind))):
            image = as_str(as_dict(ctr).get("image"))
            if image != image.strip():
                errs.append(
                    invalid(
                        child(index(f"spec.{kind}", i), "image"),
                        image,
                        "must not have leading or trailing whitespace",
                    )
                )
    if old is None:
        if as_list(spec.get("ephemeralContainers")):
            errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
        if as_str(spec.get("nodeName")) and as_list(spec.get("schedulingGates")):
            errs.append(
                forbidden(
                    "spec.nodeName", "cannot be set until all schedulingGates have been cleared"
                )
            )
    else:
        errs.extend(_pod_update(spec, as_dict(old.get("spec"))))
    return errs


_UPDATABLE = (
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _pod_update(new: Obj, old: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    for kind in ("containers", "initContainers"):
        if len(as_list(new.get(kind))) != len(as_list(old.get(kind))):
            return [
                *errs,
                forbidden(f"spec.{kind}", "pod updates may not add or remove containers"),
            ]
    deadline, old_deadline = (
        as_int(new.get("activeDeadlineSeconds")),
        as_int(old.get("activeDeadlineSeconds")),
    )
    if deadline is not None and old_deadline is not None and old_deadline < deadline:
        errs.append(
            invalid(
                "spec.activeDeadlineSeconds",
                deadline,
                "must be less than or equal to previous value",
            )
        )
    elif deadline is None and old_deadline is not None:
        errs.append(
            invalid(
                "spec.activeDeadlineSeconds",
                None,
                "must not update from a positive integer to nil value",
            )
        )
    munged = dict(new)
    for kind in ("containers", "initContainers"):
        munged[kind] = [
            {**as_dict(c), "image": as_dict(o).get("image")}
            for c, o in zip(as_list(new.get(kind)), as_list(old.get(kind)), strict=True)
        ]
        if new.get(kind) is None:
            munged.pop(kind)
    for field in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged.pop(field, None)
        if field in old:
            munged[field] = old[field]
    if (as_int(old.get("terminationGracePeriodSeconds")) or 0) < 0 and new.get(
        "terminationGracePeriodSeconds"
    ) == 1:
        munged["terminationGracePeriodSeconds"] = old.get("terminationGracePeriodSeconds")
    if not semantic_equal(munged, dict(old)):
        errs.append(forbidden("spec", f"pod updates may not change fields other than {_UPDATABLE}"))
    return errs


def validate_pod_template(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    return _meta(obj, old, True) + validate_pod_template_spec(obj.get("template"), "template")


def validate_replication_controller(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = _meta(obj, old, True)
    errs.extend(validate_nonnegative(as_int(spec.get("minReadySeconds")), "spec.minReadySeconds"))
    selector = as_dict(spec.get("selector"))
    if not selector:
        errs.append(required("spec.selector"))
    errs.extend(validate_nonnegative(as_int(spec.get("replicas")), "spec.replicas"))
    template = spec.get("template")
    if template is None:
        return [*errs, required("spec.template")]
    labels = as_dict(as_dict(as_dict(template).get("metadata")).get("labels"))
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        errs.append(
            invalid(
                "spec.template.metadata.labels",
                go_string_map(labels or None),
                "`selector` does not match template `labels`",
            )
        )
    errs.extend(validate_pod_template_spec(template, "spec.template"))
    tspec = as_dict(as_dict(template).get("spec"))
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
                "activeDeadlineSeconds in ReplicationController is not Supported",
            )
        )
    return errs


# --------------------------------------------------------------------------------------------
# Configuration objects.


def validate_config_map(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    errs = _meta(obj, old, True)
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
    total = 0
    for k in sorted(data):
        errs.extend(invalid(f"data[{k}]", k, m) for m in is_config_map_key(k))
        if k in binary:
            errs.append(invalid(f"data[{k}]", k, "duplicate of key present in binaryData"))
        total += len(as_str(data[k]).encode())
    for k in sorted(binary):
        errs.extend(invalid(f"binaryData[{k}]", k, m) for m in is_config_map_key(k))
        total += len(_decoded(binary[k]))
    if total > MAX_SECRET_SIZE:
        errs.append(too_long("[]", MAX_SECRET_SIZE))
    if old is not None:
        errs = _immutable_data(obj, old, ("data", "binaryData")) + errs
    return errs


def _immutable_data(obj: Obj, old: Obj, fields: tuple[str, ...]) -> list[FieldError]:
    if old.get("immutable") is not True:
        return []
    errs: list[FieldError] = []
    if obj.get("immutable") is not True:
        errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
    changed = [f for f in fields if (obj.get(f) or {}) != (old.get(f) or {})]
    errs.extend(forbidden(f, "field is immutable when `immutable` is set") for f in changed)
    return errs


def _decoded(value: object) -> bytes:
    text = as_str(value)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def _quote_char(ch: str) -> str:
    """Go's ``encoding/json`` ``quoteChar``."""
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    return "'" + json.dumps(ch)[1:-1] + "'"


def _json_error(raw: bytes) -> str | None:
    """What Go's ``json.Unmarshal`` into a map says about ``raw``, or ``None`` if it accepts.

    The common failures are worded as Go words them; rarer syntax errors get the nearest
    ``invalid character`` form.
    """
    text = raw.decode("utf-8", "replace")
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        return "unexpected end of JSON input"
    for literal in ("null", "true", "false"):
        if stripped[0] == literal[0]:
            for i, ch in enumerate(literal):
                if i >= len(stripped):
                    return "unexpected end of JSON input"
                if stripped[i] != ch:
                    got, want = _quote_char(stripped[i]), _quote_char(ch)
                    return f"invalid character {got} in literal {literal} (expecting {want})"
            break
    if stripped[0] not in '{["-0123456789tfn':
        return f"invalid character {_quote_char(stripped[0])} looking for beginning of value"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            return "unexpected end of JSON input"
        bad = text[exc.pos]
        if exc.msg.startswith("Extra data"):
            return f"invalid character {_quote_char(bad)} after top-level value"
        return f"invalid character {_quote_char(bad)} looking for beginning of value"
    if value is None or isinstance(value, dict):
        return None
    kind = {list: "array", str: "string", bool: "bool"}.get(type(value), "number")
    return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"


def validate_secret(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    meta = as_dict(obj.get("metadata"))
    errs = [] if old is None else validate_object_meta_update(meta, old.get("metadata"))
    if old is not None:
        errs.extend(immutable(as_str(obj.get("type")), as_str(old.get("type")), "type"))
        errs.extend(_immutable_data(obj, old, ("data",)))
    errs.extend(validate_object_meta(meta, True, name_is_dns_subdomain))
    data = {k: _decoded(v) for k, v in as_dict(obj.get("data")).items()}
    data.update({k: as_str(v).encode() for k, v in as_dict(obj.get("stringData")).items()})
    for k in sorted(data):
        errs.extend(invalid(f"data[{k}]", k, m) for m in is_config_map_key(k))
    if sum(len(v) for v in data.values()) > MAX_SECRET_SIZE:
        errs.append(too_long("data", MAX_SECRET_SIZE))
    kind = as_str(obj.get("type"))
    if kind == "kubernetes.io/service-account-token":
        if not as_str(as_dict(meta.get("annotations")).get("kubernetes.io/service-account.name")):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        k = ".dockercfg" if kind == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if k not in data:
            errs.append(required(f"data[{k}]"))
        else:
            problem = _json_error(data[k])
            if problem:
                errs.append(invalid(f"data[{k}]", "<secret contents redacted>", problem))
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.extend([required("data[username]"), required("data[password]")])
    elif kind == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(required("data[ssh-privatekey]"))
    elif kind == "kubernetes.io/tls":
        errs.extend(required(f"data[{k}]") for k in ("tls.crt", "tls.key") if k not in data)
    return errs


def validate_service_account(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    errs = (
        [] if old is None else validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    )
    return errs + validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain)


# --------------------------------------------------------------------------------------------
# Cluster objects.


def validate_namespace(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    if old is not None:
        return validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    errs = validate_object_meta(obj.get("metadata"), False, name_is_dns_label)
    for name in as_list(as_dict(obj.get("spec")).get("finalizers")):
        text = as_str(name)
        errs.extend(invalid("spec.finalizers", text, m) for m in is_qualified_name(text))
        errs.extend(validate_finalizer_name(text, "spec.finalizers"))
    return errs


def _taints(taints: object, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, raw in enumerate(as_list(taints)):
        taint, p = as_dict(raw), index(path, i)
        k, effect = as_str(taint.get("key")), as_str(taint.get("effect"))
        errs.extend(validate_label_name(k, child(p, "key")))
        messages = is_valid_label_value(as_str(taint.get("value")))
        if messages:
            errs.append(invalid(child(p, "value"), as_str(taint.get("value")), ";".join(messages)))
        if not effect:
            errs.append(required(child(p, "effect")))
        elif effect not in TAINT_EFFECTS:
            errs.append(not_supported(child(p, "effect"), effect, TAINT_EFFECTS))
        if (effect, k) in seen:
            shown = GoValue(
                f'core.Taint{{Key:"{k}", Value:"{as_str(taint.get("value"))}", '
                f'Effect:"{effect}", TimeAdded:(*v1.Time)(nil)}}'
            )
            dup = duplicate(p, shown)
            errs.append(
                FieldError(
                    dup.type,
                    dup.field,
                    dup.bad_value,
                    "taints must be unique by key and effect pair",
                )
            )
            continue
        seen.add((effect, k))
    return errs


def validate_node(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    if old is None:
        errs = validate_object_meta(obj.get("metadata"), False, name_is_dns_subdomain)
    else:
        errs = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    # Upstream validates spec.taints under metadata.taints; the path is kept as it is.
    errs.extend(_taints(spec.get("taints"), "metadata.taints"))
    for field in ("capacity", "allocatable"):
        for name, value in as_dict(status.get(field)).items():
            errs.extend(validate_resource_quantity(name, value, f"status.{field}.{name}"))
    cidrs = [as_str(c) for c in as_list(spec.get("podCIDRs"))]
    for i, cidr in enumerate(cidrs):
        errs.extend(is_valid_cidr(index("spec.podCIDRs", i), cidr))
    if len(cidrs) > 1:
        if len(cidrs) > 2 or len({":" in c for c in cidrs}) != 2:
            errs.append(
                invalid(
                    "spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family"
                )
            )
        for i, cidr in enumerate(cidrs):
            if cidr in cidrs[:i]:
                errs.append(duplicate(index("spec.podCIDRs", i), cidr))
    if old is not None:
        old_spec = as_dict(old.get("spec"))
        old_cidrs = as_list(old_spec.get("podCIDRs"))
        if old_cidrs and old_cidrs != cidrs:
            errs.append(
                forbidden(
                    "spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'
                )
            )
        old_provider = as_str(old_spec.get("providerID"))
        if old_provider and old_provider != as_str(spec.get("providerID")):
            errs.append(
                forbidden(
                    "spec.providerID",
                    'node updates may not change providerID except from "" to valid',
                )
            )
        if spec.get("externalID") != old_spec.get("externalID"):
            errs.append(forbidden("spec.externalID", "may not be updated"))
    return errs


def validate_endpoints(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    errs = (
        [] if old is None else validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    )
    errs.extend(validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain))
    for i, raw in enumerate(as_list(obj.get("subsets"))):
        subset, p = as_dict(raw), index("subsets", i)
        addresses, not_ready = (
            as_list(subset.get("addresses")),
            as_list(subset.get("notReadyAddresses")),
        )
        if not addresses and not not_ready:
            errs.append(required(p, "must specify `addresses` or `notReadyAddresses`"))
        for field, items in (("addresses", addresses), ("notReadyAddresses", not_ready)):
            for j, address in enumerate(items):
                errs.extend(_endpoint_address(as_dict(address), index(child(p, field), j)))
        ports = as_list(subset.get("ports"))
        for j, raw_port in enumerate(ports):
            port, pp = as_dict(raw_port), index(child(p, "ports"), j)
            name = as_str(port.get("name"))
            if len(ports) > 1 and not name:
                errs.append(required(child(pp, "name")))
            elif name:
                errs.extend(validate_dns1123_label(name, child(pp, "name")))
            number = as_int(port.get("port")) or 0
            errs.extend(invalid(child(pp, "port"), number, m) for m in is_valid_port_num(number))
            protocol = as_str(port.get("protocol"))
            if not protocol:
                errs.append(required(child(pp, "protocol")))
            elif protocol not in PROTOCOLS:
                errs.append(not_supported(child(pp, "protocol"), protocol, PROTOCOLS))
            if port.get("appProtocol") is not None:
                errs.extend(
                    validate_qualified_name(as_str(port["appProtocol"]), child(pp, "appProtocol"))
                )
    return errs


def _endpoint_address(address: Obj, path: str) -> list[FieldError]:
    ip = as_str(address.get("ip"))
    errs = is_valid_ip(child(path, "ip"), ip)
    if as_str(address.get("hostname")):
        errs.extend(validate_dns1123_label(as_str(address["hostname"]), child(path, "hostname")))
    if address.get("nodeName") is not None:
        node = as_str(address["nodeName"])
        errs.extend(invalid(child(path, "nodeName"), node, m) for m in name_is_dns_subdomain(node))
    return errs + validate_non_special_ip(ip, child(path, "ip"))


# --------------------------------------------------------------------------------------------
# Storage and policy objects of the core group.
