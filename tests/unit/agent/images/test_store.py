"""The on-disk store: records, lookups, tags that move, removal, reloading, commands."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kybernetes.agent.images.commands import (
    format_table,
    human_size,
    import_image,
    list_rows,
    prune,
    remove_images,
)
from kybernetes.agent.images.importer import import_archive
from kybernetes.agent.images.interface import ImageError, ImageNotFound
from kybernetes.agent.images.store import ImageRecord, LayerMissing, LayerRecord, Store
from kybernetes.testing.images import TestImage, layer_from_files

BASE = layer_from_files({"etc/os-release": "ID=test\n", "bin/": b""})


def _image(tag_file: str, **kw: object) -> TestImage:
    return TestImage([BASE, layer_from_files({tag_file: tag_file})], **kw)  # type: ignore[arg-type]


def _load(store: Store, image: TestImage, tmp_path: Path, name: str) -> ImageRecord:
    archive = image.write_oci(tmp_path / f"{image.id[7:19]}.tar", name)
    [record] = import_archive(store, archive)
    return record


def test_lookup_by_tag_digest_id_and_prefix(tmp_path: Path) -> None:
    store = Store(tmp_path / "images")
    image = _image("a")
    record = _load(store, image, tmp_path, "localhost:5000/app:1")
    assert record.id == image.id
    assert record.repo_tags == ("localhost:5000/app:1",)
    assert store.resolve("localhost:5000/app:1") == record
    assert record.repo_digests == (f"localhost:5000/app@{image.manifest_digest}",)
    assert store.resolve(record.repo_digests[0]) == record
    assert store.resolve(image.id) == record
    assert store.resolve(image.id[7:]) == record
    assert store.resolve(image.id[7:20]) == record
    assert store.resolve("localhost:5000/app:2") is None
    assert store.config(record.id).cmd == ("sh",)


def test_tag_moves_to_the_newer_image(tmp_path: Path) -> None:
    store = Store(tmp_path / "images")
    old = _load(store, _image("a"), tmp_path, "docker.io/library/app:latest")
    new = _load(store, _image("b"), tmp_path, "docker.io/library/app:latest")
    assert store.resolve("app") == store.records()[new.id]
    assert store.records()[old.id].repo_tags == ()


def test_shared_layers_stored_once_and_removed_last(tmp_path: Path) -> None:
    store = Store(tmp_path / "images")
    a = _load(store, _image("a"), tmp_path, "x/a:1")
    b = _load(store, _image("b"), tmp_path, "x/b:1")
    base = a.layers[0].diff_id
    assert b.layers[0].diff_id == base
    assert sorted(p.name for p in store.layers.iterdir()) == sorted(
        {layer.diff_id[7:] for layer in (*a.layers, *b.layers)}
    )
    assert store.remove(a.id) == [a.layers[1].diff_id]  # the shared base stays
    assert store.has_layer(base)
    assert store.remove(b.id) == sorted([base, b.layers[1].diff_id])
    assert list(store.layers.iterdir()) == []
    assert list(store.blobs.iterdir()) == []


def test_another_process_sees_changes(tmp_path: Path) -> None:
    agent = Store(tmp_path / "images")
    assert agent.records() == {}
    cli = Store(tmp_path / "images")  # what `kyb image import` opens
    record = _load(cli, _image("a"), tmp_path, "x/a:1")
    assert agent.resolve("x/a:1") == record
    cli.remove(record.id)
    assert agent.resolve("x/a:1") is None


def test_restart_keeps_images(tmp_path: Path) -> None:
    record = _load(Store(tmp_path / "images"), _image("a"), tmp_path, "x/a:1")
    reopened = Store(tmp_path / "images")
    assert reopened.resolve("x/a:1") == record
    assert reopened.has_layer(record.layers[1].diff_id)


def test_commit_refuses_missing_layers(tmp_path: Path) -> None:
    store = Store(tmp_path / "images")
    record = ImageRecord("sha256:" + "1" * 64, (LayerRecord("sha256:" + "2" * 64),))
    with pytest.raises(LayerMissing):
        store.commit(record, ["x/a:1"])


def test_leftovers_of_dead_processes_cleaned(tmp_path: Path) -> None:
    store = Store(tmp_path / "images")
    (store.tmp / "999999999.abc.layer").mkdir()
    (store.tmp / "999999999.abc.blob").write_bytes(b"x")
    mine = store.tmp_path("layer")
    mine.mkdir()
    Store(tmp_path / "images")
    assert [p.name for p in store.tmp.iterdir()] == [mine.name]


def test_sweep_removes_orphans(tmp_path: Path) -> None:
    store = Store(tmp_path / "images")
    orphan = store.layers / ("3" * 64)
    orphan.mkdir()
    assert store.sweep(grace_s=3600) == []  # young: may belong to a pull in progress
    assert store.sweep(grace_s=0) == ["sha256:" + "3" * 64]
    assert not orphan.exists()


def test_commands(tmp_path: Path) -> None:
    data = tmp_path / "images"
    image = _image("a")
    lines = import_image(data, image.write_docker_save(tmp_path / "a.tar", ["app:1", "app:2"]))
    assert lines == [f"docker.io/library/app:1, docker.io/library/app:2 {image.id}"]
    rows = list_rows(data)
    size = human_size(Store(data).records()[image.id].size)
    assert rows == [
        ("docker.io/library/app", "1", image.id[7:20], size),
        ("docker.io/library/app", "2", image.id[7:20], size),
    ]
    table = format_table(rows).splitlines()
    assert table[0].split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert len(table) == 3
    with pytest.raises(ImageNotFound):
        remove_images(data, ["app:3"])
    assert remove_images(data, ["app:2"]) == [f"Deleted: {image.id}"]
    assert list_rows(data) == []
    import_image(data, image.write_docker_save(tmp_path / "b.tar"))
    assert list_rows(data) == [("<none>", "<none>", image.id[7:20], size)]
    assert prune(data, in_use={image.id}) == []
    assert prune(data) == [f"Deleted: {image.id}"]


def test_human_size() -> None:
    assert human_size(512) == "512B"
    assert human_size(1_940_000) == "1.94MB"
    assert human_size(12_345) == "12.3kB"
    assert human_size(3 * 10**12) == "3TB"


def test_gzipped_archive_imported(tmp_path: Path) -> None:
    image = _image("a")
    plain = image.write_docker_save(tmp_path / "a.tar", ["app:gz"])
    packed = tmp_path / "a.tar.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    [record] = import_archive(Store(tmp_path / "images"), packed)
    assert (record.id, record.repo_tags) == (image.id, ("docker.io/library/app:gz",))


def test_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"junk" * 100)
    with pytest.raises(ImageError, match="not a readable tar"):
        import_archive(Store(tmp_path / "images"), tmp_path / "junk")
