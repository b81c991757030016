"""The registry store of CustomResourceDefinitions themselves, with upstream's two additions:

- deleting a CRD first gives it the ``customresourcecleanup.apiextensions.k8s.io`` finalizer,
  so it stays (``Terminating``) until the controller has deleted every custom object of it;
- every create or update of a CRD is handed to the controller before the client is answered,
  so the resource is served (or re-served with the new schema) when the write returns, not
  some time after: ``kubectl apply`` of a CRD and then of an object in the next command works.

Invariant: the controller's own writes (status, finalizer removal) use ``Store`` methods
directly and are never handed back to it (no re-entry).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kybernetes.apiserver.registry import DeleteOptions, Store

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class DefinitionStore(Store):
    """The ``customresourcedefinitions`` store."""

    #: Reconciles one CRD by name, now (set by the controller).
    on_change: Callable[[str], Awaitable[None]] | None = None

    async def create(self, namespace: str, obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        created = await super().create(namespace, obj, **kwargs)
        if not kwargs.get("dry_run") and self.on_change is not None:
            await self.on_change(created["metadata"]["name"])
            current = self.cache.get(self.key("", created["metadata"]["name"]))
            if current is not None:
                return dict(current.obj)
        return created

    async def update(
        self, namespace: str, name: str, mutate: Any, **kwargs: Any
    ) -> tuple[dict[str, Any], bool]:
        result, created = await super().update(namespace, name, mutate, **kwargs)
        if (
            not kwargs.get("dry_run")
            and kwargs.get("subresource", "") == ""
            and self.on_change is not None
        ):
            await self.on_change(name)
        return result, created

    async def delete(
        self, namespace: str, name: str, opts: DeleteOptions, **kwargs: Any
    ) -> tuple[dict[str, Any], bool]:
        current = await self.get(namespace, name)
        meta = current.obj.get("metadata", {})
        fresh = not meta.get("deletionTimestamp")
        if not opts.dry_run and fresh and CLEANUP_FINALIZER not in (meta.get("finalizers") or []):

            def add_finalizer(obj: dict[str, Any]) -> dict[str, Any]:
                finalizers = obj["metadata"].setdefault("finalizers", [])
                if CLEANUP_FINALIZER not in finalizers:
                    finalizers.append(CLEANUP_FINALIZER)
                obj["metadata"].pop("resourceVersion", None)
                return obj

            await Store.update(self, namespace, name, add_finalizer)
        result = await super().delete(namespace, name, opts, **kwargs)
        if not opts.dry_run and self.on_change is not None:
            await self.on_change(name)
        return result
