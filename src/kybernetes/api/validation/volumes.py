"""Pod volumes, volume mounts and devices, and the PersistentVolumeClaim spec.

``validate_volumes`` returns the volume sources by name alongside the errors: as upstream, a
volume with any error is left out of that table, so mounts that name it also report ``Not
found``. Exactly one source per volume; the in-tree cloud sources that no cluster of ours can
mount are still checked for their required fields, so manifests written for real clusters get
the same answers. Field paths keep upstream's spelling slips (``downwarAPI``, ``persistentDisk``
for gcePersistentDisk, unindexed ``volumeMounts.subPath``) because clients match on them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import (
    ErrorType,
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
)
from kybernetes.api.validation.common import (
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    index,
    key,
    quantity_of,
    validate_dns1123_label,
    validate_label_selector,
)
from kybernetes.api.validation.names import (
    is_dns1123_label,
    is_dns1123_subdomain,
    name_is_dns_subdomain,
)
from kybernetes.api.validation.objectmeta import validate_template_object_meta
from kybernetes.api.validation.resourcelists import validate_resource_quantity

__all__ = [
    "validate_access_modes",
    "validate_key_to_path",
    "validate_local_descending_path",
    "validate_local_non_reserved_path",
    "validate_pvc_spec",
    "validate_volumes",
]

FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
_HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)
_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_VOLUME_MODES = ("Block", "Filesystem")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")

# In-tree sources checked only for their required fields: (json name, path name, fields).
_SIMPLE_SOURCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("gitRepo", "gitRepo", ("repository",)),
    ("gcePersistentDisk", "persistentDisk", ("pdName",)),
    ("awsElasticBlockStore", "awsElasticBlockStore", ("volumeID",)),
    ("iscsi", "iscsi", ("targetPortal", "iqn")),
    ("glusterfs", "glusterfs", ("endpoints", "path")),
    ("flocker", "flocker", ()),
    ("rbd", "rbd", ("monitors", "image")),
    ("cinder", "cinder", ("volumeID",)),
    ("cephfs", "cephfs", ("monitors",)),
    ("quobyte", "quobyte", ("registry", "volume")),
    ("fc", "fc", ()),
    ("flexVolume", "flexVolume", ("driver",)),
    ("azureFile", "azureFile", ("secretName", "shareName")),
    ("vsphereVolume", "vsphereVolume", ("volumePath",)),
    ("photonPersistentDisk", "photonPersistentDisk", ("pdID",)),
    ("portworxVolume", "portworxVolume", ("volumeID",)),
    ("azureDisk", "azureDisk", ("diskName", "diskURI")),
    ("storageos", "storageos", ("volumeName",)),
    ("scaleIO", "scaleIO", ("gateway", "system", "volumeName")),
)
# The order upstream tests the sources in, which decides which one counts as "more than 1".
_SOURCE_ORDER = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret",
    "nfs", "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs",
    "quobyte", "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume",
    "photonPersistentDisk", "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO",
    "csi", "ephemeral", "image",
)  # fmt: skip
_SOURCE_RANK = {name: rank for rank, name in enumerate(_SOURCE_ORDER)}
_FORBIDDEN_PATH_NAME = {"downwardAPI": "downwarAPI", "cephfs": "cephFS"}


def validate_path_no_backsteps(target: str, path: str) -> list[FieldError]:
    if ".." in target.split("/"):
        return [invalid(path, target, "must not contain '..'")]
    return []


def validate_local_descending_path(target: str, path: str) -> list[FieldError]:
    errs = []
    if posixpath.isabs(target):
        errs.append(invalid(path, target, "must be a relative path"))
    return errs + validate_path_no_backsteps(target, path)


def validate_local_non_reserved_path(target: str, path: str) -> list[FieldError]:
    errs = validate_local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(invalid(path, target, "must not start with '..'"))
    return errs


def _mode(value: object, parent: str, name: str) -> list[FieldError]:
    """The file mode ``value`` of field ``name`` under ``parent`` (path built on error only)."""
    mode = as_int(value)
    if mode is not None and not 0 <= mode <= 0o777:
        return [invalid(child(parent, name), mode, FILE_MODE_ERROR)]
    return []


def _non_reserved_path(target: str, parent: str, name: str) -> list[FieldError]:
    """``validate_local_non_reserved_path`` for field ``name`` under ``parent``. Every error
    needs a leading ``/`` or a ``..``, so other paths are passed without building the path."""
    if not target.startswith("/") and ".." not in target:
        return []
    return validate_local_non_reserved_path(target, child(parent, name))


def validate_key_to_path(item: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not as_str(item.get("key")):
        errs.append(required(child(path, "key")))
    target = as_str(item.get("path"))
    if not target:
        errs.append(required(child(path, "path")))
    errs.extend(_non_reserved_path(target, path, "path"))
    return errs + _mode(item.get("mode"), path, "mode")


_VOLUME_FIELD_PATHS = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
)


def _downward_file(item: Mapping[str, Any], path: str, field_selector: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    target = as_str(item.get("path"))
    if not target:
        errs.append(required(child(path, "path")))
    errs.extend(_non_reserved_path(target, path, "path"))
    if item.get("fieldRef") is not None:
        errs.extend(
            field_selector(
                as_dict(item.get("fieldRef")), _VOLUME_FIELD_PATHS, child(path, "fieldRef")
            )
        )
        if item.get("resourceFieldRef") is not None:
            errs.append(
                invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                )
            )
    elif item.get("resourceFieldRef") is not None:
        ref = as_dict(item.get("resourceFieldRef"))
        if not as_str(ref.get("containerName")):
            errs.append(required(child(path, "resourceFieldRef", "containerName")))
    else:
        errs.append(required(path, "one of fieldRef and resourceFieldRef is required"))
    return errs + _mode(item.get("mode"), path, "mode")


def _projected(source: Mapping[str, Any], path: str, field_selector: Any) -> list[FieldError]:
    errs = _mode(source.get("defaultMode"), path, "defaultMode")
    seen: set[str] = set()

    def claim(target: str, shown: object) -> None:
        if target in seen:
            errs.append(invalid(path, shown, "conflicting duplicate paths"))
        seen.add(target)

    for i, raw in enumerate(as_list(source.get("sources"))):
        src, src_path = as_dict(raw), index(child(path, "sources"), i)
        count = 0
        for kind in ("secret", "configMap"):
            if src.get(kind) is None:
                continue
            count += 1
            ref, ref_path = as_dict(src.get(kind)), child(src_path, kind)
            if not as_str(ref.get("name")):
                errs.append(required(child(ref_path, "name")))
            for j, item in enumerate(as_list(ref.get("items"))):
                errs.extend(validate_key_to_path(as_dict(item), index(child(ref_path, "items"), j)))
                if as_str(as_dict(item).get("path")):
                    claim(as_str(as_dict(item).get("path")), as_str(ref.get("name")))
        if src.get("downwardAPI") is not None:
            count += 1
            for item in as_list(as_dict(src.get("downwardAPI")).get("items")):
                errs.extend(
                    _downward_file(as_dict(item), child(src_path, "downwardAPI"), field_selector)
                )
                if as_str(as_dict(item).get("path")):
                    claim(as_str(as_dict(item).get("path")), as_str(as_dict(item).get("path")))
        if src.get("serviceAccountToken") is not None:
            count += 1
            token, token_path = (
                as_dict(src.get("serviceAccountToken")),
                child(src_path, "serviceAccountToken"),
            )
            seconds = as_int(token.get("expirationSeconds")) or 0
            if seconds < 600:
                errs.append(
                    invalid(
                        child(token_path, "expirationSeconds"),
                        seconds,
                        "may not specify a duration less than 10 minutes",
                    )
                )
            if seconds > 1 << 32:
                errs.append(
                    invalid(
                        child(token_path, "expirationSeconds"),
                        seconds,
                        "may not specify a duration larger than 2^32 seconds",
                    )
                )
            target = as_str(token.get("path"))
            if not target:
                errs.append(required(child(path, "path")))
            else:
                errs.extend(_non_reserved_path(target, path, "path"))
        if src.get("clusterTrustBundle") is not None:
            count += 1
            bundle = as_dict(src.get("clusterTrustBundle"))
            target = as_str(bundle.get("path"))
            if not target:
                errs.append(required(child(src_path, "clusterTrustBundle", "path")))
            errs.extend(
                validate_local_non_reserved_path(
                    target, child(src_path, "clusterTrustBundle", "path")
                )
            )
            claim(target, target)
        if count > 1:
            errs.append(forbidden(src_path, "may not specify more than 1 volume type per source"))
    return errs


def _source_errors(
    name: str,
    source: Mapping[str, Any],
    path: str,
    vol: Mapping[str, Any],
    pod_name: str,
    field_selector: Any,
) -> list[FieldError]:
    p = child(path, name)
    if name == "emptyDir":
        limit = quantity_of(source.get("sizeLimit"))
        if limit is not None and limit.sign() < 0:
            return [
                forbidden(
                    child(p, "sizeLimit"), "SizeLimit field must be a valid resource quantity"
                )
            ]
        return []
    if name == "hostPath":
        target = as_str(source.get("path"))
        if not target:
            return [required(child(p, "path"))]
        errs = validate_path_no_backsteps(target, child(p, "path"))
        kind = source.get("type")
        if isinstance(kind, str) and kind not in _HOST_PATH_TYPES:
            errs.append(not_supported(child(p, "type"), kind, _HOST_PATH_TYPES))
        return errs
    if name in ("secret", "configMap"):
        ref_field = "secretName" if name == "secret" else "name"
        errs = [] if as_str(source.get(ref_field)) else [required(child(p, ref_field))]
        errs.extend(_mode(source.get("defaultMode"), p, "defaultMode"))
        for i, item in enumerate(as_list(source.get("items"))):
            errs.extend(validate_key_to_path(as_dict(item), index(child(p, "items"), i)))
        return errs
    if name == "persistentVolumeClaim":
        return [] if as_str(source.get("claimName")) else [required(child(p, "claimName"))]
    if name == "nfs":
        errs = [] if as_str(source.get("server")) else [required(child(p, "server"))]
        target = as_str(source.get("path"))
        if not target:
            errs.append(required(child(p, "path")))
        if not posixpath.isabs(target):
            errs.append(invalid(child(p, "path"), target, "must be an absolute path"))
        return errs
    if name == "downwardAPI":
        errs = _mode(source.get("defaultMode"), p, "defaultMode")
        for item in as_list(source.get("items")):
            errs.extend(_downward_file(as_dict(item), p, field_selector))
        return errs
    if name == "projected":
        return _projected(source, p, field_selector)
    if name == "csi":
        driver = as_str(source.get("driver"))
        errs = [] if driver else [required(child(p, "driver"))]
        if len(driver) > 63:
            errs.append(
                FieldError(
                    ErrorType.TOO_LONG, child(p, "driver"), "", "may not be more than 63 bytes"
                )
            )
        errs.extend(
            invalid(child(p, "driver"), driver, m) for m in is_dns1123_subdomain(driver.lower())
        )
        return errs
    if name == "ephemeral":
        template = source.get("volumeClaimTemplate")
        if template is None:
            return [required(child(p, "volumeClaimTemplate"))]
        t = as_dict(template)
        errs = validate_template_object_meta(
            t.get("metadata"), child(p, "volumeClaimTemplate", "metadata")
        )
        errs.extend(validate_pvc_spec(t.get("spec"), child(p, "volumeClaimTemplate", "spec")))
        vol_name = as_str(vol.get("name"))
        if pod_name and vol_name:
            pvc = f"{pod_name}-{vol_name}"
            errs.extend(
                invalid(child(path, "name"), vol_name, f'PVC name "{pvc}": {m}')
                for m in name_is_dns_subdomain(pvc)
            )
        return errs
    if name == "image":
        policy = as_str(source.get("pullPolicy"))
        if policy not in _PULL_POLICIES:
            return (
                [required(child(p, "pullPolicy"))]
                if not policy
                else [not_supported(child(p, "pullPolicy"), policy, _PULL_POLICIES)]
            )
        return []
    for json_name, path_name, fields in _SIMPLE_SOURCES:
        if json_name == name:
            return [required(child(path, path_name, f)) for f in fields if not source.get(f)]
    return []


def _volume_source(
    vol: Mapping[str, Any], path: str, pod_name: str, field_selector: Any
) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    # The sources the volume sets, in upstream's order (a volume has few keys, the order many).
    present = [name for name in vol if name in _SOURCE_RANK and vol[name] is not None]
    if len(present) > 1:
        present.sort(key=_SOURCE_RANK.__getitem__)
    for name in present:
        if count:
            errs.append(
                forbidden(
                    child(path, _FORBIDDEN_PATH_NAME.get(name, name)),
                    "may not specify more than 1 volume type",
                )
            )
            continue
        count += 1
        errs.extend(
            _source_errors(name, as_dict(vol.get(name)), path, vol, pod_name, field_selector)
        )
    if not count:
        errs.append(required(path, "must specify a volume type"))
    return errs


def validate_volumes(
    volumes: object, pod_name: str, path: str, field_selector: Any
) -> tuple[dict[str, dict[str, Any]], list[FieldError]]:
    """``ValidateVolumes``: the valid volumes by name, and every error found."""
    errs: list[FieldError] = []
    valid: dict[str, dict[str, Any]] = {}
    names: set[str] = set()
    items = [as_dict(v) for v in as_list(volumes)]
    created = (
        {f"{pod_name}-{as_str(v.get('name'))}" for v in items if v.get("ephemeral") is not None}
        if pod_name
        else set()
    )
    for i, vol in enumerate(items):
        vol_path = index(path, i)
        name = as_str(vol.get("name"))
        el = _volume_source(vol, vol_path, pod_name, field_selector)
        if not name:
            el.append(required(child(vol_path, "name")))
        elif is_dns1123_label(name):  # the path is only built for an error
            el.extend(validate_dns1123_label(name, child(vol_path, "name")))
        if name in names:
            el.append(duplicate(child(vol_path, "name"), name))
        if el:
            errs.extend(el)
        else:
            names.add(name)
            valid[name] = vol
        claim = as_str(as_dict(vol.get("persistentVolumeClaim")).get("claimName"))
        if vol.get("persistentVolumeClaim") is not None and claim in created:
            errs.append(
                invalid(
                    child(vol_path, "persistentVolumeClaim", "claimName"),
                    claim,
                    "must not reference a PVC that gets created for an ephemeral volume",
                )
            )
    return valid, errs


def validate_pvc_spec(spec_value: object, path: str) -> list[FieldError]:
    """``ValidatePersistentVolumeClaimSpec``."""
    spec = as_dict(spec_value)
    errs: list[FieldError] = []
    modes = [as_str(m) for m in as_list(spec.get("accessModes"))]
    if not modes:
        errs.append(required(child(path, "accessModes"), "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        errs.extend(validate_label_selector(spec.get("selector"), child(path, "selector")))
    errs.extend(validate_access_modes(modes, child(path, "accessModes")))
    storage_path = key(child(path, "resources"), "storage")
    requests = as_dict(as_dict(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        errs.append(required(storage_path))
    else:
        storage = quantity_of(requests["storage"])
        if storage is None or storage.sign() <= 0:
            errs.append(
                invalid(storage_path, str(requests["storage"]), "must be greater than zero")
            )
        else:
            errs.extend(validate_resource_quantity("storage", requests["storage"], storage_path))
    class_name = spec.get("storageClassName")
    if isinstance(class_name, str) and class_name:
        errs.extend(
            invalid(child(path, "storageClassName"), class_name, m)
            for m in name_is_dns_subdomain(class_name)
        )
    mode = spec.get("volumeMode")
    if isinstance(mode, str) and mode not in _VOLUME_MODES:
        errs.append(not_supported(child(path, "volumeMode"), mode, _VOLUME_MODES))
    return errs


def validate_access_modes(modes: list[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    once_pod = other = False
    for mode in modes:
        if mode not in _ACCESS_MODES:
            errs.append(not_supported(path, mode, _ACCESS_MODES))
        if mode == "ReadWriteOncePod":
            once_pod = True
        elif mode in _ACCESS_MODES:
            other = True
    if once_pod and other:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs
