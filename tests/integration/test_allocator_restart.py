"""Service allocation is durable: stored Services are the allocator's truth across restarts.

Services are written to a real ``SqliteStorage`` the way the registry writes them (reserve, store,
commit or release), the store is closed and reopened, and a fresh allocator rebuilt from what is
stored must agree with the first one about every address and port: nothing stored is handed out
again, and nothing that never reached storage (a failed write, a crash before the write) or left
it (a delete, a type change) stays taken.
"""

from __future__ import annotations

import asyncio
import copy
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from kybernetes.api import errors
from kybernetes.api.defaults import apply_defaults
from kybernetes.apiserver.allocator import ServiceAllocator, drop_type_dependent_fields
from kybernetes.storage.errors import KeyExistsError
from kybernetes.storage.sqlite import SqliteStorage

Obj = dict[str, Any]
PREFIX = "/registry/core/services/"
CIDR, PORTS = "10.43.0.0/26", (30000, 30049)


def svc(name: str, kind: str = "ClusterIP", **spec: Any) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }
    apply_defaults("", "v1", "Service", obj)
    return obj


def key(obj: Obj) -> str:
    return f"{PREFIX}default/{obj['metadata']['name']}"


IN_FLIGHT: list[int] = []


async def create(storage: SqliteStorage, alloc: ServiceAllocator, obj: Obj) -> Obj:
    """The registry's create: reserve, write (other coroutines run meanwhile), commit."""
    with alloc.allocate_for_create(obj) as reservation:
        IN_FLIGHT.append(len(alloc._pending))
        kv = await storage.create(key(obj), orjson.dumps(obj))
        reservation.commit(kv.mod_revision)
    return obj


async def stored_services(storage: SqliteStorage) -> tuple[list[Obj], int]:
    page = await storage.list(PREFIX)
    return [orjson.loads(kv.value) for kv in page.items], page.revision


def held(alloc: ServiceAllocator) -> tuple[set[str], set[int]]:
    ips = {alloc._ip_at(i) for i in range(alloc._ips.size) if alloc._ips.has(i)}
    ports = {alloc._port_at(i) for i in range(alloc._ports.size) if alloc._ports.has(i)}
    return ips, ports


def values_of(services: list[Obj]) -> tuple[set[str], set[int]]:
    ips: set[str] = set()
    ports: set[int] = set()
    for obj in services:
        spec = obj["spec"]
        ips.update(ip for ip in spec.get("clusterIPs", []) if ip != "None")
        ports.update(p["nodePort"] for p in spec.get("ports", []) if p.get("nodePort"))
        if spec.get("healthCheckNodePort"):
            ports.add(spec["healthCheckNodePort"])
    return ips, ports


async def test_allocations_survive_close_and_reopen(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    storage = await SqliteStorage.open(db)
    alloc = ServiceAllocator(CIDR, PORTS, rng=random.Random(3))
    try:
        kubernetes = await create(
            storage, alloc, svc("kubernetes", clusterIP=alloc.kubernetes_service_ip)
        )
        assert kubernetes["spec"]["clusterIPs"] == ["10.43.0.1"]

        # Thirty creates in flight at once: each awaits its durable write between reserving and
        # committing, so the reservations overlap.
        kinds = ["ClusterIP", "NodePort", "LoadBalancer"]
        manifests = [
            svc(f"s{i}", kinds[i % 3], **({"externalTrafficPolicy": "Local"} if i % 6 == 2 else {}))
            for i in range(30)
        ]
        IN_FLIGHT.clear()
        made = await asyncio.gather(*(create(storage, alloc, m) for m in manifests))
        assert max(IN_FLIGHT) == 30  # all thirty were reserved before any write finished
        ips, ports = values_of([kubernetes, *made])
        assert len(ips) == 31
        assert len(ports) == sum(
            1 + (m["spec"].get("healthCheckNodePort", 0) > 0)
            for m in made
            if m["spec"]["type"] != "ClusterIP"
        )

        # A write that fails (the name exists) gives back what it reserved.
        free = (alloc.free_ips, alloc.free_ports)
        with pytest.raises(KeyExistsError):
            await create(storage, alloc, svc("s1", "NodePort"))
        assert (alloc.free_ips, alloc.free_ports) == free

        # NodePort -> ClusterIP: the update's write commits the release of its node port.
        old = made[1]
        new = copy.deepcopy(old)
        new["spec"]["type"] = "ClusterIP"
        del new["spec"]["externalTrafficPolicy"]
        current = await storage.get(key(old))
        with alloc.reconcile_update(old, new) as reservation:
            drop_type_dependent_fields(new, old)
            kv = await storage.update(key(new), orjson.dumps(new), current.mod_revision)
            reservation.commit(kv.mod_revision)
        assert reservation.released_ports == [old["spec"]["ports"][0]["nodePort"]]

        # A delete frees what the Service held once it is gone from storage.
        gone = made[4]
        kv = await storage.delete(key(gone))
        alloc.release_for_delete(gone, revision=kv.mod_revision)

        # A create whose process dies before its write: reserved here, never stored.
        doomed = svc("doomed", "NodePort")
        alloc.allocate_for_create(doomed)
        stored, _ = await stored_services(storage)
        before_crash = held(alloc)
        assert before_crash != values_of(stored)  # the doomed reservation is only in memory
    finally:
        await storage.close()

    storage = await SqliteStorage.open(db)
    try:
        stored, revision = await stored_services(storage)
        restarted = ServiceAllocator(CIDR, PORTS, rng=random.Random(4))
        restarted.rebuild(stored, revision=revision)
        assert held(restarted) == values_of(stored)
        assert restarted.find_conflicts(stored) == []
        assert doomed["spec"]["clusterIP"] not in held(restarted)[0]
        assert gone["spec"]["clusterIP"] not in held(restarted)[0]
        assert old["spec"]["ports"][0]["nodePort"] not in held(restarted)[1]

        # Asking for a stored address is refused; new ones never collide, until the range is full.
        with pytest.raises(errors.Invalid, match="provided IP is already allocated"):
            await create(storage, restarted, svc("copy", clusterIP=made[0]["spec"]["clusterIP"]))
        for i in range(restarted.free_ips):
            await create(storage, restarted, svc(f"m{i}"))
        with pytest.raises(errors.InternalError) as full:
            await create(storage, restarted, svc("one-too-many"))
        assert str(full.value) == (
            "Internal error occurred: failed to allocate a serviceIP: range is full"
        )
        stored, revision = await stored_services(storage)
        ips, _ = values_of(stored)
        assert len(ips) == len(stored) == 62  # every usable address of the /26, each once
        assert restarted.find_conflicts(stored) == []
    finally:
        await storage.close()

    # A third start agrees with the second.
    storage = await SqliteStorage.open(db)
    try:
        stored, revision = await stored_services(storage)
        again = ServiceAllocator(CIDR, PORTS)
        again.rebuild(stored, revision=revision)
        assert held(again) == held(restarted) == values_of(stored)
    finally:
        await storage.close()
