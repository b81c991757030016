"""NodeName, NodeUnschedulable, NodePorts and VolumeBinding filters."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.scheduler.plugins.node_name import NodeName
from kybernetes.scheduler.plugins.node_ports import NodePorts
from kybernetes.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kybernetes.scheduler.plugins.volume_binding import ERR_REASON_UNBOUND, VolumeBinding

from .builders import FakeAPI, framework_for, make_node, make_pod, node_info, run_filter


def test_node_name() -> None:
    infos = [node_info(make_node("a")), node_info(make_node("b"))]
    passed, rejected = run_filter(NodeName(), make_pod("p", spec={"nodeName": "b"}), infos)
    assert passed == ["b"]
    assert rejected["a"].reasons == ("node(s) didn't match the requested node name",)


def test_node_unschedulable() -> None:
    infos = [node_info(make_node("cordoned", unschedulable=True)), node_info(make_node("ok"))]
    passed, rejected = run_filter(NodeUnschedulable(), make_pod("p"), infos)
    assert passed == ["ok"]
    assert rejected["cordoned"].reasons == ("node(s) were unschedulable",)
    tolerant = make_pod(
        "t",
        spec={"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}]},
    )
    assert run_filter(NodeUnschedulable(), tolerant, infos)[0] == ["cordoned", "ok"]


def _ports(*ports: dict[str, Any]) -> dict[str, Any]:
    return {"containers": [{"name": "c", "image": "x", "ports": list(ports)}]}


@pytest.mark.parametrize(
    ("used", "wanted", "passes"),
    [
        ({"hostPort": 80}, {"hostPort": 80}, False),
        ({"hostPort": 80}, {"hostPort": 81}, True),
        ({"hostPort": 80, "protocol": "UDP"}, {"hostPort": 80}, True),
        ({"hostPort": 80, "hostIP": "10.0.0.1"}, {"hostPort": 80, "hostIP": "10.0.0.2"}, True),
        ({"hostPort": 80, "hostIP": "10.0.0.1"}, {"hostPort": 80}, False),
        ({"hostPort": 80}, {"hostPort": 80, "hostIP": "10.0.0.2"}, False),
    ],
)
def test_node_ports(used: dict[str, Any], wanted: dict[str, Any], passes: bool) -> None:
    existing = make_pod("e", node_name="n", spec=_ports(used))
    info = node_info(make_node("n"), existing)
    passed, _ = run_filter(NodePorts(), make_pod("p", spec=_ports(wanted)), [info])
    assert (passed == ["n"]) is passes


def test_volume_binding_waits_for_unbound_claims() -> None:
    api = FakeAPI()
    fwk = framework_for([node_info(make_node("n"))], api)
    spec = {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}
    api.pvcs[("default", "data")] = {"status": {"phase": "Pending"}}
    passed, rejected = run_filter(
        VolumeBinding(fwk), make_pod("p", spec=spec), fwk.snapshot().node_info_list
    )
    assert passed == []
    assert rejected["n"].reasons == (ERR_REASON_UNBOUND,)
    api.pvcs[("default", "data")] = {"status": {"phase": "Bound"}}
    assert run_filter(VolumeBinding(fwk), make_pod("p", spec=spec), fwk.snapshot().node_info_list)[
        0
    ] == ["n"]
