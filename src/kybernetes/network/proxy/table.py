"""The service proxy's nftables table, rendered from ``ServicePort`` values (pure, no I/O).

The table has the shape of kube-proxy's nftables mode (one table, family ``ip``, owned by the
proxy and touched by nothing else):

- ``services`` (jumped to from ``nat-prerouting`` and ``nat-output``) looks the destination up in
  two verdict maps: ``service-ips`` (ClusterIP, external IP and LoadBalancer IP . protocol .
  port) and ``service-nodeports`` (protocol . port, for any local destination address,
  127.0.0.1 included).
- A ClusterIP goes to its balancer chain (``svc-*`` over the cluster endpoints, or ``local-*``
  over this node's under ``internalTrafficPolicy: Local``), which picks an endpoint chain with
  ``numgen random mod N vmap``; with ``sessionAffinity: ClientIP`` every endpoint has a set of
  client addresses with a timeout, checked first and refreshed on every new connection.
- Endpoint chains (``ep-*``) mark hairpin traffic (the endpoint reaching itself) for masquerade
  and DNAT to ``ip:port``. Traffic to a ClusterIP from outside the cluster CIDR is masqueraded.
- NodePort and external traffic enters ``ext-*``: under ``externalTrafficPolicy: Cluster`` it is
  masqueraded and balanced over all endpoints; under ``Local`` only over local endpoints and not
  masqueraded, except traffic from pods or from the node itself (short-circuited to all
  endpoints, the node's own traffic masqueraded, as 127.0.0.1 must be).
- Filter chains hooked before NAT reject (TCP reset, ICMP port unreachable) connections to a
  service port without endpoints, or drop them when endpoints exist but none for the traffic's
  policy; after NAT, connections still addressed to a ClusterIP (a port the Service lacks) are
  rejected and anything else in the service CIDR is dropped, so a service address without a rule
  never leaves the node.

Names of per-service chains and sets are ``<kind>-<hash>-<namespace>/<name>/<proto>/<port>``
(endpoints add ``__<ip>/<port>``): readable in ``nft list``, made safe for nft's identifiers,
unique through the hash. Affinity sets carry their timeout in their name, so a changed timeout is
a new set.

Invariants: rendering is deterministic (same input, same text); a map key appears at most once
(a key claimed twice goes to the first port in sorted order and is reported in ``conflicts``);
``update_script`` is one transaction that keeps affinity sets and their entries.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from kybernetes.network.proxy.model import Endpoint, ServicePort

MASQ_MARK: Final = "0x4000"
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_./-]")
_MAX_NAME: Final = 160
_MAPS: Final = {
    "service-ips": "ipv4_addr . inet_proto . inet_service : verdict",
    "service-nodeports": "inet_proto . inet_service : verdict",
    "no-endpoint-services": "ipv4_addr . inet_proto . inet_service : verdict",
    "no-endpoint-nodeports": "inet_proto . inet_service : verdict",
}
_CLUSTER_IPS: Final = "cluster-ips"


@dataclass(frozen=True)
class TableConfig:
    table: str = "kyb-services"
    cluster_cidr: str = "10.42.0.0/16"  # pod addresses: their ClusterIP traffic keeps its source
    service_cidr: str = "10.43.0.0/16"  # addresses without a rule here are dropped
    bridge: str = ""  # with localhost_nodeports: pods on it may not reach 127.0.0.0/8
    localhost_nodeports: bool = True


@dataclass(frozen=True)
class Table:
    """A rendered table: its definition block and the names of its per-service objects."""

    name: str
    body: str
    chains: frozenset[str]
    sets: frozenset[str]
    conflicts: tuple[str, ...] = field(default=())


def safe_name(text: str) -> str:
    """``text`` as a valid nft identifier tail: only ``[A-Za-z0-9_./-]``, bounded length."""
    return _UNSAFE.sub("_", text)[:_MAX_NAME]


def base_name(port: ServicePort) -> str:
    digest = hashlib.sha256(port.key.encode()).hexdigest()[:8]
    return f"{digest}-{safe_name(port.key)}"


def endpoint_chain(port: ServicePort, endpoint: Endpoint) -> str:
    return f"ep-{base_name(port)}__{endpoint.ip}/{endpoint.port}"


def affinity_set(port: ServicePort, endpoint: Endpoint) -> str:
    return f"aff-{port.affinity_timeout}-{base_name(port)}__{endpoint.ip}/{endpoint.port}"


class _Builder:
    def __init__(self, config: TableConfig) -> None:
        self.config = config
        self.elements: dict[str, list[str]] = {name: [] for name in _MAPS}
        self.cluster_ips: set[str] = set()
        self.keys: dict[str, str] = {}  # map key -> the service port that claimed it
        self.conflicts: list[str] = []
        self.chains: dict[str, list[str]] = {}
        self.sets: dict[str, int] = {}

    def element(self, key: str, verdict: str, owner: str, *, nodeport: bool) -> None:
        if key in self.keys:
            self.conflicts.append(f"{key} of {owner} is taken by {self.keys[key]}")
            return
        self.keys[key] = owner
        if verdict.startswith("goto "):
            target = "service-nodeports" if nodeport else "service-ips"
        else:
            target = "no-endpoint-nodeports" if nodeport else "no-endpoint-services"
        self.elements[target].append(f"{key} : {verdict}")

    def balancer(self, name: str, port: ServicePort, endpoints: Sequence[Endpoint]) -> None:
        rules: list[str] = []
        if port.affinity_timeout:
            rules.extend(
                f"ip saddr @{affinity_set(port, e)} goto {endpoint_chain(port, e)}"
                for e in endpoints
            )
        choices = ", ".join(
            f"{index} : goto {endpoint_chain(port, endpoint)}"
            for index, endpoint in enumerate(endpoints)
        )
        rules.append(f"numgen random mod {len(endpoints)} vmap {{ {choices} }}")
        self.chains[name] = rules
        for endpoint in endpoints:
            self.endpoint(port, endpoint)

    def endpoint(self, port: ServicePort, endpoint: Endpoint) -> None:
        name = endpoint_chain(port, endpoint)
        if name in self.chains:
            return
        rules = [f"ip saddr {endpoint.ip} jump mark-for-masquerade"]
        if port.affinity_timeout:
            affinity = affinity_set(port, endpoint)
            self.sets[affinity] = port.affinity_timeout
            rules.append(f"update @{affinity} {{ ip saddr }}")
        proto = port.protocol.lower()
        rules.append(f"meta l4proto {proto} dnat to {endpoint.ip}:{endpoint.port}")
        self.chains[name] = rules

    def service(self, port: ServicePort) -> None:
        base = base_name(port)
        proto = port.protocol.lower()
        cluster, local = port.cluster_endpoints, port.local_endpoints
        svc_chain, local_chain = f"svc-{base}", f"local-{base}"
        if cluster:
            self.balancer(svc_chain, port, cluster)
        if local and (port.internal_local or port.external_local):
            self.balancer(local_chain, port, local)
        no_endpoints = "drop" if port.has_endpoints else "goto reject-chain"

        self.cluster_ips.add(port.cluster_ip)
        internal = local_chain if port.internal_local else svc_chain
        key = f"{port.cluster_ip} . {proto} . {port.port}"
        if port.internal_endpoints:
            self.chains[internal].insert(
                0,
                f"ip daddr {port.cluster_ip} {proto} dport {port.port} "
                f"ip saddr != {self.config.cluster_cidr} jump mark-for-masquerade",
            )
            self.element(key, f"goto {internal}", port.key, nodeport=False)
        else:
            self.element(key, no_endpoints, port.key, nodeport=False)

        if not port.has_external:
            return
        ext_chain = f"ext-{base}"
        verdict = f"goto {ext_chain}" if port.external_endpoints else no_endpoints
        if port.external_endpoints:
            if port.external_local:
                self.chains[ext_chain] = [
                    f"ip saddr {self.config.cluster_cidr} goto {svc_chain}",
                    "fib saddr type local jump mark-for-masquerade",
                    f"fib saddr type local goto {svc_chain}",
                    f"goto {local_chain}",
                ]
            else:
                self.chains[ext_chain] = ["jump mark-for-masquerade", f"goto {svc_chain}"]
        for address in port.external_ips:
            self.element(f"{address} . {proto} . {port.port}", verdict, port.key, nodeport=False)
        if port.node_port:
            self.element(f"{proto} . {port.node_port}", verdict, port.key, nodeport=True)


def render(config: TableConfig, ports: Sequence[ServicePort]) -> Table:
    """The table implementing ``ports`` (in the order given; ``service_ports`` sorts them)."""
    builder = _Builder(config)
    for port in ports:
        builder.service(port)
    lines = [f"table ip {config.table} {{"]
    lines.append(_set_block(_CLUSTER_IPS, "ipv4_addr", sorted(builder.cluster_ips, key=_ip_key)))
    for name, spec in _MAPS.items():
        lines.append(_map_block(name, spec, builder.elements[name]))
    for name, timeout in sorted(builder.sets.items()):
        lines.append(
            f"\tset {name} {{ type ipv4_addr; flags dynamic,timeout; timeout {timeout}s; }}"
        )
    lines.extend(_fixed_chains(config))
    lines.extend(_chain(name, None, builder.chains[name]) for name in sorted(builder.chains))
    lines.append("}")
    return Table(
        name=config.table,
        body="\n".join(lines) + "\n",
        chains=frozenset(builder.chains),
        sets=frozenset(builder.sets),
        conflicts=tuple(builder.conflicts),
    )


def replace_script(table: Table) -> str:
    """Delete the table (whatever it holds) and define it anew, in one transaction."""
    return f"table ip {table.name}\ndelete table ip {table.name}\n{table.body}"


def update_script(table: Table, previous: Table | None) -> str:
    """Rewrite every rule and map in one transaction, keeping affinity sets' entries.

    Works whether or not the table exists; objects of ``previous`` no longer wanted are deleted
    (after the flushes, so nothing refers to them any more).
    """
    name = table.name
    declare = [f"table ip {name} {{", f"\tset {_CLUSTER_IPS} {{ type ipv4_addr; }}"]
    declare += [f"\tmap {m} {{ type {spec}; }}" for m, spec in _MAPS.items()]
    declare.append("}")
    out = [*declare, f"flush table ip {name}", f"flush set ip {name} {_CLUSTER_IPS}"]
    out += [f"flush map ip {name} {m}" for m in _MAPS]
    script = "\n".join(out) + "\n" + table.body
    if previous is not None:
        stale_chains = sorted(previous.chains - table.chains)
        stale_sets = sorted(previous.sets - table.sets)
        script += "".join(f"delete chain ip {name} {chain}\n" for chain in stale_chains)
        script += "".join(f"delete set ip {name} {s}\n" for s in stale_sets)
    return script


def delete_script(name: str) -> str:
    """Remove the table; succeeds when there is none."""
    return f"table ip {name}\ndelete table ip {name}\n"


def _fixed_chains(config: TableConfig) -> list[str]:
    checks = "ct state new jump"
    chains = [
        _chain("mark-for-masquerade", None, [f"meta mark set meta mark | {MASQ_MARK}"]),
        _chain(
            "masquerading",
            None,
            [
                f"meta mark & {MASQ_MARK} == 0 return",
                f"meta mark set meta mark ^ {MASQ_MARK}",
                "masquerade fully-random",
            ],
        ),
        _chain("reject-chain", None, ["meta l4proto tcp reject with tcp reset", "reject"]),
        _chain(
            "services",
            None,
            [
                "ip daddr . meta l4proto . th dport vmap @service-ips",
                "fib daddr type local meta l4proto . th dport vmap @service-nodeports",
            ],
        ),
        _chain(
            "service-endpoints-check",
            None,
            ["ip daddr . meta l4proto . th dport vmap @no-endpoint-services"],
        ),
        _chain(
            "nodeport-endpoints-check",
            None,
            ["fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports"],
        ),
        _chain(
            "cluster-ips-check",
            None,
            [f"ip daddr @{_CLUSTER_IPS} goto reject-chain", f"ip daddr {config.service_cidr} drop"],
        ),
        _chain(
            "filter-input",
            "type filter hook input priority -110",
            [f"{checks} nodeport-endpoints-check", f"{checks} service-endpoints-check"],
        ),
        _chain(
            "filter-forward",
            "type filter hook forward priority -110",
            [f"{checks} service-endpoints-check", f"{checks} cluster-ips-check"],
        ),
        _chain(
            "filter-output",
            "type filter hook output priority -110",
            [f"{checks} service-endpoints-check"],
        ),
        _chain(
            "filter-output-post-dnat",
            "type filter hook output priority -90",
            [f"{checks} cluster-ips-check"],
        ),
        _chain("nat-prerouting", "type nat hook prerouting priority dstnat", ["jump services"]),
        _chain("nat-output", "type nat hook output priority -100", ["jump services"]),
        _chain(
            "nat-postrouting", "type nat hook postrouting priority srcnat", ["jump masquerading"]
        ),
    ]
    if config.localhost_nodeports and config.bridge:
        # route_localnet on the bridge would let pods reach the node's 127.0.0.1 (CVE-2020-8558)
        guard = [f"iifname {_quote(config.bridge)} ip daddr 127.0.0.0/8 drop"]
        chains.append(_chain("localnet-guard", "type filter hook prerouting priority raw", guard))
    return chains


def _set_block(name: str, kind: str, elements: Sequence[str]) -> str:
    if not elements:
        return f"\tset {name} {{ type {kind}; }}"
    joined = ",\n\t\t\t".join(elements)
    return f"\tset {name} {{\n\t\ttype {kind}\n\t\telements = {{ {joined} }}\n\t}}"


def _map_block(name: str, spec: str, elements: Sequence[str]) -> str:
    if not elements:
        return f"\tmap {name} {{ type {spec}; }}"
    joined = ",\n\t\t\t".join(elements)
    return f"\tmap {name} {{\n\t\ttype {spec}\n\t\telements = {{ {joined} }}\n\t}}"


def _chain(name: str, hook: str | None, rules: Sequence[str]) -> str:
    lines = [f"\tchain {name} {{"]
    if hook is not None:
        lines.append(f"\t\t{hook}; policy accept;")
    lines.extend(f"\t\t{rule}" for rule in rules)
    lines.append("\t}")
    return "\n".join(lines)


def _quote(text: str) -> str:
    return '"' + _UNSAFE.sub("", text) + '"'


def _ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(part) for part in ip.split("."))
