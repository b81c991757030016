"""Volume content rendering and the atomic writer's layout."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from kybernetes.agent.kubelet.volumes import writer
from kybernetes.agent.kubelet.volumes.render import (
    File,
    VolumeError,
    format_map,
    render_volume,
)

Obj = dict[str, Any]
POD: Obj = {
    "metadata": {
        "name": "p",
        "namespace": "ns",
        "uid": "u",
        "labels": {"b": "2", "a": 'say "hi"'},
        "annotations": {"x": "y"},
    },
    "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "1Gi"}}}]},
}
OBJECTS = {
    "cm": {
        "data": {"k1": "v1", "k2": "v2"},
        "binaryData": {"bin": base64.b64encode(b"\0").decode()},
    },
    "s": {"data": {"token": base64.b64encode(b"t0k").decode()}},
}


def lookup(ns: str, name: str) -> Obj | None:
    return OBJECTS.get(name)


def render(volume: Obj) -> dict[str, File]:
    out = render_volume(volume, POD, configmaps=lookup, secrets=lookup, allocatable={})
    assert out is not None
    return out.files


def test_configmap_all_keys_and_items() -> None:
    files = render({"configMap": {"name": "cm"}})
    assert files == {"bin": File(b"\0"), "k1": File(b"v1"), "k2": File(b"v2")}
    files = render(
        {
            "configMap": {
                "name": "cm",
                "defaultMode": 0o600,
                "items": [{"key": "k1", "path": "dir/one", "mode": 0o400}],
            }
        }
    )
    assert files == {"dir/one": File(b"v1", 0o400)}


def test_missing_objects_and_keys() -> None:
    with pytest.raises(VolumeError, match='configmap "nope" not found'):
        render({"configMap": {"name": "nope"}})
    assert render({"configMap": {"name": "nope", "optional": True}}) == {}
    with pytest.raises(VolumeError, match="non-existent config key: zz"):
        render({"configMap": {"name": "cm", "items": [{"key": "zz", "path": "z"}]}})
    with pytest.raises(VolumeError, match='secret "nope" not found'):
        render({"secret": {"secretName": "nope"}})
    with pytest.raises(VolumeError, match="may not contain"):
        render({"configMap": {"name": "cm", "items": [{"key": "k1", "path": "../up"}]}})


def test_secret_decoded() -> None:
    assert render({"secret": {"secretName": "s"}}) == {"token": File(b"t0k")}


def test_downward_api() -> None:
    files = render(
        {
            "downwardAPI": {
                "items": [
                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                    {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}},
                    {"path": "x", "fieldRef": {"fieldPath": "metadata.annotations['x']"}},
                    {
                        "path": "mem",
                        "resourceFieldRef": {
                            "containerName": "c",
                            "resource": "limits.memory",
                            "divisor": "1Mi",
                        },
                    },
                ]
            }
        }
    )
    assert files["labels"].data == b'a="say \\"hi\\""\nb="2"'
    assert files["ns"].data == b"ns"
    assert files["x"].data == b"y"
    assert files["mem"].data == b"1024"


def test_projected_merges_and_skips_tokens() -> None:
    out = render_volume(
        {
            "projected": {
                "defaultMode": 0o440,
                "sources": [
                    {"configMap": {"name": "cm", "items": [{"key": "k1", "path": "k1"}]}},
                    {"secret": {"name": "s"}},
                    {"serviceAccountToken": {"path": "token-sa", "expirationSeconds": 3600}},
                ],
            }
        },
        POD,
        configmaps=lookup,
        secrets=lookup,
        allocatable={},
    )
    assert out is not None
    assert out.files == {"k1": File(b"v1", 0o440), "token": File(b"t0k", 0o440)}
    assert out.skipped == ["token-sa"]


def test_format_map_sorted_without_final_newline() -> None:
    assert format_map({"b": "1", "a": "x"}) == 'a="x"\nb="1"'


def test_writer_layout_and_atomic_update(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert writer.write(str(target), {"a": File(b"1"), "d/b": File(b"2", 0o600)})
    assert os.readlink(target / "a") == "..data/a"
    assert (target / "a").read_bytes() == b"1"
    assert (target / "d" / "b").read_bytes() == b"2"
    assert os.stat(target / "d" / "b").st_mode & 0o777 == 0o600
    first = os.readlink(target / "..data")
    assert not writer.write(str(target), {"a": File(b"1"), "d/b": File(b"2", 0o600)})
    assert writer.write(str(target), {"a": File(b"3")})
    assert os.readlink(target / "..data") != first
    assert (target / "a").read_bytes() == b"3"
    assert not (target / "d").exists()
    assert not (target / first).exists()
