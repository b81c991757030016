"""The files of configMap, secret, downwardAPI and projected volumes, as the kubelet writes them.

Pure functions from the volume source and the objects it names to ``{relative path: File}``:

- configMap/secret: every key (``data`` and ``binaryData``; a secret's decoded ``data``) as a
  file, or only the listed ``items`` (key -> path, optional mode); ``defaultMode`` 0644; a
  missing object or key fails unless ``optional``, with upstream's messages;
- downwardAPI: ``fieldRef`` (name, namespace, uid, labels, annotations, one label or
  annotation) and ``resourceFieldRef`` items; a map is ``key="value"`` lines sorted by key
  with no final newline (``fieldpath.FormatMap``);
- projected: the union of its sources under one ``defaultMode``; a ``serviceAccountToken``
  source is the token ``tokens`` returns for it (``tokens.py``), mode 0600 and owned by the
  pods' common ``runAsUser`` when the pod has one or an ``fsGroup`` (whose ownership change
  then adds group read), as upstream's projected plugin; without ``tokens`` it is left out
  (``skipped`` says so). ``clusterTrustBundle`` sources are left out.

Invariant: the same inputs always give the same files; paths never escape the volume.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from kybernetes.agent.kubelet.env import EnvError, configmap_data, decode_secret, field_value
from kybernetes.agent.kubelet.resources import ResourceError, resource_value

Obj = dict[str, Any]
Lookup = Callable[[str, str], "Obj | None"]
#: (pod, serviceAccountToken source) -> the token; raises VolumeError when there is none.
TokenLookup = Callable[[Mapping[str, Any], Mapping[str, Any]], bytes]
DEFAULT_MODE: Final = 0o644
TOKEN_OWNER_MODE: Final = 0o600


class VolumeError(ValueError):
    """A volume cannot be set up (the pod waits in ContainerCreating; event FailedMount)."""


@dataclass(frozen=True, slots=True)
class File:
    data: bytes
    mode: int = DEFAULT_MODE
    #: The file's owner (uid), when not the agent's; not part of equality: it is fixed for
    #: the life of a pod, and what is on disk is compared by content and mode.
    owner: int | None = field(default=None, compare=False)


@dataclass
class Rendered:
    files: dict[str, File] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def _clean(path: str) -> str:
    norm = posixpath.normpath(path)
    if not path or norm.startswith("..") or posixpath.isabs(norm) or norm == ".":
        raise VolumeError(f"invalid path {path!r}: must be relative and may not contain '..'")
    return norm


def _mode(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int) else default


def _key_files(
    kind: str,
    name: str,
    data: Mapping[str, bytes] | None,
    source: Mapping[str, Any],
    default_mode: int,
) -> dict[str, File]:
    optional = bool(source.get("optional"))
    if data is None:
        if optional:
            return {}
        raise VolumeError(f'{kind} "{name}" not found')
    items = source.get("items")
    if not items:
        return {_clean(k): File(v, default_mode) for k, v in sorted(data.items())}
    files: dict[str, File] = {}
    for item in items:
        key = str(item.get("key", ""))
        if key not in data:
            if optional:
                continue
            noun = "config" if kind == "configmap" else "secret"
            raise VolumeError(f"{kind} references non-existent {noun} key: {key}")
        files[_clean(str(item.get("path") or key))] = File(
            data[key], _mode(item.get("mode"), default_mode)
        )
    return files


def configmap_files(
    source: Mapping[str, Any], namespace: str, configmaps: Lookup, default_mode: int | None = None
) -> dict[str, File]:
    name = str(source.get("name", ""))
    obj = configmaps(namespace, name)
    mode = (
        default_mode if default_mode is not None else _mode(source.get("defaultMode"), DEFAULT_MODE)
    )
    data = configmap_data(obj) if obj is not None else None
    return _key_files("configmap", name, data, source, mode)


def secret_files(
    source: Mapping[str, Any], namespace: str, secrets: Lookup, default_mode: int | None = None
) -> dict[str, File]:
    name = str(source.get("secretName") or source.get("name") or "")
    obj = secrets(namespace, name)
    mode = (
        default_mode if default_mode is not None else _mode(source.get("defaultMode"), DEFAULT_MODE)
    )
    data = decode_secret(obj) if obj is not None else None
    return _key_files("secret", name, data, source, mode)


def format_map(values: Mapping[str, Any]) -> str:
    """``fieldpath.FormatMap``: ``key="value"`` per line, sorted, no final newline."""
    return "\n".join(
        f"{key}={json.dumps(str(values[key]), ensure_ascii=False)}" for key in sorted(values)
    )


def downward_value(
    pod: Mapping[str, Any], item: Mapping[str, Any], allocatable: Mapping[str, str]
) -> str:
    meta = pod.get("metadata") or {}
    if item.get("fieldRef"):
        path = str(item["fieldRef"].get("fieldPath", ""))
        if path in ("metadata.labels", "metadata.annotations"):
            return format_map(meta.get(path.split(".")[1]) or {})
        try:
            return field_value(pod, path)
        except EnvError as exc:
            raise VolumeError(str(exc)) from None
    if item.get("resourceFieldRef"):
        ref = item["resourceFieldRef"]
        try:
            return resource_value(pod, ref, str(ref.get("containerName", "")), allocatable)
        except ResourceError as exc:
            raise VolumeError(str(exc)) from None
    raise VolumeError(f"downwardAPI item {item.get('path')!r} has no fieldRef or resourceFieldRef")


def downward_files(
    source: Mapping[str, Any],
    pod: Mapping[str, Any],
    allocatable: Mapping[str, str],
    default_mode: int | None = None,
) -> dict[str, File]:
    mode = (
        default_mode if default_mode is not None else _mode(source.get("defaultMode"), DEFAULT_MODE)
    )
    return {
        _clean(str(item.get("path", ""))): File(
            downward_value(pod, item, allocatable).encode(), _mode(item.get("mode"), mode)
        )
        for item in source.get("items") or ()
    }


def effective_run_as_user(pod: Mapping[str, Any], container: Mapping[str, Any]) -> int | None:
    """``DetermineEffectiveRunAsUser``: the container's runAsUser, else the pod's."""
    own = (container.get("securityContext") or {}).get("runAsUser")
    if own is not None:
        return int(own)
    shared = ((pod.get("spec") or {}).get("securityContext") or {}).get("runAsUser")
    return None if shared is None else int(shared)


def fs_user(pod: Mapping[str, Any]) -> int | None:
    """``FsUserFrom``: the user every (init) container runs as, when they all name one."""
    spec = pod.get("spec") or {}
    user: int | None = None
    for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        effective = effective_run_as_user(pod, container)
        if effective is None or (user is not None and user != effective):
            return None
        user = effective
    return user


def token_file(pod: Mapping[str, Any], data: bytes, default_mode: int) -> File:
    """A service-account token file: private to the pod's user or fsGroup when it has one."""
    owner = fs_user(pod)
    has_group = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup") is not None
    if owner is None and not has_group:
        return File(data, default_mode)
    return File(data, TOKEN_OWNER_MODE, owner)


