"""Namespace lifecycle: default namespaces, no new content in a terminating namespace, and
emptying a deleted namespace before it goes.

Deleting a namespace marks it Terminating (its ``spec.finalizers`` hold ``kubernetes``). This
loop — upstream runs it in the controller manager; it lives beside the registry here because it
needs every namespaced resource — deletes everything in such a namespace and, once nothing is
left, removes the ``kubernetes`` finalizer through ``finalize``, which removes the namespace.
It is level-triggered: every pass looks at all terminating namespaces, so a missed change is
repaired by the next one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kybernetes.api import errors
from kybernetes.apiserver.registry import DeleteOptions, ListOptions, Store

log = logging.getLogger(__name__)

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_RESYNC_SECONDS = 1.0


class NamespaceLifecycle:
    """Guards namespace content and finalizes deleted namespaces."""

    def __init__(self, namespaces: Store, stores: dict[tuple[str, str], Store]) -> None:
        self.namespaces = namespaces
        self.stores = stores

    async def ensure_defaults(self, names: tuple[str, ...]) -> None:
        """Create the namespaces every cluster has, if missing."""
        for name in names:
            try:
                await self.namespaces.create(
                    "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                )
            except errors.AlreadyExists:
                continue

    async def check_creatable(self, namespace: str) -> None:
        """Refuse new objects in a missing or terminating namespace, as upstream does."""
        cached = self.namespaces.cache.get(self.namespaces.key("", namespace))
        if cached is None:
            await self.namespaces.sync()
            cached = self.namespaces.cache.get(self.namespaces.key("", namespace))
        if cached is None:
            raise errors.new_not_found("namespaces", namespace)
        if cached.obj["metadata"].get("deletionTimestamp"):
            raise errors.Forbidden(
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
                details=errors.StatusDetails(
                    name=namespace,
                    kind="namespaces",
                    causes=(
                        errors.StatusCause(
                            type="NamespaceTerminating",
                            message=f"namespace {namespace} is being terminated",
                            field="metadata.namespace",
                        ),
                    ),
                ),
            )

    async def run(self) -> None:
        watcher = self.namespaces.cache.watch(None, lambda c: True, self.namespaces.prefix)
        try:
            while True:
                watcher.events.clear()
                watcher.wakeup.clear()
                for cached in list(self.namespaces.cache.items()):
                    if cached.obj["metadata"].get("deletionTimestamp"):
                        try:
                            await self._finalize(cached.obj)
                        except errors.StatusError as exc:
                            log.info(
                                "namespace finalize retry namespace=%s reason=%s",
                                cached.obj["metadata"]["name"],
                                exc,
                            )
                try:
                    async with asyncio.timeout(_RESYNC_SECONDS):
                        await watcher.wakeup.wait()
                except TimeoutError:
                    pass
        finally:
            self.namespaces.cache.stop_watching(watcher)

    async def _finalize(self, namespace: dict[str, Any]) -> None:
        name = namespace["metadata"]["name"]
        remaining = 0
        for store in self.stores.values():
            if not store.info.namespaced:
                continue
            page = await store.list(ListOptions(namespace=name, resource_version="0"))
            if not page.items:
                continue
            remaining += len(page.items)
            for cached in page.items:
                if cached.obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    await store.delete(
                        name,
                        cached.obj["metadata"]["name"],
                        DeleteOptions(propagation_policy="Background"),
                    )
                except errors.NotFound:
                    continue
        if remaining:
            return
        finalizers = (namespace.get("spec") or {}).get("finalizers") or []
        if "kubernetes" not in finalizers:
            return

        def drop_finalizer(obj: dict[str, Any]) -> dict[str, Any]:
            spec = obj.setdefault("spec", {})
            spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != "kubernetes"]
            if not spec["finalizers"]:
                del spec["finalizers"]
            return obj

        await self.namespaces.update("", name, drop_finalizer, subresource="finalize")
        log.info("namespace finalized namespace=%s", name)
