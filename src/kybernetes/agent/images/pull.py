"""Pulling an image from a registry into the store: manifest, platform, config, layers.

A pull resolves the reference to a manifest (through an index, for this node's platform),
fetches the config, then every layer the store does not have yet: downloaded to a temporary
file (verified), unpacked into a temporary directory (its diff_id verified), renamed into
place. Only then is the image record committed, with the tag and ``name@digest`` it was pulled
by.

Invariants: concurrent pulls of one reference share one task, and concurrent pulls of images
that share a layer share that layer's download and unpack; a layer is unpacked at most once per
diff_id; a failed or cancelled pull leaves nothing but files in ``tmp/`` (removed as it fails).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from kybernetes.agent.images.interface import AuthConfig, ImageError
from kybernetes.agent.images.manifest import (
    INDEX_TYPES,
    Descriptor,
    Manifest,
    load_json,
    media_type_of,
    parse_config,
    parse_index,
    parse_manifest,
    select_platform,
)
from kybernetes.agent.images.reference import Reference, parse
from kybernetes.agent.images.registry import RegistryClient
from kybernetes.agent.images.store import ImageRecord, LayerMissing, LayerRecord, Store
from kybernetes.agent.images.unpack import unpack_layer

log = logging.getLogger(__name__)

#: Layers downloaded at once per pull (containerd's default is 3 too).
MAX_CONCURRENT_LAYERS = 3


@dataclass
class PullStats:
    """What the last pull of a reference cost (for logs and benchmarks)."""

    manifest_s: float = 0.0
    download_s: float = 0.0
    unpack_s: float = 0.0
    total_s: float = 0.0
    bytes: int = 0
    layers_fetched: int = 0


class Puller:
    def __init__(self, store: Store, client: RegistryClient) -> None:
        self.store = store
        self.client = client
        self._pulls: dict[tuple[str, str], asyncio.Task[ImageRecord]] = {}
        self._layers: dict[str, asyncio.Task[LayerRecord]] = {}
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_LAYERS)
        self.last_stats: dict[str, PullStats] = {}

    async def pull(self, reference: str, auth: AuthConfig | None = None) -> ImageRecord:
        ref = parse(reference)
        key = (str(ref), repr(auth))
        task = self._pulls.get(key)
        if task is None:
            task = asyncio.create_task(self._pull(ref, auth), name=f"pull {ref}")
            self._pulls[key] = task
            task.add_done_callback(lambda _t: self._pulls.pop(key, None))
        # shield: one caller giving up must not cancel the download the others wait for
        return await asyncio.shield(task)

    async def _pull(self, ref: Reference, auth: AuthConfig | None) -> ImageRecord:
        stats = PullStats()
        start = time.monotonic()
        top_body, top_type, top_digest = await self.client.get_manifest(ref, ref.object, auth)
        body, digest, manifest = await self._resolve(ref, top_body, top_type, top_digest, auth)
        if self.store.has_blob(manifest.config.digest):
            config_bytes = self.store.read_blob(manifest.config.digest)
        else:
            config_bytes = await self.client.get_blob_bytes(ref, manifest.config, auth)
        config = parse_config(config_bytes, len(manifest.layers))
        stats.manifest_s = time.monotonic() - start
        await asyncio.to_thread(self.store.put_blob, body, digest)
        tags = [ref.tagged()] if ref.tag else []
        record: ImageRecord | None = None
        for _attempt in range(3):
            layers = await asyncio.gather(
                *(
                    self._layer(ref, desc, diff_id, auth, stats)
                    for desc, diff_id in zip(manifest.layers, config.diff_ids, strict=True)
                )
            )
            size = manifest.config.size + sum(d.size for d in manifest.layers)
            candidate = ImageRecord(
                manifest.config.digest, tuple(layers), manifest_digest=digest, size=size
            )
            try:
                record = await asyncio.to_thread(
                    self.store.commit,
                    candidate,
                    tags,
                    [f"{ref.name}@{top_digest}"],
                    config_bytes,
                )
                break
            except LayerMissing as e:  # removed by a concurrent rm or GC: fetch it again
                log.info("pull retried ref=%s reason=%s", ref, e)
        if record is None:
            raise ImageError(f"{ref}: layers kept vanishing during the pull")
        stats.total_s = time.monotonic() - start
        self.last_stats[str(ref)] = stats
        log.info(
            "image pulled ref=%s id=%s layers=%d fetched=%d bytes=%d manifest_ms=%.1f "
            "download_ms=%.1f unpack_ms=%.1f total_ms=%.1f",
            ref, record.id, len(record.layers), stats.layers_fetched, stats.bytes,
            stats.manifest_s * 1e3, stats.download_s * 1e3, stats.unpack_s * 1e3,
            stats.total_s * 1e3,
        )  # fmt: skip
        return record

    async def _resolve(
        self, ref: Reference, body: bytes, content_type: str, digest: str, auth: AuthConfig | None
    ) -> tuple[bytes, str, Manifest]:
        """Follow an index to this platform's manifest; (body, digest, parsed manifest)."""
        for _depth in range(3):
            doc = load_json(body, f"manifest of {ref}")
            media_type = media_type_of(doc, content_type)
            if media_type not in INDEX_TYPES:
                return body, digest, parse_manifest(doc, media_type)
            entry = select_platform(parse_index(doc))
            body, content_type, digest = await self.client.get_manifest(ref, entry.digest, auth)
        raise ImageError(f"{ref}: indexes nested too deeply")

    async def _layer(
        self,
        ref: Reference,
        desc: Descriptor,
        diff_id: str,
        auth: AuthConfig | None,
        stats: PullStats,
    ) -> LayerRecord:
        if self.store.has_layer(diff_id):
            return self._known_layer(desc, diff_id)
        task = self._layers.get(diff_id)
        if task is None:
            task = asyncio.create_task(self._fetch_layer(ref, desc, diff_id, auth, stats))
            self._layers[diff_id] = task
            task.add_done_callback(lambda _t: self._layers.pop(diff_id, None))
        return await asyncio.shield(task)

    def _known_layer(self, desc: Descriptor, diff_id: str) -> LayerRecord:
        for record in self.store.records().values():
            for layer in record.layers:
                if layer.diff_id == diff_id:
                    return LayerRecord(diff_id, desc.digest, desc.size, layer.disk)
        return LayerRecord(diff_id, desc.digest, desc.size, 0)

    async def _fetch_layer(
        self,
        ref: Reference,
        desc: Descriptor,
        diff_id: str,
        auth: AuthConfig | None,
        stats: PullStats,
    ) -> LayerRecord:
        blob = self.store.tmp_path("blob")
        unpacked = self.store.tmp_path("layer")
        try:
            async with self._slots:
                started = time.monotonic()
                await self.client.download_blob(ref, desc, blob, auth)
                stats.download_s += time.monotonic() - started
            started = time.monotonic()
            disk = await asyncio.to_thread(self._unpack, blob, unpacked, diff_id)
            stats.unpack_s += time.monotonic() - started
            stats.bytes += desc.size
            stats.layers_fetched += 1
            return LayerRecord(diff_id, desc.digest, desc.size, disk)
        finally:
            with contextlib.suppress(FileNotFoundError):
                blob.unlink()
            if unpacked.exists():
                await asyncio.to_thread(shutil.rmtree, unpacked, True)

    def _unpack(self, blob: Path, unpacked: Path, diff_id: str) -> int:
        with open(blob, "rb") as f:
            result = unpack_layer(f, unpacked, blob_digest=None, diff_id=diff_id)
        self.store.publish_layer(unpacked, diff_id)
        return result.disk_size
