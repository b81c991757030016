"""Manifest and index parsing, platform selection, config parsing."""

from __future__ import annotations

import orjson
import pytest

from kybernetes.agent.images.interface import ImageError
from kybernetes.agent.images.manifest import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_SCHEMA1,
    OCI_INDEX,
    OCI_MANIFEST,
    Platform,
    media_type_of,
    parse_config,
    parse_index,
    parse_manifest,
    select_platform,
)


def _digest(n: int) -> str:
    return f"sha256:{n:064x}"


def _entry(n: int, arch: str, os: str = "linux", variant: str = "") -> dict[str, object]:
    platform = {"os": os, "architecture": arch}
    if variant:
        platform["variant"] = variant
    return {"mediaType": OCI_MANIFEST, "digest": _digest(n), "size": 100, "platform": platform}


INDEX = {
    "schemaVersion": 2,
    "mediaType": OCI_INDEX,
    "manifests": [
        _entry(1, "arm", variant="v7"),
        _entry(2, "arm64", variant="v8"),
        _entry(3, "amd64"),
        _entry(4, "unknown", os="unknown"),  # an attestation manifest
        _entry(5, "arm64"),
    ],
}


def test_selects_linux_amd64() -> None:
    assert select_platform(parse_index(INDEX), Platform("linux", "amd64")).digest == _digest(3)


def test_selects_arm64_variant_first() -> None:
    want = Platform("linux", "arm64", "v8")
    assert select_platform(parse_index(INDEX), want).digest == _digest(2)


def test_entry_without_variant_beats_other_variant() -> None:
    entries = parse_index({"manifests": [_entry(1, "arm", variant="v6"), _entry(2, "arm")]})
    assert select_platform(entries, Platform("linux", "arm", "v7")).digest == _digest(2)


def test_no_match_names_what_the_index_has() -> None:
    entries = parse_index({"manifests": [_entry(1, "arm64")]})
    with pytest.raises(ImageError, match="linux/arm64"):
        select_platform(entries, Platform("linux", "amd64"))


def test_media_type_from_document_header_or_shape() -> None:
    assert media_type_of({"mediaType": DOCKER_MANIFEST_LIST}) == DOCKER_MANIFEST_LIST
    assert media_type_of({}, f"{DOCKER_MANIFEST}; charset=utf-8") == DOCKER_MANIFEST
    assert media_type_of({"manifests": []}, "application/json") == OCI_INDEX
    assert media_type_of({"config": {}, "layers": []}) == OCI_MANIFEST
    assert media_type_of({"schemaVersion": 1}) == DOCKER_SCHEMA1[0]


def test_manifest_parsed() -> None:
    doc = {
        "schemaVersion": 2,
        "config": {"mediaType": "x", "digest": _digest(9), "size": 3},
        "layers": [{"mediaType": "y", "digest": _digest(10), "size": 30}],
    }
    manifest = parse_manifest(doc, DOCKER_MANIFEST)
    assert manifest.config.digest == _digest(9)
    assert [layer.size for layer in manifest.layers] == [30]


def test_schema1_refused() -> None:
    with pytest.raises(ImageError, match="schema 1"):
        parse_manifest({"schemaVersion": 1}, DOCKER_SCHEMA1[1])


def test_bad_digest_refused() -> None:
    doc = {"config": {"digest": "sha256:xyz", "size": 1}, "layers": []}
    with pytest.raises(ImageError, match="digest"):
        parse_manifest(doc, OCI_MANIFEST)


def test_config_parsed() -> None:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["echo hi"],
            "Env": ["A=1"],
            "WorkingDir": "/w",
            "User": "1000:1000",
        },
        "rootfs": {"type": "layers", "diff_ids": [_digest(1), _digest(2)]},
    }
    parsed = parse_config(orjson.dumps(config), 2)
    assert parsed.image.entrypoint == ("/bin/sh", "-c")
    assert parsed.image.cmd == ("echo hi",)
    assert parsed.image.env == ("A=1",)
    assert parsed.image.working_dir == "/w"
    assert parsed.image.user == "1000:1000"
    assert parsed.diff_ids == (_digest(1), _digest(2))
    with pytest.raises(ImageError, match="2 diff_ids"):
        parse_config(orjson.dumps(config), 3)


def test_config_with_null_fields() -> None:
    config = {"config": {"Entrypoint": None, "Cmd": None}, "rootfs": {"diff_ids": []}}
    parsed = parse_config(orjson.dumps(config))
    assert parsed.image.entrypoint == ()
    assert parsed.image.cmd == ()
