"""Security contexts of containers and pods: user and group ids, seccomp, AppArmor, sysctls.

Privileged containers are allowed, as on a kube-apiserver started with
``--allow-privileged=true`` (what kubeadm, kind and k3s do); everything else follows
``ValidateSecurityContext`` and ``validatePodSpecSecurityContext``.
"""

from __future__ import annotations

import re

from kybernetes.api.errors import FieldError, duplicate, invalid, not_supported, required
from kybernetes.api.validation.common import (
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    inclusive_range_error,
    index,
)
from kybernetes.api.validation.gofmt import GoValue
from kybernetes.api.validation.volumes import validate_local_descending_path

__all__ = [
    "validate_app_armor_profile",
    "validate_pod_security_context",
    "validate_seccomp_profile",
    "validate_security_context",
]

_MAX_INT32 = 2**31 - 1
_SYSCTL_RE = r"([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
# The struct upstream prints here holds pointers, whose addresses cannot be reproduced.
_CONTEXT_VALUE = GoValue("core.SecurityContext{...}")


def validate_seccomp_profile(profile: object, path: str) -> list[FieldError]:
    if profile is None:
        return []
    p = as_dict(profile)
    kind = as_str(p.get("type"))
    errs: list[FieldError] = []
    if not kind:
        errs.append(required(child(path, "type"), "type is required when seccompProfile is set"))
    elif kind not in ("Localhost", "RuntimeDefault", "Unconfined"):
        errs.append(
            not_supported(child(path, "type"), kind, ("Localhost", "RuntimeDefault", "Unconfined"))
        )
    local = p.get("localhostProfile")
    if kind == "Localhost":
        if local is None:
            errs.append(
                required(
                    child(path, "localhostProfile"), "must be set when seccomp type is Localhost"
                )
            )
        else:
            errs.extend(
                validate_local_descending_path(as_str(local), child(path, "localhostProfile"))
            )
    elif local is not None:
        errs.append(
            invalid(
                child(path, "localhostProfile"),
                as_str(local),
                "can only be set when seccomp type is Localhost",
            )
        )
    return errs


def validate_app_armor_profile(profile: object, path: str) -> list[FieldError]:
    if profile is None:
        return []
    p = as_dict(profile)
    kind, local = as_str(p.get("type")), p.get("localhostProfile")
    if kind == "Localhost":
        if local is None or not as_str(local).strip():
            return [
                required(
                    child(path, "localhostProfile"), "must be set when AppArmor type is Localhost"
                )
            ]
        if as_str(local).strip() != local:
            return [
                invalid(
                    child(path, "localhostProfile"), local, "must not be padded with whitespace"
                )
            ]
        return []
    if kind in ("RuntimeDefault", "Unconfined"):
        if local is not None:
            return [
                invalid(
                    child(path, "localhostProfile"),
                    as_str(local),
                    "can only be set when AppArmor type is Localhost",
                )
            ]
        return []
    if not kind:
        return [required(child(path, "type"), "type is required when appArmorProfile is set")]
    return [not_supported(child(path, "type"), kind, ("Localhost", "RuntimeDefault", "Unconfined"))]


def _id_range(value: object, path: str) -> list[FieldError]:
    number = as_int(value)
    if number is not None and not 0 <= number <= _MAX_INT32:
        return [invalid(path, number, inclusive_range_error(0, _MAX_INT32))]
    return []


def validate_security_context(context: object, host_users: bool, path: str) -> list[FieldError]:
    """``ValidateSecurityContext`` for a container."""
    if context is None:
        return []
    sc = as_dict(context)
    errs = _id_range(sc.get("runAsUser"), child(path, "runAsUser"))
    errs.extend(_id_range(sc.get("runAsGroup"), child(path, "runAsGroup")))
    proc = sc.get("procMount")
    if proc is not None:
        if proc not in ("Default", "Unmasked"):
            errs.append(
                not_supported(child(path, "procMount"), as_str(proc), ("Default", "Unmasked"))
            )
        if host_users and proc == "Unmasked":
            errs.append(
                invalid(
                    child(path, "procMount"), proc, "`hostUsers` must be false to use `Unmasked`"
                )
            )
    errs.extend(validate_seccomp_profile(sc.get("seccompProfile"), child(path, "seccompProfile")))
    if sc.get("allowPrivilegeEscalation") is False:
        if as_bool(sc.get("privileged")):
            errs.append(
                invalid(
                    path,
                    _CONTEXT_VALUE,
                    "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
                )
            )
        if "CAP_SYS_ADMIN" in as_list(as_dict(sc.get("capabilities")).get("add")):
            errs.append(
                invalid(
                    path,
                    _CONTEXT_VALUE,
                    "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` "
                    "CAP_SYS_ADMIN",
                )
            )
    errs.extend(
        validate_app_armor_profile(sc.get("appArmorProfile"), child(path, "appArmorProfile"))
    )
    return errs


def validate_pod_security_context(context: object, path: str) -> list[FieldError]:
    if context is None:
        return []
    sc = as_dict(context)
    errs: list[FieldError] = []
    for field in ("fsGroup", "runAsUser", "runAsGroup"):
        value = as_int(sc.get(field))
        if value is not None and not 0 <= value <= _MAX_INT32:
            errs.append(invalid(child(path, field), value, inclusive_range_error(0, _MAX_INT32)))
    for i, gid in enumerate(as_list(sc.get("supplementalGroups"))):
        value = as_int(gid) or 0
        if not 0 <= value <= _MAX_INT32:
            errs.append(
                invalid(
                    index(child(path, "supplementalGroups"), i),
                    value,
                    inclusive_range_error(0, _MAX_INT32),
                )
            )
    sysctl_names: set[str] = set()
    for i, raw in enumerate(as_list(sc.get("sysctls"))):
        name, p = as_str(as_dict(raw).get("name")), child(index(child(path, "sysctls"), i), "name")
        if not name:
            errs.append(required(p))
        elif len(name) > 253 or not re.fullmatch(_SYSCTL_RE, name):
            errs.append(
                invalid(p, name, f"must have at most 253 characters and match regex ^{_SYSCTL_RE}$")
            )
        elif name in sysctl_names:
            errs.append(duplicate(p, name))
        sysctl_names.add(name)
    policy = sc.get("fsGroupChangePolicy")
    if policy is not None and policy not in ("Always", "OnRootMismatch"):
        errs.append(
            not_supported(
                child(path, "fsGroupChangePolicy"), as_str(policy), ("Always", "OnRootMismatch")
            )
        )
    errs.extend(validate_seccomp_profile(sc.get("seccompProfile"), child(path, "seccompProfile")))
    errs.extend(
        validate_app_armor_profile(sc.get("appArmorProfile"), child(path, "appArmorProfile"))
    )
    groups_policy = sc.get("supplementalGroupsPolicy")
    if groups_policy is not None and groups_policy not in ("Merge", "Strict"):
        errs.append(
            not_supported(
                child(path, "supplementalGroupsPolicy"), as_str(groups_policy), ("Merge", "Strict")
            )
        )
    return errs
