"""An in-process API server for tests: real HTTP, real registry, memory (or any) storage.

``async with running_apiserver() as api: ...`` serves plain HTTP on a free loopback port with
no authentication, so tests and operators under test talk to ``api.url`` with any client. It
stops (and closes its storage, if it opened it) when the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from kybernetes.apiserver.app import APIServer, APIServerConfig
from kybernetes.storage.interface import Storage
from kybernetes.storage.memory import MemoryStorage


@dataclass
class RunningAPIServer:
    server: APIServer
    url: str


@contextlib.asynccontextmanager
async def running_apiserver(storage: Storage | None = None) -> AsyncIterator[RunningAPIServer]:
    own = storage is None
    store: Storage = MemoryStorage() if storage is None else storage
    api = APIServer(store, APIServerConfig(bind_address="127.0.0.1", port=0))
    task = asyncio.create_task(api.run())
    try:
        async with asyncio.timeout(30):
            waiter = asyncio.ensure_future(api.ready.wait())
            done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                waiter.cancel()
                task.result()
        yield RunningAPIServer(api, f"http://127.0.0.1:{api.port}")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if own:
            await store.close()
