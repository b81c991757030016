"""The node's nftables table for pod traffic: hostPort DNAT, masquerade, and guards.

``render(config, hostports)`` writes the whole table as one ``nft -f`` script that creates,
deletes and redefines it, so every change replaces the table atomically (one transaction: no
packet ever sees half a ruleset). The table is owned by the agent; nothing else writes to it and
it never touches other tables. ``apply(script)`` runs it.

What the table does:

- **hostPort**: packets to a local address (any local address when the mapping has no hostIP,
  else only to that one) and the host port are DNAT'ed to ``podIP:containerPort``, in
  ``prerouting`` (from pods and other hosts) and ``output`` (from the node's own processes).
- **hairpin**: a pod reaching its own hostPort is masqueraded, or its reply would go straight
  back to itself and never match the connection.
- **127.0.0.1**: with ``localhost`` on, a hostPort also answers on the node's loopback, as the
  CNI portmap plugin does: the connection is masqueraded to the bridge address and the bridge
  gets ``route_localnet=1`` (set by ``BridgeNetwork``, needed to route a 127/8 source out of the
  bridge). Because ``route_localnet`` would also let a pod address 127.0.0.1 on the host, packets
  from the bridge to 127.0.0.0/8 are dropped before conntrack (the kube-proxy fix for
  CVE-2020-8558).
- **masquerade**: pod traffic leaving the cluster's pod range through another interface takes
  the node's address (pod-to-pod traffic, also across nodes, keeps its source).
- **egress guard**: with ``egress`` off, nothing is forwarded between the bridge and other
  interfaces (tests use it, so pods can reach nothing beyond the node).

Invariants: the table holds exactly the mappings of the sandboxes passed to ``render``; the
script is one transaction.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

log = logging.getLogger(__name__)

_PROTOCOLS: Final = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}


class RulesError(Exception):
    """nft refused the script or could not be run."""


@dataclass(frozen=True)
class RulesConfig:
    table: str
    bridge: str
    pod_cidr: str
    cluster_cidr: str
    masquerade: bool = True
    localhost: bool = True
    egress: bool = True


@dataclass(frozen=True)
class HostPort:
    sandbox_id: str
    protocol: str  # TCP, UDP or SCTP
    host_port: int
    host_ip: str  # "" or 0.0.0.0: every local address
    pod_ip: str
    container_port: int

    @property
    def key(self) -> tuple[str, int, str]:
        """What two mappings must not share on one node."""
        return (self.protocol.upper(), self.host_port, self._host_ip())

    def _host_ip(self) -> str:
        return "" if self.host_ip in ("", "0.0.0.0") else self.host_ip


def usable(mapping: HostPort) -> str | None:
    """Why ``mapping`` cannot be a rule of an IPv4 table, or None if it can."""
    if mapping.protocol.upper() not in _PROTOCOLS:
        return f"protocol {mapping.protocol!r} is not TCP, UDP or SCTP"
    if not 0 < mapping.host_port < 65536 or not 0 < mapping.container_port < 65536:
        return "port out of range"
    for address in (mapping.host_ip, mapping.pod_ip):
        if address and ipaddress.ip_address(address).version != 4:
            return f"{address} is not an IPv4 address"
    return None


def conflicts(existing: Iterable[HostPort], new: Iterable[HostPort]) -> list[str]:
    """Mappings of ``new`` that collide with ``existing`` (a wildcard hostIP collides with all)."""
    taken = {m.key: m.sandbox_id for m in existing}
    wildcard = {(protocol, port) for protocol, port, ip in taken if not ip}
    specific = {(protocol, port) for protocol, port, ip in taken if ip}
    problems = []
    for mapping in new:
        protocol, port, ip = mapping.key
        clash = (
            mapping.key in taken
            or (protocol, port) in wildcard
            or (not ip and (protocol, port) in specific)
        )
        if clash:
            shown = f"{ip or '*'}:{port}/{protocol}"
            problems.append(f"hostPort {shown} is already mapped on this node")
    return problems


def render(config: RulesConfig, hostports: Sequence[HostPort]) -> str:
    """The ``nft -f`` script that replaces the table with these rules."""
    table = f"ip {config.table}"
    bridge = _quote(config.bridge)
    dnat = []
    hairpin = []
    for mapping in sorted(hostports, key=lambda m: (m.key, m.sandbox_id)):
        protocol = _PROTOCOLS[mapping.protocol.upper()]
        where = "fib daddr type local" if not mapping.key[2] else f"ip daddr {mapping.key[2]}"
        dnat.append(
            f"{where} {protocol} dport {mapping.host_port} "
            f"dnat to {mapping.pod_ip}:{mapping.container_port} "
            f"comment {_quote(mapping.sandbox_id)}"
        )
        rule = f"ct status dnat ip saddr {mapping.pod_ip} ip daddr {mapping.pod_ip} masquerade"
        if rule not in hairpin:
            hairpin.append(rule)
    postrouting = list(hairpin)
    if config.localhost:
        postrouting.insert(0, "ct status dnat ip saddr 127.0.0.0/8 masquerade")
    if config.masquerade:
        postrouting.append(
            f"ip saddr {config.pod_cidr} ip daddr != {config.cluster_cidr} "
            f"oifname != {bridge} masquerade"
        )
    chains = [
        _chain("hostports", None, dnat),
        _chain("prerouting", "type nat hook prerouting priority dstnat", ["jump hostports"]),
        _chain("output", "type nat hook output priority -100", ["jump hostports"]),
        _chain("postrouting", "type nat hook postrouting priority srcnat", postrouting),
    ]
    if config.localhost:
        guard = [f"iifname {bridge} ip daddr 127.0.0.0/8 drop"]
        chains.append(_chain("localnet_guard", "type filter hook prerouting priority raw", guard))
    if not config.egress:
        guard = [
            f"iifname {bridge} oifname != {bridge} drop",
            f"oifname {bridge} iifname != {bridge} drop",
        ]
        chains.append(_chain("egress_guard", "type filter hook forward priority filter", guard))
    body = "\n".join(chains)
    return f"table {table}\ndelete table {table}\ntable {table} {{\n{body}}}\n"


def render_delete(table: str) -> str:
    """The script that removes the table (and succeeds when there is none)."""
    return f"table ip {table}\ndelete table ip {table}\n"


def _chain(name: str, hook: str | None, rules: Sequence[str]) -> str:
    lines = [f"\tchain {name} {{"]
    if hook is not None:
        lines.append(f"\t\t{hook}; policy accept;")
    lines.extend(f"\t\t{rule}" for rule in rules)
    lines.append("\t}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "").replace('"', "") + '"'


async def apply(script: str) -> None:
    """Run ``script`` with ``nft -f -`` (one atomic transaction)."""
    nft = shutil.which("nft")
    if nft is None:
        raise RulesError("nft is not installed (Debian package nftables)")
    process = await asyncio.create_subprocess_exec(
        nft,
        "-f",
        "-",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate(script.encode())
    if process.returncode != 0:
        raise RulesError(f"nft -f failed: {stderr.decode(errors='replace').strip()}")


async def table_exists(table: str) -> bool:
    nft = shutil.which("nft")
    if nft is None:
        return False
    process = await asyncio.create_subprocess_exec(
        nft,
        "list",
        "table",
        "ip",
        table,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await process.wait() == 0
