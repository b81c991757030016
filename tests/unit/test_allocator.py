"""ClusterIP and NodePort allocation (``apiserver/allocator.py``) against kube-apiserver 1.32.

Each Service is defaulted as the decoder does, allocated, and (where it should be) checked valid
by the semantic validation, so what the allocator writes is what the registry would store.
"""

from __future__ import annotations

import copy
import ipaddress
import random
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.api.defaults import apply_defaults
from kybernetes.api.validation.semantic import validate_object
from kybernetes.apiserver.allocator import (
    Reservation,
    ServiceAllocator,
    drop_type_dependent_fields,
)

Obj = dict[str, Any]


def svc(name: str = "web", kind: str = "ClusterIP", ports: Any = None, **spec: Any) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": "1"},
        "spec": {"type": kind, "selector": {"app": name}, **spec},
    }
    if kind != "ExternalName":
        obj["spec"]["ports"] = ports if ports is not None else [{"port": 80}]
    apply_defaults("", "v1", "Service", obj)
    return obj


def allocator(cidr: str = "10.43.0.0/16", ports: tuple[int, int] = (30000, 32767)) -> Any:
    return ServiceAllocator(cidr, ports, rng=random.Random(7))


def created(alloc: ServiceAllocator, obj: Obj, revision: int = 1) -> Obj:
    """Allocate, check the result validates, commit; the stored object."""
    res = alloc.allocate_for_create(obj)
    assert [str(e) for e in validate_object("", "Service", obj)] == []
    res.commit(revision)
    return obj


def fails(fn: Any, *args: Any) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as info:
        fn(*args)
    return info.value


def ip_index(address: str, cidr: str = "10.43.0.0/16") -> int:
    return int(ipaddress.ip_address(address)) - int(ipaddress.ip_network(cidr).network_address) - 1


# --- range geometry -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "size", "offset", "first"),
    [
        ("10.43.0.0/16", 65534, 256, "10.43.0.1"),
        ("10.96.0.0/12", 1048574, 256, "10.96.0.1"),
        ("10.43.0.0/22", 1022, 64, "10.43.0.1"),
        ("10.43.0.0/24", 254, 16, "10.43.0.1"),
        ("10.43.0.0/27", 30, 16, "10.43.0.1"),
        ("10.43.0.0/28", 14, 0, "10.43.0.1"),
        ("10.43.0.0/29", 6, 0, "10.43.0.1"),
        ("10.43.7.9/16", 65534, 256, "10.43.0.1"),  # host bits are masked, as ParseCIDR does
        ("fd00:43::/112", 65535, 256, "fd00:43::1"),
        ("fd00:43::/64", 65535, 256, "fd00:43::1"),  # IPv6 bitmaps stop at 65536 addresses
    ],
)
def test_ip_range_geometry(cidr: str, size: int, offset: int, first: str) -> None:
    alloc = ServiceAllocator(cidr)
    assert (alloc._ips.size, alloc._ips.offset, alloc.kubernetes_service_ip) == (
        size,
        offset,
        first,
    )
    assert alloc.free_ips == size


@pytest.mark.parametrize(
    ("ports", "size", "offset"),
    [
        ((30000, 32767), 2768, 86),
        ((30000, 30015), 16, 0),
        ((30000, 30099), 100, 16),
        ((1, 65535), 65535, 128),
    ],
)
def test_port_range_geometry(ports: tuple[int, int], size: int, offset: int) -> None:
    alloc = ServiceAllocator(node_port_range=ports)
    assert (alloc._ports.size, alloc._ports.offset) == (size, offset)
    assert alloc.port_range == f"{ports[0]}-{ports[1]}"


@pytest.mark.parametrize("ports", [(0, 10), (32767, 30000), (30000, 70000)])
def test_bad_port_range_is_refused(ports: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="invalid node port range"):
        ServiceAllocator(node_port_range=ports)


# --- allocation order and exhaustion ------------------------------------------------------------


def test_dynamic_ips_come_from_the_upper_band_of_a_large_range() -> None:
    alloc = allocator()
    got = [created(alloc, svc(f"s{i}"))["spec"]["clusterIP"] for i in range(300)]
    assert len(set(got)) == 300
    assert min(ip_index(ip) for ip in got) >= 256  # 10.43.1.1 and up
    assert alloc.free_ips == 65534 - 300


