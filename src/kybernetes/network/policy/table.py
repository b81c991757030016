"""The NetworkPolicy enforcer's nftables table, rendered from ``PodRules`` (pure, no I/O).

One table, family ``ip``, owned by the enforcer and touched by nothing else::

    chain ingress { type filter hook forward priority filter; policy accept;
        ct state established,related accept
        ip daddr vmap @ingress-pods }          # isolated pod address : goto in-<pod>
    chain egress  { type filter hook forward priority filter + 1; policy accept;
        ct state established,related accept
        ip saddr vmap @egress-pods }           # isolated pod address : goto out-<pod>
    chain in-<pod>  { <peer> <port> accept ...; drop }
    chain out-<pod> { <peer> <port> accept ...; drop }

Two base chains, so that a packet between two isolated pods must pass both the sender's egress
and the receiver's ingress (an ``accept`` ends only its own base chain). Only the forward hook
is used: traffic from and to the node itself is never filtered (see the package docstring).

``replace_script`` deletes and redefines the whole table in one ``nft -f`` transaction, so a
packet never meets half a ruleset.

Invariants: rendering is deterministic; every isolated pod has exactly one chain per isolated
direction, ending in ``drop``; anonymous sets never hold overlapping intervals (pod addresses
are single, exceptions collapsed), which nft would refuse.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Final

from kybernetes.network.policy.model import Allow, PodRules, Port

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_./-]")


def chain_name(prefix: str, key: str) -> str:
    """``in-<hash>-<namespace>/<name>``: readable, a valid identifier, unique by the hash."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"{prefix}-{digest}-{_UNSAFE.sub('_', key)}"[:200]


def _set(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _peer(allow: Allow, field: str) -> str:
    peer = allow.peer
    if peer.addresses:
        return f"ip {field} {_set(peer.addresses)}"
    if peer.cidr:
        match = f"ip {field} {peer.cidr}"
        if peer.excepts:
            match += f" ip {field} != {_set(peer.excepts)}"
        return match
    return ""


def _port(port: Port | None) -> str:
    if port is None:
        return ""
    if not port.first:
        return f"meta l4proto {port.protocol}"
    if port.last > port.first:
        return f"{port.protocol} dport {port.first}-{port.last}"
    return f"{port.protocol} dport {port.first}"


def _rules(allows: Sequence[Allow], field: str) -> list[str]:
    rules = []
    for allow in allows:
        match = " ".join(part for part in (_peer(allow, field), _port(allow.port)) if part)
        comment = f' comment "{allow.policy}"' if allow.policy else ""
        rule = f"{match} accept{comment}".strip()
        if rule not in rules:
            rules.append(rule)
    rules.append("drop")
    return rules


def _chain(name: str, rules: Sequence[str], hook: str = "") -> str:
    lines = [f"\tchain {name} {{"]
    if hook:
        lines.append(f"\t\t{hook}; policy accept;")
    lines.extend(f"\t\t{rule}" for rule in rules)
    lines.append("\t}")
    return "\n".join(lines)


def render(pods: Sequence[PodRules]) -> str:
    """The body of the table (its chains and maps) for these isolated pods."""
    chains: list[str] = []
    elements: dict[str, list[str]] = {"ingress-pods": [], "egress-pods": []}
    for pod in sorted(pods, key=lambda p: p.key):
        for direction, allows, prefix, field in (
            ("ingress-pods", pod.ingress, "in", "saddr"),
            ("egress-pods", pod.egress, "out", "daddr"),
        ):
            if allows is None:
                continue
            name = chain_name(prefix, pod.key)
            chains.append(_chain(name, _rules(allows, field)))
            elements[direction].append(f"{pod.ip} : goto {name}")
    maps = []
    for name, items in elements.items():
        body = "\t\ttype ipv4_addr : verdict;"
        if items:
            body += "\n\t\telements = { " + ", ".join(items) + " }"
        maps.append(f"\tmap {name} {{\n{body}\n\t}}")
    established = "ct state established,related accept"
    hooks = [
        _chain(
            "ingress",
            [established, "ip daddr vmap @ingress-pods"],
            "type filter hook forward priority filter",
        ),
        _chain(
            "egress",
            [established, "ip saddr vmap @egress-pods"],
            "type filter hook forward priority filter + 1",
        ),
    ]
    return "\n".join([*maps, *chains, *hooks]) + "\n"


def replace_script(table: str, body: str) -> str:
    """Create (if missing), delete and redefine the table: one transaction."""
    return f"table ip {table}\ndelete table ip {table}\ntable ip {table} {{\n{body}}}\n"


def delete_script(table: str) -> str:
    """Remove the table; succeeds when there is none."""
    return f"table ip {table}\ndelete table ip {table}\n"
