"""Images end to end: a real registry on loopback, real layers on disk, real overlay mounts.

Images are built from busybox-static by ``kybernetes.testing.images`` and served by Debian's
``docker-registry`` (``kybernetes.testing.registry``). Every test removes what it created: the
registry process and its files (the fixture), store directories (``tmp_path``), and mounts
(``release_rootfs``, checked against ``/proc/self/mountinfo``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kybernetes.agent.images import overlay
from kybernetes.agent.images.commands import import_image
from kybernetes.agent.images.gc import GCPolicy
from kybernetes.agent.images.interface import AuthConfig, ImageError, ImageNotFound
from kybernetes.agent.images.manifest import Descriptor
from kybernetes.agent.images.reference import Reference
from kybernetes.agent.images.registry import RegistryConfig, Unauthorized
from kybernetes.agent.images.service import LocalImageService
from kybernetes.testing.images import TestImage, busybox_image, layer_from_files, push_index
from kybernetes.testing.registry import LocalRegistry, registry_binary

pytestmark = pytest.mark.skipif(registry_binary() is None, reason="docker-registry not installed")

EXTRA = {"hello.txt": "hello\n", "etc/app/conf": "x=1\n", "etc/app/old": "old\n"}


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as reg:
        yield reg


@pytest.fixture(scope="module")
def busybox() -> TestImage:
    return busybox_image(EXTRA, entrypoint=["/bin/sh", "-c"], cmd=["echo hi"], working_dir="/tmp")


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[LocalImageService]:
    async with LocalImageService(tmp_path / "images") as svc:
        yield svc


def _no_mounts_under(path: Path) -> bool:
    with open("/proc/self/mountinfo") as f:
        return str(path) not in f.read()


async def test_pull_single_arch(
    registry: LocalRegistry, busybox: TestImage, service: LocalImageService
) -> None:
    digest = busybox.push(registry.host, "lib/busybox", "1.36")
    ref = f"{registry.host}/lib/busybox:1.36"
    image = await service.pull_image(ref)
    assert image.id == busybox.id
    assert image.repo_tags == (ref,)
    assert image.repo_digests == (f"{registry.host}/lib/busybox@{digest}",)
    assert image.config.entrypoint == ("/bin/sh", "-c")
    assert image.config.cmd == ("echo hi",)
    assert image.config.working_dir == "/tmp"
    assert image.size == len(busybox.config) + sum(len(b) for b in busybox.layer_blobs)
    assert (await service.image_config(ref)).cmd == ("echo hi",)
    assert await service.image_status(f"{registry.host}/lib/busybox@{digest}") == image
    assert await service.image_status(busybox.id[7:19]) == image
    assert [i.id for i in await service.list_images()] == [busybox.id]
    for diff_id in busybox.diff_ids:
        assert service.store.has_layer(diff_id)
    assert os.path.islink(service.store.layer_path(busybox.diff_ids[0]) / "bin/sh")
    # a second pull resolves the tag again but fetches no layer
    again = await service.pull_image(ref)
    assert again == image
    assert service.puller.last_stats[ref].layers_fetched == 0
    assert list(service.store.tmp.iterdir()) == []


@pytest.mark.parametrize("docker", [False, True], ids=["oci-index", "docker-manifest-list"])
async def test_pull_index_selects_linux_amd64(
    registry: LocalRegistry, busybox: TestImage, service: LocalImageService, docker: bool
) -> None:
    amd64 = TestImage(busybox.layers, cmd=["amd64"], docker_media_types=docker)
    arm64 = TestImage(
        [layer_from_files({"arch": "arm64"})],
        architecture="arm64",
        cmd=["arm64"],
        docker_media_types=docker,
    )
    repo = f"multi/{'docker' if docker else 'oci'}"
    index_digest = push_index(registry.host, repo, "v1", [arm64, amd64], docker=docker)
    image = await service.pull_image(f"{registry.host}/{repo}:v1")
    assert image.id == amd64.id
    assert image.config.cmd == ("amd64",)
    assert image.repo_digests == (f"{registry.host}/{repo}@{index_digest}",)
    assert not service.store.has_layer(arm64.diff_ids[0])
    # pinned by digest, the same image
    pinned = await service.pull_image(f"{registry.host}/{repo}@{index_digest}")
    assert pinned.id == amd64.id


async def test_digest_mismatch_refused(registry: LocalRegistry, service: LocalImageService) -> None:
    image = TestImage([layer_from_files({"data": "a" * 4096})])
    image.push(registry.host, "corrupt/app", "1")
    blob = registry.blob_path("sha256:" + hashlib.sha256(image.layer_blobs[0]).hexdigest())
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes: only the digest can tell
    blob.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="digest mismatch"):
        await service.pull_image(f"{registry.host}/corrupt/app:1")
    assert await service.image_status(f"{registry.host}/corrupt/app:1") is None
    assert list(service.store.layers.iterdir()) == []
    assert list(service.store.tmp.iterdir()) == []


async def test_missing_image(registry: LocalRegistry, service: LocalImageService) -> None:
    with pytest.raises(ImageNotFound):
        await service.pull_image(f"{registry.host}/no/such:image")


async def test_bearer_token_auth(busybox: TestImage, tmp_path: Path) -> None:
    users = {"alice": "s3cret"}
    with LocalRegistry(auth="token", users=users) as reg:
        busybox.push(reg.host, "private/busybox", "1", credentials=("alice", "s3cret"))
        ref = f"{reg.host}/private/busybox:1"
        async with LocalImageService(tmp_path / "images") as svc:
            with pytest.raises(Unauthorized):
                await svc.pull_image(ref)
            with pytest.raises(Unauthorized):
                await svc.pull_image(ref, AuthConfig("alice", "wrong"))
            image = await svc.pull_image(ref, AuthConfig("alice", "s3cret"))
            assert image.id == busybox.id
        assert reg.token_server is not None
        granted = [r for r in reg.token_server.requests if r["user"] == "alice"]
        assert ["repository:private/busybox:pull"] in [r["scope"] for r in granted]


async def test_anonymous_token_for_public_pulls(busybox: TestImage, tmp_path: Path) -> None:
    with LocalRegistry(auth="token", users={"ci": "pw"}, anonymous_pull=True) as reg:
        busybox.push(reg.host, "public/busybox", "1", credentials=("ci", "pw"))
        async with LocalImageService(tmp_path / "images") as svc:
            assert (await svc.pull_image(f"{reg.host}/public/busybox:1")).id == busybox.id


async def test_https_registry_with_ca(busybox: TestImage, tmp_path: Path) -> None:
    with LocalRegistry(tls=True) as reg:
        assert reg.ca_file is not None
        busybox.push(reg.host, "tls/busybox", "1", ca_file=reg.ca_file)
        config = RegistryConfig(secure_registries=[reg.host], ca_file=str(reg.ca_file))
        async with LocalImageService(tmp_path / "images", config) as svc:
            assert (await svc.pull_image(f"{reg.host}/tls/busybox:1")).id == busybox.id
        async with LocalImageService(tmp_path / "other", RegistryConfig([], [reg.host])) as svc:
            with pytest.raises(ImageError):  # the CA is not trusted without ca_file
                await svc.pull_image(f"{reg.host}/tls/busybox:1")


@pytest.mark.parametrize("fmt", ["docker-save", "oci"])
@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
async def test_import_archives(
    busybox: TestImage, service: LocalImageService, tmp_path: Path, fmt: str, gzipped: bool
) -> None:
    archive = tmp_path / "image.tar"
    if fmt == "oci":
        image = TestImage(busybox.layers, cmd=["imported"], gzip=gzipped)
        image.write_oci(archive, "example.com/team/app:v2")
    else:
        image = TestImage(busybox.layers, cmd=["imported"])
        image.write_docker_save(archive, ["example.com/team/app:v2"], compress=gzipped)
    [imported] = await service.import_archive(archive)
    assert imported.id == image.id
    assert imported.repo_tags == ("example.com/team/app:v2",)
    assert imported.config.cmd == ("imported",)
    status = await service.image_status("example.com/team/app:v2")
    assert status is not None
    assert status.id == image.id


async def test_import_refuses_tampered_layer(busybox: TestImage, tmp_path: Path) -> None:
    image = TestImage([layer_from_files({"a": "a"})])
    good = image.write_docker_save(tmp_path / "good.tar", ["x/y:1"])
    tampered = TestImage([layer_from_files({"a": "b"})])
    # the config of `image` (its diff_ids) with the layer of `tampered`
    mixed = TestImage(tampered.layers)
    mixed.__dict__["diff_ids"] = image.diff_ids
    mixed.write_docker_save(tmp_path / "bad.tar", ["x/y:1"])
    data = tmp_path / "images"
    with pytest.raises(ImageError, match="diff_id mismatch"):
        import_image(data, tmp_path / "bad.tar")
    assert import_image(data, good) == [f"docker.io/x/y:1 {image.id}"]


async def test_import_seen_by_a_running_service(
    busybox: TestImage, service: LocalImageService, tmp_path: Path
) -> None:
    archive = busybox.write_docker_save(tmp_path / "bb.tar", ["busybox:cli"])
    assert await service.image_status("busybox:cli") is None
    # `kyb image import` in another process: run it for real
    code = (
        "import sys; from kybernetes.agent.images.commands import import_image; "
        "print(import_image(sys.argv[1], sys.argv[2]))"
    )
    store_dir = service.store.root
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", code, str(store_dir), str(archive)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    status = await service.image_status("docker.io/library/busybox:cli")
    assert status is not None
    assert status.id == busybox.id


async def test_layers_shared_between_images_unpacked_once(
    registry: LocalRegistry, busybox: TestImage, service: LocalImageService
) -> None:
    a = TestImage([busybox.layers[0], layer_from_files({"a": "a"})])
    b = TestImage([busybox.layers[0], layer_from_files({"b": "b"})])
    a.push(registry.host, "shared/a", "1")
    b.push(registry.host, "shared/b", "1")
    downloads: list[str] = []
    real = service.client.download_blob

    async def counting(ref: Reference, desc: Descriptor, dest: Path, auth: object = None) -> None:
        downloads.append(desc.digest)
        await real(ref, desc, dest, None)

    service.client.download_blob = counting  # type: ignore[method-assign]
    refs = [f"{registry.host}/shared/a:1", f"{registry.host}/shared/b:1"] * 3
    images = await asyncio.gather(*(service.pull_image(r) for r in refs))
    assert {i.id for i in images} == {a.id, b.id}
    assert sorted(downloads) == sorted({*a.blobs(), *b.blobs()} - {a.id, b.id})
    assert len(downloads) == 3  # the shared busybox layer once, plus one layer each
    assert len(list(service.store.layers.iterdir())) == 3


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
async def test_overlay_rootfs(
    registry: LocalRegistry, busybox: TestImage, service: LocalImageService, tmp_path: Path
) -> None:
    top = layer_from_files({"etc/app/.wh.old": b"", "bin/.wh.vi": b"", "etc/app/new": "n\n"})
    image = TestImage([*busybox.layers, top])
    image.push(registry.host, "overlay/app", "1")
    pulled = await service.pull_image(f"{registry.host}/overlay/app:1")
    container = tmp_path / "containers" / "c1"
    rootfs = Path(await service.prepare_rootfs(pulled.id, str(container)))
    try:
        assert overlay.is_mounted(rootfs)
        assert await service.prepare_rootfs(pulled.id, str(container)) == str(rootfs)  # idempotent
        assert (rootfs / "hello.txt").read_text() == "hello\n"
        assert sorted(os.listdir(rootfs / "etc/app")) == ["conf", "new"]  # `old` whited out
        assert not (rootfs / "bin/vi").exists()
        assert (rootfs / "bin/ls").exists()
        (rootfs / "written.txt").write_text("w")
        (rootfs / "hello.txt").unlink()
        assert (container / "upper/written.txt").read_text() == "w"
        assert os.stat(container / "upper/hello.txt").st_rdev == os.makedev(0, 0)
        lower = service.store.layer_path(busybox.diff_ids[1])
        assert (lower / "hello.txt").read_text() == "hello\n"  # the layer is untouched
        done = subprocess.run(
            ["chroot", str(rootfs), "/bin/sh", "-c", "cat /etc/app/conf; ls /bin | wc -l"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.startswith("x=1\n")
        # a second container of the same image sees none of the first one's writes
        other = Path(await service.prepare_rootfs(pulled.id, str(tmp_path / "containers/c2")))
        assert (other / "hello.txt").exists()
        assert not (other / "written.txt").exists()
        await service.release_rootfs(str(tmp_path / "containers/c2"))
    finally:
        await service.release_rootfs(str(container))
    assert not overlay.is_mounted(rootfs)
    assert list(container.iterdir()) == []
    assert _no_mounts_under(tmp_path)
    await service.release_rootfs(str(container))  # idempotent


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
async def test_gc_removes_only_unused_images(
    registry: LocalRegistry, busybox: TestImage, service: LocalImageService, tmp_path: Path
) -> None:
    images = [TestImage([busybox.layers[0], layer_from_files({"n": str(i)})]) for i in range(3)]
    for i, image in enumerate(images):
        image.push(registry.host, f"gc/app{i}", "1")
        await service.pull_image(f"{registry.host}/gc/app{i}:1")
    used = images[0]
    container = tmp_path / "c"
    await service.prepare_rootfs(used.id, str(container))
    try:
        gc = service.garbage_collector(  # 90% full: above 85, so free down to 80
            lambda: {used.id}, GCPolicy(min_age_s=0), usage=lambda: (10**12, 10**11)
        )
        result = await asyncio.to_thread(gc.collect)
        assert sorted(result.removed) == sorted(i.id for i in images[1:])
        assert [i.id for i in await service.list_images()] == [used.id]
        assert service.store.has_layer(busybox.diff_ids[0])  # shared with the used image
        # even removing the used image outright keeps the layers its mounted rootfs needs
        await service.remove_image(used.id)
        assert service.store.has_layer(used.diff_ids[1])
        assert (container / "rootfs/n").read_text() == "0"
    finally:
        await service.release_rootfs(str(container))
    # once unmounted, the orphaned layers go with the next sweep
    assert sorted(service.store.sweep(grace_s=0)) == sorted(used.diff_ids)
    assert _no_mounts_under(tmp_path)


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
async def test_restart_keeps_images(
    registry: LocalRegistry, busybox: TestImage, tmp_path: Path
) -> None:
    busybox.push(registry.host, "restart/busybox", "1")
    ref = f"{registry.host}/restart/busybox:1"
    async with LocalImageService(tmp_path / "images") as first:
        pulled = await first.pull_image(ref)
        rootfs = await first.prepare_rootfs(ref, str(tmp_path / "c"))
    try:
        async with LocalImageService(tmp_path / "images") as second:  # the agent restarted
            assert await second.image_status(ref) == pulled
            # the mounted rootfs is adopted, not mounted twice
            assert await second.prepare_rootfs(ref, str(tmp_path / "c")) == rootfs
            await second.release_rootfs(str(tmp_path / "c"))
    finally:
        overlay.unmount(Path(rootfs))
    assert _no_mounts_under(tmp_path)


async def test_pull_timings(registry: LocalRegistry, busybox: TestImage, tmp_path: Path) -> None:
    """Not an assertion on time: records what a busybox pull costs, for the logs."""
    busybox.push(registry.host, "timing/busybox", "1")
    async with LocalImageService(tmp_path / "images") as svc:
        started = time.monotonic()
        await svc.pull_image(f"{registry.host}/timing/busybox:1")
        elapsed = time.monotonic() - started
        stats = svc.puller.last_stats[f"{registry.host}/timing/busybox:1"]
    assert stats.layers_fetched == 2
    assert stats.total_s <= elapsed


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
async def test_many_layers_mount(service: LocalImageService, tmp_path: Path) -> None:
    """More layers than one page of mount options holds: mounted layer by layer."""
    layers = [layer_from_files({f"l/{i:03d}": str(i), "top": str(i)}) for i in range(60)]
    image = TestImage(layers)
    [imported] = await service.import_archive(image.write_oci(tmp_path / "many.tar", "x/many:1"))
    container = tmp_path / "c"
    rootfs = Path(await service.prepare_rootfs(imported.id, str(container)))
    try:
        assert len(os.listdir(rootfs / "l")) == 60
        assert (rootfs / "top").read_text() == "59"  # the last layer is on top
        mounted = overlay.mounted_lowerdirs()
        assert all(str(service.store.layer_path(d)) in mounted for d in image.diff_ids)
    finally:
        await service.release_rootfs(str(container))
    assert _no_mounts_under(tmp_path)
