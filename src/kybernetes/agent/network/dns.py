"""A pod's ``/etc/resolv.conf``, composed from its dnsPolicy and dnsConfig as the kubelet does.

Pure functions; the runtime writes the text into the sandbox. The composition follows the
kubelet's ``GetPodDNS`` (1.32) and containerd's rendering of CRI's ``DNSConfig``:

- the base is the node's resolv.conf (``--resolv-conf``): nameserver lines accumulate, the last
  ``search`` line wins (a trailing dot is dropped, a lone ``.`` skipped), the last ``options``
  line wins;
- ``ClusterFirst`` (``ClusterFirstWithHostNet`` too; plain ``ClusterFirst`` on a hostNetwork pod
  means ``Default``): the cluster DNS servers only, search
  ``<ns>.svc.<domain> svc.<domain> <domain>`` followed by the node's search domains (duplicates
  dropped), options ``ndots:5`` only. With no cluster DNS configured, it falls back to
  ``Default`` with a ``MissingClusterDNS`` warning;
- ``Default``: the node's configuration as it is; with no node resolv.conf (``None`` here, the
  kubelet's ``--resolv-conf=""``) nameserver 127.0.0.1 (``::1`` for an IPv6 node) and search
  ``.``;
- ``None``: empty;
- then ``dnsConfig`` is appended: nameservers and searches with duplicates dropped, options
  merged by name (the pod's value wins). The kubelet builds options through a Go map, so its
  order is random; here existing options keep their place and new ones follow in pod order;
- limits: 3 nameservers, search paths longer than 253 characters dropped, at most 32 search
  paths and 2048 characters on the search line (cut from the end); each cut is reported as a
  ``DNSConfigForming`` warning, the kubelet's event.

Rendered as containerd does (``search``, ``nameserver`` lines, ``options``); an empty
configuration means "copy the node's resolv.conf", which ``pod_resolv_conf`` does.

Invariant: the same pod, node configuration and cluster settings always give the same text.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

MAX_NAMESERVERS: Final = 3
MAX_SEARCH_PATHS: Final = 32
MAX_SEARCH_LINE_CHARS: Final = 2048
MAX_SEARCH_PATH_CHARS: Final = 253  # a DNS-1123 subdomain
DEFAULT_OPTIONS: Final = ("ndots:5",)


@dataclass(frozen=True)
class DNSConfig:
    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.servers or self.searches or self.options)


@dataclass(frozen=True)
class ClusterDNS:
    """The kubelet's ``clusterDNS`` and ``clusterDomain`` settings."""

    servers: tuple[str, ...] = ()
    domain: str = "cluster.local"
    node_ips: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class DNSWarning:
    """Something the kubelet reports as a Warning event on the pod (``reason``, ``message``)."""

    reason: str
    message: str


def parse_resolv_conf(text: str) -> DNSConfig:
    """The node's resolv.conf as the kubelet reads it (see the module docstring)."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.split("\n"):
        trimmed = line.strip()
        if trimmed.startswith("#"):
            continue
        fields = trimmed.split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) >= 2:
            servers.append(fields[1])
        elif fields[0] == "search":
            searches = [s.removesuffix(".") for s in fields[1:] if s != "."]
        elif fields[0] == "options":
            options = fields[1:]
    return DNSConfig(tuple(servers), tuple(searches), tuple(options))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _merge_options(existing: Sequence[str], extra: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    merged: dict[str, str] = {}
    for text in existing:
        name, _, value = text.partition(":")
        merged[name] = value
    for option in extra:
        given = option.get("value")
        merged[str(option.get("name", ""))] = "" if given is None else str(given)
    return tuple(f"{name}:{value}" if value else name for name, value in merged.items())


def _policy(spec: Mapping[str, Any]) -> str:
    """``Cluster``, ``Host`` or ``None``: what the kubelet's getPodDNSType makes of the spec."""
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "None":
        return "None"
    if policy == "ClusterFirstWithHostNet":
        return "Cluster"
    if policy == "ClusterFirst":
        return "Host" if spec.get("hostNetwork") else "Cluster"
    if policy == "Default":
        return "Host"
    return "Cluster"  # the API server rejects other values; the kubelet falls back to this


def pod_dns_config(
    pod: Mapping[str, Any], cluster: ClusterDNS, node: DNSConfig | None
) -> tuple[DNSConfig, list[DNSWarning]]:
    """CRI's DNSConfig for ``pod``; ``node`` is the node's resolv.conf, None when it has none."""
    spec: Mapping[str, Any] = pod.get("spec") or {}
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    warnings: list[DNSWarning] = []
    base = node if node is not None else DNSConfig()
    policy = _policy(spec)
    config = base
    if policy == "None":
        config = DNSConfig()
    elif policy == "Cluster" and cluster.servers:
        searches = base.searches
        if cluster.domain:
            domain = cluster.domain
            searches = _unique((f"{namespace}.svc.{domain}", f"svc.{domain}", domain, *searches))
        config = DNSConfig(tuple(cluster.servers), searches, DEFAULT_OPTIONS)
    else:
        if policy == "Cluster":
            message = (
                "kubelet does not have ClusterDNS IP configured and cannot create Pod using "
                '"ClusterFirst" policy. Falling back to "Default" policy.'
            )
            warnings.append(DNSWarning("MissingClusterDNS", message))
        if node is None:
            servers = [
                "::1" if ipaddress.ip_address(ip).version == 6 else "127.0.0.1"
                for ip in cluster.node_ips
            ] or ["127.0.0.1"]
            config = DNSConfig(tuple(servers), (".",), base.options)
    extra: Mapping[str, Any] | None = spec.get("dnsConfig")
    if extra:
        config = DNSConfig(
            _unique((*config.servers, *(extra.get("nameservers") or ()))),
            _unique((*config.searches, *(extra.get("searches") or ()))),
            _merge_options(config.options, extra.get("options") or ()),
        )
    return _fit_limits(config, warnings)


def _fit_limits(
    config: DNSConfig, warnings: list[DNSWarning]
) -> tuple[DNSConfig, list[DNSWarning]]:
    servers = config.servers
    if len(servers) > MAX_NAMESERVERS:
        servers = servers[:MAX_NAMESERVERS]
        warnings.append(
            DNSWarning(
                "DNSConfigForming",
                "Nameserver limits were exceeded, some nameservers have been omitted, "
                f"the applied nameserver line is: {' '.join(servers)}",
            )
        )
    searches = list(config.searches)
    exceeded = False
    if len(searches) > MAX_SEARCH_PATHS:
        searches = searches[:MAX_SEARCH_PATHS]
        exceeded = True
    kept = [s for s in searches if len(s) <= MAX_SEARCH_PATH_CHARS]
    exceeded = exceeded or len(kept) != len(searches)
    searches = kept
    line = len(" ".join(searches))
    if line > MAX_SEARCH_LINE_CHARS:
        while searches and line > MAX_SEARCH_LINE_CHARS:
            line -= len(searches.pop()) + 1
        exceeded = True
    if exceeded:
        warnings.append(
            DNSWarning(
                "DNSConfigForming",
                "Search Line limits were exceeded, some search paths have been omitted, "
                f"the applied search line is: {' '.join(searches)}",
            )
        )
    return DNSConfig(servers, tuple(searches), config.options), warnings


def render_resolv_conf(config: DNSConfig) -> str:
    """The file as containerd writes it; "" for an empty configuration."""
    lines = []
    if config.searches:
        lines.append("search " + " ".join(config.searches))
    lines.extend(f"nameserver {server}" for server in config.servers)
    if config.options:
        lines.append("options " + " ".join(config.options))
    return "".join(line + "\n" for line in lines)


def pod_resolv_conf(
    pod: Mapping[str, Any], cluster: ClusterDNS, node_resolv_conf: str | None
) -> tuple[str, list[DNSWarning]]:
    """The pod's resolv.conf text from the node's (None: the node has none configured).

    An empty result configuration yields the node's file unchanged, as containerd copies it.
    """
    node = None if node_resolv_conf is None else parse_resolv_conf(node_resolv_conf)
    config, warnings = pod_dns_config(pod, cluster, node)
    if config.empty:
        return node_resolv_conf or "", warnings
    return render_resolv_conf(config), warnings
