"""NodeResourcesBalancedAllocation and ImageLocality scores."""

from __future__ import annotations

from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework.snapshot import Snapshot
from kybernetes.scheduler.plugins.balanced_allocation import NodeResourcesBalancedAllocation
from kybernetes.scheduler.plugins.image_locality import ImageLocality
from kybernetes.util.clock import FakeClock

from .builders import framework_for, make_node, make_pod, node_info, run_score


def test_balanced_allocation_prefers_even_usage() -> None:
    infos = [
        node_info(
            make_node("cpu-heavy", cpu="4", memory="4Gi"),
            make_pod("x", cpu="2", node_name="cpu-heavy"),
        ),
        node_info(make_node("even", cpu="4", memory="4Gi")),
    ]
    scores = run_score(
        NodeResourcesBalancedAllocation(), make_pod("p", cpu="1", memory="1Gi"), infos
    )
    # cpu-heavy: fractions 0.75 and 0.25 -> std 0.25 -> 75; even: 0.25/0.25 -> 100
    assert scores == [75, 100]


def test_balanced_allocation_skips_best_effort_pods() -> None:
    infos = [node_info(make_node("n"))]
    assert run_score(NodeResourcesBalancedAllocation(), make_pod("p"), infos) == [0]


def test_image_locality_prefers_nodes_with_the_image() -> None:
    cache = Cache(FakeClock())
    image = {"names": ["registry/app:1"], "sizeBytes": 500 * 1024 * 1024}
    cache.add_node(make_node("with", images=[image]))
    cache.add_node(make_node("without"))
    snapshot = Snapshot()
    cache.update_snapshot(snapshot)
    fwk = framework_for([])
    fwk.set_snapshot(snapshot)
    nodes = snapshot.node_info_list
    scores = run_score(ImageLocality(fwk), make_pod("p", image="registry/app:1"), nodes)
    # 500MiB spread over half the nodes = 250MiB: (250 - 23) * 100 / (1000 - 23)
    assert dict(zip([n.name for n in nodes], scores, strict=True)) == {"with": 23, "without": 0}
