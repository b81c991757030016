"""A container's environment and command line, as upstream's ``makeEnvironmentVariables``.

Order of precedence, lowest first: the Kubernetes service variables (``<SVC>_SERVICE_HOST``,
``_SERVICE_PORT``, ``_SERVICE_PORT_<NAME>`` and the Docker link variables ``<SVC>_PORT...``)
for every service with a cluster IP in the pod's namespace (only with ``enableServiceLinks``,
the default) plus the ``kubernetes`` service of ``default``; ``envFrom`` (configMapRef and
secretRef, with prefix; optional sources may be missing); then ``env`` in order, where
``value`` expands ``$(VAR)`` over what is defined so far and ``valueFrom`` reads
configMapKeyRef, secretKeyRef, fieldRef or resourceFieldRef. ``command`` and ``args`` are then
expanded over the final environment. ``$$`` is a literal ``$``; an undefined ``$(VAR)`` is left
as written.

A missing non-optional ConfigMap, Secret or key raises ``EnvError`` with upstream's message; the
container then waits with reason ``CreateContainerConfigError``.

Invariant: pure; configMaps and secrets come from the injected lookups.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from kybernetes.agent.kubelet.resources import ResourceError, resource_value

Obj = dict[str, Any]
Lookup = Callable[[str, str], "Obj | None"]  # (namespace, name) -> object or None
MASTER_SERVICES: Final = frozenset({"kubernetes"})
_ENV_NAME: Final = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_LABEL_REF: Final = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class EnvError(ValueError):
    """The environment cannot be built (the container waits: CreateContainerConfigError)."""


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` references over ``mapping`` (Kubernetes' expansion rules)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end < 0:
                out.append("$(")
                i += 2
                continue
            name = text[i + 2 : end]
            out.append(mapping[name] if name and name in mapping else text[i : end + 1])
            i = end + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def _env_name(name: str) -> str:
    return name.replace("-", "_").upper()


def service_env(services: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The variables of ``services`` (those without a cluster IP are skipped)."""
    result: list[tuple[str, str]] = []
    for service in services:
        spec = service.get("spec") or {}
        ip = str(spec.get("clusterIP") or "")
        ports = spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        prefix = _env_name(str(service["metadata"]["name"]))
        result.append((f"{prefix}_SERVICE_HOST", ip))
        result.append((f"{prefix}_SERVICE_PORT", str(ports[0].get("port"))))
        result.extend(
            (f"{prefix}_SERVICE_PORT_{_env_name(port['name'])}", str(port.get("port")))
            for port in ports
            if port.get("name")
        )
        host = f"[{ip}]" if ":" in ip else ip
        for i, port in enumerate(ports):
            protocol = str(port.get("protocol") or "TCP")
            number = port.get("port")
            url = f"{protocol.lower()}://{host}:{number}"
            if i == 0:
                result.append((f"{prefix}_PORT", url))
            base = f"{prefix}_PORT_{number}_{protocol.upper()}"
            result.append((base, url))
            result.append((f"{base}_PROTO", protocol.lower()))
            result.append((f"{base}_PORT", str(number)))
            result.append((f"{base}_ADDR", ip))
    return result


def services_for(pod: Mapping[str, Any], services: Sequence[Mapping[str, Any]]) -> list[Obj]:
    """The services whose variables a pod gets (``getServiceEnvVarMap``)."""
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    links = (pod.get("spec") or {}).get("enableServiceLinks")
    links = True if links is None else bool(links)
    chosen: dict[str, Obj] = {}
    for service in services:
        meta = service.get("metadata") or {}
        name = str(meta.get("name", ""))
        if meta.get("namespace") == "default" and name in MASTER_SERVICES:
            chosen.setdefault(name, dict(service))
        elif meta.get("namespace") == namespace and links:
            chosen[name] = dict(service)
    return sorted(chosen.values(), key=lambda s: str(s["metadata"]["name"]))


