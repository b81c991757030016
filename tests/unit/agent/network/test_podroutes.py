"""Which routes a node wants: every other node's pod CIDR via that node's InternalIP."""

from __future__ import annotations

from typing import Any

from kybernetes.agent.network.podroutes import wanted_routes


def node(name: str, cidrs: list[str], address: str | None, kind: str = "InternalIP") -> Any:
    spec: dict[str, Any] = {"podCIDRs": cidrs} if cidrs else {}
    addresses = [{"type": kind, "address": address}] if address else []
    return {"metadata": {"name": name}, "spec": spec, "status": {"addresses": addresses}}


def test_other_nodes_with_a_cidr_and_an_internal_ipv4() -> None:
    nodes = [
        node("me", ["10.42.0.0/24"], "192.0.2.10"),
        node("b", ["10.42.1.0/24", "fd00:42:1::/64"], "192.0.2.11"),
        node("no-cidr", [], "192.0.2.12"),
        node("no-address", ["10.42.3.0/24"], None),
        node("hostname-only", ["10.42.4.0/24"], "b.example", kind="Hostname"),
        node("bad", ["not-a-cidr"], "192.0.2.14"),
        {
            "metadata": {"name": "legacy"},
            "spec": {"podCIDR": "10.42.5.1/24"},
            "status": {"addresses": [{"type": "InternalIP", "address": "192.0.2.15"}]},
        },
    ]
    assert wanted_routes(nodes, "me") == {
        "10.42.1.0/24": "192.0.2.11",
        "10.42.5.0/24": "192.0.2.15",
    }
