"""Admission: what happens to an object between decoding and storing, for built-in kinds.

Defaulting (upstream's ``SetDefaults_*``) and semantic validation (upstream's
``Validate*``) are pure functions of the ``api`` layer; this module adapts them to the
registry's hooks, and adds the admission plugins that need cluster state, for pods:

- **Priority**: ``spec.priorityClassName`` resolves to ``spec.priority`` and
  ``spec.preemptionPolicy`` from the named PriorityClass (403 Forbidden if there is none); a pod
  without a class gets the ``globalDefault`` class, or priority 0.
- **DefaultTolerationSeconds**: pods tolerate ``node.kubernetes.io/not-ready`` and
  ``node.kubernetes.io/unreachable`` (NoExecute) for 300 s unless they say otherwise, so the
  node lifecycle controller evicts them five minutes after their node goes silent.

Both read PriorityClasses from the API server's own watch cache (synchronously, no I/O).

- **ServiceAccount** (:class:`ServiceAccountAdmission`, on pod create only, when the server
  issues service-account tokens): a pod without ``serviceAccountName`` gets ``default`` (or
  its deprecated ``serviceAccount``; both fields end up equal, as upstream's conversion
  shows them); the account must exist (403 ``error looking up service account ...``
  otherwise); unless ``automountServiceAccountToken`` is false on the pod (first) or the
  account, a ``kube-api-access-<5 random>`` projected volume (the token, expirationSeconds
  3607, path ``token``; ``ca.crt`` from the ``kube-root-ca.crt`` ConfigMap; the
  ``namespace``) is mounted read-only at ``/var/run/secrets/kubernetes.io/serviceaccount`` in
  every init and app container that has nothing mounted there. Mirror pods may not name a
  service account or project a token.

Admission webhooks and policies plug in here when they arrive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.api.defaults import apply_defaults
from kybernetes.api.resources import ResourceInfo
from kybernetes.api.validation.semantic import validate_object
from kybernetes.apiserver.auth.serviceaccount import WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS

SYSTEM_PRIORITY_CLASSES: Final = (
    (
        "system-node-critical",
        2000001000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2000000000,
        "Used for system critical pods that must run in the"
        " cluster, but can be moved to another node if necessary.",
    ),
)
DEFAULT_TOLERATION_SECONDS: Final = 300
_NOT_READY: Final = "node.kubernetes.io/not-ready"
_UNREACHABLE: Final = "node.kubernetes.io/unreachable"

PriorityClassLookup = Callable[[str], dict[str, Any] | None]
ClassList = Callable[[], list[dict[str, Any]]]

DEFAULT_SERVICE_ACCOUNT: Final = "default"
TOKEN_VOLUME_PREFIX: Final = "kube-api-access-"
TOKEN_MOUNT_PATH: Final = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIGMAP: Final = "kube-root-ca.crt"
MIRROR_POD_ANNOTATION: Final = "kubernetes.io/config.mirror"
#: (namespace, name) -> the ServiceAccount, or None when there is none.
AccountLookup = Callable[[str, str], Awaitable[dict[str, Any] | None]]


def validate(
    info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None
) -> list[errors.FieldError]:
    """The kind's semantic validation (``old`` on updates, for immutable fields)."""
    return validate_object(info.group, info.kind, obj, old)


class Admission:
    """Defaulting plus the state-reading plugins; ``default`` is the registry's defaulter."""

    def __init__(self, priority_class: PriorityClassLookup, priority_classes: ClassList) -> None:
        self._priority_class = priority_class
        self._priority_classes = priority_classes

    def default(self, info: ResourceInfo, obj: dict[str, Any]) -> None:
        """Fill in the kind's defaults and run the mutating plugins, in place."""
        apply_defaults(info.group, info.version, info.kind, obj)
        if info.group == "" and info.kind == "Pod":
            spec = obj.get("spec")
            if isinstance(spec, dict):
                self._admit_priority(obj, spec)
                _default_tolerations(spec)

    def _admit_priority(self, pod: dict[str, Any], spec: dict[str, Any]) -> None:
        if "priority" in spec:
            return  # already resolved (an update, or a create that validation will check)
        name = spec.get("priorityClassName")
        if name:
            found = self._priority_class(name)
            if found is None:
                meta = pod.get("metadata") or {}
                raise errors.new_forbidden(
                    "pods",
                    str(meta.get("name") or meta.get("generateName") or ""),
                    f"no PriorityClass with name {name} was found",
                )
        else:
            found = next((c for c in self._priority_classes() if c.get("globalDefault")), None)
            if found is None:
                spec["priority"] = 0
                return
            spec["priorityClassName"] = found["metadata"]["name"]
        spec["priority"] = int(found.get("value", 0))
        spec.setdefault("preemptionPolicy", found.get("preemptionPolicy", "PreemptLowerPriority"))