def decode_secret(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's data, decoded (stringData is merged by the API server)."""
    out: dict[str, bytes] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            out[key] = str(value).encode()
    return out


def configmap_data(configmap: Mapping[str, Any]) -> dict[str, bytes]:
    out = {k: str(v).encode() for k, v in (configmap.get("data") or {}).items()}
    for key, value in (configmap.get("binaryData") or {}).items():
        out[key] = base64.b64decode(str(value))
    return out


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """A downward-API ``fieldRef`` value (``EnvError`` for an unsupported path)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    match = _LABEL_REF.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    simple: dict[str, Any] = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
        "status.hostIPs": ",".join(str(i.get("ip", "")) for i in status.get("hostIPs") or ()),
        "status.podIPs": ",".join(str(i.get("ip", "")) for i in status.get("podIPs") or ()),
    }
    if path not in simple:
        raise EnvError(f"unsupported fieldPath: {path}")
    value = simple[path]
    return "" if value is None else str(value)


def _source(
    kind: str, lookup: Lookup, namespace: str, name: str, optional: bool
) -> dict[str, bytes] | None:
    obj = lookup(namespace, name)
    if obj is None:
        if optional:
            return None
        raise EnvError(f'{kind.lower()} "{name}" not found')
    return decode_secret(obj) if kind == "Secret" else configmap_data(obj)


def container_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    configmaps: Lookup,
    secrets: Lookup,
    services: Sequence[Mapping[str, Any]] = (),
    allocatable: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The container's environment, in definition order (service variables last)."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    env: dict[str, str] = {}
    for source in container.get("envFrom") or ():
        prefix = str(source.get("prefix") or "")
        for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(field)
            if not ref:
                continue
            data = _source(
                kind,
                lookup_of(kind, configmaps, secrets),
                namespace,
                str(ref.get("name", "")),
                bool(ref.get("optional")),
            )
            for key, raw in (data or {}).items():
                if _ENV_NAME.match(prefix + key):
                    env[prefix + key] = raw.decode(errors="replace")
    service_vars = dict(service_env(services_for(pod, services)))
    for var in container.get("env") or ():
        name = str(var.get("name", ""))
        value_from = var.get("valueFrom")
        if not value_from:
            env[name] = expand(str(var.get("value") or ""), {**service_vars, **env})
            continue
        value = _value_from(
            pod, container, value_from, namespace, configmaps, secrets, allocatable or {}
        )
        if value is not None:
            env[name] = value
    for name, value in service_vars.items():
        env.setdefault(name, value)
    return list(env.items())


def lookup_of(kind: str, configmaps: Lookup, secrets: Lookup) -> Lookup:
    return secrets if kind == "Secret" else configmaps


def _value_from(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    value_from: Mapping[str, Any],
    namespace: str,
    configmaps: Lookup,
    secrets: Lookup,
    allocatable: Mapping[str, str],
) -> str | None:
    for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
        ref = value_from.get(field)
        if not ref:
            continue
        name, key = str(ref.get("name", "")), str(ref.get("key", ""))
        optional = bool(ref.get("optional"))
        data = _source(kind, lookup_of(kind, configmaps, secrets), namespace, name, optional)
        if data is None:
            return None
        if key not in data:
            if optional:
                return None
            raise EnvError(f"couldn't find key {key} in {kind} {namespace}/{name}")
        return data[key].decode(errors="replace")
    if value_from.get("fieldRef"):
        return field_value(pod, str(value_from["fieldRef"].get("fieldPath", "")))
    if value_from.get("resourceFieldRef"):
        try:
            return resource_value(
                pod, value_from["resourceFieldRef"], str(container.get("name", "")), allocatable
            )
        except ResourceError as exc:
            raise EnvError(str(exc)) from None
    return None


def command_line(
    container: Mapping[str, Any], env: Sequence[tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """``command`` and ``args`` with ``$(VAR)`` expanded over the container's environment."""
    mapping = dict(env)
    command = [expand(str(c), mapping) for c in container.get("command") or ()]
    args = [expand(str(a), mapping) for a in container.get("args") or ()]
    return command, args
