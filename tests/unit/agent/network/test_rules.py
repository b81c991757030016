"""The nftables script: hostPort DNAT, hairpin and localhost masquerade, guards, conflicts."""

from __future__ import annotations

from kybernetes.agent.network.rules import HostPort, RulesConfig, conflicts, render, usable

CONFIG = RulesConfig(
    table="kyb-podnet", bridge="kyb0", pod_cidr="10.42.0.0/24", cluster_cidr="10.42.0.0/16"
)


def mapping(port: int, host_ip: str = "", protocol: str = "TCP", sid: str = "s1") -> HostPort:
    return HostPort(sid, protocol, port, host_ip, "10.42.0.5", 8080)


def test_script_replaces_the_table_in_one_transaction() -> None:
    script = render(CONFIG, [mapping(31080), mapping(31081, "192.0.2.2", "UDP")])
    lines = script.splitlines()
    assert lines[:3] == [
        "table ip kyb-podnet",
        "delete table ip kyb-podnet",
        "table ip kyb-podnet {",
    ]
    assert 'fib daddr type local tcp dport 31080 dnat to 10.42.0.5:8080 comment "s1"' in script
    assert 'ip daddr 192.0.2.2 udp dport 31081 dnat to 10.42.0.5:8080 comment "s1"' in script
    assert "type nat hook prerouting priority dstnat; policy accept;" in script
    assert "type nat hook output priority -100; policy accept;" in script
    # one hairpin rule per pod, the localhost masquerade and its guard, cluster masquerade
    assert script.count("ct status dnat ip saddr 10.42.0.5 ip daddr 10.42.0.5 masquerade") == 1
    assert "ct status dnat ip saddr 127.0.0.0/8 masquerade" in script
    assert 'iifname "kyb0" ip daddr 127.0.0.0/8 drop' in script
    assert 'ip saddr 10.42.0.0/24 ip daddr != 10.42.0.0/16 oifname != "kyb0" masquerade' in script
    assert "egress_guard" not in script


def test_options_switch_parts_off_and_on() -> None:
    quiet = RulesConfig(
        table="t",
        bridge="br",
        pod_cidr="10.42.1.0/24",
        cluster_cidr="10.42.1.0/24",
        masquerade=False,
        localhost=False,
        egress=False,
    )
    script = render(quiet, [])
    assert "masquerade" not in script
    assert "127.0.0.0/8" not in script
    assert 'iifname "br" oifname != "br" drop' in script
    assert 'oifname "br" iifname != "br" drop' in script


def test_conflicts() -> None:
    existing = [mapping(80), mapping(90, "192.0.2.2")]
    assert conflicts(existing, [mapping(80, sid="s2")]) != []
    assert conflicts(existing, [mapping(80, "192.0.2.3", sid="s2")]) != []  # wildcard holds it
    assert conflicts(existing, [mapping(90, sid="s2")]) != []  # a wildcard takes every address
    assert conflicts(existing, [mapping(90, "0.0.0.0", sid="s2")]) != []
    assert conflicts(existing, [mapping(90, "192.0.2.3", sid="s2")]) == []
    assert conflicts(existing, [mapping(80, protocol="UDP", sid="s2")]) == []


def test_unusable_mappings() -> None:
    assert usable(mapping(80)) is None
    assert usable(mapping(80, protocol="ICMP")) is not None
    assert usable(mapping(0)) is not None
    assert usable(mapping(80, "fd00::1")) is not None