def test_small_range_fills_upper_band_then_lower_band_then_is_full() -> None:
    alloc = allocator("10.43.0.0/27")  # 30 usable, lower band 10.43.0.1-10.43.0.16
    order = [created(alloc, svc(f"s{i}"))["spec"]["clusterIP"] for i in range(29)]
    assert sorted(ip_index(ip) for ip in order[:14]) == list(range(16, 30))
    assert sorted(ip_index(ip) for ip in order[14:]) == list(range(1, 16))
    assert alloc.kubernetes_service_ip not in order  # reserved for the kubernetes Service
    err = fails(alloc.allocate_for_create, svc("full"))
    assert err.code == 500
    assert str(err) == "Internal error occurred: failed to allocate a serviceIP: range is full"
    # ... but the kubernetes Service, asking for the first address, still gets it.
    kubernetes = created(alloc, svc("kubernetes", clusterIP="10.43.0.1"))
    assert kubernetes["spec"]["clusterIPs"] == ["10.43.0.1"]
    assert alloc.free_ips == 0


def test_slash_29_exhaustion_and_reuse_after_delete() -> None:
    alloc = allocator("10.43.0.0/29")
    stored = [created(alloc, svc(f"s{i}")) for i in range(5)]
    assert sorted(s["spec"]["clusterIP"] for s in stored) == [f"10.43.0.{i}" for i in range(2, 7)]
    err = fails(alloc.allocate_for_create, svc("sixth"))
    assert str(err) == "Internal error occurred: failed to allocate a serviceIP: range is full"
    assert err.to_status()["reason"] == "InternalError"
    alloc.release_for_delete(stored[2])
    again = created(alloc, svc("again"))
    assert again["spec"]["clusterIP"] == stored[2]["spec"]["clusterIP"]


def test_node_ports_fill_upper_band_first_then_run_out() -> None:
    alloc = allocator(ports=(30000, 30019))  # 20 ports, lower band 30000-30015
    first = [
        created(alloc, svc(f"s{i}", "NodePort"))["spec"]["ports"][0]["nodePort"] for i in range(4)
    ]
    assert sorted(first) == [30016, 30017, 30018, 30019]
    rest = [
        created(alloc, svc(f"t{i}", "NodePort"))["spec"]["ports"][0]["nodePort"] for i in range(16)
    ]
    assert sorted(rest) == list(range(30000, 30016))
    err = fails(alloc.allocate_for_create, svc("full", "NodePort"))
    assert str(err) == "Internal error occurred: failed to allocate a nodePort: range is full"
    assert err.code == 500


def test_a_failed_create_gives_back_everything_it_took() -> None:
    alloc = allocator(ports=(30000, 30001))
    two_ports = [{"name": "a", "port": 80}, {"name": "b", "port": 81}, {"name": "c", "port": 82}]
    free_ips, free_ports = alloc.free_ips, alloc.free_ports
    err = fails(alloc.allocate_for_create, svc("web", "NodePort", two_ports))
    assert "failed to allocate a nodePort: range is full" in str(err)
    assert (alloc.free_ips, alloc.free_ports) == (free_ips, free_ports)
    assert alloc._pending == set()


# --- requested values and upstream's errors ---------------------------------------------------

