"""KubeSchedulerConfiguration loading: defaults, profiles, weights, args, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kybernetes.scheduler.config import ConfigError, default_configuration, load_config
from kybernetes.scheduler.plugins.node_resources_fit import FitArgs


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_default_profile_has_upstream_plugins_and_weights() -> None:
    profile = default_configuration().profiles[0]
    assert profile.scheduler_name == "default-scheduler"
    weights = {e.name: e.weight for e in profile.plugins["score"]}
    assert weights == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }
    assert [e.name for e in profile.plugins["filter"]] == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "PodTopologySpread",
        "InterPodAffinity",
    ]
    assert [e.name for e in profile.plugins["queueSort"]] == ["PrioritySort"]
    assert [e.name for e in profile.plugins["bind"]] == ["DefaultBinder"]


def test_profiles_weights_args_and_disabled_plugins(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            """
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 30
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packer
  percentageOfNodesToScore: 100
  plugins:
    score:
      enabled:
      - name: NodeResourcesFit
        weight: 5
      disabled:
      - name: ImageLocality
    filter:
      disabled:
      - name: "*"
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - {name: cpu, weight: 2}
        - {name: nvidia.com/gpu, weight: 3}
""",
        )
    )
    assert config.percentage_of_nodes_to_score == 30
    packer = config.profiles[1]
    assert packer.percentage_of_nodes_to_score == 100
    assert packer.score_weight("NodeResourcesFit") == 5
    assert "ImageLocality" not in [e.name for e in packer.plugins["score"]]
    assert packer.plugins["filter"] == []
    args = packer.plugin_args["NodeResourcesFit"]
    assert isinstance(args, FitArgs)
    assert args.strategy == "MostAllocated"
    assert args.resources == (("cpu", 2), ("nvidia.com/gpu", 3))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: v1\n", 'apiVersion: must be "kubescheduler.config.k8s.io/v1"'),
        (
            "profiles:\n- schedulerName: x\n  plugin: {}\n",
            'profiles[0].plugin: unknown field "plugin"',
        ),
        (
            "profiles:\n- plugins:\n    score:\n      enabled:\n      - name: Nope\n",
            'profiles[0].plugins.score.enabled[0].name: unknown plugin "Nope"',
        ),
        (
            "profiles:\n- plugins:\n    score:\n      enabled:\n      - name: NodeName\n",
            'profiles[0].plugins.score.enabled[0].name: plugin "NodeName" does not implement score',
        ),
        (
            "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n"
            "      scoringStrategy: {type: Best}\n",
            "profiles[0].pluginConfig[0].args.scoringStrategy.type: unsupported value",
        ),
        (
            "profiles:\n- pluginConfig:\n  - name: InterPodAffinity\n    args:\n"
            "      hardPodAffinityWeight: 101\n",
            "profiles[0].pluginConfig[0].args.hardPodAffinityWeight: must be at most 100",
        ),
        ("percentageOfNodesToScore: 150\n", "percentageOfNodesToScore: must be between 0 and 100"),
        (
            "profiles:\n- schedulerName: a\n- schedulerName: a\n",
            'profiles[1].schedulerName: duplicate profile "a"',
        ),
        ("profiles: [\n", "not valid YAML"),
    ],
)
def test_bad_files_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, text))
    assert message in str(err.value)
