"""Kubeconfig files: write the admin one, load one for our REST client, merge into ``~/.kube``.

The format is client-go's ``Config`` (``apiVersion: v1``, ``kind: Config``, named lists of
clusters, users and contexts, ``current-context``). What we read is what a REST client needs:
server URL, CA bundle, client certificate and key or a bearer token, the insecure flag;
``*-data`` fields are base64 of PEM, file fields are resolved relative to the kubeconfig.

Invariants: a kubeconfig is written atomically with mode 0600 (it holds credentials), so a
crash never leaves a truncated file. Merging into a user's file keeps every entry that is not
ours and every top-level key we do not know; a file that does not parse is never rewritten
(:class:`KubeconfigError`, file untouched). Merges take client-go's ``<file>.lock`` so a
concurrent ``kubectl config`` cannot interleave with us. ``KUBECONFIG`` is read only when the
caller passes its value: library code never reaches into the environment on its own.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kybernetes.util.pki import ClusterPKI, write_file_atomic

DEFAULT_NAME = "kybernetes"
_LOCK_WAIT_S = 5.0

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubeconfigError(Exception):
    """A kubeconfig file is missing, unparsable or lacks what was asked of it."""


@dataclass(frozen=True)
class KubeconfigEntry:
    """One context resolved to its cluster and user: what a REST client needs to connect."""

    context_name: str
    cluster_name: str
    user_name: str
    server: str
    certificate_authority: bytes | None = None  # PEM bundle
    client_certificate: bytes | None = None  # PEM
    client_key: bytes | None = None  # PEM
    token: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    namespace: str | None = None

    def cluster_dict(self) -> dict[str, Any]:
        """The ``cluster:`` stanza, credentials inlined as ``*-data``."""
        out: dict[str, Any] = {"server": self.server}
        if self.certificate_authority is not None:
            out["certificate-authority-data"] = _b64(self.certificate_authority)
        if self.insecure_skip_tls_verify:
            out["insecure-skip-tls-verify"] = True
        if self.tls_server_name:
            out["tls-server-name"] = self.tls_server_name
        return out

    def user_dict(self) -> dict[str, Any]:
        """The ``user:`` stanza, credentials inlined as ``*-data``."""
        out: dict[str, Any] = {}
        if self.client_certificate is not None:
            out["client-certificate-data"] = _b64(self.client_certificate)
        if self.client_key is not None:
            out["client-key-data"] = _b64(self.client_key)
        if self.token is not None:
            out["token"] = self.token
        return out

    def context_dict(self) -> dict[str, Any]:
        """The ``context:`` stanza."""
        out: dict[str, Any] = {"cluster": self.cluster_name, "user": self.user_name}
        if self.namespace:
            out["namespace"] = self.namespace
        return out


def admin_entry(
    server_url: str, pki: ClusterPKI, cluster_name: str = DEFAULT_NAME, user: str = "admin"
) -> KubeconfigEntry:
    """The admin credentials of ``pki`` for ``server_url``; the context is named as the cluster."""
    return KubeconfigEntry(
        context_name=cluster_name,
        cluster_name=cluster_name,
        user_name=user,
        server=server_url,
        certificate_authority=pki.ca.cert_pem,
        client_certificate=pki.admin.cert_pem,
        client_key=pki.admin.key_pem,
    )


def write_kubeconfig(path: Path, entry: KubeconfigEntry) -> None:
    """Write a kubeconfig holding exactly ``entry``, current, atomically, mode 0600."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": entry.cluster_name, "cluster": entry.cluster_dict()}],
        "users": [{"name": entry.user_name, "user": entry.user_dict()}],
        "contexts": [{"name": entry.context_name, "context": entry.context_dict()}],
        "current-context": entry.context_name,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomic(path, _dump(config))


def write_admin_kubeconfig(
    path: Path,
    server_url: str,
    pki: ClusterPKI,
    cluster_name: str = DEFAULT_NAME,
    user: str = "admin",
) -> KubeconfigEntry:
    """Write the admin kubeconfig (CA, admin client certificate and key); returns its entry."""
    entry = admin_entry(server_url, pki, cluster_name, user)
    write_kubeconfig(path, entry)
    return entry


def default_kubeconfig_path(kubeconfig_env: str | None = None, home: Path | None = None) -> Path:
    """The file to merge into: ``~/.kube/config``, or per ``KUBECONFIG`` when one is passed.

    With several paths in ``KUBECONFIG``, client-go writes new entries to the first file that
    exists, else to the last one listed; we do the same.
    """
    if kubeconfig_env:
        paths = [Path(p) for p in kubeconfig_env.split(os.pathsep) if p]
        if len(paths) == 1:
            return paths[0]
        if paths:
            return next((p for p in paths if p.exists()), paths[-1])
    return (home or Path.home()) / ".kube" / "config"


