"""Periodic compaction, as the Kubernetes API server does it.

Every ``interval`` the compactor compacts the store at the revision it saw one interval earlier,
so history from the last interval or two is always kept: a watcher that reconnects within an
interval resumes without a 410 Gone, and the log does not grow without bound.
"""

from __future__ import annotations

import asyncio
import logging

from kybernetes.storage.errors import StorageError
from kybernetes.storage.interface import Storage

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 300.0


async def run_compactor(store: Storage, interval: float = DEFAULT_INTERVAL) -> None:
    """Compact ``store`` forever (until cancelled), one interval behind."""
    previous = await store.current_revision()
    while True:
        await asyncio.sleep(interval)
        current = await store.current_revision()
        if previous:
            try:
                await store.compact(previous)
            except StorageError as exc:
                log.warning("compaction failed revision=%d error=%s", previous, exc)
            else:
                log.info("compacted revision=%d", previous)
        previous = current