def projected_files(
    source: Mapping[str, Any],
    pod: Mapping[str, Any],
    *,
    configmaps: Lookup,
    secrets: Lookup,
    allocatable: Mapping[str, str],
    tokens: TokenLookup | None = None,
) -> Rendered:
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    mode = _mode(source.get("defaultMode"), DEFAULT_MODE)
    out = Rendered()
    for part in source.get("sources") or ():
        if part.get("configMap") is not None:
            out.files.update(configmap_files(part["configMap"], namespace, configmaps, mode))
        elif part.get("secret") is not None:
            out.files.update(secret_files(part["secret"], namespace, secrets, mode))
        elif part.get("downwardAPI") is not None:
            out.files.update(downward_files(part["downwardAPI"], pod, allocatable, mode))
        elif part.get("serviceAccountToken") is not None:
            token_source = part["serviceAccountToken"]
            if tokens is None:
                out.skipped.append(str(token_source.get("path", "token")))
            else:
                path = _clean(str(token_source.get("path", "")))
                out.files[path] = token_file(pod, tokens(pod, token_source), mode)
        elif part.get("clusterTrustBundle") is not None:
            out.skipped.append(str(part["clusterTrustBundle"].get("path", "")))
    return out


def render_volume(
    volume: Mapping[str, Any],
    pod: Mapping[str, Any],
    *,
    configmaps: Lookup,
    secrets: Lookup,
    allocatable: Mapping[str, str],
    tokens: TokenLookup | None = None,
) -> Rendered | None:
    """The files of a content volume (None for emptyDir, hostPath and other kinds)."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    if volume.get("configMap") is not None:
        return Rendered(configmap_files(volume["configMap"], namespace, configmaps))
    if volume.get("secret") is not None:
        return Rendered(secret_files(volume["secret"], namespace, secrets))
    if volume.get("downwardAPI") is not None:
        return Rendered(downward_files(volume["downwardAPI"], pod, allocatable))
    if volume.get("projected") is not None:
        return projected_files(
            volume["projected"],
            pod,
            configmaps=configmaps,
            secrets=secrets,
            allocatable=allocatable,
            tokens=tokens,
        )
    return None