TAKEN = {"clusterIP": "10.43.0.5"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"clusterIP": "10.43.0.5"},
            'Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.5"}: '
            "failed to allocate IP 10.43.0.5: provided IP is already allocated",
        ),
        (
            {"clusterIP": "10.44.0.5"},
            'Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.44.0.5"}: '
            "failed to allocate IP 10.44.0.5: the provided IP (10.44.0.5) is not in the valid "
            "range. The range of valid IPs is 10.43.0.0/16",
        ),
        (
            {"clusterIP": "10.43.0.0"},  # the network address is not allocatable
            'Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.0"}: '
            "failed to allocate IP 10.43.0.0: the provided IP (10.43.0.0) is not in the valid "
            "range. The range of valid IPs is 10.43.0.0/16",
        ),
        (
            {"clusterIP": "10.43.255.255"},  # nor the broadcast address
            'Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.255.255"}: '
            "failed to allocate IP 10.43.255.255: the provided IP (10.43.255.255) is not in the "
            "valid range. The range of valid IPs is 10.43.0.0/16",
        ),
        (
            {"clusterIP": "fd00::5"},
            'Service "b" is invalid: spec.clusterIPs[0]: Invalid value: []string{"fd00::5"}: '
            "IPv6 is not configured on this cluster",
        ),
        (
            {"ipFamilyPolicy": "RequireDualStack"},
            'Service "b" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": '
            "this cluster is not configured for dual-stack services",
        ),
        (
            {"ipFamilies": ["IPv6"]},
            'Service "b" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured '
            "on this cluster",
        ),
        (
            {"clusterIPs": ["10.43.0.7", "fd00::7"], "clusterIP": "10.43.0.7"},
            'Service "b" is invalid: [spec.ipFamilyPolicy: Invalid value: "SingleStack": must be '
            "'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified, "
            'spec.clusterIPs[1]: Invalid value: []string{"10.43.0.7", "fd00::7"}: IPv6 is not '
            "configured on this cluster]",
        ),
        (
            {"clusterIP": "banana"},  # loose pre-validation answers first, as upstream
            'Service "b" is invalid: spec.clusterIPs[0]: Invalid value: "banana": must be a '
            "valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ),
    ],
)
def test_requested_cluster_ip_errors(spec: Obj, message: str) -> None:
    alloc = allocator()
    created(alloc, svc("a", **TAKEN))
    before = alloc.free_ips
    err = fails(alloc.allocate_for_create, svc("b", **spec))
    assert (err.code, str(err)) == (422, message)
    assert alloc.free_ips == before


