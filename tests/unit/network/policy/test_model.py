"""NetworkPolicies reduced to allow rules per isolated pod: selectors, ports, ipBlocks, types."""

from __future__ import annotations

from typing import Any

from kybernetes.network.policy.model import ANYONE, Allow, Peer, PodRules, Port, isolation

NODE = "n1"


def pod(name: str, ip: str, ns: str = "default", node: str = NODE, **labels: str) -> dict[str, Any]:
    ports = [
        {"name": "http", "containerPort": 8080},
        {"name": "dns", "containerPort": 53, "protocol": "UDP"},
    ]
    return {
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports}]},
        "status": {"phase": "Running", "podIP": ip},
    }


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def policy(name: str, spec: dict[str, Any], ns: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


WEB = pod("web", "10.42.0.10", app="web")
CLIENT = pod("client", "10.42.0.11", role="client")
OTHER = pod("other", "10.42.0.12", ns="team", role="client")
REMOTE = pod("remote", "10.42.1.5", node="n2", role="client")
PODS = [WEB, CLIENT, OTHER, REMOTE]
NAMESPACES = [namespace("default"), namespace("team", team="blue")]
SELECT_WEB = {"matchLabels": {"app": "web"}}


def rules(*policies: dict[str, Any], pods: list[dict[str, Any]] = PODS) -> list[PodRules]:
    local = [p for p in pods if p["spec"]["nodeName"] == NODE]
    return isolation(local, pods, NAMESPACES, policies)


def test_no_policy_isolates_nothing() -> None:
    assert rules() == []


def test_empty_ingress_policy_denies_all_ingress_of_selected_pods_only() -> None:
    (web,) = rules(policy("deny", {"podSelector": SELECT_WEB}))
    assert web == PodRules("default/web", "10.42.0.10", ingress=(), egress=None)


def test_empty_pod_selector_selects_every_pod_of_the_namespace_on_this_node() -> None:
    found = rules(policy("deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    assert [(r.key, r.ingress, r.egress) for r in found] == [
        ("default/client", (), ()),
        ("default/web", (), ()),
    ]


def test_pod_selector_peer_is_same_namespace_and_every_node() -> None:
    spec = {
        "podSelector": SELECT_WEB,
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}]}],
    }
    (web,) = rules(policy("p", spec))
    assert web.ingress == (Allow(Peer(addresses=("10.42.0.11", "10.42.1.5")), None, "default/p"),)


def test_namespace_selector_alone_and_with_pod_selector() -> None:
    alone = {"podSelector": SELECT_WEB, "ingress": [{"from": [{"namespaceSelector": {}}]}]}
    (web,) = rules(policy("p", alone))
    assert web.ingress is not None
    assert web.ingress[0].peer.addresses == ("10.42.0.10", "10.42.0.11", "10.42.0.12", "10.42.1.5")
    both = {
        "podSelector": SELECT_WEB,
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {"matchLabels": {"team": "blue"}},
                        "podSelector": {"matchLabels": {"role": "client"}},
                    }
                ]
            }
        ],
    }
    (web,) = rules(policy("p", both))
    assert web.ingress == (Allow(Peer(addresses=("10.42.0.12",)), None, "default/p"),)


def test_ip_block_with_except_and_ports_with_end_port_and_protocol() -> None:
    spec = {
        "podSelector": SELECT_WEB,
        "ingress": [
            {
                "from": [
                    {
                        "ipBlock": {
                            "cidr": "192.168.0.0/16",
                            "except": ["192.168.1.0/24", "192.168.1.128/25"],
                        }
                    }
                ],
                "ports": [{"port": 8000, "endPort": 8100}, {"protocol": "UDP"}],
            }
        ],
    }
    (web,) = rules(policy("p", spec))
    peer = Peer(cidr="192.168.0.0/16", excepts=("192.168.1.0/24",))
    assert web.ingress == (
        Allow(peer, Port("tcp", 8000, 8100), "default/p"),
        Allow(peer, Port("udp"), "default/p"),
    )


def test_named_ports_resolve_on_the_target_for_ingress_and_the_peer_for_egress() -> None:
    ingress = {"podSelector": SELECT_WEB, "ingress": [{"ports": [{"port": "http"}]}]}
    (web,) = rules(policy("in", ingress))
    assert web.ingress == (Allow(ANYONE, Port("tcp", 8080, 8080), "default/in"),)
    egress = {
        "podSelector": SELECT_WEB,
        "egress": [
            {
                "to": [{"namespaceSelector": {"matchLabels": {"team": "blue"}}}],
                "ports": [{"port": "dns", "protocol": "UDP"}, {"port": "missing"}],
            }
        ],
    }
    (web,) = rules(policy("out", egress))
    assert web.ingress == ()  # policyTypes default: Ingress, and Egress as it has egress rules
    assert web.egress == (
        Allow(Peer(addresses=("10.42.0.12",)), Port("udp", 53, 53), "default/out"),
    )


def test_rules_of_several_policies_add_up_and_a_peer_matching_no_pod_allows_nothing() -> None:
    one = {
        "podSelector": SELECT_WEB,
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"x": "y"}}}]}],
    }
    two = {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}
    found = {r.key: r for r in rules(policy("one", one), policy("two", two))}
    assert found["default/web"].ingress == (Allow(ANYONE, Port("tcp", 80, 80), "default/two"),)


def test_policies_select_in_their_namespace_and_skip_host_network_and_finished_pods() -> None:
    host = pod("host", "10.0.0.1", app="web")
    host["spec"]["hostNetwork"] = True
    done = pod("done", "10.42.0.20", app="web")
    done["status"]["phase"] = "Succeeded"
    found = rules(
        policy("deny", {"podSelector": {}}, ns="team"),
        policy("web", {"podSelector": SELECT_WEB}),
        pods=[*PODS, host, done],
    )
    # The team policy selects only team's pods; host-network and finished pods are never selected.
    assert [r.key for r in found] == ["default/web", "team/other"]
