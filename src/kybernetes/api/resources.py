"""The table of built-in API resources: what the API server serves and discovery advertises.

Each ``ResourceInfo`` is one (group, version, plural) of the Kubernetes release the schema data
came from. Everything the OpenAPI document states (kind, scope, verbs, subresources, the
definition of the kind) is read from ``schema.json``; what it does not state (short names,
categories, the order of groups) comes from the hand-written tables below, copied from upstream
discovery.

Invariants:
- The table is built once per process, lazily, and never changes; lookups are dict reads.
- ``resources()`` is in discovery order: groups in upstream priority order, versions preferred
  first, resources by name within a group-version.
- Only GA versions are enabled by default, as in Kubernetes 1.32 (beta APIs introduced since
  1.24 are off unless enabled); alpha and beta resources are in the table, marked as such.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from kybernetes.api.schema import SchemaDataError, schema

# --- hand-written, from upstream discovery (not in the OpenAPI document) ------------------------

# Short names by (group, plural), as `kubectl api-resources` shows them for Kubernetes 1.32.
SHORT_NAMES: Final[Mapping[tuple[str, str], tuple[str, ...]]] = {
    ("", "componentstatuses"): ("cs",),
    ("", "configmaps"): ("cm",),
    ("", "endpoints"): ("ep",),
    ("", "events"): ("ev",),
    ("", "limitranges"): ("limits",),
    ("", "namespaces"): ("ns",),
    ("", "nodes"): ("no",),
    ("", "persistentvolumeclaims"): ("pvc",),
    ("", "persistentvolumes"): ("pv",),
    ("", "pods"): ("po",),
    ("", "replicationcontrollers"): ("rc",),
    ("", "resourcequotas"): ("quota",),
    ("", "serviceaccounts"): ("sa",),
    ("", "services"): ("svc",),
    ("apps", "daemonsets"): ("ds",),
    ("apps", "deployments"): ("deploy",),
    ("apps", "replicasets"): ("rs",),
    ("apps", "statefulsets"): ("sts",),
    ("autoscaling", "horizontalpodautoscalers"): ("hpa",),
    ("batch", "cronjobs"): ("cj",),
    ("certificates.k8s.io", "certificatesigningrequests"): ("csr",),
    ("events.k8s.io", "events"): ("ev",),
    ("networking.k8s.io", "ingresses"): ("ing",),
    ("networking.k8s.io", "networkpolicies"): ("netpol",),
    ("policy", "poddisruptionbudgets"): ("pdb",),
    ("scheduling.k8s.io", "priorityclasses"): ("pc",),
    ("storage.k8s.io", "storageclasses"): ("sc",),
    ("apiextensions.k8s.io", "customresourcedefinitions"): ("crd", "crds"),
}

# Categories by (group, plural). Upstream lists "all" members in this order for `kubectl get all`.
CATEGORIES: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    "all": (
        ("", "pods"),
        ("", "services"),
        ("", "replicationcontrollers"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("autoscaling", "horizontalpodautoscalers"),
    ),
    "api-extensions": (
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("apiregistration.k8s.io", "apiservices"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
        ("admissionregistration.k8s.io", "mutatingadmissionpolicies"),
        ("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"),
    ),
}

# Discovery order of groups (upstream's group priorities); unknown groups follow, by name.
GROUP_ORDER: Final[tuple[str, ...]] = (
    "",
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "resource.k8s.io",
    "storagemigration.k8s.io",
)

# --- the table ---------------------------------------------------------------------------------

_VERSION_RE: Final = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_STABILITY_RANK: Final = {None: 2, "beta": 1, "alpha": 0}


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key (descending = preferred first) of Kubernetes' version ordering: GA before beta
    before alpha, then higher major, then higher minor; non-Kubernetes versions last, by name."""
    match = _VERSION_RE.match(version)
    if match is None:
        return (-1, 0, 0, version)
    major, level, minor = match.groups()
    return (_STABILITY_RANK[level], int(major), int(minor or 0), "")


