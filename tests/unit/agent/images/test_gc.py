"""Image GC: thresholds, least recently used first, in-use images never removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from kybernetes.agent.images.gc import GCPolicy, ImageGC
from kybernetes.agent.images.importer import import_archive
from kybernetes.agent.images.store import ImageRecord, Store
from kybernetes.testing.images import TestImage, layer_from_files
from kybernetes.util.clock import FakeClock


def _images(store: Store, tmp_path: Path, n: int) -> list[ImageRecord]:
    out = []
    for i in range(n):
        image = TestImage([layer_from_files({f"f{i}": "x" * 1000})])
        [record] = import_archive(store, image.write_docker_save(tmp_path / f"{i}.tar", [f"a{i}"]))
        out.append(record)
    return out


class Disk:
    """A fake filesystem: 100 kB, of which ``used`` bytes are in use."""

    def __init__(self, used: int) -> None:
        self.used = used

    def __call__(self) -> tuple[int, int]:
        return 100_000, 100_000 - self.used


def test_below_high_threshold_nothing_happens(tmp_path: Path) -> None:
    store = Store(tmp_path / "images")
    _images(store, tmp_path, 2)
    clock = FakeClock(start=store.records()[next(iter(store.records()))].created + 1000)
    gc = ImageGC(store, set, usage=Disk(84_000), clock=clock)
    result = gc.collect()
    assert result.removed == []
    assert result.usage_percent == pytest.approx(84.0)
    assert len(store.records()) == 2


def test_frees_down_to_low_threshold_oldest_first_sparing_in_use(tmp_path: Path) -> None:
    store = Store(tmp_path / "images")
    records = _images(store, tmp_path, 4)
    clock = FakeClock(start=max(r.created for r in records) + 1000)
    last_used = {r.id: clock.now() - 100 * (4 - i) for i, r in enumerate(records)}
    in_use = {records[0].id}  # the oldest, but a container runs it
    disk = Disk(86_000)  # must free 6 kB: two images of ~3.5 kB each (1 kB file + tar entries)
    gc = ImageGC(store, lambda: in_use, usage=disk, clock=clock, last_used=last_used)
    result = gc.collect()
    assert result.removed == [records[1].id, records[2].id]
    assert result.freed_bytes >= 2000
    assert set(store.records()) == {records[0].id, records[3].id}


def test_young_images_spared(tmp_path: Path) -> None:
    store = Store(tmp_path / "images")
    records = _images(store, tmp_path, 2)
    clock = FakeClock(start=max(r.created for r in records) + 10)  # younger than 2 minutes
    gc = ImageGC(store, set, usage=Disk(99_000), clock=clock)
    assert gc.collect().removed == []
    clock.advance(200)
    assert len(gc.collect().removed) == 2


def test_prune_ignores_usage(tmp_path: Path) -> None:
    store = Store(tmp_path / "images")
    records = _images(store, tmp_path, 3)
    gc = ImageGC(store, lambda: {records[2].id}, GCPolicy(min_age_s=0), usage=Disk(0))
    assert sorted(gc.prune().removed) == sorted(r.id for r in records[:2])


def test_thresholds_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="thresholds"):
        ImageGC(Store(tmp_path), set, GCPolicy(high_percent=70, low_percent=80))
