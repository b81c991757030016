"""PodSpec defaulting and the helpers every defaulter shares (``pkg/apis/core/v1/defaults.go``).

``pod_spec`` is ``SetDefaults_PodSpec`` plus the generated defaulters of everything a PodSpec
holds (containers, probes, volumes, resource lists); ``pod`` adds the Pod-only defaults. The
image-reference parser decides ``imagePullPolicy`` the way ``parsers.ParseImageName`` does.
Every function mutates in place and is idempotent.
"""

from __future__ import annotations

import re
from typing import Any

from kybernetes.api.quantity import QuantityError, parse_quantity

__all__ = [
    "DECLARATIVE_VOLUME_DEFAULTS",
    "Obj",
    "dict_at",
    "dicts",
    "image_tag",
    "pod",
    "pod_spec",
    "pvc_spec",
    "resource_list",
    "resources",
    "setdefault",
    "template",
]

Obj = dict[str, Any]


def dict_at(parent: Obj, key: str) -> Obj:
    """``parent[key]`` as a dict, created when absent (a Go pointer being allocated)."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def dicts(value: object) -> list[Obj]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def setdefault(obj: Obj, key: str, value: Any) -> None:
    """Set ``key`` when it is absent, null or Go's zero value for a string (``""``)."""
    if obj.get(key) is None or obj.get(key) == "":
        obj[key] = value


# --------------------------------------------------------------------------------------------
# Quantities: SetDefaults_ResourceList rounds up to milli-units; encoding canonicalises.


def resource_list(value: object) -> None:
    if not isinstance(value, dict):
        return
    for name, raw in value.items():
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            continue
        try:
            q = parse_quantity(raw)
        except (QuantityError, ValueError, OverflowError):
            continue  # the validator reports it
        if (q.as_fraction() * 1000).denominator != 1:
            q = type(q).from_milli(q.milli_value(), q.format)
        value[name] = str(q)


def resources(requirements: object) -> None:
    if isinstance(requirements, dict):
        resource_list(requirements.get("limits"))
        resource_list(requirements.get("requests"))


# --------------------------------------------------------------------------------------------
# Image references (k8s.io/kubernetes/pkg/util/parsers.ParseImageName, docker reference grammar).

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)


def image_tag(image: str) -> str:
    """The tag ``ParseImageName`` reports: ``latest`` when neither tag nor digest is given,
    ``""`` for a reference that does not parse (upstream then defaults to IfNotPresent)."""
    match = _REFERENCE.fullmatch(image)
    if match is None or len(image) > 255 + 128 + 72:
        return ""
    tag, digest = match.group("tag"), match.group("digest")
    if tag:
        return tag
    return "" if digest else "latest"


# --------------------------------------------------------------------------------------------
# PodSpec and everything in it.


def _field_ref(holder: Obj) -> None:
    ref = holder.get("fieldRef")
    if isinstance(ref, dict):
        setdefault(ref, "apiVersion", "v1")


def _http_get(handler: object) -> None:
    if isinstance(handler, dict) and isinstance(handler.get("httpGet"), dict):
        action = handler["httpGet"]
        setdefault(action, "path", "/")
        setdefault(action, "scheme", "HTTP")


def _probe(probe: object) -> None:
    if not isinstance(probe, dict):
        return
    for field, default in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not probe.get(field):
            probe[field] = default
    _http_get(probe)
    if isinstance(probe.get("grpc"), dict) and probe["grpc"].get("service") is None:
        probe["grpc"]["service"] = ""


def _container(container: Obj) -> None:
    if not container.get("imagePullPolicy"):
        tag = image_tag(container.get("image") or "")
        container["imagePullPolicy"] = "Always" if tag == "latest" else "IfNotPresent"
    setdefault(container, "terminationMessagePath", "/dev/termination-log")
    setdefault(container, "terminationMessagePolicy", "File")
    for port in dicts(container.get("ports")):
        setdefault(port, "protocol", "TCP")
    for env in dicts(container.get("env")):
        if isinstance(env.get("valueFrom"), dict):
            _field_ref(env["valueFrom"])
    resources(container.get("resources"))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(container.get(probe))
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        _http_get(lifecycle.get("postStart"))
        _http_get(lifecycle.get("preStop"))


_VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
    "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder",
    "cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume",
    "quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
    "storageos", "csi", "ephemeral", "image",
)  # fmt: skip
DECLARATIVE_VOLUME_DEFAULTS: dict[str, tuple[tuple[str, Any], ...]] = {
    "iscsi": (("iscsiInterface", "default"),),
    "rbd": (("pool", "rbd"), ("user", "admin"), ("keyring", "/etc/ceph/keyring")),
    "azureDisk": (
        ("cachingMode", "ReadWrite"),
        ("fsType", "ext4"),
        ("readOnly", False),
        ("kind", "Shared"),
    ),
    "scaleIO": (("storageMode", "ThinProvisioned"), ("fsType", "xfs")),
}


def _volume(volume: Obj) -> None:
    if not any(volume.get(source) is not None for source in _VOLUME_SOURCES):
        volume["emptyDir"] = {}
    if isinstance(volume.get("hostPath"), dict) and volume["hostPath"].get("type") is None:
        volume["hostPath"]["type"] = ""
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(volume.get(source), dict) and volume[source].get("defaultMode") is None:
            volume[source]["defaultMode"] = 0o644
    if isinstance(volume.get("downwardAPI"), dict):
        for item in dicts(volume["downwardAPI"].get("items")):
            _field_ref(item)
    if isinstance(volume.get("projected"), dict):
        for projection in dicts(volume["projected"].get("sources")):
            if isinstance(projection.get("downwardAPI"), dict):
                for item in dicts(projection["downwardAPI"].get("items")):
                    _field_ref(item)
            token = projection.get("serviceAccountToken")
            if isinstance(token, dict) and token.get("expirationSeconds") is None:
                token["expirationSeconds"] = 3600
    ephemeral = volume.get("ephemeral")
    if isinstance(ephemeral, dict) and isinstance(ephemeral.get("volumeClaimTemplate"), dict):
        pvc_spec(dict_at(ephemeral["volumeClaimTemplate"], "spec"))
    for source, defaults in DECLARATIVE_VOLUME_DEFAULTS.items():
        if isinstance(volume.get(source), dict):
            for field, default in defaults:
                if volume[source].get(field) is None:
                    volume[source][field] = default


def pod_spec(spec: Obj) -> None:
    """``SetDefaults_PodSpec`` and the defaulters of everything a PodSpec holds."""
    setdefault(spec, "dnsPolicy", "ClusterFirst")
    setdefault(spec, "restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    setdefault(spec, "schedulerName", "default-scheduler")
    for volume in dicts(spec.get("volumes")):
        _volume(volume)
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in dicts(spec.get(kind)):
            _container(container)
    resource_list(spec.get("overhead"))
    resources(spec.get("resources"))


def template(holder: Obj, key: str = "template") -> None:
    template = holder.get(key)
    if isinstance(template, dict):
        pod_spec(dict_at(template, "spec"))


def pod(obj: Obj) -> None:
    spec = dict_at(obj, "spec")
    # SetDefaults_Pod: requests default to limits, for Pods only (not templates).
    for kind in ("containers", "initContainers"):
        for container in dicts(spec.get(kind)):
            resources = container.get("resources")
            if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
                requests = dict_at(resources, "requests")
                for name, value in resources["limits"].items():
                    requests.setdefault(name, value)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork") is True:
        for kind in ("containers", "initContainers"):
            for container in dicts(spec.get(kind)):
                for port in dicts(container.get("ports")):
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort", 0)
    pod_spec(spec)


def pvc_spec(spec: Obj) -> None:
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    resources(spec.get("resources"))
