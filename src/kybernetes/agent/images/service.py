"""``LocalImageService``: the node's :class:`ImageService` over the on-disk store.

It pulls (``pull.py``), imports archives (``importer.py``), answers status and list queries
from the store, removes images, collects garbage (``gc.py``) and gives each container its
rootfs: ``<container_dir>/rootfs`` is an overlay of the image's layers (top first) with
``<container_dir>/upper`` and ``<container_dir>/work`` beside it. Blocking work (unpacking,
mount(2), the index's fsync) runs in threads so the agent's loop keeps serving.

Invariants: a prepared rootfs is private to its container (its own upper and work dirs) and
``prepare_rootfs`` is idempotent (an agent restarted over a mounted rootfs gets the same path);
after ``release_rootfs`` nothing of the container's rootfs is mounted or left on disk.
Pull policy (Always, IfNotPresent, Never) is the agent's: this service pulls when asked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from kybernetes.agent.images.gc import GCPolicy, GCResult, ImageGC
from kybernetes.agent.images.importer import import_archive
from kybernetes.agent.images.interface import (
    AuthConfig,
    Image,
    ImageConfig,
    ImageError,
    ImageService,
)
from kybernetes.agent.images.overlay import is_mounted, mount_overlay, unmount
from kybernetes.agent.images.pull import Puller
from kybernetes.agent.images.registry import RegistryClient, RegistryConfig
from kybernetes.agent.images.store import ImageRecord, Store
from kybernetes.util.clock import Clock

log = logging.getLogger(__name__)

ROOTFS = "rootfs"
UPPER = "upper"
WORK = "work"


class LocalImageService:
    """Images for one node, stored under ``data_dir`` (``<agent data dir>/images``)."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        registry: RegistryConfig | None = None,
        *,
        client: RegistryClient | None = None,
    ) -> None:
        self.store = Store(data_dir)
        self.client = client or RegistryClient(registry)
        self.puller = Puller(self.store, self.client)
        #: image id -> when a container last got a rootfs of it (GC evicts the oldest first)
        self.last_used: dict[str, float] = {}

    async def close(self) -> None:
        await self.client.close()

    async def __aenter__(self) -> LocalImageService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- ImageService --------------------------------------------------------------------------

    async def pull_image(self, reference: str, auth: AuthConfig | None = None) -> Image:
        record = await self.puller.pull(reference, auth)
        self.last_used[record.id] = time.time()
        return await asyncio.to_thread(self.store.image, record)

    async def image_status(self, reference: str) -> Image | None:
        record = self.store.resolve(reference)
        if record is None:
            return None
        return await asyncio.to_thread(self.store.image, record)

    async def list_images(self) -> list[Image]:
        records = sorted(self.store.records().values(), key=lambda r: (r.repo_tags, r.id))
        return await asyncio.to_thread(lambda: [self.store.image(r) for r in records])

    async def remove_image(self, reference: str) -> None:
        """Remove the image ``reference`` names (all its tags); a missing image is not an error."""
        record = self.store.resolve(reference)
        if record is None:
            return
        await asyncio.to_thread(self.store.remove, record.id)
        self.last_used.pop(record.id, None)

    async def prepare_rootfs(self, image: str, container_dir: str) -> str:
        record = self.store.resolve(image)
        if record is None:
            raise ImageError(f"image {image!r} is not present on this node")
        self.last_used[record.id] = time.time()
        return await asyncio.to_thread(self._prepare, record, Path(container_dir))

    async def release_rootfs(self, container_dir: str) -> None:
        await asyncio.to_thread(self._release, Path(container_dir))

    # -- beyond the protocol -------------------------------------------------------------------

    async def image_config(self, reference: str) -> ImageConfig:
        record = self.store.get(reference)
        return await asyncio.to_thread(self.store.config, record.id)

    async def import_archive(self, path: str | os.PathLike[str]) -> list[Image]:
        def work() -> list[Image]:
            return [self.store.image(r) for r in import_archive(self.store, Path(path))]

        return await asyncio.to_thread(work)

    def garbage_collector(
        self,
        in_use: Callable[[], Collection[str]],
        policy: GCPolicy | None = None,
        *,
        usage: Callable[[], tuple[int, int]] | None = None,
        clock: Clock | None = None,
    ) -> ImageGC:
        """An :class:`ImageGC` over this store (``await gc.run()`` in the agent's task group)."""
        return ImageGC(
            self.store, in_use, policy, usage=usage, clock=clock, last_used=self.last_used
        )

    async def garbage_collect(self, in_use: Callable[[], Collection[str]]) -> GCResult:
        return await asyncio.to_thread(self.garbage_collector(in_use).collect)

    # -- rootfs ----------------------------------------------------------------------------------

    def _prepare(self, record: ImageRecord, container_dir: Path) -> str:
        rootfs = container_dir / ROOTFS
        if is_mounted(rootfs):
            return str(rootfs)
        lowers: list[Path] = []
        for layer in reversed(record.layers):  # overlayfs wants the top layer first
            path = self.store.layer_path(layer.diff_id)
            if not path.is_dir():
                raise ImageError(f"image {record.id}: layer {layer.diff_id} is missing")
            if path not in lowers:  # a repeated layer adds nothing below its top copy
                lowers.append(path)
        if not lowers:
            lowers.append(self.store.empty_layer)
        for d in (rootfs, container_dir / UPPER, container_dir / WORK):
            d.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        mount_overlay(lowers, container_dir / UPPER, container_dir / WORK, rootfs)
        log.info(
            "rootfs prepared image=%s path=%s layers=%d mount_ms=%.1f",
            record.id, rootfs, len(lowers), (time.monotonic() - started) * 1e3,
        )  # fmt: skip
        return str(rootfs)

    def _release(self, container_dir: Path) -> None:
        rootfs = container_dir / ROOTFS
        if rootfs.exists():
            unmount(rootfs)
            if is_mounted(rootfs):  # stacked mounts: never delete through a live overlay
                raise ImageError(f"rootfs {rootfs} is still mounted")
            shutil.rmtree(rootfs, ignore_errors=True)
        for name in (UPPER, WORK):
            shutil.rmtree(container_dir / name, ignore_errors=True)
        log.info("rootfs released path=%s", rootfs)


if TYPE_CHECKING:  # mypy proves the class implements the protocol the agent depends on

    def _implements(service: LocalImageService) -> ImageService:
        return service
