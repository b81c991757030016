"""Opening the configured storage backend."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kybernetes.storage.interface import Storage
from kybernetes.storage.sqlite import SqliteStorage

SQLITE_FILE = "state.db"


async def open_storage(kind: str, data_dir: Path, etcd_servers: list[str] | None = None) -> Storage:
    """Open ``sqlite`` (``DATA_DIR/state.db``) or ``etcd`` (at ``etcd_servers``)."""
    if kind == "sqlite":
        await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
        return await SqliteStorage.open(data_dir / SQLITE_FILE)
    if kind == "etcd":
        if not etcd_servers:
            raise ValueError("--storage etcd needs --etcd-servers")
        # Imported here: gRPC costs start-up time that the sqlite default does not need.
        from kybernetes.storage.etcd import EtcdStorage

        return await EtcdStorage.connect(etcd_servers)
    raise ValueError(f"unknown storage backend {kind!r} (choose sqlite or etcd)")
