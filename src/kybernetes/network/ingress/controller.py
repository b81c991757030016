"""The ingress controller: watches Ingresses and their backends, feeds the data plane, writes
status.

``IngressController`` mirrors Ingresses, IngressClasses, Services, EndpointSlices and TLS Secrets
with informers. Whenever one that matters changes it compiles a new ``Snapshot`` (route table
plus each backend's ready endpoints) and hands it to the data plane (``dataplane``: nginx, or the
in-project asyncio proxy), with what the SNI certificates are built from when Ingresses or
Secrets changed. The data plane starts serving HTTP and HTTPS on the configured ports once the
caches are filled, so it never answers from an empty table.

It owns the Ingresses whose class is an IngressClass naming ``kybernetes.io/ingress`` (the
``kybernetes`` class counts as ours until it exists), and Ingresses without a class when the
default IngressClass is ours. For each owned Ingress it writes ``status.loadBalancer.ingress``
(the node's addresses) through the status subresource, and clears it when an Ingress stops being
ours.

Invariants: the data plane only ever sees a complete snapshot; level-triggered (a rebuild reads the
caches, never the events); status writes carry the resourceVersion they read and a conflict
re-queues the key.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.client.cache import split_key
from kybernetes.client.informer import Handler, Informer, InformerFactory
from kybernetes.client.resource import ENDPOINTSLICES, SECRETS, SERVICES, Resource
from kybernetes.client.rest import Client
from kybernetes.client.workqueue import ShutDown, WorkQueue
from kybernetes.network.ingress.builtin import BuiltinDataPlane
from kybernetes.network.ingress.dataplane import AUTO, NGINX, DataPlane, choose
from kybernetes.network.ingress.endpoints import ROUND_ROBIN, Upstream, resolve, slice_service_key
from kybernetes.network.ingress.nginx import NginxDataPlane
from kybernetes.network.ingress.proxy import Snapshot, Timeouts
from kybernetes.network.ingress.routes import BackendRef, build_routes
from kybernetes.network.ingress.tls import TLS_SECRET_TYPE

log = logging.getLogger(__name__)

Obj = dict[str, Any]
INGRESSES: Final = Resource("networking.k8s.io", "v1", "ingresses", "Ingress", True)
INGRESSCLASSES: Final = Resource("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False)
CLASS_NAME: Final = "kybernetes"
CONTROLLER_NAME: Final = "kybernetes.io/ingress"
DEFAULT_CLASS_ANNOTATION: Final = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION: Final = "kubernetes.io/ingress.class"
_BY_SERVICE: Final = "service"


@dataclass(frozen=True, slots=True)
class IngressConfig:
    """Where and how the ingress controller serves."""

    bind_address: str = "0.0.0.0"
    http_port: int | None = 80  # None: no plain HTTP listener; 0: any free port
    https_port: int | None = 443  # None: no TLS listener
    class_name: str = CLASS_NAME
    controller_name: str = CONTROLLER_NAME
    status_addresses: tuple[str, ...] = ()  # written to Ingress status; empty: this host's
    balance: str = ROUND_ROBIN  # or "random"
    timeouts: Timeouts = field(default_factory=Timeouts)
    write_status: bool = True
    proxy: str = AUTO  # the data plane: "nginx", "builtin", or "auto" (nginx when installed)
    state_dir: Path | None = None  # the nginx data plane's own directory; None: a temporary one


async def ensure_default_class(client: Client, name: str = CLASS_NAME) -> None:
    """Create the ``kybernetes`` IngressClass as the cluster default, unless it exists (an
    existing one is left as the user made it)."""
    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        "spec": {"controller": CONTROLLER_NAME},
    }
    try:
        await client.create(INGRESSCLASSES, body)
        log.info("ingress class created name=%s default=true", name)
    except errors.AlreadyExists:
        pass


def node_addresses() -> tuple[str, ...]:
    """This host's non-loopback addresses by its name, else the loopback address."""
    try:
        _, _, found = socket.gethostbyname_ex(socket.gethostname())
    except OSError:
        found = []
    usable = tuple(a for a in found if not ipaddress.ip_address(a).is_loopback)
    return usable or ("127.0.0.1",)


