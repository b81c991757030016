"""Building OCI images in tests: from a directory, from a dict of files, or from busybox-static.

:func:`busybox_image` makes a small real image (``/bin/busybox`` and its applet symlinks, an
``/etc/passwd``, ``/tmp``) from Debian's ``busybox-static``; :func:`layer_from_files` and
:func:`layer_from_dir` make more layers. A :class:`TestImage` is written as an OCI-layout
tarball (:meth:`TestImage.write_oci`) or a ``docker save`` tarball
(:meth:`TestImage.write_docker_save`), or pushed to a registry (:meth:`TestImage.push`,
monolithic blob uploads and a manifest PUT, with bearer or basic auth); :func:`push_index`
pushes a multi-platform index.

Invariant: everything is deterministic (sorted entries, owners 0, fixed mtimes, gzip without
timestamps, sorted JSON keys), so one input always gives the same digests.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import ssl
import subprocess
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from kybernetes.agent.images.auth import parse_challenges
from kybernetes.agent.images.manifest import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
)

FIXED_MTIME = 1_700_000_000
DEFAULT_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)


@dataclass(frozen=True)
class File:
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Dir:
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class Hardlink:
    target: str


Entry = File | Dir | Symlink | Hardlink | bytes | str


def _info(name: str, kind: bytes, mode: int, uid: int = 0, gid: int = 0) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = kind, mode, uid, gid, FIXED_MTIME
    ti.uname = ti.gname = ""
    return ti


def layer_from_files(files: Mapping[str, Entry]) -> bytes:
    """An uncompressed layer tar; parents are added as 0755 dirs. Whiteouts are just names
    (``etc/.wh.passwd``, ``opt/.wh..wh..opq``) with empty content."""
    entries: dict[str, Entry] = {}
    for raw, entry in files.items():
        path = raw.strip("/")
        parts = path.split("/")
        for i in range(1, len(parts)):
            entries.setdefault("/".join(parts[:i]), Dir())
        entries[path] = Dir() if raw.endswith("/") and entry in (b"", "", None) else entry
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(entries):
            entry = entries[path]
            if isinstance(entry, str | bytes):
                entry = File(entry.encode() if isinstance(entry, str) else entry)
            if isinstance(entry, Dir):
                tar.addfile(_info(path, tarfile.DIRTYPE, entry.mode, entry.uid, entry.gid))
            elif isinstance(entry, Symlink):
                ti = _info(path, tarfile.SYMTYPE, 0o777)
                ti.linkname = entry.target
                tar.addfile(ti)
            elif isinstance(entry, Hardlink):
                ti = _info(path, tarfile.LNKTYPE, 0o644)
                ti.linkname = entry.target.strip("/")
                tar.addfile(ti)
            else:
                ti = _info(path, tarfile.REGTYPE, entry.mode, entry.uid, entry.gid)
                ti.size = len(entry.data)
                tar.addfile(ti, io.BytesIO(entry.data))
    return buf.getvalue()


def layer_from_dir(src: str | os.PathLike[str]) -> bytes:
    """An uncompressed layer tar of a directory tree (owners 0, fixed mtimes, sorted)."""
    root = Path(src)
    files: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            rel = str(full.relative_to(root))
            st = full.lstat()
            if full.is_symlink():
                files[rel] = Symlink(os.readlink(full))
            elif full.is_dir():
                files[rel] = Dir(st.st_mode & 0o7777)
            elif full.is_file():
                files[rel] = File(full.read_bytes(), st.st_mode & 0o7777)
    return layer_from_files(files)


def busybox_binary() -> str | None:
    return shutil.which("busybox")


def busybox_layer() -> bytes:
    """A rootfs layer: ``/bin/busybox`` (static), its applets as symlinks, passwd, group, tmp."""
    binary = busybox_binary()
    if binary is None:
        raise RuntimeError("busybox is not installed (Debian package busybox-static)")
    applets = subprocess.run(
        [binary, "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    files: dict[str, Entry] = {
        "bin/busybox": File(Path(binary).read_bytes(), 0o755),
        "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        "etc/group": "root:x:0:\nnogroup:x:65534:\n",
        "tmp/": Dir(0o1777),
        "root/": Dir(0o700),
    }
    for d in ("dev", "proc", "sys", "etc", "var", "usr/bin", "usr/sbin", "sbin", "home"):
        files.setdefault(d + "/", Dir())
    for applet in applets:
        if applet != "bin/busybox":
            files.setdefault(applet, Symlink("/bin/busybox"))
    return layer_from_files(files)


def _desc(data: bytes, media_type: str) -> dict[str, Any]:
    return {
        "mediaType": media_type,
        "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


def _json(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class TestImage:
    """An image in memory: uncompressed layers plus the config fields tests care about."""

    __test__ = False  # not a pytest test class

    layers: Sequence[bytes]
    entrypoint: Sequence[str] | None = None
    cmd: Sequence[str] | None = ("sh",)
    env: Sequence[str] = DEFAULT_ENV
    working_dir: str = "/"
    user: str = ""
    architecture: str = "amd64"
    os_name: str = "linux"
    gzip: bool = True
    docker_media_types: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def diff_ids(self) -> list[str]:
        return ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in self.layers]

    @cached_property
    def layer_blobs(self) -> list[bytes]:
        if not self.gzip:
            return list(self.layers)
        return [gzip.compress(layer, compresslevel=6, mtime=0) for layer in self.layers]

    @cached_property
    def config(self) -> bytes:
        cfg: dict[str, Any] = {"Env": list(self.env), "WorkingDir": self.working_dir}
        if self.entrypoint is not None:
            cfg["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            cfg["Cmd"] = list(self.cmd)
        if self.user:
            cfg["User"] = self.user
        if self.labels:
            cfg["Labels"] = dict(self.labels)
        return _json(
            {
                "architecture": self.architecture,
                "os": self.os_name,
                "created": "2023-11-14T22:13:20Z",
                "config": cfg,
                "rootfs": {"type": "layers", "diff_ids": self.diff_ids},
            }
        )

    @property
    def id(self) -> str:
        """The image id: the config's digest."""
        return "sha256:" + hashlib.sha256(self.config).hexdigest()

    @cached_property
    def manifest(self) -> bytes:
        if self.docker_media_types:
            types = (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER_GZIP)
        else:
            types = (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP if self.gzip else OCI_LAYER)
        return _json(
            {
                "schemaVersion": 2,
                "mediaType": types[0],
                "config": _desc(self.config, types[1]),
                "layers": [_desc(blob, types[2]) for blob in self.layer_blobs],
            }
        )

    @property
    def manifest_media_type(self) -> str:
        return DOCKER_MANIFEST if self.docker_media_types else OCI_MANIFEST

    @property
    def manifest_digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    def blobs(self) -> dict[str, bytes]:
        """Config and layer blobs by digest (not the manifest)."""
        out = {_desc(self.config, "")["digest"]: self.config}
        out.update({_desc(b, "")["digest"]: b for b in self.layer_blobs})
        return out

    def platform_descriptor(self) -> dict[str, Any]:
        desc = _desc(self.manifest, self.manifest_media_type)
        desc["platform"] = {"architecture": self.architecture, "os": self.os_name}
        return desc

    def write_oci(self, path: str | os.PathLike[str], name: str | None = None) -> Path:
        """An OCI-layout tarball; ``name`` (``host/repo:tag``) goes into the annotations."""
        desc = self.platform_descriptor()
        if name:
            tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
            desc["annotations"] = {
                "io.containerd.image.name": name,
                "org.opencontainers.image.ref.name": tag,
            }
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc]}
        files = {"oci-layout": _json({"imageLayoutVersion": "1.0.0"}), "index.json": _json(index)}
        for digest, data in {**self.blobs(), self.manifest_digest: self.manifest}.items():
            files["blobs/sha256/" + digest[7:]] = data
        return _write_tar(Path(path), files)

    def write_docker_save(
        self, path: str | os.PathLike[str], tags: Sequence[str] = (), *, compress: bool = False
    ) -> Path:
        """A ``docker save`` tarball (layers plain, as Docker writes them, unless ``compress``)."""
        config_name = self.id[7:] + ".json"
        files: dict[str, bytes] = {config_name: self.config}
        layer_names = []
        for diff_id, layer in zip(self.diff_ids, self.layers, strict=True):
            name = f"{diff_id[7:]}/layer.tar"
            files[name] = gzip.compress(layer, mtime=0) if compress else layer
            files[f"{diff_id[7:]}/VERSION"] = b"1.0"
            layer_names.append(name)
        manifest = [{"Config": config_name, "RepoTags": list(tags) or None, "Layers": layer_names}]
        files["manifest.json"] = _json(manifest)
        return _write_tar(Path(path), files)

    def push(
        self,
        registry: str,
        repository: str,
        tag: str | None = "latest",
        *,
        credentials: tuple[str, str] | None = None,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> str:
        """Push blobs and the manifest to ``registry`` (``host:port``); the manifest digest."""
        client = Pusher(registry, repository, credentials, ca_file)
        for digest, data in self.blobs().items():
            client.put_blob(digest, data)
        client.put_manifest(tag or self.manifest_digest, self.manifest, self.manifest_media_type)
        return self.manifest_digest


def index_of(images: Sequence[TestImage], docker: bool = False) -> bytes:
    """An OCI index (or Docker manifest list) over per-platform images."""
    media_type = DOCKER_MANIFEST_LIST if docker else OCI_INDEX
    return _json(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": [i.platform_descriptor() for i in images],
        }
    )