def stability_of(version: str) -> str:
    """``ga``, ``beta`` or ``alpha`` for Kubernetes-style versions, else ``unknown``."""
    match = _VERSION_RE.match(version)
    if match is None:
        return "unknown"
    return match.group(2) or "ga"


@dataclass(frozen=True, slots=True)
class SubresourceInfo:
    """A subresource such as ``status`` or ``scale``; its kind may be in another group."""

    name: str
    group: str
    version: str
    kind: str
    verbs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...]
    categories: tuple[str, ...]
    subresources: tuple[SubresourceInfo, ...]
    # Definition names in the schema, e.g. io.k8s.api.apps.v1.Deployment / ...DeploymentList.
    definition: str
    list_definition: str | None = None

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` of objects of this resource: ``v1`` or ``apps/v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    group_version = api_version

    @property
    def stability(self) -> str:
        return stability_of(self.version)

    @property
    def enabled_by_default(self) -> bool:
        return self.stability == "ga"

    def subresource(self, name: str) -> SubresourceInfo | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None

    def has_verb(self, verb: str) -> bool:
        return verb in self.verbs


def _group_rank(group: str) -> tuple[int, str]:
    try:
        return (GROUP_ORDER.index(group), "")
    except ValueError:
        return (len(GROUP_ORDER), group)


def _str_tuple(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SchemaDataError(f"resource table: {what} must be a list of strings")
    return tuple(value)


def _parse(record: Mapping[str, Any]) -> ResourceInfo:
    try:
        group: str = record["group"]
        plural: str = record["plural"]
        kind: str = record["kind"]
        subresources = tuple(
            SubresourceInfo(
                name=name,
                group=sub["group"],
                version=sub["version"],
                kind=sub["kind"],
                verbs=_str_tuple(sub["verbs"], f"{plural}/{name} verbs"),
            )
            for name, sub in sorted(record.get("subresources", {}).items())
        )
        categories = tuple(
            sorted(c for c, members in CATEGORIES.items() if (group, plural) in members)
        )
        return ResourceInfo(
            group=group,
            version=record["version"],
            kind=kind,
            plural=plural,
            # Built-in resources use the lower-cased kind as their singular name.
            singular=kind.lower(),
            namespaced=bool(record["namespaced"]),
            verbs=_str_tuple(record["verbs"], f"{plural} verbs"),
            short_names=SHORT_NAMES.get((group, plural), ()),
            categories=categories,
            subresources=subresources,
            definition=record["definition"],
            list_definition=record.get("listDefinition"),
        )
    except (KeyError, TypeError) as exc:
        raise SchemaDataError(f"resource table entry {record!r} is malformed: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Table:
    ordered: tuple[ResourceInfo, ...]
    by_gvr: Mapping[tuple[str, str, str], ResourceInfo]
    by_gvk: Mapping[tuple[str, str, str], ResourceInfo]
    versions: Mapping[str, tuple[str, ...]]  # group -> versions, preferred first
    preferred: Mapping[str, str]  # group -> preferred version (enabled versions first)
    # Lower-cased names (plural, singular, short name, kind) -> resources, preferred first.
    by_name: Mapping[str, tuple[ResourceInfo, ...]]


@functools.cache
def _table() -> _Table:
    infos = [_parse(record) for record in schema().resources]
    infos.sort(
        key=lambda r: (
            _group_rank(r.group),
            tuple(-x if isinstance(x, int) else x for x in version_priority(r.version)),
            r.plural,
        )
    )
    versions: dict[str, list[str]] = {}
    for info in infos:
        group_versions = versions.setdefault(info.group, [])
        if info.version not in group_versions:
            group_versions.append(info.version)
    preferred: dict[str, str] = {}
    for group, group_versions in versions.items():
        enabled = [v for v in group_versions if stability_of(v) == "ga"]
        preferred[group] = (enabled or group_versions)[0]

    # Under every name, preferred versions come first, then discovery order.
    position = {(r.group, r.version, r.plural): i for i, r in enumerate(infos)}

    def name_order(info: ResourceInfo) -> tuple[int, int]:
        preferred_first = 0 if preferred[info.group] == info.version else 1
        return (preferred_first, position[(info.group, info.version, info.plural)])

    by_name: dict[str, list[ResourceInfo]] = {}
    for info in sorted(infos, key=name_order):
        names = {info.plural, info.singular, info.kind.lower(), *info.short_names}
        for name in sorted(names):
            by_name.setdefault(name, []).append(info)
    return _Table(
        ordered=tuple(infos),
        by_gvr={(r.group, r.version, r.plural): r for r in infos},
        by_gvk={(r.group, r.version, r.kind): r for r in infos},
        versions={g: tuple(vs) for g, vs in versions.items()},
        preferred=preferred,
        by_name={n: tuple(rs) for n, rs in by_name.items()},
    )


# --- lookups -----------------------------------------------------------------------------------


def resources() -> tuple[ResourceInfo, ...]:
    """Every built-in resource, in discovery order (see module docstring)."""
    return _table().ordered


def get(group: str, version: str, plural: str) -> ResourceInfo | None:
    """The resource served at ``/apis/<group>/<version>/<plural>`` (core group is ``""``)."""
    return _table().by_gvr.get((group, version, plural))


def for_kind(group: str, version: str, kind: str) -> ResourceInfo | None:
    """The resource whose objects are ``group/version, Kind=kind``."""
    return _table().by_gvk.get((group, version, kind))


def by_kind(kind: str) -> tuple[ResourceInfo, ...]:
    """Every resource of this kind across groups and versions, preferred versions first."""
    return tuple(r for r in _table().by_name.get(kind.lower(), ()) if r.kind == kind)


def by_short_name(short_name: str) -> tuple[ResourceInfo, ...]:
    """Resources with this short name (``ev`` is both core and events.k8s.io events)."""
    return tuple(r for r in _table().by_name.get(short_name, ()) if short_name in r.short_names)


def groups() -> tuple[str, ...]:
    """Every group in discovery order; the core group is ``""``."""
    return tuple(_table().versions)


def versions(group: str) -> tuple[str, ...]:
    """The versions of a group, preferred first (by Kubernetes' version priority)."""
    return _table().versions.get(group, ())


def preferred_version(group: str) -> str | None:
    """The version discovery advertises as preferred: the highest-priority enabled version
    (``autoscaling`` -> ``v2``); groups with only alpha/beta versions get their highest one."""
    return _table().preferred.get(group)


def in_category(category: str) -> tuple[ResourceInfo, ...]:
    """The preferred-version resources of a category (``all``), in upstream order."""
    out = []
    for group, plural in CATEGORIES.get(category, ()):
        version = preferred_version(group)
        info = get(group, version, plural) if version is not None else None
        if info is not None:
            out.append(info)
    return tuple(out)


def resolve(name: str, *, enabled_only: bool = True) -> ResourceInfo | None:
    """Resolve a name the way kubectl does: ``pods``, ``pod``, ``po``, ``Pod``,
    ``deployments.apps``, ``deploy.apps`` or ``deployments.v1.apps``.

    Without a group, the first match in discovery order wins (core before events.k8s.io);
    without a version, the group's preferred version wins.
    """
    table = _table()
    resource, _, qualifier = name.partition(".")
    candidates: Iterable[ResourceInfo] = table.by_name.get(resource.lower(), ())
    if resource != resource.lower():
        # A mixed-case name is a kind and must match exactly.
        candidates = [r for r in candidates if r.kind == resource]
    if enabled_only:
        candidates = [r for r in candidates if r.enabled_by_default]
    candidates = list(candidates)
    if qualifier:
        version, _, group = qualifier.partition(".")
        versioned = [r for r in candidates if r.version == version and r.group == group]
        if versioned:
            return versioned[0]
        candidates = [r for r in candidates if r.group == qualifier]
    if not candidates:
        return None
    best_group = min(candidates, key=lambda r: _group_rank(r.group)).group
    same_group = [r for r in candidates if r.group == best_group]
    return min(same_group, key=lambda r: 0 if table.preferred[r.group] == r.version else 1)
