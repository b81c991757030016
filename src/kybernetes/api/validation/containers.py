"""Containers: names, images, ports, environment, probes, lifecycle hooks, security context.

``validate_container_common`` is upstream's ``validateContainerCommon``, the part every
container kind shares; the pod-spec module adds what differs between regular, init and
ephemeral containers. Environment variable names follow the relaxed rule that is on by default
in Kubernetes 1.32 (any printable ASCII but ``=``). Privileged containers are allowed, as on a
kube-apiserver started with ``--allow-privileged=true`` (what kubeadm, kind and k3s do).
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
    index,
    is_config_map_key,
    is_http_header_name,
    is_relaxed_env_var_name,
    is_valid_port_name,
    is_valid_port_num,
    quantity_of,
    validate_dns1123_label,
    validate_nonnegative,
    validate_qualified_name,
)
from kybernetes.api.validation.mounts import validate_volume_devices, validate_volume_mounts
from kybernetes.api.validation.names import is_dns1123_label, name_is_dns_subdomain
from kybernetes.api.validation.resourcelists import validate_resource_requirements
from kybernetes.api.validation.securitycontext import validate_security_context

__all__ = [
    "ENV_FIELD_PATHS",
    "PROTOCOLS",
    "validate_container_common",
    "validate_handler",
    "validate_lifecycle",
    "validate_object_field_selector",
    "validate_port_num_or_name",
    "validate_probe",
]

PROTOCOLS = ("SCTP", "TCP", "UDP")
ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_CONVERTIBLE_FIELD_PATHS = frozenset(
    {
        "metadata.annotations",
        "metadata.labels",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.serviceAccountName",
        "spec.schedulerName",
        "status.phase",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    }
)
_RESOURCE_FIELD_PATHS = (
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
)
_SIZE_DIVISORS = frozenset(
    {"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
)
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_MAX_INT32 = 2**31 - 1


def _split_subscript(path: str) -> tuple[str, str] | None:
    """``fieldpath.SplitMaybeSubscriptedPath``: ``metadata.labels['k']`` -> (path, 'k')."""
    if not path.endswith("']"):
        return None
    head, sep, sub = path[:-2].partition("['")
    if not sep or not head:
        return None
    return head, sub


def validate_object_field_selector(
    selector: Mapping[str, Any], expressions: tuple[str, ...], path: str
) -> list[FieldError]:
    """``validateObjectFieldSelector`` (downward API ``fieldRef``)."""
    api_version, field_path = as_str(selector.get("apiVersion")), as_str(selector.get("fieldPath"))
    if not api_version:
        return [required(child(path, "apiVersion"))]
    if not field_path:
        return [required(child(path, "fieldPath"))]
    split = _split_subscript(field_path)
    if api_version != "v1":
        problem = f"unsupported pod version: {api_version}"
    elif split is not None and split[0] not in ("metadata.annotations", "metadata.labels"):
        problem = f"field label does not support subscript: {field_path}"
    elif split is None and field_path not in _CONVERTIBLE_FIELD_PATHS and field_path != "spec.host":
        problem = f"field label not supported: {field_path}"
    else:
        problem = ""
    if problem:
        return [
            invalid(child(path, "fieldPath"), field_path, f"error converting fieldPath: {problem}")
        ]
    if split is not None:
        head, subscript = split
        name = subscript.lower() if head == "metadata.annotations" else subscript
        return validate_qualified_name(name, path)
    internal = "spec.nodeName" if field_path == "spec.host" else field_path
    if internal not in expressions:
        return [not_supported(child(path, "fieldPath"), internal, sorted(expressions))]
    return []


def _resource_field_selector(ref: Mapping[str, Any], path: str, volume: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    resource = as_str(ref.get("resource"))
    if volume and not as_str(ref.get("containerName")):
        errs.append(required(child(path, "containerName")))
    elif not resource:
        errs.append(required(child(path, "resource")))
    elif resource not in _RESOURCE_FIELD_PATHS and not resource.startswith(
        ("requests.hugepages-", "limits.hugepages-")
    ):
        errs.append(not_supported(child(path, "resource"), resource, _RESOURCE_FIELD_PATHS))
    divisor = quantity_of(ref.get("divisor"))
    if divisor is None or divisor.is_zero():
        return errs
    text = str(divisor)
    div_path = child(path, "divisor")
    if resource in ("limits.cpu", "requests.cpu") and text not in ("1m", "1"):
        errs.append(
            invalid(
                div_path,
                resource,
                "only divisor's values 1m and 1 are supported with the cpu resource",
            )
        )
    kinds = {
        "limits.memory": "memory",
        "requests.memory": "memory",
        "limits.ephemeral-storage": "local ephemeral storage",
        "requests.ephemeral-storage": "local ephemeral storage",
    }
    kind = kinds.get(resource) or (
        "hugepages" if resource.startswith(("requests.hugepages-", "limits.hugepages-")) else ""
    )
    if kind and text not in _SIZE_DIVISORS:
        errs.append(
            invalid(
                div_path,
                resource,
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei "
                f"are supported with the {kind} resource",
            )
        )
    return errs


def _key_selector(ref: Mapping[str, Any], path: str) -> list[FieldError]:
    name = as_str(ref.get("name"))
    errs = [invalid(child(path, "name"), name, m) for m in name_is_dns_subdomain(name)]
    k = as_str(ref.get("key"))
    if not k:
        errs.append(required(child(path, "key")))
    else:
        errs.extend(invalid(child(path, "key"), k, m) for m in is_config_map_key(k))
    return errs


def _validate_env(env: object, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, raw in enumerate(as_list(env)):
        var = as_dict(raw)
        name = as_str(var.get("name"))
        if not name:
            errs.append(required(child(index(path, i), "name")))
        else:
            messages = is_relaxed_env_var_name(name)
            if messages:
                errs.extend(invalid(child(index(path, i), "name"), name, m) for m in messages)
        if var.get("valueFrom") is None:
            continue
        source, vf = as_dict(var.get("valueFrom")), child(index(path, i), "valueFrom")
        count = 0
        if source.get("fieldRef") is not None:
            count += 1
            errs.extend(
                validate_object_field_selector(
                    as_dict(source["fieldRef"]), ENV_FIELD_PATHS, child(vf, "fieldRef")
                )
            )
        if source.get("resourceFieldRef") is not None:
            count += 1
            errs.extend(
                _resource_field_selector(
                    as_dict(source["resourceFieldRef"]), child(vf, "resourceFieldRef"), False
                )
            )
        for kind in ("configMapKeyRef", "secretKeyRef"):
            if source.get(kind) is not None:
                count += 1
                errs.extend(_key_selector(as_dict(source[kind]), child(vf, kind)))
        if count == 0:
            errs.append(
                invalid(
                    vf,
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                    "`secretKeyRef`",
                )
            )
        elif as_str(var.get("value")):
            errs.append(invalid(vf, "", "may not be specified when `value` is not empty"))
        elif count > 1:
            errs.append(invalid(vf, "", "may not have more than one field specified at a time"))
    return errs


def _validate_env_from(env_from: object, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, raw in enumerate(as_list(env_from)):
        source, p = as_dict(raw), index(path, i)
        prefix = as_str(source.get("prefix"))
        if prefix:
            errs.extend(
                invalid(child(p, "prefix"), prefix, m) for m in is_relaxed_env_var_name(prefix)
            )
        count = 0
        for kind in ("configMapRef", "secretRef"):
            if source.get(kind) is None:
                continue
            count += 1
            name = as_str(as_dict(source[kind]).get("name"))
            if not name:
                errs.append(required(child(p, kind, "name")))
            else:
                errs.extend(
                    invalid(child(p, kind, "name"), name, m)
                    for m in name_is_dns_subdomain(name, True)
                )
        if count == 0:
            errs.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _validate_ports(ports: object, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, raw in enumerate(as_list(ports)):
        # The entry's path is built only for an error (``index(path, i)`` below).
        port = as_dict(raw)
        name = as_str(port.get("name"))
        if name:
            messages = is_valid_port_name(name)
            if messages:
                errs.extend(invalid(child(index(path, i), "name"), name, m) for m in messages)
            elif name in names:
                errs.append(duplicate(child(index(path, i), "name"), name))
            else:
                names.add(name)
        number = as_int(port.get("containerPort")) or 0
        if number == 0:
            errs.append(required(child(index(path, i), "containerPort")))
        elif not 1 <= number <= 65535:  # is_valid_port_num has something to say
            errs.extend(
                invalid(child(index(path, i), "containerPort"), number, m)
                for m in is_valid_port_num(number)
            )
        host = as_int(port.get("hostPort")) or 0
        if host and not 1 <= host <= 65535:
            errs.extend(
                invalid(child(index(path, i), "hostPort"), host, m) for m in is_valid_port_num(host)
            )
        protocol = port.get("protocol")
        if protocol not in PROTOCOLS:
            protocol = as_str(protocol)
            if not protocol:
                errs.append(required(child(index(path, i), "protocol")))
            else:
                errs.append(not_supported(child(index(path, i), "protocol"), protocol, PROTOCOLS))
    return errs


def validate_port_num_or_name(port: object, path: str) -> list[FieldError]:
    """``ValidatePortNumOrName`` for an int-or-string port."""
    if isinstance(port, str):
        return [invalid(path, port, m) for m in is_valid_port_name(port)]
    number = as_int(port) or 0
    return [invalid(path, number, m) for m in is_valid_port_num(number)]


def _sleep(action: Mapping[str, Any], grace: int | None, path: str) -> list[FieldError]:
    seconds = as_int(action.get("seconds")) or 0
    if grace is not None and (seconds <= 0 or seconds > grace):
        return [
            invalid(
                path,
                seconds,
                f"must be greater than 0 and less than terminationGracePeriodSeconds ({grace}). "
                "Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.",
            )
        ]
    return []


def _http_get(action: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not as_str(action.get("path")):
        errs.append(required(child(path, "path")))
    port = action.get("port")
    if not (isinstance(port, str) and not is_valid_port_name(port)):
        errs.extend(validate_port_num_or_name(port, child(path, "port")))
    scheme = as_str(action.get("scheme"))
    if scheme not in ("HTTP", "HTTPS"):
        errs.append(not_supported(child(path, "scheme"), scheme, ("HTTP", "HTTPS")))
    for header in as_list(action.get("httpHeaders")):
        name = as_str(as_dict(header).get("name"))
        errs.extend(invalid(child(path, "httpHeaders"), name, m) for m in is_http_header_name(name))
    return errs


def validate_handler(
    handler: Mapping[str, Any], kinds: tuple[str, ...], grace: int | None, path: str
) -> list[FieldError]:
    """``validateHandler``: exactly one of the allowed handler kinds."""
    errs: list[FieldError] = []
    count = 0
    for kind in kinds:
        if handler.get(kind) is None:
            continue
        p = child(path, kind)
        if count:
            errs.append(forbidden(p, "may not specify more than 1 handler type"))
            continue
        count += 1
        action = as_dict(handler[kind])
        if kind == "exec":
            if not as_list(action.get("command")):
                errs.append(required(child(p, "command")))
        elif kind == "httpGet":
            errs.extend(_http_get(action, p))
        elif kind == "tcpSocket":
            errs.extend(validate_port_num_or_name(action.get("port"), child(p, "port")))
        elif kind == "grpc":
            errs.extend(
                validate_port_num_or_name(as_int(action.get("port")) or 0, child(p, "port"))
            )
        else:
            errs.extend(_sleep(action, grace, p))
    if not count:
        errs.append(required(path, "must specify a handler type"))
    return errs


_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_PROBE_COUNTERS = (
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
)
_LIFECYCLE_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")


def validate_probe(probe: object, kind: str, grace: int | None, path: str) -> list[FieldError]:
    """A liveness, readiness or startup probe (``kind``); ``None`` is valid."""
    if probe is None:
        return []
    p = as_dict(probe)
    errs = validate_handler(p, _PROBE_HANDLERS, grace, path)
    for name in _PROBE_COUNTERS:
        value = as_int(p.get(name))
        if value is not None and value < 0:  # validate_nonnegative, path built on error only
            errs.extend(validate_nonnegative(value, child(path, name)))
    probe_grace = as_int(p.get("terminationGracePeriodSeconds"))
    if probe_grace is not None and probe_grace <= 0:
        errs.append(
            invalid(
                child(path, "terminationGracePeriodSeconds"), probe_grace, "must be greater than 0"
            )
        )
    if kind in ("liveness", "startup") and (as_int(p.get("successThreshold")) or 0) != 1:
        errs.append(
            invalid(
                child(path, "successThreshold"), as_int(p.get("successThreshold")) or 0, "must be 1"
            )
        )
    if kind == "readiness" and probe_grace is not None:
        errs.append(
            invalid(
                child(path, "terminationGracePeriodSeconds"),
                probe_grace,
                "must not be set for readinessProbes",
            )
        )
    return errs


def validate_lifecycle(lifecycle: object, grace: int | None, path: str) -> list[FieldError]:
    hooks = as_dict(lifecycle)
    errs: list[FieldError] = []
    for hook in ("postStart", "preStop"):
        if hooks.get(hook) is not None:
            errs.extend(
                validate_handler(
                    as_dict(hooks[hook]), _LIFECYCLE_HANDLERS, grace, child(path, hook)
                )
            )
    return errs


def _resize_policy(policies: object, restart_policy: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, raw in enumerate(as_list(policies)):
        policy = as_dict(raw)
        resource, restart = as_str(policy.get("resourceName")), as_str(policy.get("restartPolicy"))
        if resource in seen:
            errs.append(duplicate(index(path, i), resource))
        seen.add(resource)
        if not resource:
            errs.append(required(path))
        elif resource not in ("cpu", "memory"):
            errs.append(not_supported(path, resource, ("cpu", "memory")))
        if not restart:
            errs.append(required(path))
        elif restart not in ("NotRequired", "RestartContainer"):
            errs.append(not_supported(path, restart, ("NotRequired", "RestartContainer")))
        if restart_policy == "Never" and restart != "NotRequired":
            errs.append(
                invalid(path, restart, "must be 'NotRequired' when `restartPolicy` is 'Never'")
            )
    return errs


def validate_container_common(
    container: Mapping[str, Any],
    volumes: Mapping[str, Any],
    claim_names: frozenset[str],
    restart_policy: str,
    host_users: bool,
    path: str,
) -> list[FieldError]:
    """``validateContainerCommon``: what regular, init and ephemeral containers share."""
    errs: list[FieldError] = []
    name = as_str(container.get("name"))
    if not name:
        errs.append(required(child(path, "name")))
    elif is_dns1123_label(name):  # the path is only built for an error
        errs.extend(validate_dns1123_label(name, child(path, "name")))
    if not as_str(container.get("image")):
        errs.append(required(child(path, "image")))
    policy = as_str(container.get("terminationMessagePolicy"))
    if not policy:
        errs.append(required(child(path, "terminationMessagePolicy")))
    elif policy not in _MESSAGE_POLICIES:
        errs.append(
            not_supported(child(path, "terminationMessagePolicy"), policy, _MESSAGE_POLICIES)
        )
    # Each list helper reports nothing for an empty or absent list; skip it (and its path).
    if container.get("ports"):
        errs.extend(_validate_ports(container.get("ports"), child(path, "ports")))
    if container.get("env"):
        errs.extend(_validate_env(container.get("env"), child(path, "env")))
    if container.get("envFrom"):
        errs.extend(_validate_env_from(container.get("envFrom"), child(path, "envFrom")))
    privileged = as_bool(as_dict(container.get("securityContext")).get("privileged"))
    if container.get("volumeMounts"):
        errs.extend(
            validate_volume_mounts(
                container.get("volumeMounts"),
                container.get("volumeDevices"),
                volumes,
                privileged,
                child(path, "volumeMounts"),
            )
        )
    if container.get("volumeDevices"):
        errs.extend(
            validate_volume_devices(
                container.get("volumeDevices"),
                container.get("volumeMounts"),
                volumes,
                child(path, "volumeDevices"),
            )
        )
    pull = as_str(container.get("imagePullPolicy"))
    if not pull:
        errs.append(required(child(path, "imagePullPolicy")))
    elif pull not in _PULL_POLICIES:
        errs.append(not_supported(child(path, "imagePullPolicy"), pull, _PULL_POLICIES))
    if container.get("resources"):  # empty requirements have nothing to check
        errs.extend(
            validate_resource_requirements(
                container.get("resources"), child(path, "resources"), claim_names
            )
        )
    if container.get("resizePolicy"):
        errs.extend(
            _resize_policy(
                container.get("resizePolicy"), restart_policy, child(path, "resizePolicy")
            )
        )
    if container.get("securityContext") is not None:
        errs.extend(
            validate_security_context(
                container.get("securityContext"), host_users, child(path, "securityContext")
            )
        )
    return errs