def _tolerates(toleration: dict[str, Any], key: str) -> bool:
    """Whether an existing toleration already covers ``key:NoExecute`` (or every taint)."""
    if toleration.get("effect") not in (None, "", "NoExecute"):
        return False
    own_key = toleration.get("key") or ""
    return own_key == key or (own_key == "" and toleration.get("operator") == "Exists")


def _default_tolerations(spec: dict[str, Any]) -> None:
    tolerations = list(spec.get("tolerations") or [])
    for key in (_NOT_READY, _UNREACHABLE):
        if not any(_tolerates(t, key) for t in tolerations):
            tolerations.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                }
            )
    spec["tolerations"] = tolerations


def token_volume_source() -> dict[str, Any]:
    """Upstream's ``TokenVolumeSource``: token, cluster CA and namespace in one volume."""
    return {
        "sources": [
            {
                "serviceAccountToken": {
                    "expirationSeconds": WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS,
                    "path": "token",
                }
            },
            {
                "configMap": {
                    "name": ROOT_CA_CONFIGMAP,
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                }
            },
            {
                "downwardAPI": {
                    "items": [
                        {
                            "path": "namespace",
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                        }
                    ]
                }
            },
        ],
        "defaultMode": 0o644,
    }


def _projects_token(spec: dict[str, Any]) -> bool:
    for volume in spec.get("volumes") or ():
        for source in (volume.get("projected") or {}).get("sources") or ():
            if isinstance(source, dict) and source.get("serviceAccountToken") is not None:
                return True
    return False


def should_automount(account: dict[str, Any], spec: dict[str, Any]) -> bool:
    """The pod's ``automountServiceAccountToken`` wins, then the account's; default yes."""
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    if account.get("automountServiceAccountToken") is not None:
        return bool(account["automountServiceAccountToken"])
    return True


def mount_service_account_token(spec: dict[str, Any], new_name: Callable[[str], str]) -> None:
    """Mount the token volume in every container without a mount at the token path, adding
    the volume (unless one is there already) when any container needs it."""
    volumes = list(spec.get("volumes") or ())
    existing = next(
        (
            str(v["name"])
            for v in volumes
            if isinstance(v, dict) and str(v.get("name", "")).startswith(TOKEN_VOLUME_PREFIX)
        ),
        "",
    )
    volume_name = existing or new_name(TOKEN_VOLUME_PREFIX)
    needs_volume = False
    for field in ("initContainers", "containers"):
        for container in spec.get(field) or ():
            if not isinstance(container, dict):
                continue
            mounts = list(container.get("volumeMounts") or ())
            if any(m.get("mountPath") == TOKEN_MOUNT_PATH for m in mounts if isinstance(m, dict)):
                continue
            mounts.append({"name": volume_name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH})
            container["volumeMounts"] = mounts
            needs_volume = True
    if needs_volume and not existing:
        volumes.append({"name": volume_name, "projected": token_volume_source()})
        spec["volumes"] = volumes


class ServiceAccountAdmission:
    """Upstream's ServiceAccount admission plugin (mutating part), for pod creates."""

    def __init__(self, lookup: AccountLookup, new_name: Callable[[str], str]) -> None:
        self._lookup = lookup
        self._new_name = new_name

    async def admit_create(self, info: ResourceInfo, obj: dict[str, Any]) -> None:
        if info.group != "" or info.kind != "Pod":
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or meta.get("generateName") or "")
        if MIRROR_POD_ANNOTATION in (meta.get("annotations") or {}):
            if spec.get("serviceAccountName"):
                raise errors.new_forbidden(
                    "pods", name, "a mirror pod may not reference service accounts"
                )
            if _projects_token(spec):
                raise errors.new_forbidden(
                    "pods", name, "a mirror pod may not use ServiceAccountToken volume projections"
                )
            return
        account_name = str(
            spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
        )
        spec["serviceAccountName"] = account_name
        spec["serviceAccount"] = account_name
        namespace = str(meta.get("namespace") or "")
        account = await self._lookup(namespace, account_name)
        if account is None:
            raise errors.new_forbidden(
                "pods",
                name,
                f"error looking up service account {namespace}/{account_name}: "
                f'serviceaccount "{account_name}" not found',
            )
        if should_automount(account, spec):
            mount_service_account_token(spec, self._new_name)
