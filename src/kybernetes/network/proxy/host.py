"""The node settings the service proxy needs besides its table: a route and one sysctl.

- **Service route**: the service CIDR is routed onto the pod bridge (``10.43.0.0/16 dev kyb0``),
  so a service address is never sent out of the default route, whether or not a rule matches it
  (runtime.md §2), and the node's own connections to a ClusterIP take the bridge's address as
  their source. The route carries the proxy's own routing protocol number, so it is told apart
  from every other route (the agent's pod CIDR routes use another one).
- **route_localnet** on the bridge: a NodePort reached at 127.0.0.1 is DNAT'ed to a pod and
  leaves through the bridge with source 127.0.0.1 before it is masqueraded; the kernel drops such
  packets unless the outgoing device allows it. Per device is enough; the table's
  ``localnet-guard`` keeps pods from using it to reach the node's loopback.

Both are blocking netlink or procfs calls: run them in a thread. Sysctls are left as they are on
cleanup (the agent's pod network wants the same one).

Invariant: ``ensure`` is idempotent and reports False (changing nothing) while the bridge does
not exist yet; ``remove_route`` deletes only the route with the proxy's protocol number.
"""

from __future__ import annotations

import logging
import os
from typing import Final

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

log = logging.getLogger(__name__)

RTPROT_KYBERNETES_PROXY: Final = 76  # unassigned in iproute2's rt_protos; the agent uses 75
_SCOPE_LINK: Final = 253
_MAIN_TABLE: Final = 254


def _sysctl_path(*key: str) -> str:
    return os.path.join("/proc/sys/net", *key)


def set_route_localnet(bridge: str) -> bool:
    """``net.ipv4.conf.<bridge>.route_localnet=1``; False when the bridge does not exist."""
    path = _sysctl_path("ipv4", "conf", bridge, "route_localnet")
    try:
        with open(path) as file:
            old = file.read().strip()
        if old != "1":
            with open(path, "w") as file:
                file.write("1")
            log.info("sysctl changed key=net.ipv4.conf.%s.route_localnet old=%s new=1", bridge, old)
    except FileNotFoundError:
        return False
    return True


def ensure_route(service_cidr: str, bridge: str) -> bool:
    """Route ``service_cidr`` onto ``bridge``; False when the bridge does not exist."""
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=bridge)
        if not found:
            return False
        index = found[0]
        for route in ipr.route("dump", family=2, table=_MAIN_TABLE):
            ours = route.get("proto") == RTPROT_KYBERNETES_PROXY and route.get("RTA_OIF") == index
            if ours and _route_dst(route) == service_cidr:
                return True
        ipr.route(
            "replace",
            dst=service_cidr,
            oif=index,
            proto=RTPROT_KYBERNETES_PROXY,
            scope=_SCOPE_LINK,
            table=_MAIN_TABLE,
        )
    log.info("service route set cidr=%s dev=%s", service_cidr, bridge)
    return True


def remove_route(service_cidr: str) -> None:
    """Delete the proxy's route for ``service_cidr``, if there is one."""
    with IPRoute() as ipr:
        for route in ipr.route("dump", family=2, table=_MAIN_TABLE):
            if _route_dst(route) == service_cidr and route.get("proto") == RTPROT_KYBERNETES_PROXY:
                try:
                    ipr.route(
                        "del",
                        dst=service_cidr,
                        oif=route.get("RTA_OIF"),
                        proto=RTPROT_KYBERNETES_PROXY,
                        table=_MAIN_TABLE,
                    )
                except NetlinkError as error:
                    if error.code != 3:  # ESRCH: already gone
                        raise
                log.info("service route removed cidr=%s", service_cidr)


def ensure(service_cidr: str, bridge: str, *, route: bool, localnet: bool) -> bool:
    """Both settings; True once everything asked for is in place."""
    done = True
    if localnet:
        done = set_route_localnet(bridge) and done
    if route:
        done = ensure_route(service_cidr, bridge) and done
    return done


def _route_dst(route: object) -> str:
    get = getattr(route, "get", None)
    if get is None:
        return ""
    return f"{get('RTA_DST')}/{get('dst_len')}"