class IngressController:
    """Informers in, snapshots and status out; owns the proxy and its listeners."""

    def __init__(self, client: Client, config: IngressConfig | None = None) -> None:
        self.client = client
        self.config = config or IngressConfig()
        self.plane: DataPlane | None = None  # chosen when run() starts
        self.ready = asyncio.Event()
        self.ports: dict[str, int] = {}  # "http"/"https" -> bound port
        self.addresses: tuple[str, ...] = self.config.status_addresses
        self.factory = InformerFactory(client)
        self.ingresses = self.factory.informer(INGRESSES)
        self.classes = self.factory.informer(INGRESSCLASSES)
        self.services = self.factory.informer(SERVICES)
        self.slices = self.factory.informer(ENDPOINTSLICES)
        self.slices.add_indexer(_BY_SERVICE, slice_service_key)
        self.secrets = self.factory.informer(SECRETS, field_selector=f"type={TLS_SECRET_TYPE}")
        self.status_queue = WorkQueue("ingress-status")
        self._routes_dirty = asyncio.Event()
        self._tls_dirty = True
        self._referenced: set[str] = set()  # namespace/service of every backend
        self._owned: set[str] = set()
        self._upstreams: dict[BackendRef, Upstream] = {}
        self._watch(self.ingresses, tls=True)
        self._watch(self.classes, tls=True)
        self._watch(self.secrets, tls=True)
        self._watch(self.services, key=_object_key)
        self._watch(self.slices, key=lambda o: next(iter(slice_service_key(o)), ""))

    def _watch(self, informer: Informer, *, tls: bool = False, key: Any = None) -> None:
        def changed(obj: Obj) -> None:
            if key is not None and key(obj) not in self._referenced:
                return
            if tls:
                self._tls_dirty = True
            self._routes_dirty.set()

        informer.add_handler(Handler(changed, lambda _old, new: changed(new), changed))

    # --- which Ingresses are ours ----------------------------------------------------------

    def owns(self, ingress: Obj) -> bool:
        ours: set[str] = set()
        known: set[str] = set()
        default_ours = False
        for cls in self.classes.store.list():
            name = cls["metadata"]["name"]
            known.add(name)
            if (cls.get("spec") or {}).get("controller") == self.config.controller_name:
                ours.add(name)
                annotations = cls["metadata"].get("annotations") or {}
                default_ours = default_ours or annotations.get(DEFAULT_CLASS_ANNOTATION) == "true"
        if self.config.class_name not in known:
            ours.add(self.config.class_name)
        annotations = ingress["metadata"].get("annotations") or {}
        name = (ingress.get("spec") or {}).get("ingressClassName") or annotations.get(
            LEGACY_CLASS_ANNOTATION
        )
        return name in ours if name else default_ours

    # --- snapshots -------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Compile the caches into a new snapshot (and certificates, when they may differ)."""
        owned = [i for i in self.ingresses.store.list() if self.owns(i)]
        table = build_routes(owned)
        upstreams: dict[BackendRef, Upstream] = {}
        for ref in table.backends():
            service = self.services.store.get_by_name(ref.service, ref.namespace)
            slices = self.slices.store.by_index(_BY_SERVICE, f"{ref.namespace}/{ref.service}")
            fresh = resolve(ref, service, slices, policy=self.config.balance)
            old = self._upstreams.get(ref)
            # Keep the old object when nothing changed, so its round-robin turn carries on.
            upstreams[ref] = old if old is not None and old.addresses == fresh.addresses else fresh
        self._upstreams = upstreams
        self._referenced = {f"{ref.namespace}/{ref.service}" for ref in upstreams}
        assert self.plane is not None
        tls = (owned, self._secret) if self._tls_dirty else None
        self._tls_dirty = False
        self.plane.update(Snapshot(table, upstreams), tls)
        owned_keys = {f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in owned}
        if owned_keys != self._owned:
            log.info("ingress routes updated ingresses=%d backends=%d", len(owned), len(upstreams))
        self._owned = owned_keys
        if self.config.write_status:
            for ingress in self.ingresses.store.list():
                if self._status_wanted(ingress) is not None:
                    self.status_queue.add(_object_key(ingress))

    def _secret(self, namespace: str, name: str) -> Obj | None:
        return self.secrets.store.get_by_name(name, namespace)

    # --- status ----------------------------------------------------------------------------

    def _status_wanted(self, ingress: Obj) -> list[Obj] | None:
        """The ``loadBalancer.ingress`` list to write, or None when the current one is right."""
        current = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        ours = [_lb_entry(a) for a in self.addresses]
        if _object_key(ingress) in self._owned:
            return ours if current != ours else None
        return [] if current and current == ours else None

    async def _status_worker(self) -> None:
        while True:
            try:
                key = await self.status_queue.get()
            except ShutDown:
                return
            try:
                await self._write_status(key)
                self.status_queue.forget(key)
            except (errors.Conflict, errors.StatusError, OSError, TimeoutError) as exc:
                log.info("ingress status not written ingress=%s error=%s", key, exc)
                self.status_queue.add_rate_limited(key)
            except Exception:
                log.exception("ingress status failed ingress=%s", key)
                self.status_queue.add_rate_limited(key)
            finally:
                self.status_queue.done(key)

    async def _write_status(self, key: str) -> None:
        ingress = self.ingresses.store.get(key)
        if ingress is None:
            return
        wanted = self._status_wanted(ingress)
        if wanted is None:
            return
        updated = dict(ingress)
        updated["status"] = {"loadBalancer": {"ingress": wanted} if wanted else {}}
        try:
            await self.client.update_status(INGRESSES, updated)
        except errors.NotFound:
            return
        namespace, name = split_key(key)
        log.info("ingress status written ingress=%s/%s addresses=%s", namespace, name, wanted)

    # --- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until cancelled; then the data plane stops and lets requests in flight finish."""
        if not self.addresses:
            self.addresses = await asyncio.to_thread(node_addresses)
        self.plane = self._data_plane()
        started = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.factory.run(), name="ingress informers")
                await self.factory.wait_synced()
                self._routes_dirty.clear()
                self.rebuild()
                serving = group.create_task(self.plane.serve(started), name="ingress data plane")
                await _first(started, serving)
                if not started.is_set():
                    return  # the task group raises the data plane's error
                self.ports = self.plane.ports
                group.create_task(self._rebuild_loop(), name="ingress rebuild")
                group.create_task(self._status_worker(), name="ingress status")
                self.ready.set()
        finally:
            self.status_queue.shutdown()

    def _data_plane(self) -> DataPlane:
        c = self.config
        proxy, binary = choose(c.proxy)
        if proxy == NGINX and binary is not None:
            return NginxDataPlane(
                binary,
                c.state_dir,
                c.bind_address,
                c.http_port,
                c.https_port,
                c.timeouts,
                c.balance,
            )
        return BuiltinDataPlane(c.bind_address, c.http_port, c.https_port, c.timeouts)

    async def _rebuild_loop(self) -> None:
        while True:
            await self._routes_dirty.wait()
            self._routes_dirty.clear()
            self.rebuild()


async def run_ingress(client: Client, config: IngressConfig | None = None) -> None:
    """The ingress controller's entry point: serve until cancelled."""
    await IngressController(client, config).run()


async def _first(started: asyncio.Event, serving: asyncio.Task[None]) -> None:
    """Until the data plane has started, or ended (its error then ends the task group)."""
    waiter = asyncio.ensure_future(started.wait())
    try:
        await asyncio.wait({waiter, serving}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


def _object_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


def _lb_entry(address: str) -> Obj:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return {"hostname": address}
    return {"ip": address}
