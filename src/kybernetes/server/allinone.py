"""``kyb server``: run the cluster's components in one process until interrupted.

Today it runs the storage engine and its compactor; the API server, scheduler, controllers and
node agent join it as they are built (see the issues), each as one more task in the group.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from kybernetes.storage.compactor import DEFAULT_INTERVAL, run_compactor
from kybernetes.storage.factory import open_storage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What ``kyb server`` was asked to run."""

    data_dir: Path
    storage: str = "sqlite"
    etcd_servers: list[str] = field(default_factory=list)
    compaction_interval: float = DEFAULT_INTERVAL


async def run_server(config: ServerConfig, ready: asyncio.Event | None = None) -> None:
    """Run until cancelled; set ``ready`` (and print one line) once serving."""
    store = await open_storage(config.storage, config.data_dir, config.etcd_servers)
    try:
        revision = await store.current_revision()
        keys = await store.count("/")
        print(
            f"kybernetes ready: storage={config.storage} data-dir={config.data_dir} "
            f"revision={revision} keys={keys}",
            flush=True,
        )
        if ready is not None:
            ready.set()
        async with asyncio.TaskGroup() as group:
            group.create_task(run_compactor(store, config.compaction_interval))
    finally:
        await store.close()
