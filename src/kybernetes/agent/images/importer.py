"""Importing image archives into the store: ``docker save`` tarballs and OCI-layout tarballs.

A ``docker save`` archive has ``manifest.json`` (``Config``, ``RepoTags``, ``Layers`` paths);
an OCI-layout archive has ``oci-layout`` and ``index.json`` with blobs under
``blobs/sha256/``, its names in the ``io.containerd.image.name`` or
``org.opencontainers.image.ref.name`` annotations. Docker 25 writes both; ``manifest.json`` is
preferred then. The archive itself may be gzipped, and so may each layer.

Invariants: the same as a pull's (see ``pull.py``): every blob with a known digest is
verified, every layer's diff_id is checked against the config, layers the store already has
are not unpacked again, and the record is committed last, under the store's lock, so an agent
running beside ``kyb image import`` sees the image complete or not at all.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from kybernetes.agent.images.digest import hex_of, sha256_digest, verify
from kybernetes.agent.images.interface import ImageError
from kybernetes.agent.images.manifest import (
    INDEX_TYPES,
    host_platform,
    load_json,
    media_type_of,
    parse_config,
    parse_index,
    parse_manifest,
    select_platform,
)
from kybernetes.agent.images.reference import try_parse
from kybernetes.agent.images.store import ImageRecord, LayerMissing, LayerRecord, Store
from kybernetes.agent.images.unpack import clean_name, unpack_layer

log = logging.getLogger(__name__)

NAME_ANNOTATIONS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")


@dataclass(frozen=True)
class _Found:
    """One image of the archive: its config, layers (member name, blob digest) and names."""

    config: bytes
    layers: Sequence[tuple[str, str | None, int]]  # (member, digest if known, size)
    tags: Sequence[str]
    digests: Sequence[str]
    manifest: bytes | None = None
    manifest_digest: str = ""


def import_archive(store: Store, path: str | Path) -> list[ImageRecord]:
    """Load every image of the archive at ``path`` into ``store``; their records."""
    try:
        tar = tarfile.open(path, "r:*")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as e:
        raise ImageError(f"{path}: not a readable tar archive: {e}") from e
    with tar:
        members = {}
        for m in tar.getmembers():
            name = clean_name(m.name)
            if name is not None:
                members[name] = m
        archive = _Archive(tar, members, str(path))
        if "manifest.json" in members:
            found = archive.docker_images()
        elif "index.json" in members and "oci-layout" in members:
            found = archive.oci_images()
        else:
            raise ImageError(f"{path}: neither a docker-save (manifest.json) nor an OCI layout")
        if not found:
            raise ImageError(f"{path}: no image for platform {host_platform()} in the archive")
        return [archive.store_image(store, image) for image in found]


class _Archive:
    def __init__(
        self, tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], path: str
    ) -> None:
        self.tar = tar
        self.members = members
        self.path = path

    def open(self, name: str) -> IO[bytes]:
        clean = clean_name(name)
        member = self.members.get(clean or "")
        f = self.tar.extractfile(member) if member is not None else None
        if f is None:
            raise ImageError(f"{self.path}: {name!r} is missing from the archive")
        return f

    def read(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()

    def blob_name(self, digest: str) -> str:
        return f"blobs/sha256/{hex_of(digest)}"

    def docker_images(self) -> list[_Found]:
        try:
            doc: Any = orjson.loads(self.read("manifest.json"))
        except orjson.JSONDecodeError as e:
            raise ImageError(f"{self.path}: manifest.json is not valid JSON: {e}") from e
        if not isinstance(doc, list):
            raise ImageError(f"{self.path}: manifest.json is not a list")
        out = []
        for entry in doc:
            config = self.read(str(entry.get("Config", "")))
            layers: list[tuple[str, str | None, int]] = []
            for name in entry.get("Layers") or []:
                member = self.members.get(clean_name(str(name)) or "")
                layers.append((str(name), None, member.size if member is not None else 0))
            tags = [
                r.tagged() for t in entry.get("RepoTags") or [] if (r := try_parse(t)) and r.tag
            ]
            out.append(_Found(config, layers, tags, ()))
        return out

    def oci_images(self) -> list[_Found]:
        index = load_json(self.read("index.json"), "index.json")
        out = []
        want = host_platform()
        for desc in parse_index(index):
            p = desc.platform
            if p is not None and (p.os, p.architecture) != (want.os, want.architecture):
                log.info("import skips image platform=%s digest=%s", p, desc.digest)
                continue
            names = [
                r for key in NAME_ANNOTATIONS
                if (value := (desc.annotations or {}).get(key)) and ("/" in value or ":" in value)
                if (r := try_parse(value)) is not None
            ]  # fmt: skip
            body = self.read(self.blob_name(desc.digest))
            verify(body, desc.digest, "manifest in archive")
            digest = desc.digest
            for _depth in range(3):
                doc = load_json(body, "manifest in archive")
                media_type = media_type_of(doc, desc.media_type)
                if media_type not in INDEX_TYPES:
                    break
                digest = select_platform(parse_index(doc), want).digest
                body = self.read(self.blob_name(digest))
                verify(body, digest, "manifest in archive")
            manifest = parse_manifest(doc, media_type)
            config = self.read(self.blob_name(manifest.config.digest))
            verify(config, manifest.config.digest, "config in archive")
            layers = [(self.blob_name(d.digest), d.digest, d.size) for d in manifest.layers]
            first = names[0] if names else None
            tags = [first.tagged()] if first is not None and first.tag else []
            digests = [f"{first.name}@{desc.digest}"] if first is not None else []
            out.append(_Found(config, layers, tags, digests, body, digest))
        return out

    def store_image(self, store: Store, image: _Found) -> ImageRecord:
        image_id = sha256_digest(image.config)
        config = parse_config(image.config, len(image.layers))
        if image.manifest is not None:
            store.put_blob(image.manifest, image.manifest_digest)
        for _attempt in range(3):
            layers = []
            for (member, digest, size), diff_id in zip(image.layers, config.diff_ids, strict=True):
                layers.append(self._layer(store, member, digest, size, diff_id))
            record = ImageRecord(
                image_id,
                tuple(layers),
                manifest_digest=image.manifest_digest,
                size=len(image.config) + sum(layer.size for layer in layers),
            )
            try:
                stored = store.commit(record, image.tags, image.digests, image.config)
            except LayerMissing:
                continue
            log.info(
                "image imported archive=%s id=%s tags=%s", self.path, image_id, ",".join(image.tags)
            )
            return stored
        raise ImageError(f"{self.path}: layers kept vanishing during the import")

    def _layer(
        self, store: Store, member: str, digest: str | None, size: int, diff_id: str
    ) -> LayerRecord:
        if store.has_layer(diff_id):
            return LayerRecord(diff_id, digest or "", size, 0)
        unpacked = store.tmp_path("layer")
        try:
            with self.open(member) as f:
                result = unpack_layer(f, unpacked, blob_digest=digest, diff_id=diff_id)
            store.publish_layer(unpacked, diff_id)
        finally:
            if unpacked.exists():
                shutil.rmtree(unpacked, ignore_errors=True)
        return LayerRecord(diff_id, result.blob_digest, result.blob_size, result.disk_size)
