"""TaintToleration: NoSchedule/NoExecute filter, PreferNoSchedule scoring."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.scheduler.framework.status import Code
from kybernetes.scheduler.plugins.taint_toleration import TaintToleration

from .builders import make_node, make_pod, node_info, run_filter, run_score

CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("taints", "tolerations", "passes"),
    [
        ([], [], True),
        ([CONTROL_PLANE], [], False),
        (
            [CONTROL_PLANE],
            [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}],
            True,
        ),
        ([{"key": "k", "value": "v", "effect": "NoExecute"}], [{"key": "k", "value": "v"}], True),
        ([{"key": "k", "value": "v", "effect": "NoExecute"}], [{"key": "k", "value": "w"}], False),
        ([{"key": "k", "value": "v", "effect": "NoSchedule"}], [{"operator": "Exists"}], True),
        (
            [{"key": "k", "value": "v", "effect": "NoSchedule"}],
            [{"key": "k", "operator": "Exists", "effect": "NoExecute"}],
            False,
        ),
        ([{"key": "k", "effect": "PreferNoSchedule"}], [], True),
    ],
)
def test_filter(taints: list[Any], tolerations: list[Any], passes: bool) -> None:
    info = node_info(make_node("n", taints=taints))
    pod = make_pod("p", spec={"tolerations": tolerations})
    passed, rejected = run_filter(TaintToleration(), pod, [info])
    assert (passed == ["n"]) is passes
    if not passes:
        assert rejected["n"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_untolerated_taint_message() -> None:
    _, rejected = run_filter(
        TaintToleration(), make_pod("p"), [node_info(make_node("n", taints=[CONTROL_PLANE]))]
    )
    assert rejected["n"].reasons == (
        "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",
    )


def test_prefer_no_schedule_lowers_the_score() -> None:
    prefer = {"key": "k", "value": "v", "effect": "PreferNoSchedule"}
    infos = [
        node_info(make_node("two", taints=[prefer, {**prefer, "key": "k2"}])),
        node_info(make_node("one", taints=[prefer])),
        node_info(make_node("none")),
    ]
    assert run_score(TaintToleration(), make_pod("p"), infos) == [0, 50, 100]
    tolerant = make_pod("t", spec={"tolerations": [{"operator": "Exists"}]})
    assert run_score(TaintToleration(), tolerant, infos) == [100, 100, 100]
