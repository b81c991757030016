"""The ingress route table: which Service port answers a request, by host and path.

``build_routes(ingresses)`` compiles the Ingresses this controller owns into a ``RouteTable``;
``RouteTable.match(host, path)`` answers one request. Matching follows the Ingress API and
ingress-nginx:

- Hosts: an exact host rule wins over a wildcard (``*.example.com`` matches exactly one more
  DNS label: ``a.example.com``, not ``example.com`` nor ``a.b.example.com``), which wins over
  rules without a host (every host). Once a host is chosen only its paths are considered.
- Paths: ``Exact`` equals the request path; ``Prefix`` (and ``ImplementationSpecific``, treated
  as ``Prefix``) matches element-wise on ``/``-separated labels, ignoring a trailing slash, so
  ``/foo`` matches ``/foo``, ``/foo/`` and ``/foo/bar`` but not ``/foobar``. The longest matching
  path wins; at equal length ``Exact`` beats ``Prefix``.
- Neither host nor path matches: the default backend (``spec.defaultBackend`` of the oldest
  Ingress that has one), else nothing (the proxy answers 404).
- Two Ingresses claiming the same host, path and type: the oldest wins (creationTimestamp, then
  namespace/name), as ingress-nginx resolves it.

Invariant: a ``RouteTable`` is immutable once built; the controller swaps in a new one, so a
request always sees one consistent table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

EXACT: Final = "Exact"
PREFIX: Final = "Prefix"
IMPLEMENTATION_SPECIFIC: Final = "ImplementationSpecific"


class BackendRef(NamedTuple):
    """A Service port in a namespace: ``port`` is the port number or the port's name."""

    namespace: str
    service: str
    port: int | str


@dataclass(frozen=True, slots=True)
class PathRule:
    """One path of one host: request paths it matches and where they go."""

    path: str
    exact: bool
    backend: BackendRef | None  # None: a resource backend this controller cannot serve
    segments: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", _segments(self.path))

    def matches(self, path: str, segments: tuple[str, ...]) -> bool:
        if self.exact:
            return path == self.path
        n = len(self.segments)
        return segments[:n] == self.segments

    @property
    def rank(self) -> tuple[int, bool]:
        """Sort key, best first when reversed: longer paths, then Exact over Prefix."""
        return (len(self.path.rstrip("/")) if not self.exact else len(self.path), self.exact)


@dataclass(frozen=True, slots=True)
class Match:
    """The outcome of a lookup: the chosen backend (None: no route, or an unusable backend)."""

    backend: BackendRef | None
    routed: bool  # True when a host/path rule or a default backend matched


NO_ROUTE: Final = Match(None, False)


class RouteTable:
    """Host -> ordered path rules, plus the default backend. Immutable after construction."""

    def __init__(
        self,
        exact: Mapping[str, tuple[PathRule, ...]],
        wildcard: Mapping[str, tuple[PathRule, ...]],
        any_host: tuple[PathRule, ...] | None,
        default: BackendRef | None,
    ) -> None:
        self._exact = dict(exact)
        self._wildcard = dict(wildcard)  # keyed by the suffix after "*.", e.g. "example.com"
        self._any = any_host
        self.default = default

    def backends(self) -> set[BackendRef]:
        """Every backend some request could reach (for resolving endpoints ahead of time)."""
        out: set[BackendRef] = set()
        for rules in (*self._exact.values(), *self._wildcard.values(), self._any or ()):
            out.update(rule.backend for rule in rules if rule.backend is not None)
        if self.default is not None:
            out.add(self.default)
        return out

    def hosts(self) -> list[str]:
        """The host names rules name: exact ones, then ``*.suffix`` ones, each sorted."""
        return sorted(self._exact) + sorted(f"*.{suffix}" for suffix in self._wildcard)

    def rules_for_host(self, host: str) -> tuple[PathRule, ...] | None:
        """The rules a request for ``host`` is matched against (``*.suffix``: a host only that
        wildcard covers; ``""``: a host no rule names)."""
        rules = self._exact.get(host)
        if rules is not None:
            return rules
        _, dot, parent = host.partition(".")
        if dot:
            rules = self._wildcard.get(parent)
            if rules is not None:
                return rules
        return self._any

    def match(self, host: str, path: str) -> Match:
        """Route one request; ``host`` lower-case without port, ``path`` without query."""
        rules = self.rules_for_host(host)
        if rules:
            segments = _segments(path)
            for rule in rules:
                if rule.matches(path, segments):
                    return Match(rule.backend, True)
        if self.default is not None:
            return Match(self.default, True)
        return NO_ROUTE


def backend_ref(namespace: str, backend: Mapping[str, Any] | None) -> BackendRef | None:
    """The Service port an IngressBackend names (None for resource backends or bad ones)."""
    service = (backend or {}).get("service")
    if not isinstance(service, Mapping) or not service.get("name"):
        return None
    port = service.get("port") or {}
    number, name = port.get("number"), port.get("name")
    if isinstance(number, int) and number > 0:
        return BackendRef(namespace, str(service["name"]), number)
    if isinstance(name, str) and name:
        return BackendRef(namespace, str(service["name"]), name)
    return None


def age_key(ingress: Mapping[str, Any]) -> tuple[str, str, str]:
    """Oldest first: creationTimestamp, then namespace, then name."""
    meta = ingress.get("metadata") or {}
    return (
        str(meta.get("creationTimestamp") or ""),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


def build_routes(ingresses: Iterable[Mapping[str, Any]]) -> RouteTable:
    """Compile Ingresses (already filtered to this controller's class) into a table."""
    hosts: dict[str, dict[tuple[str, bool], PathRule]] = {}
    default: BackendRef | None = None
    for ingress in sorted(ingresses, key=age_key):
        namespace = str((ingress.get("metadata") or {}).get("namespace") or "default")
        spec = ingress.get("spec") or {}
        if default is None and spec.get("defaultBackend"):
            default = backend_ref(namespace, spec["defaultBackend"])
        for rule in spec.get("rules") or ():
            host = str(rule.get("host") or "").lower()
            claimed = hosts.setdefault(host, {})
            for path in (rule.get("http") or {}).get("paths") or ():
                value = str(path.get("path") or "/")
                exact = path.get("pathType") == EXACT
                if not exact and not value.startswith("/"):
                    continue
                # Older Ingresses were filed first: setdefault keeps the oldest claim.
                claimed.setdefault(
                    (value, exact),
                    PathRule(value, exact, backend_ref(namespace, path.get("backend"))),
                )
    exact_hosts: dict[str, tuple[PathRule, ...]] = {}
    wildcard_hosts: dict[str, tuple[PathRule, ...]] = {}
    any_host: tuple[PathRule, ...] | None = None
    for host, claimed in hosts.items():
        ordered = tuple(sorted(claimed.values(), key=lambda r: r.rank, reverse=True))
        if not host:
            any_host = ordered
        elif host.startswith("*."):
            wildcard_hosts[host[2:]] = ordered
        else:
            exact_hosts[host] = ordered
    return RouteTable(exact_hosts, wildcard_hosts, any_host, default)


def _segments(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split("/") if part)
