"""Pod addresses: the node's pod CIDRs, and the IPs handed out from the node's own subnet.

``subnet_for(index, cluster_cidr, mask)`` is the pod CIDR of the node with that index (the
``index``-th ``/mask`` block of the cluster CIDR, as upstream's node IPAM controller hands them
out in order). ``IPPool`` hands out the addresses of one node's subnet, first to last, skipping
the network address, the first host (the node bridge's gateway) and the broadcast address.

Invariants: an address belongs to at most one owner (a pod key) at a time; ``claim`` of an
address someone else holds fails, so adopting pods after a restart never duplicates an IP.
"""

from __future__ import annotations

import ipaddress
from typing import Final

_RESERVED_LOW: Final = 2  # the network address and the gateway


def subnet_for(index: int, cluster_cidr: str, mask: int) -> str:
    """The ``index``-th ``/mask`` subnet of ``cluster_cidr`` (``ValueError`` if past its end)."""
    network = ipaddress.ip_network(cluster_cidr)
    if mask < network.prefixlen or mask > network.max_prefixlen:
        raise ValueError(f"a /{mask} subnet does not fit in {cluster_cidr}")
    count = 1 << (mask - network.prefixlen)
    if not 0 <= index < count:
        raise ValueError(f"{cluster_cidr} holds {count} /{mask} subnets; index {index} is past it")
    size = 1 << (network.max_prefixlen - mask)
    base = ipaddress.ip_address(int(network.network_address) + index * size)
    return f"{base}/{mask}"


def subnet_count(cluster_cidr: str, mask: int) -> int:
    """How many ``/mask`` subnets ``cluster_cidr`` holds."""
    network = ipaddress.ip_network(cluster_cidr)
    return 1 << max(0, mask - network.prefixlen)


class IPPool:
    """The assignable addresses of one subnet, each held by at most one owner."""

    def __init__(self, cidr: str) -> None:
        network = ipaddress.ip_network(cidr)
        self.cidr = cidr
        self._network = network
        self._first = int(network.network_address) + _RESERVED_LOW
        self._size = max(0, network.num_addresses - _RESERVED_LOW - 1)
        self._owner_of: dict[int, str] = {}  # offset -> owner
        self._offset_of: dict[str, int] = {}  # owner -> offset
        self._cursor = 0

    def __len__(self) -> int:
        return len(self._offset_of)

    @property
    def capacity(self) -> int:
        return self._size

    def address_of(self, owner: str) -> str | None:
        offset = self._offset_of.get(owner)
        return None if offset is None else self._text(offset)

    def allocate(self, owner: str) -> str | None:
        """The owner's address (a fresh one if it has none); ``None`` when the pool is full."""
        held = self.address_of(owner)
        if held is not None:
            return held
        for step in range(self._size):
            offset = (self._cursor + step) % self._size
            if offset not in self._owner_of:
                self._cursor = offset + 1
                self._take(offset, owner)
                return self._text(offset)
        return None

    def claim(self, address: str, owner: str) -> bool:
        """Record that ``owner`` holds ``address`` (after a restart); False if it is not ours."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        offset = int(ip) - self._first
        if ip not in self._network or not 0 <= offset < self._size:
            return False
        holder = self._owner_of.get(offset)
        if holder is not None:
            return holder == owner
        self.release(owner)
        self._take(offset, owner)
        return True

    def release(self, owner: str) -> None:
        offset = self._offset_of.pop(owner, None)
        if offset is not None:
            del self._owner_of[offset]

    def _take(self, offset: int, owner: str) -> None:
        self._owner_of[offset] = owner
        self._offset_of[owner] = offset

    def _text(self, offset: int) -> str:
        return str(ipaddress.ip_address(self._first + offset))