@pytest.mark.parametrize(
    ("kind", "ports", "spec", "message"),
    [
        (
            "NodePort",
            [{"port": 80, "nodePort": 30080}],
            {},
            'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port '
            "is already allocated",
        ),
        (
            "NodePort",
            [{"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 80}],
            {},
            'Service "b" is invalid: spec.ports[1].nodePort: Invalid value: 80: provided port is '
            "not in the valid range. The range of valid ports is 30000-32767",
        ),
        (
            "LoadBalancer",
            [{"port": 80}],
            {"externalTrafficPolicy": "Local", "healthCheckNodePort": 30080},
            "Internal error occurred: failed to allocate requested HealthCheck NodePort 30080: "
            "provided port is already allocated",
        ),
    ],
)
def test_requested_port_errors(kind: str, ports: Any, spec: Obj, message: str) -> None:
    alloc = allocator()
    created(alloc, svc("a", "NodePort", [{"port": 80, "nodePort": 30080}]))
    before = (alloc.free_ips, alloc.free_ports)
    err = fails(alloc.allocate_for_create, svc("b", kind, ports, **spec))
    assert str(err) == message
    assert (alloc.free_ips, alloc.free_ports) == before


def test_requested_values_are_kept_verbatim() -> None:
    alloc = allocator()
    obj = created(
        alloc,
        svc("dns", "NodePort", [{"port": 53, "nodePort": 30053}], clusterIP="10.43.0.10"),
    )
    spec = obj["spec"]
    assert (spec["clusterIP"], spec["clusterIPs"]) == ("10.43.0.10", ["10.43.0.10"])
    assert (spec["ipFamilies"], spec["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    assert spec["ports"][0]["nodePort"] == 30053
    assert alloc.ip_allocated("10.43.0.10")
    assert alloc.port_allocated(30053)


def test_tcp_and_udp_on_one_port_share_a_node_port() -> None:
    alloc = allocator()
    ports = [
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        {"name": "dns-udp", "port": 53, "protocol": "UDP", "nodePort": 30053},
        {"name": "web", "port": 80},
    ]
    obj = created(alloc, svc("dns", "NodePort", ports))
    got = [p["nodePort"] for p in obj["spec"]["ports"]]
    assert got[:2] == [30053, 30053]  # the UDP port's request serves the TCP port too
    assert got[2] != 30053
    assert alloc.free_ports == 2768 - 2


# --- kinds of Service ---------------------------------------------------------------------------


def test_headless_service_gets_nothing() -> None:
    alloc = allocator()
    obj = created(alloc, svc("db", clusterIP="None"))
    spec = obj["spec"]
    assert (spec["clusterIP"], spec["clusterIPs"]) == ("None", ["None"])
    assert (spec["ipFamilies"], spec["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    assert alloc.free_ips == 65534


def test_headless_selectorless_service_defaults_to_dual_stack_as_upstream() -> None:
    alloc = allocator()
    obj = svc("ext", clusterIP="None")
    del obj["spec"]["selector"]
    created(alloc, obj)
    assert obj["spec"]["ipFamilyPolicy"] == "RequireDualStack"
    assert obj["spec"]["ipFamilies"] == ["IPv4", "IPv6"]


def test_external_name_service_gets_nothing() -> None:
    alloc = allocator()
    obj = created(alloc, svc("ext", "ExternalName", externalName="example.com"))
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(obj["spec"])
    assert (alloc.free_ips, alloc.free_ports) == (65534, 2768)


def test_load_balancer_local_gets_node_ports_and_a_health_check_port() -> None:
    alloc = allocator()
    obj = created(alloc, svc("lb", "LoadBalancer", externalTrafficPolicy="Local"))
    spec = obj["spec"]
    held = {spec["ports"][0]["nodePort"], spec["healthCheckNodePort"]}
    assert len(held) == 2
    assert all(alloc.port_allocated(p) for p in held)


def test_load_balancer_without_node_ports_honours_only_requests() -> None:
    alloc = allocator()
    ports = [{"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 31000}]
    obj = created(alloc, svc("lb", "LoadBalancer", ports, allocateLoadBalancerNodePorts=False))
    assert [p.get("nodePort") for p in obj["spec"]["ports"]] == [None, 31000]
    assert alloc.free_ports == 2767


def test_ipv6_service_cidr() -> None:
    alloc = ServiceAllocator("fd00:43::/112", rng=random.Random(1))
    obj = svc("v6")
    res = alloc.allocate_for_create(obj)
    assert obj["spec"]["ipFamilies"] == ["IPv6"]
    assert ipaddress.ip_address(obj["spec"]["clusterIP"]) in ipaddress.ip_network("fd00:43::/112")
    assert res.ips == [obj["spec"]["clusterIP"]]


# --- reservations -------------------------------------------------------------------------------


def test_reservation_release_gives_values_back() -> None:
    alloc = allocator()
    obj = svc("web", "NodePort")
    res = alloc.allocate_for_create(obj)
    ip, port = obj["spec"]["clusterIP"], obj["spec"]["ports"][0]["nodePort"]
    assert (res.state, res.ips, res.ports) == ("pending", [ip], [port])
    assert alloc.ip_allocated(ip)
    assert alloc.port_allocated(port)
    res.release()
    assert res.state == "released"
    assert not alloc.ip_allocated(ip)
    assert not alloc.port_allocated(port)
    res.release()  # idempotent
    with pytest.raises(RuntimeError):
        res.commit(1)


def test_reservation_commit_keeps_values_and_is_final() -> None:
    alloc = allocator()
    obj = svc("web")
    res = alloc.allocate_for_create(obj)
    res.commit(5)
    res.release()  # after commit: nothing happens
    res.commit(6)
    assert res.state == "committed"
    assert alloc.ip_allocated(obj["spec"]["clusterIP"])
    assert alloc._pending == set()


def test_reservation_as_context_manager_releases_unless_committed() -> None:
    alloc = allocator()
    obj = svc("web")
    with pytest.raises(KeyError), alloc.allocate_for_create(obj):
        raise KeyError("store write failed")
    assert not alloc.ip_allocated(obj["spec"]["clusterIP"])
    other = svc("other")
    with alloc.allocate_for_create(other) as res:
        res.commit(1)
    assert alloc.ip_allocated(other["spec"]["clusterIP"])


def test_creates_in_flight_never_share_a_value() -> None:
    alloc = allocator("10.43.0.0/24", (30000, 30300))
    objs = [svc(f"s{i}", "NodePort") for i in range(200)]
    pending = [alloc.allocate_for_create(o) for o in objs]  # none committed yet
    ips = [o["spec"]["clusterIP"] for o in objs]
    ports = [o["spec"]["ports"][0]["nodePort"] for o in objs]
    assert len(set(ips)) == len(set(ports)) == 200
    for res in pending[::2]:
        res.release()
    more = [svc(f"m{i}", "NodePort") for i in range(100)]
    for o in more:
        alloc.allocate_for_create(o)
    live = ips[1::2] + [o["spec"]["clusterIP"] for o in more]
    assert len(set(live)) == 200


def test_dry_run_takes_nothing_and_answers_like_upstream() -> None:
    alloc = allocator()
    created(alloc, svc("a", "NodePort", [{"port": 80, "nodePort": 30080}], clusterIP="10.43.0.5"))
    before = (alloc.free_ips, alloc.free_ports)
    obj = svc("b", "NodePort", [{"name": "a", "port": 80}, {"name": "b", "port": 81}])
    res = alloc.allocate_for_create(obj, dry_run=True)
    assert obj["spec"]["clusterIP"] == "10.43.0.0"  # upstream's dry run shows the network
    assert [p["nodePort"] for p in obj["spec"]["ports"]] == [32769, 32770]
    assert (res.ips, res.ports) == ([], [])
    res.commit(1)
    assert (alloc.free_ips, alloc.free_ports) == before
    # A dry run still reports a taken port, and a requested free IP passes.
    taken = svc("c", "NodePort", [{"port": 80, "nodePort": 30080}], clusterIP="10.43.0.6")
    err = fails(lambda: alloc.allocate_for_create(taken, dry_run=True))
    assert "provided port is already allocated" in str(err)


# --- updates ------------------------------------------------------------------------------------


def update(
    alloc: ServiceAllocator, old: Obj, change: Any, *, commit: bool = True
) -> tuple[Obj, Reservation]:
    """What the registry does: defaults, reconcile, strategy's drop, validation, commit."""
    new = copy.deepcopy(old)
    change(new)
    apply_defaults("", "v1", "Service", new)
    res = alloc.reconcile_update(old, new)
    drop_type_dependent_fields(new, old)
    assert [str(e) for e in validate_object("", "Service", new, old)] == []
    if commit:
        res.commit(2)
    return new, res


def set_spec(**fields: Any) -> Any:
    def change(obj: Obj) -> None:
        obj["spec"].update(fields)

    return change


def test_cluster_ip_to_node_port_allocates_node_ports() -> None:
    alloc = allocator()
    old = created(alloc, svc("web"))
    new, res = update(alloc, old, set_spec(type="NodePort"))
    port = new["spec"]["ports"][0]["nodePort"]
    assert res.ports == [port]
    assert alloc.port_allocated(port)
    assert new["spec"]["clusterIP"] == old["spec"]["clusterIP"]


def test_node_port_to_cluster_ip_releases_on_commit_only() -> None:
    alloc = allocator()
    old = created(alloc, svc("web", "NodePort"))
    port = old["spec"]["ports"][0]["nodePort"]

    def to_cluster_ip(obj: Obj) -> None:  # a merge patch of the type: nodePort still sent
        obj["spec"]["type"] = "ClusterIP"
        del obj["spec"]["externalTrafficPolicy"]

    new, res = update(alloc, old, to_cluster_ip, commit=False)
    assert "nodePort" not in new["spec"]["ports"][0]
    assert res.released_ports == [port]
    assert alloc.port_allocated(port)  # still held until the write is durable
    res.commit(2)
    assert not alloc.port_allocated(port)


def test_node_port_to_cluster_ip_failure_keeps_the_port() -> None:
    alloc = allocator()
    old = created(alloc, svc("web", "NodePort"))
    port = old["spec"]["ports"][0]["nodePort"]
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ClusterIP"
    with alloc.reconcile_update(old, new):
        pass  # the store write failed
    assert alloc.port_allocated(port)


def test_changed_node_port_is_not_wiped_when_the_type_changes() -> None:
    alloc = allocator()
    old = created(alloc, svc("web", "NodePort"))
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ClusterIP"
    new["spec"]["ports"][0]["nodePort"] = 31999
    alloc.reconcile_update(old, new).release()
    drop_type_dependent_fields(new, old)
    assert new["spec"]["ports"][0]["nodePort"] == 31999
    assert "may not be used when `type` is 'ClusterIP'" in str(
        validate_object("", "Service", new, old)[0]
    )


def test_cluster_ip_to_external_name_releases_the_address() -> None:
    alloc = allocator()
    old = created(alloc, svc("web"))
    ip = old["spec"]["clusterIP"]
    new, res = update(alloc, old, set_spec(type="ExternalName", externalName="example.com"))
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(new["spec"])
    assert res.released_ips == [ip]
    assert not alloc.ip_allocated(ip)


def test_external_name_to_cluster_ip_allocates_an_address() -> None:
    alloc = allocator()
    old = created(alloc, svc("ext", "ExternalName", externalName="example.com"))

    def to_cluster_ip(obj: Obj) -> None:
        obj["spec"] = {"type": "ClusterIP", "ports": [{"port": 80}], "selector": {"app": "x"}}

    new, res = update(alloc, old, to_cluster_ip)
    assert res.ips == [new["spec"]["clusterIP"]]
    assert new["spec"]["ipFamilies"] == ["IPv4"]


def test_resubmitted_manifest_keeps_what_was_allocated() -> None:
    alloc = allocator()
    old = created(alloc, svc("lb", "LoadBalancer", externalTrafficPolicy="Local"))

    def apply_again(obj: Obj) -> None:  # the client's manifest, without allocated values
        obj["spec"] = {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "selector": {"app": "lb"},
            "ports": [{"port": 80}],
        }

    free = (alloc.free_ips, alloc.free_ports)
    new, res = update(alloc, old, apply_again)
    for field in ("clusterIP", "clusterIPs", "healthCheckNodePort", "ipFamilies"):
        assert new["spec"][field] == old["spec"][field]
    assert new["spec"]["ports"][0]["nodePort"] == old["spec"]["ports"][0]["nodePort"]
    assert (res.ips, res.ports, res.released_ips, res.released_ports) == ([], [], [], [])
    assert (alloc.free_ips, alloc.free_ports) == free


def test_node_port_changes_within_a_node_port_service() -> None:
    alloc = allocator()
    ports = [{"name": "a", "port": 80}, {"name": "b", "port": 81}]
    old = created(alloc, svc("web", "NodePort", ports))
    a, b = (p["nodePort"] for p in old["spec"]["ports"])

    def move_a_and_drop_b(obj: Obj) -> None:
        obj["spec"]["ports"] = [{"name": "a", "port": 80, "nodePort": 31234}]

    _new, res = update(alloc, old, move_a_and_drop_b, commit=False)
    assert (res.ports, sorted(res.released_ports)) == ([31234], sorted([a, b]))
    res.commit(2)
    assert alloc.port_allocated(31234)
    assert not alloc.port_allocated(a)
    assert not alloc.port_allocated(b)


def test_update_asking_for_a_taken_port_fails_and_changes_nothing() -> None:
    alloc = allocator()
    created(alloc, svc("other", "NodePort", [{"port": 80, "nodePort": 30100}]))
    old = created(alloc, svc("web", "NodePort"))
    new = copy.deepcopy(old)
    new["spec"]["ports"][0]["nodePort"] = 30100
    free = alloc.free_ports
    err = fails(alloc.reconcile_update, old, new)
    assert str(err) == (
        'Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 30100: provided port '
        "is already allocated"
    )
    assert alloc.free_ports == free
    assert alloc.port_allocated(old["spec"]["ports"][0]["nodePort"])


def test_health_check_port_follows_the_traffic_policy() -> None:
    alloc = allocator()
    old = created(alloc, svc("lb", "LoadBalancer"))
    local, res = update(alloc, old, set_spec(externalTrafficPolicy="Local"))
    health = local["spec"]["healthCheckNodePort"]
    assert res.ports == [health]
    cluster, res = update(alloc, local, set_spec(externalTrafficPolicy="Cluster"))
    assert "healthCheckNodePort" not in cluster["spec"]
    assert res.released_ports == [health]
    assert not alloc.port_allocated(health)


def test_load_balancer_to_cluster_ip_drops_type_dependent_fields() -> None:
    alloc = allocator()
    old = created(alloc, svc("lb", "LoadBalancer", externalTrafficPolicy="Local"))
    old["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1", "ipMode": "VIP"}]}}
    held = [old["spec"]["ports"][0]["nodePort"], old["spec"]["healthCheckNodePort"]]
    new, res = update(alloc, old, set_spec(type="ClusterIP"))
    assert not {
        "allocateLoadBalancerNodePorts",
        "externalTrafficPolicy",
        "healthCheckNodePort",
    } & set(new["spec"])
    assert "nodePort" not in new["spec"]["ports"][0]
    assert new["status"] == {"loadBalancer": {}}
    assert sorted(res.released_ports) == sorted(held)
    assert alloc.free_ports == 2768


def test_dry_run_update_changes_nothing() -> None:
    alloc = allocator()
    old = created(alloc, svc("web", "NodePort"))
    free = (alloc.free_ips, alloc.free_ports)
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ClusterIP"
    res = alloc.reconcile_update(old, new, dry_run=True)
    res.commit(2)
    assert (alloc.free_ips, alloc.free_ports) == free


def test_service_stored_without_an_address_gets_one_on_update() -> None:
    alloc = allocator()
    legacy = svc("legacy")
    legacy["spec"].update(ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack")
    new, res = update(alloc, legacy, set_spec(selector={"app": "v2"}))
    assert res.ips == [new["spec"]["clusterIP"]]


def test_old_object_is_never_modified() -> None:
    alloc = allocator()
    old = created(alloc, svc("web", "NodePort"))
    snapshot = copy.deepcopy(old)
    new = copy.deepcopy(old)
    new["spec"] = {"type": "ClusterIP", "ports": [{"port": 80}], "selector": {"app": "web"}}
    apply_defaults("", "v1", "Service", new)
    alloc.reconcile_update(old, new).commit(2)
    drop_type_dependent_fields(new, old)
    assert old == snapshot


# --- delete, rebuild, repair --------------------------------------------------------------------


def test_release_for_delete_frees_address_ports_and_health_check_port() -> None:
    alloc = allocator()
    obj = created(alloc, svc("lb", "LoadBalancer", externalTrafficPolicy="Local"))
    alloc.release_for_delete(obj)
    assert (alloc.free_ips, alloc.free_ports) == (65534, 2768)
    alloc.release_for_delete(obj)  # twice: nothing more happens
    assert (alloc.free_ips, alloc.free_ports) == (65534, 2768)


def test_rebuild_after_restart_marks_what_is_stored() -> None:
    first = allocator()
    stored = [
        created(first, svc("a", "NodePort")),
        created(first, svc("b", clusterIP="10.43.0.10")),
        created(first, svc("lb", "LoadBalancer", externalTrafficPolicy="Local")),
        created(first, svc("db", clusterIP="None")),
        created(first, svc("ext", "ExternalName", externalName="example.com")),
    ]
    restarted = allocator()
    restarted.rebuild(stored)
    assert (restarted.free_ips, restarted.free_ports) == (first.free_ips, first.free_ports)
    err = fails(restarted.allocate_for_create, svc("c", clusterIP="10.43.0.10"))
    assert "provided IP is already allocated" in str(err)
    held_ports = {
        stored[0]["spec"]["ports"][0]["nodePort"],
        stored[2]["spec"]["healthCheckNodePort"],
    }
    for _ in range(50):
        obj = created(restarted, svc("n", "NodePort"))
        assert obj["spec"]["ports"][0]["nodePort"] not in held_ports


def test_rebuild_ignores_values_outside_the_ranges() -> None:
    alloc = allocator()
    foreign = svc("old", "NodePort", [{"port": 80, "nodePort": 80}], clusterIP="10.96.0.5")
    foreign["spec"]["clusterIPs"] = ["10.96.0.5"]
    alloc.rebuild([foreign])
    assert (alloc.free_ips, alloc.free_ports) == (65534, 2768)


def test_rebuild_keeps_pending_reservations() -> None:
    alloc = allocator()
    stored = created(alloc, svc("a"))
    in_flight = svc("b", "NodePort")
    res = alloc.allocate_for_create(in_flight)
    alloc.rebuild([stored], revision=10)
    assert alloc.ip_allocated(in_flight["spec"]["clusterIP"])
    assert alloc.port_allocated(in_flight["spec"]["ports"][0]["nodePort"])
    res.release()
    assert not alloc.ip_allocated(in_flight["spec"]["clusterIP"])


def test_rebuild_from_an_older_snapshot_keeps_newer_commits() -> None:
    alloc = allocator()
    a = created(alloc, svc("a"), revision=10)
    b = created(alloc, svc("b"), revision=12)  # not yet in the watch cache at revision 11
    alloc.release_for_delete(a, revision=13)  # deleted after the snapshot too
    alloc.rebuild([a], revision=11)
    assert alloc.ip_allocated(b["spec"]["clusterIP"])
    assert not alloc.ip_allocated(a["spec"]["clusterIP"])
    # Once a snapshot covers those revisions, it alone decides.
    alloc.rebuild([a], revision=13)
    assert not alloc.ip_allocated(b["spec"]["clusterIP"])
    assert alloc.ip_allocated(a["spec"]["clusterIP"])
    assert list(alloc._journal) == []


def test_find_conflicts_reports_like_the_repair_loops() -> None:
    alloc = allocator()
    a = svc("a", "NodePort", [{"port": 80, "nodePort": 30080}], clusterIP="10.43.0.5")
    b = svc("b", "NodePort", [{"port": 80, "nodePort": 30080}], clusterIP="10.43.0.5")
    c = svc("c", "NodePort", [{"port": 80, "nodePort": 80}], clusterIP="10.96.0.1")
    d = svc("d", "LoadBalancer", [{"port": 80, "nodePort": 30090}], externalTrafficPolicy="Local")
    d["spec"]["healthCheckNodePort"] = 30080
    dual = svc(
        "e",
        "NodePort",
        [
            {"name": "t", "port": 53, "nodePort": 30053, "protocol": "TCP"},
            {"name": "u", "port": 53, "nodePort": 30053, "protocol": "UDP"},
        ],
    )
    bad = svc("f", clusterIP="10.43.0.400")
    headless = svc("g", clusterIP="None")
    for obj in (a, b, c, bad, headless):
        obj["spec"]["clusterIPs"] = [obj["spec"]["clusterIP"]]
    assert alloc.find_conflicts([a, b, c, d, dual, bad, headless]) == [
        "the cluster IP 10.43.0.5 for service default/b was assigned to multiple services; "
        "please recreate",
        "the node port 30080 for service default/b was assigned to multiple services; please "
        "recreate",
        "the cluster IP 10.96.0.1 for service default/c is not within the service CIDR "
        "10.43.0.0/16; please recreate",
        "the node port 80 for service default/c is not within the port range 30000-32767; "
        "please recreate",
        "the node port 30080 for service default/d was assigned to multiple services; please "
        "recreate",
        "the cluster IP 10.43.0.400 for service default/f is not a valid IP; please recreate",
    ]
    assert alloc.find_conflicts([a, dual, headless]) == []


# --- the invariant, under random operations -------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_bitmaps_always_match_stored_and_pending_services(seed: int) -> None:
    rng = random.Random(seed)
    alloc = ServiceAllocator("10.43.0.0/26", (30000, 30063), rng=random.Random(seed))
    stored: dict[str, Obj] = {}
    # (name, object to store, reservation, the stored object it was computed from)
    pending: list[tuple[str, Obj, Reservation, Obj | None]] = []
    kinds = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]

    def manifest(name: str) -> Obj:
        kind = rng.choice(kinds)
        extra: Obj = {}
        if kind == "ExternalName":
            extra["externalName"] = "example.com"
        elif kind == "LoadBalancer" and rng.random() < 0.5:
            extra["externalTrafficPolicy"] = "Local"
        if kind != "ExternalName" and rng.random() < 0.1:
            extra["clusterIP"] = f"10.43.0.{rng.randrange(1, 63)}"
        return svc(name, kind, **extra)

    for step in range(1, 400):
        action = rng.random()
        if action < 0.4 or not stored:
            name = f"s{step}"
            obj = manifest(name)
            try:
                res = alloc.allocate_for_create(obj)
            except errors.StatusError:
                continue
            pending.append((name, obj, res, None))
        elif action < 0.6:
            name = rng.choice(sorted(stored))
            old = stored[name]
            new = manifest(name)
            try:
                res = alloc.reconcile_update(old, new)
            except errors.StatusError:
                continue
            drop_type_dependent_fields(new, old)
            if validate_object("", "Service", new, old):
                res.release()  # validation failed: the registry gives it all back
                continue
            pending.append((name, new, res, old))
        elif action < 0.75:
            name = rng.choice(sorted(stored))
            alloc.release_for_delete(stored.pop(name), revision=step)
        if pending and rng.random() < 0.6:
            name, obj, res, base = pending.pop(rng.randrange(len(pending)))
            # The store write succeeds unless the object changed meanwhile (a conflict).
            if rng.random() < 0.8 and stored.get(name) is base:
                res.commit(step)
                stored[name] = obj
            else:
                res.release()
        if rng.random() < 0.05:
            alloc.rebuild(stored.values(), revision=step)
        # The bitmaps hold exactly what stored Services and pending reservations hold.
        assert alloc.find_conflicts(stored.values()) == []
        expected_ips: set[int] = set()
        expected_ports: set[int] = set()
        for obj in stored.values():
            ips, ports = alloc._held(obj)
            expected_ips.update(ips)
            expected_ports.update(ports)
        for _, _, res, _ in pending:
            expected_ips.update(res._ips)
            expected_ports.update(res._ports)
        assert {i for i in range(alloc._ips.size) if alloc._ips.has(i)} == expected_ips
        assert {i for i in range(alloc._ports.size) if alloc._ports.has(i)} == expected_ports
