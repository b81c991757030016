"""A pod's ``/etc/hosts``: the kubelet's managed hosts file, byte for byte.

Pure functions; the runtime writes the text into the sandbox. As the kubelet (1.32) does:

- a pod on the pod network gets ``# Kubernetes-managed hosts file.``, the IPv4 and IPv6 localhost
  lines, the IPv6 multicast names, then one line per pod IP: ``IP<TAB>hostname``, or with a
  subdomain ``IP<TAB>hostname.<subdomain>.<ns>.svc.<domain><TAB>hostname``;
- a hostNetwork pod gets ``# Kubernetes-managed hosts file (host network).`` followed by the
  node's own hosts file;
- both end with the pod's hostAliases, one line per alias entry (``IP<TAB>name<TAB>name...``)
  after a blank line and ``# Entries added by HostAliases.``.

The hostname is ``spec.hostname`` or else the pod name, cut to 63 characters without a trailing
``-`` or ``.``; hostname and subdomain must be DNS labels (``ValueError`` otherwise, as the
kubelet refuses the pod).

Invariant: the same inputs always give the same text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from kybernetes.api.validation.names import is_dns1123_label

MANAGED_HEADER: Final = "# Kubernetes-managed hosts file.\n"
HOST_NETWORK_HEADER: Final = "# Kubernetes-managed hosts file (host network).\n"
_LOCAL_LINES: Final = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)
_HOSTNAME_MAX: Final = 63


def hostname_and_domain(pod: Mapping[str, Any], cluster_domain: str) -> tuple[str, str]:
    """The pod's short hostname and its domain (``""`` without a subdomain)."""
    metadata: Mapping[str, Any] = pod.get("metadata") or {}
    spec: Mapping[str, Any] = pod.get("spec") or {}
    name = str(metadata.get("name") or "")
    hostname = name
    if spec.get("hostname"):
        hostname = str(spec["hostname"])
        problems = is_dns1123_label(hostname)
        if problems:
            raise ValueError(f"pod Hostname {hostname!r} is not a valid DNS label: {problems}")
    if len(hostname) > _HOSTNAME_MAX:
        hostname = hostname[:_HOSTNAME_MAX].rstrip("-.")
        if not hostname:
            raise ValueError(f"hostname for pod {name!r} was invalid")
    domain = ""
    if spec.get("subdomain"):
        subdomain = str(spec["subdomain"])
        problems = is_dns1123_label(subdomain)
        if problems:
            raise ValueError(f"pod Subdomain {subdomain!r} is not a valid DNS label: {problems}")
        namespace = str(metadata.get("namespace") or "default")
        domain = f"{subdomain}.{namespace}.svc.{cluster_domain}"
    return hostname, domain


def host_aliases_lines(aliases: Sequence[Mapping[str, Any]]) -> str:
    if not aliases:
        return ""
    lines = ["\n", "# Entries added by HostAliases.\n"]
    for alias in aliases:
        names = "\t".join(str(n) for n in alias.get("hostnames") or ())
        lines.append(f"{alias.get('ip', '')}\t{names}\n")
    return "".join(lines)


def managed_hosts(
    pod_ips: Sequence[str],
    hostname: str,
    domain: str,
    aliases: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The hosts file of a pod on the pod network."""
    lines = [MANAGED_HEADER, _LOCAL_LINES]
    for ip in pod_ips:
        if domain:
            lines.append(f"{ip}\t{hostname}.{domain}\t{hostname}\n")
        else:
            lines.append(f"{ip}\t{hostname}\n")
    lines.append(host_aliases_lines(aliases))
    return "".join(lines)


def host_network_hosts(node_hosts: str, aliases: Sequence[Mapping[str, Any]] = ()) -> str:
    """The hosts file of a hostNetwork pod: the node's own, marked, plus the aliases."""
    return HOST_NETWORK_HEADER + node_hosts + host_aliases_lines(aliases)


def pod_hosts_file(
    pod: Mapping[str, Any], pod_ips: Sequence[str], cluster_domain: str, node_hosts: str
) -> str:
    """The pod's /etc/hosts (``node_hosts``: the node's /etc/hosts, used for hostNetwork)."""
    spec: Mapping[str, Any] = pod.get("spec") or {}
    aliases = spec.get("hostAliases") or ()
    if spec.get("hostNetwork"):
        return host_network_hosts(node_hosts, aliases)
    hostname, domain = hostname_and_domain(pod, cluster_domain)
    return managed_hosts(pod_ips, hostname, domain, aliases)