def push_index(
    registry: str,
    repository: str,
    tag: str,
    images: Sequence[TestImage],
    *,
    docker: bool = False,
    credentials: tuple[str, str] | None = None,
    ca_file: str | os.PathLike[str] | None = None,
) -> str:
    """Push every image by digest, then an index of them as ``tag``; the index digest."""
    for image in images:
        image.push(registry, repository, None, credentials=credentials, ca_file=ca_file)
    body = index_of(images, docker)
    client = Pusher(registry, repository, credentials, ca_file)
    client.put_manifest(tag, body, DOCKER_MANIFEST_LIST if docker else OCI_INDEX)
    return "sha256:" + hashlib.sha256(body).hexdigest()


def busybox_image(
    extra: Mapping[str, Entry] | str | os.PathLike[str] | None = None, **kwargs: Any
) -> TestImage:
    """The busybox rootfs as one layer, plus ``extra`` (files or a directory) as a second."""
    layers = [busybox_layer()]
    if isinstance(extra, Mapping):
        layers.append(layer_from_files(extra))
    elif extra is not None:
        layers.append(layer_from_dir(extra))
    return TestImage(layers, **kwargs)


def _write_tar(path: Path, files: Mapping[str, bytes]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        dirs = {"/".join(Path(n).parts[:i]) for n in files for i in range(1, len(Path(n).parts))}
        for d in sorted(dirs):
            tar.addfile(_info(d, tarfile.DIRTYPE, 0o755))
        for name in sorted(files):
            ti = _info(name, tarfile.REGTYPE, 0o644)
            ti.size = len(files[name])
            tar.addfile(ti, io.BytesIO(files[name]))
    return path


class Pusher:
    """The push half of the distribution API, synchronous (urllib), for test fixtures."""

    def __init__(
        self,
        registry: str,
        repository: str,
        credentials: tuple[str, str] | None = None,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        scheme = "https" if ca_file else "http"
        self.base = f"{scheme}://{registry}/v2/{repository}"
        self.repository = repository
        self.credentials = credentials
        self.context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
        self.authorization = ""

    def put_blob(self, digest: str, data: bytes) -> None:
        if self._call("HEAD", f"{self.base}/blobs/{digest}", ok=(200, 404))[0] == 200:
            return
        _, headers, _ = self._call("POST", f"{self.base}/blobs/uploads/", b"", ok=(202,))
        location = urllib.parse.urljoin(self.base, headers["location"])
        sep = "&" if "?" in location else "?"
        url = f"{location}{sep}digest={urllib.parse.quote(digest)}"
        self._call(
            "PUT", url, data, {"Content-Type": "application/octet-stream"}, ok=(201,)
        )  # monolithic upload

    def put_manifest(self, reference: str, body: bytes, media_type: str) -> None:
        url = f"{self.base}/manifests/{reference}"
        self._call("PUT", url, body, {"Content-Type": media_type}, ok=(201,))

    def _call(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Sequence[int] = (200,),
    ) -> tuple[int, Mapping[str, str], bytes]:
        for _attempt in range(2):
            req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
            if self.authorization:
                req.add_header("Authorization", self.authorization)
            try:
                with urllib.request.urlopen(req, timeout=30, context=self.context) as resp:
                    status, data = resp.status, resp.read()
                    resp_headers = {k.lower(): v for k, v in resp.headers.items()}
            except urllib.error.HTTPError as e:
                status, data = e.code, e.read()
                resp_headers = {k.lower(): v for k, v in e.headers.items()}
            if status == 401 and _attempt == 0:
                self.authorization = self._authorize(resp_headers.get("www-authenticate", ""))
                continue
            if status not in ok:
                raise RuntimeError(f"{method} {url}: HTTP {status}: {data[:300]!r}")
            return status, resp_headers, data
        raise RuntimeError(f"{method} {url}: unauthorized")

    def _authorize(self, header: str) -> str:
        basic = ""
        if self.credentials:
            raw = f"{self.credentials[0]}:{self.credentials[1]}".encode()
            basic = "Basic " + base64.b64encode(raw).decode()
        for challenge in parse_challenges(header):
            if challenge.scheme == "basic":
                return basic
            if challenge.scheme == "bearer":
                query = urllib.parse.urlencode(
                    {
                        "service": challenge.params.get("service", ""),
                        "scope": f"repository:{self.repository}:pull,push",
                    }
                )
                req = urllib.request.Request(f"{challenge.realm}?{query}")
                if basic:
                    req.add_header("Authorization", basic)
                with urllib.request.urlopen(req, timeout=30, context=self.context) as resp:
                    doc = json.loads(resp.read())
                token: str = doc.get("token") or doc["access_token"]
                return "Bearer " + token
        raise RuntimeError(f"unsupported challenge {header!r}")
