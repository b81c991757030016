"""KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): profiles, plugins, weights.

``load_config`` reads a YAML file and returns the effective configuration: every profile's
plugin list per extension point after merging upstream's defaults (the default ``multiPoint``
set, minus what is disabled, custom entries replacing defaults in place and the rest appended),
its parsed plugin args and score weights. Invariants: every named plugin exists; a bad file
raises ``ConfigError`` whose message starts with the offending field's path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kybernetes.scheduler.framework.runtime import EXTENSION_POINTS
from kybernetes.scheduler.plugins.helper import ArgsError
from kybernetes.scheduler.plugins.registry import DEFAULT_PLUGINS, REGISTRY, implements

__all__ = [
    "API_VERSION",
    "DEFAULT_SCHEDULER_NAME",
    "ConfigError",
    "PluginEntry",
    "Profile",
    "SchedulerConfiguration",
    "default_configuration",
    "load_config",
    "parse_config",
]

API_VERSION = "kubescheduler.config.k8s.io/v1"
DEFAULT_SCHEDULER_NAME = "default-scheduler"
_TOP_FIELDS = frozenset(
    {
        "apiVersion",
        "kind",
        "parallelism",
        "leaderElection",
        "clientConnection",
        "healthzBindAddress",
        "metricsBindAddress",
        "enableProfiling",
        "enableContentionProfiling",
        "percentageOfNodesToScore",
        "podInitialBackoffSeconds",
        "podMaxBackoffSeconds",
        "profiles",
        "extenders",
        "delayCacheUntilActive",
    }
)
_PROFILE_FIELDS = frozenset(
    {"schedulerName", "percentageOfNodesToScore", "plugins", "pluginConfig"}
)
_POINT_FIELDS = frozenset({*EXTENSION_POINTS, "multiPoint", "postBind"})


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class PluginEntry:
    name: str
    weight: int = 0


@dataclass(slots=True)
class Profile:
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    #: Extension point -> the plugins enabled there, in order.
    plugins: dict[str, list[PluginEntry]] = field(default_factory=dict)
    #: Plugin name -> its parsed args (absent: the plugin's defaults).
    plugin_args: dict[str, Any] = field(default_factory=dict)
    percentage_of_nodes_to_score: int | None = None

    def score_weight(self, name: str) -> int:
        for entry in self.plugins.get("score", ()):
            if entry.name == name:
                return entry.weight or 1
        return 1

    def plugin_names(self) -> list[str]:
        """Every enabled plugin once, in first-seen order."""
        seen: dict[str, None] = {}
        for point in EXTENSION_POINTS:
            for entry in self.plugins.get(point, ()):
                seen.setdefault(entry.name, None)
        return list(seen)


@dataclass(slots=True)
class SchedulerConfiguration:
    profiles: list[Profile]
    percentage_of_nodes_to_score: int = 0
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0


def _mapping(value: object, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: must be an object")
    return value


def _list(value: object, path: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{path}: must be a list")
    return value


def _int(value: object, path: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{path}: must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{path}: must be {bound}, got {value}")
    return value


def _check_fields(raw: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
    for key in raw:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise ConfigError(f'{where}: unknown field "{key}"')


def _entries(raw: object, path: str) -> list[PluginEntry]:
    entries: list[PluginEntry] = []
    for i, item in enumerate(_list(raw, path)):
        item_path = f"{path}[{i}]"
        item = _mapping(item, item_path)
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{item_path}.name: must be a plugin name")
        if name != "*" and name not in REGISTRY:
            raise ConfigError(f'{item_path}.name: unknown plugin "{name}"')
        weight = _int(item.get("weight", 0), f"{item_path}.weight", 0, 100)
        entries.append(PluginEntry(name, weight))
    return entries


def _merge(
    defaults: Sequence[PluginEntry], custom: Mapping[str, Any], path: str
) -> list[PluginEntry]:
    """Upstream's ``mergePluginSet`` for one extension point."""
    enabled = _entries(custom.get("enabled"), f"{path}.enabled")
    disabled = {e.name for e in _entries(custom.get("disabled"), f"{path}.disabled")}
    by_name = {e.name: e for e in enabled}
    replaced: set[str] = set()
    merged: list[PluginEntry] = []
    for entry in defaults:
        if "*" in disabled or entry.name in disabled:
            continue
        if entry.name in by_name:
            merged.append(by_name[entry.name])
            replaced.add(entry.name)
        else:
            merged.append(entry)
    merged.extend(e for e in enabled if e.name not in replaced)
    return merged


