"""Manifests, indexes and image configs: the JSON documents of the OCI and Docker v2 formats.

Both families are accepted: Docker v2 schema 2 (manifest and manifest list) and OCI (manifest
and index). An index is resolved to the one manifest for this node's platform
(``linux/<arch>``, the variant preferred when one is given); Docker schema 1 is refused.

Invariant: a parsed :class:`Manifest` has exactly as many layers as its config has ``diff_ids``
(checked in :func:`parse_config`) and every descriptor carries a well-formed sha256 digest, so
nothing downstream has to re-check shapes.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from kybernetes.agent.images.interface import ImageConfig, ImageError
from kybernetes.agent.images.reference import is_digest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
#: What the client accepts from a registry's manifests endpoint, best first.
ACCEPT = ", ".join((OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
#: Largest manifest or config accepted (containerd's limit is 4 MiB too).
MAX_DOCUMENT_BYTES = 4 << 20

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    def __str__(self) -> str:
        out = f"{self.os}/{self.architecture}"
        return f"{out}/{self.variant}" if self.variant else out


def host_platform() -> Platform:
    machine = platform.machine().lower()
    return Platform("linux", _ARCH.get(machine, machine), "v8" if machine == "aarch64" else "")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: Sequence[Descriptor]


@dataclass(frozen=True)
class Config:
    """What the store keeps from an image config: runtime settings and layer diff ids."""

    image: ImageConfig
    diff_ids: Sequence[str]
    os: str
    architecture: str


def media_type_of(document: Mapping[str, Any], header: str = "") -> str:
    """The document's media type: its own field, else the HTTP header, else by its shape."""
    mt = document.get("mediaType") or ""
    if isinstance(mt, str) and mt:
        return mt
    header = header.split(";")[0].strip()
    if header and header not in ("application/json", "application/octet-stream", "text/plain"):
        return header
    if document.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1[0]
    if "manifests" in document:
        return OCI_INDEX
    if "config" in document and "layers" in document:
        return OCI_MANIFEST
    return ""


def load_json(data: bytes, what: str) -> dict[str, Any]:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ImageError(f"{what} is too large ({len(data)} bytes)")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ImageError(f"{what} is not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ImageError(f"{what} is not a JSON object")
    return doc


def descriptor(raw: Any, what: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise ImageError(f"{what}: descriptor is not an object")
    digest, size = raw.get("digest"), raw.get("size")
    if not isinstance(digest, str) or not is_digest(digest):
        raise ImageError(f"{what}: unsupported or malformed digest {digest!r}")
    if not isinstance(size, int) or size < 0:
        raise ImageError(f"{what}: bad size {size!r}")
    plat = raw.get("platform")
    parsed_platform = None
    if isinstance(plat, dict):
        parsed_platform = Platform(
            str(plat.get("os", "")), str(plat.get("architecture", "")), str(plat.get("variant", ""))
        )
    annotations = raw.get("annotations")
    return Descriptor(
        str(raw.get("mediaType", "")),
        digest,
        size,
        parsed_platform,
        annotations if isinstance(annotations, dict) else None,
    )


def parse_index(doc: Mapping[str, Any]) -> list[Descriptor]:
    manifests = doc.get("manifests")
    if not isinstance(manifests, list):
        raise ImageError("index has no manifests list")
    return [descriptor(m, f"index entry {i}") for i, m in enumerate(manifests)]


def select_platform(entries: Sequence[Descriptor], want: Platform | None = None) -> Descriptor:
    """The entry of an index for ``want`` (the host's platform by default).

    An exact variant match wins over an entry without a variant, which wins over another variant
    (arm64 images are often published without ``v8``). Attestation manifests (``unknown/unknown``)
    never match.
    """
    want = want or host_platform()
    best: tuple[int, Descriptor] | None = None
    for entry in entries:
        p = entry.platform
        if p is None or p.os != want.os or p.architecture != want.architecture:
            continue
        score = 2 if p.variant == want.variant else 1 if not p.variant else 0
        if best is None or score > best[0]:
            best = (score, entry)
    if best is None:
        have = ", ".join(str(e.platform) for e in entries if e.platform) or "none"
        raise ImageError(f"no manifest for platform {want} (index has: {have})")
    return best[1]


def parse_manifest(doc: Mapping[str, Any], media_type: str) -> Manifest:
    if media_type in DOCKER_SCHEMA1:
        raise ImageError("Docker schema 1 manifests are not supported (push the image again)")
    if media_type not in MANIFEST_TYPES:
        raise ImageError(f"unsupported manifest media type {media_type!r}")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ImageError("manifest has no layers list")
    return Manifest(
        media_type,
        descriptor(doc.get("config"), "manifest config"),
        [descriptor(layer, f"manifest layer {i}") for i, layer in enumerate(layers)],
    )


def parse_config(data: bytes, layer_count: int | None = None) -> Config:
    doc = load_json(data, "image config")
    cfg = doc.get("config") or {}
    if not isinstance(cfg, dict):
        cfg = {}
    rootfs = doc.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(
        isinstance(d, str) and is_digest(d) for d in diff_ids
    ):
        raise ImageError("image config has no valid rootfs.diff_ids")
    if layer_count is not None and layer_count != len(diff_ids):
        raise ImageError(
            f"manifest has {layer_count} layers but the config {len(diff_ids)} diff_ids"
        )
    image = ImageConfig(
        entrypoint=tuple(_strings(cfg.get("Entrypoint"))),
        cmd=tuple(_strings(cfg.get("Cmd"))),
        env=tuple(_strings(cfg.get("Env"))),
        working_dir=str(cfg.get("WorkingDir") or ""),
        user=str(cfg.get("User") or ""),
    )
    return Config(image, tuple(diff_ids), str(doc.get("os", "")), str(doc.get("architecture", "")))


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return []
