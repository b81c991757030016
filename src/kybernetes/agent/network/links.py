"""Netlink work of the pod network: the node bridge, and a pod's veth pair inside its namespace.

Blocking pyroute2 calls, made on a thread of their own (``netns.run_in_thread``): pyroute2's
synchronous ``IPRoute`` keeps its socket per thread, and moving into a pod's namespace must not
touch a pooled thread. Every function opens its sockets, does its work and closes them. Never
call them on the event loop's thread: pyroute2's synchronous API then finds a running loop and
fails.

``plumb_pod`` builds a pod's network in one go: the namespace, a veth pair whose host end joins
the bridge (hairpin on, so a pod can reach itself through a Service or hostPort) and whose other
end is created directly inside the namespace as ``eth0``, the address, the default route via the
bridge's gateway address, ``lo`` up. ``unplumb_pod`` deletes the host end (which deletes its
peer at once; leaving it to the namespace's destruction would keep the name busy for a second or
two, the kernel frees namespaces asynchronously), then unpins the namespace, then waits until the
host end is really gone.

Invariants: the bridge carries the gateway address; a pod's host link is named after its sandbox
and is deleted before its namespace; a missing link or namespace is not an error on removal.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Final

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from kybernetes.agent.network import netns

log = logging.getLogger(__name__)

POD_IFNAME: Final = "eth0"
_BRPORT_HAIRPIN: Final = 1
_GONE_TIMEOUT: Final = 5.0


class LinkError(Exception):
    """A link could not be created, adopted or removed."""


@dataclass(frozen=True)
class PodLinks:
    """What to build for one pod (all names and addresses decided by the caller)."""

    netns_name: str
    netns_dir: str
    host_ifname: str
    bridge: str
    ip: str
    prefix_length: int
    gateway: str
    mtu: int


def _index(ipr: Any, ifname: str) -> int | None:
    found = ipr.link_lookup(ifname=ifname)
    return int(found[0]) if found else None


def ensure_bridge(name: str, gateway: str, prefix_length: int, mtu: int = 0) -> int:
    """Create the bridge ``name`` or adopt it; make sure it has the gateway address and is up.

    Returns the bridge's MTU (``mtu`` when given, which is then set on the bridge).
    """
    with IPRoute() as ipr:
        index = _index(ipr, name)
        if index is None:
            ipr.link("add", ifname=name, kind="bridge")
            index = _index(ipr, name)
            if index is None:
                raise LinkError(f"bridge {name} vanished right after it was created")
            log.info("bridge created bridge=%s", name)
        else:
            link = ipr.link("get", index=index)[0]
            kind = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
            if kind != "bridge":
                raise LinkError(f"link {name} exists and is a {kind or 'plain'} link, not a bridge")
            log.info("bridge adopted bridge=%s", name)
        addresses = {(a.get("address"), a.get("prefixlen")) for a in ipr.addr("dump", index=index)}
        if (gateway, prefix_length) not in addresses:
            ipr.addr("add", index=index, address=gateway, prefixlen=prefix_length)
        settings: dict[str, Any] = {"state": "up"}
        if mtu:
            settings["mtu"] = mtu
        ipr.link("set", index=index, **settings)
        return int(ipr.link("get", index=index)[0].get("IFLA_MTU"))


def delete_link(name: str) -> bool:
    """Delete the link ``name`` in the calling thread's namespace; False if there was none."""
    with IPRoute() as ipr:
        index = _index(ipr, name)
        if index is None:
            return False
        try:
            ipr.link("del", index=index)
        except NetlinkError as error:
            if error.code != errno.ENODEV:
                raise
            return False
        return True


def link_exists(name: str) -> bool:
    with IPRoute() as ipr:
        return _index(ipr, name) is not None


def plumb_pod(spec: PodLinks) -> None:
    """Build the pod's namespace and interfaces; on failure, leave nothing behind and raise."""
    path = netns.create(spec.netns_name, spec.netns_dir)
    try:
        with netns.entered(path):
            pod = IPRoute()  # its socket stays in the pod's namespace
        try:
            with IPRoute() as host:
                _plumb_host_side(host, spec, path)
            _plumb_pod_side(pod, spec)
        finally:
            pod.close()
    except BaseException:
        unplumb_pod(spec.netns_name, spec.netns_dir, spec.host_ifname)
        raise


def _plumb_host_side(host: Any, spec: PodLinks, path: str) -> None:
    bridge = _index(host, spec.bridge)
    if bridge is None:
        raise LinkError(f"bridge {spec.bridge} does not exist")
    fd = os.open(path, os.O_RDONLY)
    try:
        peer = {"ifname": POD_IFNAME, "net_ns_fd": fd, "mtu": spec.mtu}
        host.link("add", ifname=spec.host_ifname, kind="veth", mtu=spec.mtu, peer=peer)
    finally:
        os.close(fd)
    index = _index(host, spec.host_ifname)
    if index is None:
        raise LinkError(f"veth {spec.host_ifname} vanished right after it was created")
    host.link("set", index=index, master=bridge, state="up")
    host.brport("set", index=index, mode=_BRPORT_HAIRPIN)


def _plumb_pod_side(pod: Any, spec: PodLinks) -> None:
    lo = _index(pod, "lo")
    eth0 = _index(pod, POD_IFNAME)
    if lo is None or eth0 is None:
        raise LinkError(f"namespace {spec.netns_name} lacks lo or {POD_IFNAME}")
    pod.link("set", index=lo, state="up")
    pod.addr("add", index=eth0, address=spec.ip, prefixlen=spec.prefix_length)
    pod.link("set", index=eth0, state="up")
    pod.route("add", dst="0.0.0.0/0", gateway=spec.gateway)


def unplumb_pod(netns_name: str, netns_dir: str, host_ifname: str) -> None:
    """Remove the pod's host link and namespace, and wait until the link is gone."""
    delete_link(host_ifname)
    netns.remove(netns_name, netns_dir)
    deadline = time.monotonic() + _GONE_TIMEOUT
    while link_exists(host_ifname):
        if time.monotonic() > deadline:
            raise LinkError(f"veth {host_ifname} still exists {_GONE_TIMEOUT:.0f}s after removal")
        time.sleep(0.01)
        delete_link(host_ifname)


def node_address(prefer: str = "") -> tuple[str, int]:
    """The node's IPv4 address and prefix length: ``prefer`` if given, else the first address of
    the interface holding the default route (read from the routing table; nothing is sent)."""
    with IPRoute() as ipr:
        addresses = [
            (str(a.get("address")), int(a.get("prefixlen")), int(a["index"]))
            for a in ipr.addr("dump", family=2)
        ]
        if prefer:
            for address, prefix, _ in addresses:
                if address == prefer:
                    return address, prefix
            return prefer, 32
        for route in ipr.route("dump", family=2, table=254):
            if route.get("dst_len") == 0 and route.get("RTA_OIF") is not None:
                oif = int(route.get("RTA_OIF"))
                for address, prefix, index in addresses:
                    if index == oif:
                        return address, prefix
    raise LinkError("no default route to take the node address from; configure node_ip")
