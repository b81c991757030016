"""NetworkPolicies reduced to allow rules per isolated local pod (pure, no I/O).

``isolation(node, pods, namespaces, policies)`` returns, for each pod of this node that some
policy selects, the ``Allow`` rules of the directions it is isolated in. An ``Allow`` is one
match: the peer (a set of pod addresses, or a CIDR minus its exceptions, or anyone) and the
port (protocol, first port, last port; 0 means every port of the protocol; no port means every
protocol). Named ports are resolved here: against the selected pod's container ports for
ingress, against each peer pod's for egress.

Invariants: the result is deterministic (sorted pods, policies in key order, addresses sorted
and deduplicated); a pod appears only with an address, on ``node``, not ``hostNetwork``, not
finished; a direction is present exactly when a policy of that type selects the pod, and then
with no rules means deny all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.selectors import EVERYTHING, Selector, SelectorError, from_label_selector

Obj = Mapping[str, Any]
INGRESS = "Ingress"
EGRESS = "Egress"


@dataclass(frozen=True, order=True)
class Port:
    protocol: str  # tcp, udp, sctp
    first: int = 0  # 0: every port of the protocol
    last: int = 0


@dataclass(frozen=True)
class Peer:
    """Who is at the other end: ``addresses`` (pods), or ``cidr`` minus ``excepts``, or anyone."""

    addresses: tuple[str, ...] = ()
    cidr: str = ""
    excepts: tuple[str, ...] = ()

    @property
    def anyone(self) -> bool:
        return not self.addresses and not self.cidr


ANYONE = Peer()


@dataclass(frozen=True)
class Allow:
    peer: Peer
    port: Port | None = None  # None: every protocol and port
    policy: str = ""  # namespace/name, for the rule's comment


@dataclass(frozen=True)
class PodRules:
    key: str  # namespace/name
    ip: str
    ingress: tuple[Allow, ...] | None = None  # None: not isolated for ingress
    egress: tuple[Allow, ...] | None = None


@dataclass
class _Pod:
    key: str
    namespace: str
    ip: str
    labels: Mapping[str, str]
    ports: Sequence[Obj] = field(default_factory=tuple)


def _pods(pods: Iterable[Obj]) -> list[_Pod]:
    found = []
    for pod in pods:
        spec, status, meta = pod.get("spec") or {}, pod.get("status") or {}, pod["metadata"]
        ip = status.get("podIP") or ""
        if not ip or spec.get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        if ipaddress.ip_address(ip).version != 4:
            continue
        ports = [p for c in spec.get("containers") or () for p in c.get("ports") or ()]
        namespace = meta.get("namespace", "default")
        found.append(
            _Pod(f"{namespace}/{meta['name']}", namespace, ip, meta.get("labels") or {}, ports)
        )
    found.sort(key=lambda p: p.key)
    return found


def _selector(raw: Obj | None) -> Selector | None:
    """A LabelSelector; an absent one selects everything here (callers pass what is set)."""
    try:
        return from_label_selector(raw if raw is not None else {})
    except SelectorError:
        return None  # an invalid selector matches nothing (the API validates it anyway)


def policy_types(policy: Obj) -> tuple[str, ...]:
    """``spec.policyTypes``, or its default: Ingress, and Egress when egress rules exist."""
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        return tuple(t for t in (INGRESS, EGRESS) if t in types)
    return (INGRESS, EGRESS) if spec.get("egress") else (INGRESS,)


def isolation(
    node_pods: Iterable[Obj],
    all_pods: Iterable[Obj],
    namespaces: Iterable[Obj],
    policies: Iterable[Obj],
) -> list[PodRules]:
    """The allow rules of every pod in ``node_pods`` that some policy isolates."""
    everyone = _pods(all_pods)
    labels_of = {ns["metadata"]["name"]: ns["metadata"].get("labels") or {} for ns in namespaces}
    ordered = sorted(
        policies, key=lambda p: (p["metadata"].get("namespace", ""), p["metadata"]["name"])
    )
    result = []
    for pod in _pods(node_pods):
        directions: dict[str, list[Allow]] = {}
        for policy in ordered:
            meta, spec = policy["metadata"], policy.get("spec") or {}
            if meta.get("namespace", "default") != pod.namespace:
                continue
            selector = _selector(spec.get("podSelector"))
            if selector is None or not selector.matches(pod.labels):
                continue
            name = f"{pod.namespace}/{meta['name']}"
            for direction in policy_types(policy):
                rules = directions.setdefault(direction, [])
                field_name, peers_name = (
                    ("ingress", "from") if direction == INGRESS else ("egress", "to")
                )
                for rule in spec.get(field_name) or ():
                    rules.extend(
                        _rule(
                            rule.get(peers_name),
                            rule.get("ports"),
                            pod,
                            direction,
                            name,
                            everyone,
                            labels_of,
                        )
                    )
        if directions:
            ingress, egress = directions.get(INGRESS), directions.get(EGRESS)
            result.append(
                PodRules(
                    pod.key,
                    pod.ip,
                    None if ingress is None else tuple(dict.fromkeys(ingress)),
                    None if egress is None else tuple(dict.fromkeys(egress)),
                )
            )
    return result


def _rule(
    peers: Sequence[Obj] | None,
    ports: Sequence[Obj] | None,
    pod: _Pod,
    direction: str,
    policy: str,
    everyone: Sequence[_Pod],
    namespace_labels: Mapping[str, Mapping[str, str]],
) -> list[Allow]:
    """The allows of one rule: every peer crossed with every port."""
    allows: list[Allow] = []
    targets: list[tuple[Peer, Sequence[_Pod]]] = []  # peer, and its pods (for egress named ports)
    if not peers:
        targets.append((ANYONE, ()))
    for peer in peers or ():
        block = peer.get("ipBlock")
        if block is not None:
            cidr = _v4_network(block.get("cidr", ""))
            if cidr is None:
                continue
            excepts = [n for n in map(_v4_network, block.get("except") or ()) if n is not None]
            collapsed = tuple(str(n) for n in ipaddress.collapse_addresses(excepts))
            targets.append((Peer(cidr=str(cidr), excepts=collapsed), ()))
            continue
        matched = _peer_pods(peer, pod.namespace, everyone, namespace_labels)
        if matched:
            addresses = tuple(sorted({p.ip for p in matched}, key=ipaddress.IPv4Address))
            targets.append((Peer(addresses=addresses), matched))
    for target, peer_pods in targets:
        if not ports:
            allows.append(Allow(target, None, policy))
            continue
        for port in ports:
            protocol = str(port.get("protocol") or "TCP").lower()
            number = port.get("port")
            if number is None:
                allows.append(Allow(target, Port(protocol), policy))
            elif isinstance(number, int):
                last = port.get("endPort") or number
                allows.append(Allow(target, Port(protocol, number, max(last, number)), policy))
            elif direction == INGRESS:
                allows.extend(
                    Allow(target, Port(protocol, resolved, resolved), policy)
                    for resolved in _named(pod.ports, number, protocol)
                )
            else:  # egress to a named port: per peer pod, which names it
                allows.extend(
                    Allow(Peer(addresses=(other.ip,)), Port(protocol, resolved, resolved), policy)
                    for other in peer_pods
                    for resolved in _named(other.ports, number, protocol)
                )
    return allows


def _peer_pods(
    peer: Obj,
    namespace: str,
    everyone: Sequence[_Pod],
    namespace_labels: Mapping[str, Mapping[str, str]],
) -> list[_Pod]:
    raw_pods, raw_namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    if raw_pods is None and raw_namespaces is None:
        return []
    pods = _selector(raw_pods) if raw_pods is not None else EVERYTHING
    spaces = _selector(raw_namespaces) if raw_namespaces is not None else None
    if pods is None:
        return []
    matched = []
    for other in everyone:
        if spaces is None:
            if raw_namespaces is not None or other.namespace != namespace:
                continue
        elif not spaces.matches(namespace_labels.get(other.namespace, {})):
            continue
        if pods.matches(other.labels):
            matched.append(other)
    return matched


def _named(ports: Sequence[Obj], name: str, protocol: str) -> list[int]:
    return sorted(
        {
            int(p["containerPort"])
            for p in ports
            if p.get("name") == name and str(p.get("protocol") or "TCP").lower() == protocol
        }
    )


def _v4_network(text: str) -> ipaddress.IPv4Network | None:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return network if isinstance(network, ipaddress.IPv4Network) else None
