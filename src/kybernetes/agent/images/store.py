"""The node's content-addressed image store on disk, shared by the agent and ``kyb image``.

Layout under the data dir::

    lock                      flock(2) held while the index is changed or layers are removed
    index.json                every image record (id, tags, digests, layers), replaced atomically
    blobs/sha256/<hex>        manifests, indexes and configs, named by their digest
    layers/sha256/<hex>/      one unpacked layer per diff_id (uncompressed digest), for overlayfs
    layers/empty/             the lower dir of an image without layers
    tmp/<pid>.<random>...     work in progress of one process; published by rename(2)

Invariants: a file under ``blobs/`` or ``layers/`` is complete and verified, because it appears
only by an atomic rename after its digest was checked; a record is written to the index only
while every layer it names exists (checked under the lock); a layer is removed only when no
record names it and no mounted overlay uses it. Readers never lock: they reload ``index.json``
when its inode changes, so an import by another process is seen by a running agent.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from kybernetes.agent.images.digest import hex_of, verify
from kybernetes.agent.images.interface import Image, ImageConfig, ImageError, ImageNotFound
from kybernetes.agent.images.manifest import parse_config
from kybernetes.agent.images.overlay import mounted_lowerdirs
from kybernetes.agent.images.reference import is_digest, try_parse
from kybernetes.util.pki import write_file_atomic

log = logging.getLogger(__name__)

INDEX_VERSION = 1
#: An unreferenced layer younger than this may belong to a pull that has not committed yet.
ORPHAN_GRACE_S = 3600.0


class LayerMissing(ImageError):
    """A record was to be committed but one of its layers vanished (removed concurrently)."""


@dataclass(frozen=True)
class LayerRecord:
    diff_id: str
    digest: str = ""  # the blob it came from (compressed digest); empty when unknown
    size: int = 0  # the blob's size
    disk: int = 0  # estimated bytes unpacked


@dataclass(frozen=True)
class ImageRecord:
    id: str  # sha256 of the config
    layers: tuple[LayerRecord, ...]
    repo_tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()
    manifest_digest: str = ""
    size: int = 0
    created: float = field(default_factory=time.time)

    def to_image(self, config: ImageConfig) -> Image:
        return Image(self.id, self.repo_tags, self.repo_digests, self.size, config)

    @property
    def disk(self) -> int:
        return sum(layer.disk for layer in self.layers)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(raw: dict[str, Any]) -> ImageRecord:
        return ImageRecord(
            id=raw["id"],
            layers=tuple(LayerRecord(**layer) for layer in raw["layers"]),
            repo_tags=tuple(raw.get("repo_tags", ())),
            repo_digests=tuple(raw.get("repo_digests", ())),
            manifest_digest=raw.get("manifest_digest", ""),
            size=raw.get("size", 0),
            created=raw.get("created", 0.0),
        )


class Store:
    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.root = Path(data_dir).absolute()
        self.blobs = self.root / "blobs" / "sha256"
        self.layers = self.root / "layers" / "sha256"
        self.empty_layer = self.root / "layers" / "empty"
        self.tmp = self.root / "tmp"
        self.index_path = self.root / "index.json"
        for d in (self.blobs, self.layers, self.empty_layer, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        self._index_stat: tuple[int, int, int] | None = None
        self._records: dict[str, ImageRecord] = {}
        self._configs: dict[str, ImageConfig] = {}
        self._clean_tmp()

    # -- reading -----------------------------------------------------------------------------

    def records(self) -> dict[str, ImageRecord]:
        """All images by id, reloaded when another process replaced the index."""
        try:
            st = os.stat(self.index_path)
        except FileNotFoundError:
            self._records, self._index_stat = {}, None
            return self._records
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._index_stat:
            self._records = self._read_index()
            self._index_stat = key
        return self._records

    def resolve(self, reference: str) -> ImageRecord | None:
        """The image ``reference`` names: a tag, ``name@digest``, an id or a unique id prefix."""
        records = self.records()
        text = reference.strip()
        hexpart = text.removeprefix("sha256:")
        if is_digest("sha256:" + hexpart) and "sha256:" + hexpart in records:
            return records["sha256:" + hexpart]
        ref = try_parse(text)
        if ref is not None:
            for record in records.values():
                if (ref.digest and ref.digested() in record.repo_digests) or (
                    not ref.digest and ref.tagged() in record.repo_tags
                ):
                    return record
        if len(hexpart) >= 4 and all(c in "0123456789abcdef" for c in hexpart):
            matches = [r for i, r in records.items() if hex_of(i).startswith(hexpart)]
            if len(matches) == 1:
                return matches[0]
        return None

    def get(self, reference: str) -> ImageRecord:
        record = self.resolve(reference)
        if record is None:
            raise ImageNotFound(f"image {reference!r} not found")
        return record

    def config(self, image_id: str) -> ImageConfig:
        cached = self._configs.get(image_id)
        if cached is None:
            cached = parse_config(self.read_blob(image_id)).image
            self._configs[image_id] = cached
        return cached

    def image(self, record: ImageRecord) -> Image:
        return record.to_image(self.config(record.id))

    def has_layer(self, diff_id: str) -> bool:
        return self.layer_path(diff_id).is_dir()

    def layer_path(self, diff_id: str) -> Path:
        return self.layers / hex_of(diff_id)

    def has_blob(self, digest: str) -> bool:
        return (self.blobs / hex_of(digest)).is_file()

    def read_blob(self, digest: str) -> bytes:
        try:
            return (self.blobs / hex_of(digest)).read_bytes()
        except FileNotFoundError:
            raise ImageError(f"blob {digest} is missing from the store") from None

    # -- writing -----------------------------------------------------------------------------

    def put_blob(self, data: bytes, digest: str) -> None:
        """Store a small blob (manifest, config) after checking its digest."""
        verify(data, digest, "blob")
        path = self.blobs / hex_of(digest)
        if not path.exists():
            write_file_atomic(path, data, mode=0o644)

    def tmp_path(self, suffix: str) -> Path:
        """A fresh name in this process's part of ``tmp/`` (nothing is created)."""
        return self.tmp / f"{os.getpid()}.{secrets.token_hex(6)}.{suffix}"

    def publish_layer(self, unpacked: Path, diff_id: str) -> None:
        """Move a verified, unpacked layer into place; a copy already there wins."""
        target = self.layer_path(diff_id)
        try:
            os.rename(unpacked, target)
        except OSError:
            if not target.is_dir():
                raise
            shutil.rmtree(unpacked, ignore_errors=True)

    def commit(
        self,
        record: ImageRecord,
        tags: Sequence[str] = (),
        digests: Sequence[str] = (),
        config: bytes | None = None,
    ) -> ImageRecord:
        """Add or update an image: its tags move here from any image that had them."""
        if config is not None:
            self.put_blob(config, record.id)
        with self.locked():
            records = dict(self.records())
            for layer in record.layers:
                if not self.has_layer(layer.diff_id):
                    raise LayerMissing(f"layer {layer.diff_id} vanished before the commit")
            old = records.get(record.id)
            new_tags = [*(old.repo_tags if old else ()), *tags]
            new_digests = [*(old.repo_digests if old else ()), *digests]
            merged = replace(
                record,
                repo_tags=tuple(dict.fromkeys(new_tags)),
                repo_digests=tuple(dict.fromkeys(new_digests)),
                created=old.created if old else record.created,
            )
            for other_id, other in list(records.items()):
                if other_id != record.id and set(tags) & set(other.repo_tags):
                    records[other_id] = replace(
                        other, repo_tags=tuple(t for t in other.repo_tags if t not in tags)
                    )
            records[record.id] = merged
            self._write_index(records)
        log.info(
            "image stored id=%s tags=%s layers=%d", merged.id, ",".join(tags), len(merged.layers)
        )
        return merged

    def remove(self, image_id: str) -> list[str]:
        """Forget an image and delete what only it used; returns the layers removed."""
        with self.locked():
            records = dict(self.records())
            record = records.pop(image_id, None)
            if record is None:
                raise ImageNotFound(f"image {image_id} not found")
            self._write_index(records)
            candidates = {layer.diff_id for layer in record.layers}
            removed = self._remove_layers(candidates, records)
            self._remove_blobs({record.id, record.manifest_digest}, records)
        log.info("image removed id=%s layers_removed=%d", image_id, len(removed))
        return removed

    def untag(self, image_id: str, tag: str) -> None:
        with self.locked():
            records = dict(self.records())
            record = records[image_id]
            records[image_id] = replace(
                record, repo_tags=tuple(t for t in record.repo_tags if t != tag)
            )
            self._write_index(records)

    def sweep(self, grace_s: float = ORPHAN_GRACE_S) -> list[str]:
        """Remove layers and blobs no image names (left by crashes or concurrent removals)."""
        now = time.time()
        with self.locked():
            records = self.records()
            candidates = set()
            for entry in os.scandir(self.layers):
                if now - entry.stat(follow_symlinks=False).st_ctime >= grace_s:
                    candidates.add("sha256:" + entry.name)
            removed = self._remove_layers(candidates, records)
            self._remove_blobs(
                {"sha256:" + e.name for e in os.scandir(self.blobs)}, records, now - grace_s
            )
        return removed

    def disk_usage(self) -> tuple[int, int]:
        """(capacity, available) bytes of the filesystem holding the store."""
        st = os.statvfs(self.root)
        return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- internals ---------------------------------------------------------------------------

    def _read_index(self) -> dict[str, ImageRecord]:
        try:
            raw = orjson.loads(self.index_path.read_bytes())
        except FileNotFoundError:
            return {}
        except orjson.JSONDecodeError as e:
            raise ImageError(f"image index {self.index_path} is corrupt: {e}") from e
        if raw.get("version") != INDEX_VERSION:
            raise ImageError(f"image index version {raw.get('version')!r} is not supported")
        return {i: ImageRecord.from_json(r) for i, r in raw.get("images", {}).items()}

    def _write_index(self, records: dict[str, ImageRecord]) -> None:
        doc = {"version": INDEX_VERSION, "images": {i: r.to_json() for i, r in records.items()}}
        write_file_atomic(self.index_path, orjson.dumps(doc, option=orjson.OPT_INDENT_2), 0o644)
        self._records = records
        st = os.stat(self.index_path)
        self._index_stat = (st.st_ino, st.st_mtime_ns, st.st_size)

    def _remove_layers(self, candidates: set[str], records: dict[str, ImageRecord]) -> list[str]:
        used = {layer.diff_id for r in records.values() for layer in r.layers}
        mounted = mounted_lowerdirs()
        removed = []
        for diff_id in sorted(candidates - used):
            path = self.layer_path(diff_id)
            if str(path) in mounted:
                log.info("layer kept, still mounted diff_id=%s", diff_id)
                continue
            trash = self.tmp_path("trash")
            try:
                os.rename(path, trash)
            except FileNotFoundError:
                continue
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(diff_id)
        return removed

    def _remove_blobs(
        self, candidates: set[str], records: dict[str, ImageRecord], before: float | None = None
    ) -> None:
        used = {r.id for r in records.values()} | {r.manifest_digest for r in records.values()}
        for digest in candidates - used:
            if not digest:
                continue
            path = self.blobs / hex_of(digest)
            with contextlib.suppress(FileNotFoundError):
                if before is None or path.stat().st_mtime < before:
                    path.unlink()

    def _clean_tmp(self) -> None:
        """Remove work left by processes that are gone (a crash mid-pull, a killed import)."""
        for entry in os.scandir(self.tmp):
            pid = entry.name.split(".", 1)[0]
            if pid.isdigit() and _alive(int(pid)):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