def load_kubeconfig(path: Path, context: str | None = None) -> KubeconfigEntry:
    """Resolve ``context`` (default: ``current-context``) of the kubeconfig at ``path``."""
    config = _read(path)
    name = context or config.get("current-context")
    if not name:
        raise KubeconfigError(f"{path}: no context given and no current-context set")
    ctx = _named(config, "contexts", "context", name, path)
    cluster_name = ctx.get("cluster")
    if not cluster_name:
        raise KubeconfigError(f"{path}: context {name!r} names no cluster")
    cluster = _named(config, "clusters", "cluster", cluster_name, path)
    user_name = ctx.get("user") or ""
    user = _named(config, "users", "user", user_name, path) if user_name else {}
    server = cluster.get("server")
    if not server:
        raise KubeconfigError(f"{path}: cluster {cluster_name!r} has no server")
    for unsupported in ("exec", "auth-provider"):
        if unsupported in user:
            raise KubeconfigError(
                f"{path}: user {user_name!r} uses {unsupported!r}, which is not supported"
            )
    base = path.parent
    token = user.get("token")
    token_file = user.get("tokenFile")
    if token is None and token_file:
        token = _read_file(base, token_file, path).decode().strip()
    return KubeconfigEntry(
        context_name=name,
        cluster_name=cluster_name,
        user_name=user_name,
        server=str(server),
        certificate_authority=_data_or_file(cluster, "certificate-authority", base, path),
        client_certificate=_data_or_file(user, "client-certificate", base, path),
        client_key=_data_or_file(user, "client-key", base, path),
        token=str(token) if token is not None else None,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
        tls_server_name=cluster.get("tls-server-name") or None,
        namespace=ctx.get("namespace") or None,
    )


def merge_into(
    user_kubeconfig_path: Path,
    entry_name: str,
    cluster: Mapping[str, Any],
    user: Mapping[str, Any],
    context: Mapping[str, Any] | None = None,
    set_current: bool = True,
) -> None:
    """Add or replace the cluster, user and context named ``entry_name``, like kind does.

    The context's ``cluster`` and ``user`` are set to ``entry_name``; everything else in the
    file is kept as it was. The directory is created (0700) when missing; an existing file that
    does not parse raises :class:`KubeconfigError` and is left untouched.
    """
    path = user_kubeconfig_path
    owner = _owner_for(path)
    created_dir = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _client_go_lock(path):
        config = _read(path) if path.exists() else {}
        config.setdefault("apiVersion", "v1")
        config.setdefault("kind", "Config")
        ctx = {**(context or {}), "cluster": entry_name, "user": entry_name}
        for section, key, value in (
            ("clusters", "cluster", dict(cluster)),
            ("users", "user", dict(user)),
            ("contexts", "context", ctx),
        ):
            items = [
                item
                for item in (config.get(section) or [])
                if not (isinstance(item, Mapping) and item.get("name") == entry_name)
            ]
            items.append({"name": entry_name, key: value})
            config[section] = items
        if set_current or not config.get("current-context"):
            config["current-context"] = entry_name
        write_file_atomic(path, _dump(config))
        _chown_like(path, owner)
        if created_dir:
            _chown_like(path.parent, owner)


# -- internals ------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _dump(config: Mapping[str, Any]) -> bytes:
    text = yaml.safe_dump(dict(config), default_flow_style=False, sort_keys=False, width=1 << 20)
    return text.encode()


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {e.strerror}") from e
    try:
        config = yaml.load(raw, Loader=_Loader)  # a safe loader (C if built)
    except yaml.YAMLError as e:
        raise KubeconfigError(f"{path} is not valid YAML, left unchanged: {e}") from e
    if config is None:  # an empty file is an empty config, as client-go treats it
        return {}
    if not isinstance(config, dict):
        raise KubeconfigError(f"{path} is not a kubeconfig (top level is not a mapping)")
    for section in ("clusters", "users", "contexts"):
        value = config.get(section)
        if value is not None and not isinstance(value, list):
            raise KubeconfigError(f"{path}: {section!r} is not a list")
    return config


def _named(
    config: Mapping[str, Any], section: str, key: str, name: str, path: Path
) -> Mapping[str, Any]:
    for item in config.get(section) or []:
        if isinstance(item, Mapping) and item.get("name") == name:
            value = item.get(key) or {}
            if not isinstance(value, Mapping):
                raise KubeconfigError(f"{path}: {key} {name!r} is not a mapping")
            return value
    raise KubeconfigError(f"{path}: no {key} named {name!r}")


def _data_or_file(stanza: Mapping[str, Any], field: str, base: Path, path: Path) -> bytes | None:
    data = stanza.get(f"{field}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except binascii.Error as e:
            raise KubeconfigError(f"{path}: {field}-data is not valid base64") from e
    file = stanza.get(field)
    if file:
        return _read_file(base, str(file), path)
    return None


def _read_file(base: Path, name: str, path: Path) -> bytes:
    target = Path(name).expanduser()
    if not target.is_absolute():
        target = base / target
    try:
        return target.read_bytes()
    except OSError as e:
        raise KubeconfigError(f"{path}: cannot read {target}: {e.strerror}") from e


@contextlib.contextmanager
def _client_go_lock(path: Path) -> Iterator[None]:
    """client-go's convention: ``<file>.lock`` created exclusively, removed when done."""
    lock = path.with_name(path.name + ".lock")
    deadline = time.monotonic() + _LOCK_WAIT_S
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            if time.monotonic() >= deadline:
                raise KubeconfigError(
                    f"{lock} exists: another program is editing {path}; "
                    "remove the lock file if no such program is running"
                ) from None
            time.sleep(0.05)
    os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)


def _owner_for(path: Path) -> tuple[int, int] | None:
    """Whose file this should be: its current owner, else the owner of the nearest directory.

    Only root can hand a file to someone else; this keeps ``sudo kyb server`` from leaving a
    user's ``~/.kube/config`` (or a new ``~/.kube``) owned by root and unreadable to them.
    """
    if os.geteuid() != 0:
        return None
    for candidate in (path, *path.parents):
        with contextlib.suppress(OSError):
            st = candidate.stat()
            return st.st_uid, st.st_gid
    return None


def _chown_like(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is not None:
        with contextlib.suppress(OSError):
            os.chown(path, *owner)
