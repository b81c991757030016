"""Routes between nodes' pod CIDRs: another node's pods are reached through that node's address.

``sync_pod_routes({cidr: node_ip, ...})`` makes the routing table hold exactly those routes
(``10.42.1.0/24 via 192.0.2.11``), like flannel's host-gw backend: level-triggered, it adds the
missing, replaces the changed and deletes the routes it installed earlier that are no longer
wanted. The agent's routes carry their own routing protocol number (``RTPROT_KYBERNETES``), so
they are told apart from every other route and nothing else is ever touched. The nodes must share
a link (the next hop is on-link); the other nodes need ``ip_forward`` for traffic to arrive.

Blocking netlink calls: run them with ``netns.run_in_thread`` (``netns_path`` moves that thread
into another namespace, as a simulated node living in one needs).

Invariant: after a sync, the routes with our protocol number are exactly the wanted ones the
kernel accepted; a refused one (a next hop on no link) is reported in ``failed``, not raised,
so one unreachable node never keeps the others' routes out.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from kybernetes.agent.network import netns, sysctl

log = logging.getLogger(__name__)

RTPROT_KYBERNETES: Final = 75  # unassigned in iproute2's rt_protos
_MAIN_TABLE: Final = 254


@dataclass(frozen=True)
class RouteChanges:
    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    #: wanted routes the kernel refused (``(cidr, reason)``), e.g. a next hop on no link
    failed: tuple[tuple[str, str], ...] = ()


@contextlib.contextmanager
def _netlink(netns_path: str | None) -> Iterator[Any]:
    if netns_path is None:
        ipr = IPRoute()
    else:
        with netns.entered(netns_path):
            ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def installed_routes(netns_path: str | None = None) -> dict[str, str]:
    """The pod CIDR routes the agent installed: ``{cidr: next hop}``."""
    with _netlink(netns_path) as ipr:
        return _ours(ipr)


def _ours(ipr: Any) -> dict[str, str]:
    found = {}
    for route in ipr.route("dump", family=2, table=_MAIN_TABLE, proto=RTPROT_KYBERNETES):
        if route.get("proto") != RTPROT_KYBERNETES:
            continue
        cidr = f"{route.get('RTA_DST')}/{route.get('dst_len')}"
        found[cidr] = str(route.get("RTA_GATEWAY"))
    return found


def sync_pod_routes(wanted: Mapping[str, str], netns_path: str | None = None) -> RouteChanges:
    """Make the agent's routes exactly ``wanted`` (pod CIDR -> node IP)."""
    normal = {
        str(ipaddress.ip_network(cidr)): str(ipaddress.ip_address(via))
        for cidr, via in wanted.items()
    }
    added: list[str] = []
    replaced: list[str] = []
    removed: list[str] = []
    failed: list[tuple[str, str]] = []
    with _netlink(netns_path) as ipr:
        present = _ours(ipr)
        for cidr, via in sorted(normal.items()):
            if present.get(cidr) == via:
                continue
            try:
                ipr.route(
                    "replace", dst=cidr, gateway=via, proto=RTPROT_KYBERNETES, table=_MAIN_TABLE
                )
            except NetlinkError as exc:
                failed.append((cidr, str(exc)))
                continue
            (replaced if cidr in present else added).append(cidr)
        for cidr in sorted(set(present) - set(normal)):
            ipr.route("del", dst=cidr, gateway=present[cidr], proto=RTPROT_KYBERNETES)
            removed.append(cidr)
    changes = RouteChanges(tuple(added), tuple(replaced), tuple(removed), tuple(failed))
    if added or replaced or removed:
        log.info(
            "pod routes synced added=%s replaced=%s removed=%s",
            ",".join(added) or "-",
            ",".join(replaced) or "-",
            ",".join(removed) or "-",
        )
    return changes


def forward_from_uplink(address: str) -> str | None:
    """Let the interface holding ``address`` forward (``net.ipv4.conf.<it>.forwarding=1``).

    Packets from other nodes to this node's pods arrive on that interface, and the kernel
    forwards by the flag of the arriving interface; the global ``ip_forward`` stays as it is.
    Returns the interface's name, or None when no interface holds the address.
    """
    with _netlink(None) as ipr:
        found = ipr.get_addr(family=2, address=address)
        if not found:
            return None
        name = ipr.get_links(found[0]["index"])[0].get_attr("IFLA_IFNAME")
    sysctl.ensure(("ipv4", "conf", name, "forwarding"), "1")
    return str(name)
