"""The proxy's pure parts: Services + EndpointSlices -> ServicePorts -> nft text.

Table-driven: each case is objects in, the rules that must (and must not) appear out. When nft
is installed and we are root, every rendered script is also checked by ``nft -c`` (parsed and
validated by the kernel, nothing applied).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from typing import Any

import pytest

from kybernetes.network.proxy import nft
from kybernetes.network.proxy.model import Endpoint, ServicePort, service_ports, usable
from kybernetes.network.proxy.table import (
    TableConfig,
    base_name,
    render,
    replace_script,
    safe_name,
    update_script,
)

Obj = dict[str, Any]
CONFIG = TableConfig(table="kyb-unit", cluster_cidr="10.42.0.0/16", service_cidr="10.43.0.0/16")
CAN_CHECK = shutil.which("nft") is not None and os.geteuid() == 0


def service(name: str = "web", namespace: str = "default", **spec: Any) -> Obj:
    status = spec.pop("status", {})
    body: Obj = {
        "clusterIP": "10.43.0.10",
        "type": "ClusterIP",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
    }
    body.update(spec)
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
        "status": status,
    }


def endpoint(ip: str, node: str = "n1", **conditions: bool) -> Obj:
    return {"addresses": [ip], "nodeName": node, "conditions": conditions or {"ready": True}}


def slice_(
    service_name: str = "web",
    endpoints: list[Obj] | None = None,
    ports: list[Obj] | None = None,
    namespace: str = "default",
    name: str = "",
) -> Obj:
    return {
        "metadata": {
            "name": name or f"{service_name}-abc",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": endpoints or [],
        "ports": ports
        if ports is not None
        else [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def text(services: list[Obj], slices: list[Obj], node: str = "n1") -> str:
    return render(CONFIG, service_ports(services, slices, node)).body


# (id, services, slices, lines that must appear, lines that must not)
CASES: list[tuple[str, list[Obj], list[Obj], list[str], list[str]]] = [
    (
        "clusterip-two-endpoints",
        [service()],
        [slice_(endpoints=[endpoint("10.42.1.3"), endpoint("10.42.1.2")])],
        [
            "10.43.0.10 . tcp . 80 : goto svc-",
            "numgen random mod 2 vmap { 0 : goto ep-",
            "__10.42.1.2/8080, 1 : goto ep-",
            "meta l4proto tcp dnat to 10.42.1.2:8080",
            "ip saddr 10.42.1.2 jump mark-for-masquerade",
            "ip daddr 10.43.0.10 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
        ],
        ["no-endpoint-services {\n", "service-nodeports {\n"],
    ),
    (
        "no-endpoints-rejects",
        [service()],
        [slice_(endpoints=[])],
        ["10.43.0.10 . tcp . 80 : goto reject-chain"],
        ["svc-", "dnat to"],
    ),
    (
        "not-ready-excluded",
        [service()],
        [slice_(endpoints=[endpoint("10.42.1.2"), endpoint("10.42.1.3", ready=False)])],
        ["numgen random mod 1 vmap", "dnat to 10.42.1.2:8080"],
        ["10.42.1.3"],
    ),
    (
        "serving-terminating-fallback",
        [service()],
        [
            slice_(
                endpoints=[
                    endpoint("10.42.1.2", ready=False, serving=True, terminating=True),
                    endpoint("10.42.1.3", ready=False, serving=False, terminating=True),
                ]
            )
        ],
        ["dnat to 10.42.1.2:8080"],
        ["10.42.1.3"],
    ),
    (
        "udp-and-numeric-port",
        [service(ports=[{"port": 53, "protocol": "UDP", "targetPort": 5353}])],
        [slice_(endpoints=[endpoint("10.42.1.2")], ports=[{"port": 5353, "protocol": "UDP"}])],
        [
            "10.43.0.10 . udp . 53 : goto svc-",
            "-default/web/udp/53 {",
            "meta l4proto udp dnat to 10.42.1.2:5353",
        ],
        ["tcp . "],
    ),
    (
        "session-affinity",
        [
            service(
                sessionAffinity="ClientIP",
                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
            )
        ],
        [slice_(endpoints=[endpoint("10.42.1.2")])],
        [
            "flags dynamic,timeout; timeout 60s;",
            "ip saddr @aff-60-",
            "update @aff-60-",
        ],
        [],
    ),
    (
        "nodeport-cluster-policy",
        [service(type="NodePort", ports=[{"name": "http", "port": 80, "nodePort": 30080}])],
        [slice_(endpoints=[endpoint("10.42.1.2")])],
        ["tcp . 30080 : goto ext-", "jump mark-for-masquerade\n\t\tgoto svc-"],
        [],
    ),
    (
        "nodeport-local-policy",
        [
            service(
                type="NodePort",
                externalTrafficPolicy="Local",
                ports=[{"name": "http", "port": 80, "nodePort": 30080}],
            )
        ],
        [slice_(endpoints=[endpoint("10.42.1.2", node="n1"), endpoint("10.42.9.2", node="n2")])],
        [
            "tcp . 30080 : goto ext-",
            "ip saddr 10.42.0.0/16 goto svc-",
            "fib saddr type local jump mark-for-masquerade",
            "goto local-",
            "numgen random mod 2",  # the cluster chain
            "numgen random mod 1",  # the local chain
        ],
        [],
    ),
    (
        "nodeport-local-policy-none-local-drops",
        [
            service(
                type="NodePort",
                externalTrafficPolicy="Local",
                ports=[{"name": "http", "port": 80, "nodePort": 30080}],
            )
        ],
        [slice_(endpoints=[endpoint("10.42.9.2", node="n2")])],
        ["tcp . 30080 : drop", "10.43.0.10 . tcp . 80 : goto svc-"],
        ["ext-", "local-"],
    ),
    (
        "internal-local-none-local-drops",
        [service(internalTrafficPolicy="Local")],
        [slice_(endpoints=[endpoint("10.42.9.2", node="n2")])],
        ["10.43.0.10 . tcp . 80 : drop"],
        ["10.43.0.10 . tcp . 80 : goto"],
    ),
    (
        "loadbalancer-ingress-and-external-ips",
        [
            service(
                type="LoadBalancer",
                externalIPs=["10.42.250.7"],
                ports=[{"name": "http", "port": 80, "nodePort": 30081}],
                status={"loadBalancer": {"ingress": [{"ip": "10.42.250.1", "ipMode": "VIP"}]}},
            )
        ],
        [slice_(endpoints=[endpoint("10.42.1.2")])],
        [
            "10.42.250.1 . tcp . 80 : goto ext-",
            "10.42.250.7 . tcp . 80 : goto ext-",
            "tcp . 30081 : goto ext-",
        ],
        [],
    ),
    (
        "headless-externalname-and-foreign-proxy-ignored",
        [
            service(name="headless", clusterIP="None"),
            service(name="ext", type="ExternalName", externalName="example.com", clusterIP=""),
            {
                **service(name="other"),
                "metadata": {
                    "name": "other",
                    "namespace": "default",
                    "labels": {"service.kubernetes.io/service-proxy-name": "foreign"},
                },
            },
        ],
        [slice_("headless", [endpoint("10.42.1.2")]), slice_("other", [endpoint("10.42.1.3")])],
        [],
        ["dnat to", "10.43.0.10 ."],
    ),
    (
        "named-port-resolved-per-endpoint-across-slices",
        [service()],
        [
            slice_(name="a", endpoints=[endpoint("10.42.1.2")]),
            slice_(
                name="b",
                endpoints=[endpoint("10.42.1.3")],
                ports=[{"name": "http", "port": 9090, "protocol": "TCP"}],
            ),
            slice_(
                name="c",
                endpoints=[endpoint("10.42.1.4")],
                ports=[{"name": "metrics", "port": 9100, "protocol": "TCP"}],
            ),
        ],
        ["dnat to 10.42.1.2:8080", "dnat to 10.42.1.3:9090", "numgen random mod 2"],
        ["10.42.1.4"],
    ),
]


@pytest.mark.parametrize(
    ("services", "slices", "present", "absent"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_render(
    services: list[Obj], slices: list[Obj], present: list[str], absent: list[str]
) -> None:
    body = text(services, slices)
    for line in present:
        assert line in body, f"{line!r} missing from\n{body}"
    for line in absent:
        assert line not in body, f"{line!r} unexpected in\n{body}"
    if CAN_CHECK:
        asyncio.run(
            nft.apply(
                replace_script(render(CONFIG, service_ports(services, slices, "n1"))),
                check_only=True,
            )
        )


def test_rendering_is_stable_whatever_the_input_order() -> None:
    services = [service(name=f"s{i}", clusterIP=f"10.43.0.{10 + i}") for i in range(5)]
    slices = [slice_(f"s{i}", [endpoint(f"10.42.1.{20 + j}") for j in range(3)]) for i in range(5)]
    first = text(services, slices)
    assert text(list(reversed(services)), list(reversed(slices))) == first
    shuffled = [{**s, "endpoints": list(reversed(s["endpoints"]))} for s in slices]
    assert text(services, shuffled) == first
    assert first.index("default/s0/") < first.index("default/s4/")


def test_names_are_made_safe_for_nft() -> None:
    assert safe_name('a b"c;d{e}') == "a_b_c_d_e_"
    assert len(safe_name("x" * 500)) == 160
    port = ServicePort("ns", "name", "", "TCP", "10.43.0.1", 80)
    assert base_name(port).endswith("-ns/name/tcp/80")
    other = ServicePort("ns", "name", "http", "TCP", "10.43.0.1", 80)
    assert base_name(port) != base_name(other)
    # the bridge name is quoted and stripped of anything that could end the string
    config = TableConfig(table="t", bridge='br"0; drop', localhost_nodeports=True)
    assert 'iifname "br0drop" ip daddr 127.0.0.0/8 drop' in render(config, []).body


def test_duplicate_keys_go_to_the_first_and_are_reported() -> None:
    services = [
        service(
            name="a",
            type="LoadBalancer",
            ports=[{"port": 80, "nodePort": 30001}],
            status={"loadBalancer": {"ingress": [{"ip": "10.42.250.1"}]}},
        ),
        service(
            name="b",
            clusterIP="10.43.0.11",
            type="LoadBalancer",
            ports=[{"port": 80, "nodePort": 30002}],
            status={"loadBalancer": {"ingress": [{"ip": "10.42.250.1"}]}},
        ),
    ]
    slices = [
        slice_("a", [endpoint("10.42.1.2")], ports=[{"port": 8080, "protocol": "TCP"}]),
        slice_("b", [endpoint("10.42.1.3")], ports=[{"port": 8080, "protocol": "TCP"}]),
    ]
    table = render(CONFIG, service_ports(services, slices, "n1"))
    assert table.body.count("10.42.250.1 . tcp . 80") == 1
    assert len(table.conflicts) == 1
    assert "default/b/tcp/80" in table.conflicts[0]


def test_update_script_keeps_affinity_and_deletes_stale_objects() -> None:
    svc = service(sessionAffinity="ClientIP")
    before = render(
        CONFIG,
        service_ports(
            [svc], [slice_(endpoints=[endpoint("10.42.1.2"), endpoint("10.42.1.3")])], "n1"
        ),
    )
    after = render(CONFIG, service_ports([svc], [slice_(endpoints=[endpoint("10.42.1.2")])], "n1"))
    script = update_script(after, before)
    assert "flush table ip kyb-unit" in script
    assert "flush map ip kyb-unit service-ips" in script
    assert "flush set ip kyb-unit aff" not in script  # affinity entries survive
    assert "delete chain ip kyb-unit ep-" in script
    assert "__10.42.1.3/8080" in script
    assert "delete set ip kyb-unit aff-10800-" in script
    assert script.index("flush table") < script.index("delete chain")
    assert "delete table" not in script
    assert replace_script(after).startswith("table ip kyb-unit\ndelete table ip kyb-unit\n")


def test_usable_endpoints() -> None:
    ready = Endpoint("10.42.1.2", 80)
    terminating = Endpoint("10.42.1.3", 80, ready=False, serving=True, terminating=True)
    gone = Endpoint("10.42.1.4", 80, ready=False, serving=False, terminating=True)
    assert usable([ready, terminating, gone]) == (ready,)
    assert usable([terminating, gone]) == (terminating,)
    assert usable([gone]) == ()


def test_endpoint_listed_twice_keeps_the_ready_copy() -> None:
    slices = [
        slice_(name="a", endpoints=[endpoint("10.42.1.2", ready=False)]),
        slice_(name="b", endpoints=[endpoint("10.42.1.2", ready=True)]),
    ]
    (port,) = service_ports([service()], slices, "n1")
    assert port.endpoints == (Endpoint("10.42.1.2", 8080, local=True),)
    assert port.internal_endpoints == port.endpoints


def test_services_outside_the_service_cidr_are_left_out() -> None:
    services = [service(name="in"), service(name="out", clusterIP="10.96.0.1")]
    slices = [slice_("in", [endpoint("10.42.1.2")]), slice_("out", [endpoint("10.42.1.3")])]
    ports = service_ports(services, slices, "n1", "10.43.0.0/16")
    assert [p.name for p in ports] == ["in"]
    assert len(service_ports(services, slices, "n1")) == 2
