"""What the pod network holds for each sandbox, kept on disk so an agent restart forgets nothing.

One JSON file per sandbox, ``<state_dir>/<sandbox id>.json``: its namespace, host link, address
and hostPort mappings. A record is written (fsync'd, then renamed into place) *before* anything is
created on the host and deleted only *after* everything is removed, so after a crash the records
name a superset of what exists: ``BridgeNetwork.restore`` reclaims the addresses of the sandboxes
that still exist and removes the rest.

Invariants: a file is either absent or a complete record (atomic rename); the address of a
record is never handed to another sandbox while the record exists.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from kybernetes.agent.runtime.interface import PortMapping

log = logging.getLogger(__name__)

_SUFFIX: Final = ".json"
_SAFE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


def valid_sandbox_id(sandbox_id: str) -> bool:
    """Ids become file names: letters, digits, ``_``, ``.`` and ``-``; not starting with a dot."""
    return _SAFE_ID.fullmatch(sandbox_id) is not None


@dataclass(frozen=True)
class SandboxRecord:
    sandbox_id: str
    name: str
    namespace: str
    netns: str
    host_ifname: str
    ip: str
    ports: tuple[PortMapping, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ports"] = [asdict(port) for port in self.ports]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxRecord:
        ports = tuple(PortMapping(**port) for port in data.get("ports", ()))
        return cls(
            sandbox_id=str(data["sandbox_id"]),
            name=str(data["name"]),
            namespace=str(data["namespace"]),
            netns=str(data["netns"]),
            host_ifname=str(data["host_ifname"]),
            ip=str(data["ip"]),
            ports=ports,
        )


class StateStore:
    """The records under one directory (created on first write)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _path(self, sandbox_id: str) -> str:
        if not valid_sandbox_id(sandbox_id):
            raise ValueError(f"sandbox id {sandbox_id!r} is not usable as a file name")
        return os.path.join(self.directory, sandbox_id + _SUFFIX)

    def save(self, record: SandboxRecord) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        path = self._path(record.sandbox_id)
        temporary = path + ".tmp"
        with open(temporary, "wb") as file:
            file.write(json.dumps(record.to_json(), sort_keys=True).encode())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        self._sync_directory()

    def delete(self, sandbox_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(sandbox_id))
            self._sync_directory()

    def load(self) -> Iterator[SandboxRecord]:
        """Every readable record; unreadable files are logged and skipped."""
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return
        for entry in names:
            path = os.path.join(self.directory, entry)
            if entry.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)  # a write that never reached its rename
                continue
            if not entry.endswith(_SUFFIX):
                continue
            try:
                with open(path, "rb") as file:
                    record = SandboxRecord.from_json(json.loads(file.read()))
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("unreadable network record skipped path=%s error=%s", path, error)
                continue
            if record.sandbox_id + _SUFFIX != entry:
                log.warning("network record with a foreign id skipped path=%s", path)
                continue
            yield record

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
