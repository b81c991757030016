"""resolv.conf composition: dnsPolicy ClusterFirst/ClusterFirstWithHostNet/Default/None, dnsConfig,
limits, and the kubelet's parsing of the node's file."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.agent.network.dns import (
    ClusterDNS,
    DNSConfig,
    parse_resolv_conf,
    pod_dns_config,
    pod_resolv_conf,
    render_resolv_conf,
)

NODE_FILE = """# generated
nameserver 192.0.2.53
nameserver 192.0.2.54
search corp.example. lab.example
search example.com .
options timeout:2 attempts:3
options rotate
"""
NODE = parse_resolv_conf(NODE_FILE)
CLUSTER = ClusterDNS(servers=("10.43.0.10",), domain="cluster.local")


def pod(policy: str | None = None, host_network: bool = False, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = dict(spec)
    if policy is not None:
        body["dnsPolicy"] = policy
    if host_network:
        body["hostNetwork"] = True
    return {"metadata": {"name": "web", "namespace": "shop"}, "spec": body}


def test_node_file_is_parsed_as_the_kubelet_does() -> None:
    assert (
        DNSConfig(
            servers=("192.0.2.53", "192.0.2.54"),
            searches=("example.com",),  # the last search line wins, "." skipped
            options=("rotate",),  # the last options line wins
        )
        == NODE
    )
    assert parse_resolv_conf("search a.example. b.example\n").searches == ("a.example", "b.example")
    assert parse_resolv_conf("nameserver\n# nameserver 1.1.1.1\n") == DNSConfig()


CLUSTER_SEARCH = ("shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "example.com")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (pod(), DNSConfig(("10.43.0.10",), CLUSTER_SEARCH, ("ndots:5",))),
        (pod("ClusterFirst"), DNSConfig(("10.43.0.10",), CLUSTER_SEARCH, ("ndots:5",))),
        (
            pod("ClusterFirstWithHostNet", host_network=True),
            DNSConfig(("10.43.0.10",), CLUSTER_SEARCH, ("ndots:5",)),
        ),
        # ClusterFirst on the host network means Default
        (pod("ClusterFirst", host_network=True), NODE),
        (pod("Default"), NODE),
        (pod("None", dnsConfig={"nameservers": ["192.0.2.1"]}), DNSConfig(("192.0.2.1",))),
    ],
    ids=["unset", "cluster-first", "with-host-net", "cluster-first-host-net", "default", "none"],
)
def test_policies(spec: dict[str, Any], expected: DNSConfig) -> None:
    config, warnings = pod_dns_config(spec, CLUSTER, NODE)
    assert config == expected
    assert warnings == []


def test_dns_config_is_appended_without_duplicates_and_options_merge_by_name() -> None:
    spec = pod(
        "ClusterFirst",
        dnsConfig={
            "nameservers": ["10.43.0.10", "192.0.2.9"],
            "searches": ["svc.cluster.local", "extra.example"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
        },
    )
    config, _ = pod_dns_config(spec, CLUSTER, NODE)
    assert config.servers == ("10.43.0.10", "192.0.2.9")
    assert config.searches == (*CLUSTER_SEARCH, "extra.example")
    assert config.options == ("ndots:2", "edns0")


def test_missing_cluster_dns_falls_back_to_default_with_a_warning() -> None:
    config, warnings = pod_dns_config(pod(), ClusterDNS(), NODE)
    assert config == NODE
    assert [w.reason for w in warnings] == ["MissingClusterDNS"]


def test_no_node_resolv_conf_means_localhost() -> None:
    config, _ = pod_dns_config(pod("Default"), CLUSTER, None)
    assert config == DNSConfig(("127.0.0.1",), (".",))
    ipv6 = ClusterDNS(node_ips=("fd00::2", "192.0.2.2"))
    config, _ = pod_dns_config(pod("Default"), ipv6, None)
    assert config.servers == ("::1", "127.0.0.1")
    # ClusterFirst without a cluster domain keeps the node's search list
    config, _ = pod_dns_config(pod(), ClusterDNS(servers=("10.43.0.10",), domain=""), NODE)
    assert config.searches == ("example.com",)


def test_limits_cut_nameservers_and_search_paths() -> None:
    many = pod("None", dnsConfig={"nameservers": [f"192.0.2.{i}" for i in range(1, 6)]})
    config, warnings = pod_dns_config(many, CLUSTER, NODE)
    assert config.servers == ("192.0.2.1", "192.0.2.2", "192.0.2.3")
    assert [w.reason for w in warnings] == ["DNSConfigForming"]

    searches = [f"d{i}.example" for i in range(40)]
    config, warnings = pod_dns_config(pod("None", dnsConfig={"searches": searches}), CLUSTER, NODE)
    assert config.searches == tuple(searches[:32])
    assert "Search Line limits were exceeded" in warnings[0].message

    too_long = "a" * 254
    config, _ = pod_dns_config(pod("None", dnsConfig={"searches": [too_long, "ok"]}), CLUSTER, NODE)
    assert config.searches == ("ok",)

    long_ones = [f"{i:02d}" + "x" * 98 for i in range(25)]  # 100 chars each
    config, _ = pod_dns_config(pod("None", dnsConfig={"searches": long_ones}), CLUSTER, NODE)
    assert len(" ".join(config.searches)) <= 2048
    assert config.searches == tuple(long_ones[:20])  # 20 * 101 - 1 = 2019


def test_rendering_matches_containerd() -> None:
    text, warnings = pod_resolv_conf(pod(), CLUSTER, NODE_FILE)
    assert warnings == []
    assert text == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local example.com\n"
        "nameserver 10.43.0.10\n"
        "options ndots:5\n"
    )
    assert render_resolv_conf(DNSConfig()) == ""
    # an empty configuration: the node's file is copied as it is
    text, _ = pod_resolv_conf(pod("Default"), CLUSTER, "# nothing here\n")
    assert text == "# nothing here\n"
