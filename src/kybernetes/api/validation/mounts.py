"""How containers use volumes: mounts (paths, sub-paths, propagation) and block devices.

``validate_volume_mounts`` and ``validate_volume_devices`` check one container against the
table of valid volumes ``validate_volumes`` built; paths keep upstream's unindexed
``volumeMounts.subPath`` and ``volumeMounts.mountPropagation`` spellings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import FieldError, forbidden, invalid, not_found, not_supported, required
from kybernetes.api.validation.common import as_bool, as_dict, as_list, as_str, child, index
from kybernetes.api.validation.volumes import validate_local_descending_path

__all__ = ["validate_volume_devices", "validate_volume_mounts"]


def validate_volume_mounts(
    mounts: object, devices: object, volumes: Mapping[str, Any], privileged: bool, path: str
) -> list[FieldError]:
    """``ValidateVolumeMounts`` for one container."""
    errs: list[FieldError] = []
    device_map = (
        {
            as_str(as_dict(d).get("name")): as_str(as_dict(d).get("devicePath"))
            for d in as_list(devices)
        }
        if devices
        else {}
    )
    mount_points: set[str] = set()
    for i, raw in enumerate(as_list(mounts)):
        mnt, p = as_dict(raw), index(path, i)
        name, mount_path = as_str(mnt.get("name")), as_str(mnt.get("mountPath"))
        if not name:
            errs.append(required(child(p, "name")))
        if name not in volumes:
            errs.append(not_found(child(p, "name"), name))
        if not mount_path:
            errs.append(required(child(p, "mountPath")))
        if mount_path in mount_points:
            errs.append(invalid(child(p, "mountPath"), mount_path, "must be unique"))
        mount_points.add(mount_path)
        if name in device_map:
            errs.append(invalid(child(p, "name"), name, "must not already exist in volumeDevices"))
        if mount_path in device_map.values():
            errs.append(
                invalid(
                    child(p, "mountPath"),
                    mount_path,
                    "must not already exist as a path in volumeDevices",
                )
            )
        sub_path, sub_expr = as_str(mnt.get("subPath")), as_str(mnt.get("subPathExpr"))
        if name in volumes and volumes[name].get("image") is not None:
            if sub_path:
                errs.append(
                    invalid(child(p, "subPath"), sub_path, "not allowed in image volume sources")
                )
            if sub_expr:
                errs.append(
                    invalid(
                        child(p, "subPathExpr"), sub_expr, "not allowed in image volume sources"
                    )
                )
        if sub_path and (sub_path.startswith("/") or ".." in sub_path):
            errs.extend(validate_local_descending_path(sub_path, child(path, "subPath")))
        if sub_expr:
            if sub_path:
                errs.append(
                    invalid(
                        child(p, "subPathExpr"),
                        sub_expr,
                        "subPathExpr and subPath are mutually exclusive",
                    )
                )
            errs.extend(validate_local_descending_path(sub_expr, child(path, "subPathExpr")))
        if mnt.get("mountPropagation") is not None:
            errs.extend(
                _mount_propagation(
                    mnt.get("mountPropagation"), privileged, child(path, "mountPropagation")
                )
            )
        if mnt.get("recursiveReadOnly") not in (None, "Disabled"):
            errs.extend(_recursive_read_only(mnt, child(path, "recursiveReadOnly")))
    return errs


def _mount_propagation(value: object, privileged: bool, path: str) -> list[FieldError]:
    if value is None:
        return []
    mode = as_str(value)
    errs = []
    if mode not in ("Bidirectional", "HostToContainer", "None"):
        errs.append(not_supported(path, mode, ("Bidirectional", "HostToContainer", "None")))
    if mode == "Bidirectional" and not privileged:
        errs.append(
            forbidden(
                path, "Bidirectional mount propagation is available only to privileged containers"
            )
        )
    return errs


def _recursive_read_only(mnt: Mapping[str, Any], path: str) -> list[FieldError]:
    value = mnt.get("recursiveReadOnly")
    if value is None or value == "Disabled":
        return []
    if value in ("Enabled", "IfPossible"):
        errs = []
        if not as_bool(mnt.get("readOnly")):
            errs.append(forbidden(path, "may only be specified when readOnly is true"))
        propagation = mnt.get("mountPropagation")
        if propagation is not None and propagation != "None":
            errs.append(
                forbidden(
                    path, "may only be specified when mountPropagation is None or not specified"
                )
            )
        return errs
    return [not_supported(path, as_str(value), ("Disabled", "Enabled", "IfPossible"))]


def validate_volume_devices(
    devices: object, mounts: object, volumes: Mapping[str, Any], path: str
) -> list[FieldError]:
    """``ValidateVolumeDevices``: block devices come from claims only."""
    errs: list[FieldError] = []
    device_list = as_list(devices)
    if not device_list:
        return errs
    mount_map = {
        as_str(as_dict(m).get("name")): as_str(as_dict(m).get("mountPath")) for m in as_list(mounts)
    }
    paths: set[str] = set()
    names: set[str] = set()
    for i, raw in enumerate(device_list):
        dev, p = as_dict(raw), index(path, i)
        name, dev_path = as_str(dev.get("name")), as_str(dev.get("devicePath"))
        source = volumes.get(name)
        is_claim = source is not None and (
            source.get("persistentVolumeClaim") is not None or source.get("ephemeral") is not None
        )
        if not name:
            errs.append(required(child(p, "name")))
        if name in names:
            errs.append(invalid(child(p, "name"), name, "must be unique"))
        if source is not None and not is_claim:
            errs.append(
                invalid(
                    child(p, "name"),
                    name,
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral for "
                    "block mode",
                )
            )
        if source is None:
            errs.append(not_found(child(p, "name"), name))
        if not dev_path:
            errs.append(required(child(p, "devicePath")))
        if dev_path in paths:
            errs.append(invalid(child(p, "devicePath"), dev_path, "must be unique"))
        if dev_path and ".." in dev_path.split("/"):
            errs.append(
                invalid(child(p, "devicePath"), dev_path, "can not contain backsteps ('..')")
            )
        else:
            paths.add(dev_path)
        if name in mount_map:
            errs.append(invalid(child(p, "name"), name, "must not already exist in volumeMounts"))
        if dev_path in mount_map.values():
            errs.append(
                invalid(
                    child(p, "devicePath"),
                    dev_path,
                    "must not already exist as a path in volumeMounts",
                )
            )
        if name:
            names.add(name)
    return errs
