"""The fields each resource can be selected by (``?fieldSelector=``), as upstream registers them.

Every resource supports ``metadata.name`` and ``metadata.namespace``; some add their own
(pods: ``spec.nodeName``, ``status.phase``...). A selector naming any other field is refused
with upstream's ``field label not supported: <field>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

FieldsFunc = Callable[[Mapping[str, Any]], dict[str, str]]


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    cur: Any = obj
    for part in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _meta(obj: Mapping[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return {
        "metadata.name": _text(meta.get("name")),
        "metadata.namespace": _text(meta.get("namespace")),
    }


def _pod(obj: Mapping[str, Any]) -> dict[str, str]:
    out = _meta(obj)
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    out["spec.nodeName"] = _text(spec.get("nodeName"))
    out["spec.restartPolicy"] = _text(spec.get("restartPolicy"))
    out["spec.schedulerName"] = _text(spec.get("schedulerName"))
    out["spec.serviceAccountName"] = _text(spec.get("serviceAccountName"))
    out["spec.hostNetwork"] = _text(bool(spec.get("hostNetwork")))
    out["status.phase"] = _text(status.get("phase"))
    out["status.podIP"] = _text(status.get("podIP"))
    out["status.nominatedNodeName"] = _text(status.get("nominatedNodeName"))
    return out


def _event(obj: Mapping[str, Any]) -> dict[str, str]:
    out = _meta(obj)
    for field in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
        out[f"involvedObject.{field}"] = _text(_get(obj, "involvedObject", field))
    out["reason"] = _text(obj.get("reason"))
    out["reportingComponent"] = _text(obj.get("reportingComponent"))
    out["source"] = _text(_get(obj, "source", "component"))
    out["type"] = _text(obj.get("type"))
    return out


def _events_k8s_io(obj: Mapping[str, Any]) -> dict[str, str]:
    out = _meta(obj)
    for field in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
        out[f"regarding.{field}"] = _text(_get(obj, "regarding", field))
    out["reason"] = _text(obj.get("reason"))
    out["reportingController"] = _text(obj.get("reportingController"))
    out["type"] = _text(obj.get("type"))
    return out


def _with(**paths: tuple[str, ...]) -> FieldsFunc:
    def fields(obj: Mapping[str, Any]) -> dict[str, str]:
        out = _meta(obj)
        for name, path in paths.items():
            out[name.replace("__", ".")] = _text(_get(obj, *path))
        return out

    return fields


_BY_RESOURCE: dict[tuple[str, str], FieldsFunc] = {
    ("", "pods"): _pod,
    ("", "events"): _event,
    ("events.k8s.io", "events"): _events_k8s_io,
    ("", "secrets"): _with(type=("type",)),
    ("", "namespaces"): _with(status__phase=("status", "phase")),
    ("", "nodes"): _with(spec__unschedulable=("spec", "unschedulable")),
    ("", "replicationcontrollers"): _with(status__replicas=("status", "replicas")),
    ("apps", "replicasets"): _with(status__replicas=("status", "replicas")),
    ("batch", "jobs"): _with(status__successful=("status", "successful")),
    ("", "services"): _with(spec__clusterIP=("spec", "clusterIP"), spec__type=("spec", "type")),
    ("certificates.k8s.io", "certificatesigningrequests"): _with(
        spec__signerName=("spec", "signerName")
    ),
}


def fields_func(group: str, resource: str) -> FieldsFunc:
    """The function giving an object's selectable fields (``metadata.*`` at least)."""
    return _BY_RESOURCE.get((group, resource), _meta)


def supported_fields(group: str, resource: str) -> frozenset[str]:
    """The field names a selector on this resource may use."""
    probe = fields_func(group, resource)({})
    return frozenset(probe)
