"""Cluster DNS names: how a query name splits into the parts the Kubernetes DNS schema defines.

Pure functions over lowercase, dot-free label tuples. ``parse_request`` follows CoreDNS's
``kubernetes`` plugin (``parseRequest``): relative to the cluster zone a name is one of

- ``<svc|pod>`` or empty: the apex of the schema (answered with NODATA);
- ``<ns>.<svc|pod>``: a namespace (NODATA when it exists, NXDOMAIN when not);
- ``<service>.<ns>.svc`` / ``<a-b-c-d>.<ns>.pod``;
- ``<endpoint>.<service>.<ns>.svc``: one endpoint by hostname or dashed IP;
- ``_<port>._<proto>.<service>.<ns>.svc``: SRV by named port;

and anything else under the zone (another last label, more labels) is invalid: NXDOMAIN.
Reverse names (``d.c.b.a.in-addr.arpa``, 32 nibbles under ``ip6.arpa``) parse to addresses.

Invariant: parsing never raises on untrusted input; an unusable name yields ``None`` or
``Request.invalid``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

SVC: Final = "svc"
POD: Final = "pod"
DNS_SCHEMA_VERSION: Final = "1.1.0"

Labels = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Request:
    """A name in the cluster zone, split as CoreDNS's ``recordRequest``; empty means absent."""

    kind: str = ""  # "svc", "pod" or "" (the zone apex or svc/pod apex)
    namespace: str = ""
    service: str = ""  # the service name, or for pods the dashed address
    endpoint: str = ""
    port: str = ""  # named port without its underscore
    protocol: str = ""  # protocol without its underscore, lowercase
    invalid: bool = False


INVALID: Final = Request(invalid=True)


def labels_of(name: str) -> Labels:
    """The lowercase labels of a presentation-format name (trailing dot optional)."""
    trimmed = name.rstrip(".").lower()
    return tuple(trimmed.split(".")) if trimmed else ()


def relative(labels: Labels, zone: Labels) -> Labels | None:
    """``labels`` without the ``zone`` suffix, or None when the name is not in the zone."""
    if len(labels) < len(zone) or labels[len(labels) - len(zone) :] != zone:
        return None
    return labels[: len(labels) - len(zone)]


def parse_request(rel: Labels) -> Request:
    """Split a name relative to the cluster zone (see the module docstring)."""
    if not rel or rel in ((SVC,), (POD,)):
        return Request()
    kind = rel[-1]
    if kind not in (SVC, POD):
        return INVALID
    rest = rel[:-1]
    if len(rest) == 1:
        return Request(kind=kind, namespace=rest[0])
    if len(rest) == 2:
        return Request(kind=kind, namespace=rest[1], service=rest[0])
    if len(rest) == 3:
        return Request(kind=kind, namespace=rest[2], service=rest[1], endpoint=rest[0])
    if len(rest) == 4:
        return Request(
            kind=kind,
            namespace=rest[3],
            service=rest[2],
            port=rest[0].removeprefix("_"),
            protocol=rest[1].removeprefix("_"),
        )
    return INVALID


def endpoint_hostname(ip: str, hostname: str | None) -> str:
    """An endpoint's DNS label: its hostname, else its address with dots or colons dashed."""
    if hostname:
        return hostname.lower()
    return ip.replace(".", "-").replace(":", "-")


def pod_address(dashed: str) -> str | None:
    """The address a pod label such as ``10-42-0-7`` stands for, None when it is not one."""
    if dashed.count("-") == 3 and "--" not in dashed:
        text = dashed.replace("-", ".")
    else:
        text = dashed.replace("-", ":")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def reverse_address(labels: Labels) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a full reverse name denotes; None for partial or malformed names."""
    if labels[-2:] == ("in-addr", "arpa") and len(labels) == 6:
        try:
            return ipaddress.IPv4Address(".".join(reversed(labels[:4])))
        except ValueError:
            return None
    if labels[-2:] == ("ip6", "arpa") and len(labels) == 34:
        nibbles = labels[:32]
        if not all(len(n) == 1 and n in "0123456789abcdef" for n in nibbles):
            return None
        return ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16))
    return None


def is_reverse(labels: Labels) -> bool:
    return labels[-2:] in (("in-addr", "arpa"), ("ip6", "arpa"))


def reverse_zone(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Labels:
    """The reverse zone covering ``network``, cut at the octet (nibble) boundary above it."""
    if network.version == 4:
        octets = str(network.network_address).split(".")[: network.prefixlen // 8]
        return (*reversed(octets), "in-addr", "arpa")
    full = network.network_address.exploded.replace(":", "")
    nibbles = full[: network.prefixlen // 4]
    return (*reversed(nibbles), "ip6", "arpa")


def to_name(labels: Labels) -> str:
    """The absolute presentation form of ``labels`` (``a.b.`` ; the root is ``.``)."""
    return ".".join(labels) + "." if labels else "."
