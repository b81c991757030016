"""Forgetting UDP conntrack entries that pin clients to endpoints that are gone.

A UDP "connection" has no end the kernel can see: conntrack keeps the DNAT it chose for as long
as the client keeps sending, so a client would talk to a removed endpoint forever. As kube-proxy
does, when an endpoint leaves a UDP service port the proxy deletes the entries whose reply comes
from that endpoint after a DNAT (the original destination differs from the reply's source); the
client's next packet is a new connection and meets the current rules. TCP needs nothing: its
connections end, and new ones follow the rules.

Blocking netlink calls: run them in a thread.

Invariant: only UDP entries that were destination-NAT'ed to one of the given addresses are
deleted; direct traffic to a pod is never touched.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

from pyroute2 import NFCTSocket
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple


def delete_udp_to(endpoints: Sequence[str]) -> int:
    """Delete the DNAT'ed UDP entries answered by ``endpoints``; returns how many went."""
    wanted = set(endpoints)
    removed = 0
    with NFCTSocket() as ct:
        victims: list[Any] = []
        for entry in ct.dump(tuple_orig=NFCTAttrTuple(proto=socket.IPPROTO_UDP)):
            orig = entry.get_attr("CTA_TUPLE_ORIG")
            reply = entry.get_attr("CTA_TUPLE_REPLY")
            if orig is None or reply is None:
                continue
            original = NFCTAttrTuple.from_netlink(socket.AF_INET, orig)
            answered = NFCTAttrTuple.from_netlink(socket.AF_INET, reply)
            if original.proto != socket.IPPROTO_UDP:
                continue
            if answered.saddr in wanted and original.daddr != answered.saddr:
                victims.append(original)
        for original in victims:
            try:
                ct.entry("del", tuple_orig=original)
                removed += 1
            except NetlinkError as error:
                if error.code != 2:  # ENOENT: it expired meanwhile
                    raise
    return removed