def _expand(plugins_raw: Mapping[str, Any], path: str) -> dict[str, list[PluginEntry]]:
    """Per extension point: explicit entries first, then multiPoint ones, then the rest."""
    multi = _merge(
        [PluginEntry(n, w) for n, w in DEFAULT_PLUGINS],
        _mapping(plugins_raw.get("multiPoint"), f"{path}.multiPoint"),
        f"{path}.multiPoint",
    )
    result: dict[str, list[PluginEntry]] = {}
    for point in EXTENSION_POINTS:
        point_raw = _mapping(plugins_raw.get(point), f"{path}.{point}")
        explicit = _entries(point_raw.get("enabled"), f"{path}.{point}.enabled")
        disabled = {e.name for e in _entries(point_raw.get("disabled"), f"{path}.{point}.disabled")}
        for i, entry in enumerate(explicit):
            if not implements(entry.name, point):
                raise ConfigError(
                    f'{path}.{point}.enabled[{i}].name: plugin "{entry.name}" does not '
                    f"implement {point}"
                )
        from_multi = [
            e
            for e in multi
            if implements(e.name, point) and "*" not in disabled and e.name not in disabled
        ]
        multi_names = {e.name for e in from_multi}
        explicit_names = {e.name for e in explicit}
        result[point] = (
            [e for e in explicit if e.name in multi_names]
            + [e for e in from_multi if e.name not in explicit_names]
            + [e for e in explicit if e.name not in multi_names]
        )
    if len(result["queueSort"]) > 1:
        raise ConfigError(f"{path}.queueSort: only one queue sort plugin can be enabled")
    if not result["bind"]:
        raise ConfigError(f"{path}.bind: at least one bind plugin is needed")
    return result


def _profile(raw: Mapping[str, Any], path: str) -> Profile:
    _check_fields(raw, _PROFILE_FIELDS, path)
    name = raw.get("schedulerName", DEFAULT_SCHEDULER_NAME)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}.schedulerName: must be a non-empty string")
    plugins_raw = _mapping(raw.get("plugins"), f"{path}.plugins")
    _check_fields(plugins_raw, _POINT_FIELDS, f"{path}.plugins")
    profile = Profile(scheduler_name=name, plugins=_expand(plugins_raw, f"{path}.plugins"))
    if "percentageOfNodesToScore" in raw:
        profile.percentage_of_nodes_to_score = _int(
            raw["percentageOfNodesToScore"], f"{path}.percentageOfNodesToScore", 0, 100
        )
    for i, item in enumerate(_list(raw.get("pluginConfig"), f"{path}.pluginConfig")):
        item_path = f"{path}.pluginConfig[{i}]"
        item = _mapping(item, item_path)
        plugin = item.get("name")
        if not isinstance(plugin, str) or plugin not in REGISTRY:
            raise ConfigError(f'{item_path}.name: unknown plugin "{plugin}"')
        if plugin in profile.plugin_args:
            raise ConfigError(f'{item_path}.name: duplicate config for plugin "{plugin}"')
        args = _mapping(item.get("args"), f"{item_path}.args")
        try:
            profile.plugin_args[plugin] = REGISTRY[plugin].parse_args(args)
        except ArgsError as err:
            raise ConfigError(f"{item_path}.args.{err.field}: {err.detail}") from None
    return profile


def parse_config(raw: object) -> SchedulerConfiguration:
    """The effective configuration for an already-decoded document."""
    doc = _mapping(raw, "<root>")
    _check_fields(doc, _TOP_FIELDS, "")
    if doc.get("apiVersion", API_VERSION) != API_VERSION:
        raise ConfigError(f'apiVersion: must be "{API_VERSION}", got "{doc.get("apiVersion")}"')
    if doc.get("kind", "KubeSchedulerConfiguration") != "KubeSchedulerConfiguration":
        raise ConfigError(f'kind: must be "KubeSchedulerConfiguration", got "{doc.get("kind")}"')
    if _list(doc.get("extenders"), "extenders"):
        raise ConfigError("extenders: scheduler extenders are not supported")
    profiles_raw = _list(doc.get("profiles"), "profiles") or [{}]
    profiles = [
        _profile(_mapping(p, f"profiles[{i}]"), f"profiles[{i}]")
        for i, p in enumerate(profiles_raw)
    ]
    names = [p.scheduler_name for p in profiles]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f'profiles[{i}].schedulerName: duplicate profile "{name}"')
    sorts = {tuple(e.name for e in p.plugins["queueSort"]) for p in profiles}
    if len(sorts) > 1:
        raise ConfigError("profiles: all profiles must use the same queueSort plugin")
    initial = _int(doc.get("podInitialBackoffSeconds", 1), "podInitialBackoffSeconds", 1)
    maximum = _int(doc.get("podMaxBackoffSeconds", 10), "podMaxBackoffSeconds", 1)
    if maximum < initial:
        raise ConfigError("podMaxBackoffSeconds: must be at least podInitialBackoffSeconds")
    return SchedulerConfiguration(
        profiles=profiles,
        percentage_of_nodes_to_score=_int(
            doc.get("percentageOfNodesToScore", 0), "percentageOfNodesToScore", 0, 100
        ),
        pod_initial_backoff_seconds=float(initial),
        pod_max_backoff_seconds=float(maximum),
    )


def load_config(path: str | Path) -> SchedulerConfiguration:
    """Read a KubeSchedulerConfiguration YAML file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: {err.strerror}") from None
    try:
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    return parse_config(raw)


def default_configuration() -> SchedulerConfiguration:
    """The configuration with no file: one "default-scheduler" profile with the defaults."""
    return parse_config({})
