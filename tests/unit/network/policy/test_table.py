"""The enforcer's nftables text: chains per isolated pod, maps, two forward hooks."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from kybernetes.network.policy.model import ANYONE, Allow, Peer, PodRules, Port
from kybernetes.network.policy.table import chain_name, delete_script, render, replace_script

WEB = PodRules(
    "default/web",
    "10.42.0.10",
    ingress=(
        Allow(Peer(addresses=("10.42.0.11", "10.42.0.12")), Port("tcp", 8080, 8080), "default/a"),
        Allow(Peer(cidr="192.168.0.0/16", excepts=("192.168.1.0/24",)), Port("udp"), "default/b"),
        Allow(ANYONE, Port("tcp", 9000, 9100), "default/c"),
        Allow(Peer(addresses=("10.42.0.13",)), None, "default/d"),
    ),
    egress=(),
)


def test_ingress_chain_lists_each_allow_then_drops() -> None:
    body = render([WEB])
    chain = chain_name("in", "default/web")
    section = body.split(f"chain {chain} {{")[1].split("\n\t}")[0]
    assert [line.strip() for line in section.strip().splitlines()] == [
        'ip saddr { 10.42.0.11, 10.42.0.12 } tcp dport 8080 accept comment "default/a"',
        "ip saddr 192.168.0.0/16 ip saddr != 192.168.1.0/24 meta l4proto udp accept"
        ' comment "default/b"',
        'tcp dport 9000-9100 accept comment "default/c"',
        'ip saddr 10.42.0.13 accept comment "default/d"',
        "drop",
    ]


def test_maps_send_isolated_addresses_to_their_chains() -> None:
    body = render([WEB])
    assert f"10.42.0.10 : goto {chain_name('in', 'default/web')}" in body
    assert f"10.42.0.10 : goto {chain_name('out', 'default/web')}" in body
    assert "ip daddr vmap @ingress-pods" in body
    assert "ip saddr vmap @egress-pods" in body
    assert body.count("ct state established,related accept") == 2


def test_egress_chain_matches_destinations() -> None:
    pod = PodRules("ns/p", "10.42.0.5", egress=(Allow(Peer(addresses=("10.42.0.6",))),))
    body = render([pod])
    assert "ip daddr 10.42.0.6 accept" in body
    assert chain_name("in", "ns/p") not in body


def test_rendering_is_deterministic_and_names_are_identifiers() -> None:
    other = PodRules("b/x", "10.42.0.9", ingress=())
    assert render([WEB, other]) == render([other, WEB])
    assert chain_name("in", 'we"ird ns/name').startswith("in-")
    assert " " not in chain_name("in", "a b/c")


def test_scripts_replace_and_delete_the_whole_table() -> None:
    script = replace_script("kyb-policy-x", render([WEB]))
    assert script.startswith("table ip kyb-policy-x\ndelete table ip kyb-policy-x\n")
    assert delete_script("t") == "table ip t\ndelete table ip t\n"


@pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables")
def test_nft_accepts_the_script() -> None:
    # ``nft -c`` only parses and checks: nothing is installed.
    script = replace_script("kyb-policy-check", render([WEB]))
    checked = subprocess.run(["nft", "-c", "-f", "-"], input=script, text=True, capture_output=True)
    if "Operation not permitted" in checked.stderr:
        pytest.skip("nft -c needs CAP_NET_ADMIN")
    assert checked.returncode == 0, checked.stderr
