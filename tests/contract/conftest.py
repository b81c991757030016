"""The backends the storage contract suite runs against: memory, sqlite and a real etcd."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kybernetes.storage.interface import Storage
from kybernetes.storage.memory import MemoryStorage
from kybernetes.storage.sqlite import SqliteStorage

_prefixes = itertools.count()


@pytest.fixture(scope="session")
def etcd_cluster() -> Iterator[Any]:
    """A 3-member etcd cluster on loopback, shared by the session's etcd tests."""
    if shutil.which("etcd") is None:
        pytest.fail("etcd is not installed: `make setup` installs Debian's etcd-server")
    from kybernetes.testing.etcd import EtcdCluster

    with EtcdCluster(members=3) as cluster:
        yield cluster


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("etcd", marks=pytest.mark.etcd)],
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture
async def storage(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Storage]:
    """A fresh, empty store of each backend."""
    store: Storage
    if backend == "memory":
        store = MemoryStorage()
    elif backend == "sqlite":
        store = await SqliteStorage.open(tmp_path / "state.db")
    else:
        from kybernetes.storage.etcd import EtcdStorage

        cluster = request.getfixturevalue("etcd_cluster")
        store = await EtcdStorage.connect(cluster.endpoints, prefix=f"/contract-{next(_prefixes)}")
    try:
        yield store
    finally:
        await store.close()
