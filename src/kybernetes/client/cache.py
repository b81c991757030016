"""The informer's local cache: objects by key, plus secondary indexes kept in step.

An ``Indexer`` maps ``namespace/name`` (or ``name`` for cluster-scoped objects) to the latest
object the informer saw, and keeps any number of named indexes: an index function returns the
values an object is filed under (its namespace, its owners' uids, its node name...), and
``by_index(name, value)`` answers "every pod on node n1" without a scan.

Invariants: only the informer writes (``upsert``, ``remove``, ``replace``); readers get the stored
dicts themselves and must treat them as read-only (copy before changing). After every write, each
index holds exactly the keys whose object currently maps to that value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

Obj = dict[str, Any]
ObjList = list[Obj]
IndexFunc = Callable[[Obj], Iterable[str]]

NAMESPACE_INDEX: Final = "namespace"
OWNER_UID_INDEX: Final = "owner-uid"
NODE_NAME_INDEX: Final = "spec.nodeName"


def key_of(obj: Mapping[str, Any]) -> str:
    """The cache key of an object: ``namespace/name``, or ``name`` when it has no namespace."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name", "")
    return f"{namespace}/{name}" if namespace else str(name)


def split_key(key: str) -> tuple[str, str]:
    """``(namespace, name)`` from a cache key (namespace empty for cluster-scoped keys)."""
    namespace, _, name = key.rpartition("/")
    return namespace, name


def index_by_namespace(obj: Obj) -> Iterable[str]:
    namespace = (obj.get("metadata") or {}).get("namespace")
    return (namespace,) if namespace else ()


def index_by_owner_uid(obj: Obj) -> Iterable[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return tuple(ref["uid"] for ref in refs if ref.get("uid"))


def index_by_node_name(obj: Obj) -> Iterable[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return (node,) if node else ()


class Indexer:
    """Objects by key with named secondary indexes."""

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Obj] = {}
        self._funcs: dict[str, IndexFunc] = {NAMESPACE_INDEX: index_by_namespace}
        self._indexes: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        for name, func in (indexers or {}).items():
            self.add_indexer(name, func)

    # --- reads -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def get_by_name(self, name: str, namespace: str | None = None) -> Obj | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def items(self) -> dict[str, Obj]:
        """A copy of the key -> object mapping (the objects themselves are shared)."""
        return dict(self._items)

    def keys(self) -> list[str]:
        return list(self._items)

    def list(self) -> ObjList:
        return list(self._items.values())

    def by_index(self, index: str, value: str) -> ObjList:
        """Every object filed under ``value`` in ``index`` (``KeyError`` for an unknown index)."""
        keys = self._indexes[index].get(value)
        if not keys:
            return []
        items = self._items
        return [items[key] for key in keys]

    def index_keys(self, index: str, value: str) -> set[str]:
        return set(self._indexes[index].get(value, ()))

    def list_namespace(self, namespace: str | None) -> ObjList:
        """Every object in ``namespace`` (all of them when ``namespace`` is None)."""
        return self.list() if namespace is None else self.by_index(NAMESPACE_INDEX, namespace)

    # --- writes (the informer's) -----------------------------------------------------------

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        """Add an index; objects already stored are filed under it at once."""
        if name in self._funcs:
            if self._funcs[name] is func:
                return
            raise ValueError(f"index {name!r} already exists")
        self._funcs[name] = func
        index: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)
        self._indexes[name] = index

    def upsert(self, key: str, obj: Obj) -> Obj | None:
        """Store ``obj`` under ``key``; returns the object it replaced, if any."""
        old = self._items.get(key)
        self._items[key] = obj
        for name, func in self._funcs.items():
            index = self._indexes[name]
            new_values = tuple(func(obj))
            if old is not None:
                old_values = tuple(func(old))
                if old_values == new_values:
                    continue
                _unfile(index, key, old_values)
            for value in new_values:
                bucket = index.get(value)
                if bucket is None:
                    index[value] = {key}
                else:
                    bucket.add(key)
        return old

    def remove(self, key: str) -> Obj | None:
        """Forget ``key``; returns the object it held, if any."""
        old = self._items.pop(key, None)
        if old is not None:
            for name, func in self._funcs.items():
                _unfile(self._indexes[name], key, tuple(func(old)))
        return old

    def replace(self, items: Mapping[str, Obj]) -> None:
        """Hold exactly ``items`` (after a relist), rebuilding every index."""
        self._items = dict(items)
        for name, func in self._funcs.items():
            index: dict[str, set[str]] = {}
            for key, obj in self._items.items():
                for value in func(obj):
                    index.setdefault(value, set()).add(key)
            self._indexes[name] = index


def _unfile(index: dict[str, set[str]], key: str, values: Iterable[str]) -> None:
    for value in values:
        bucket = index.get(value)
        if bucket is not None:
            bucket.discard(key)
            if not bucket:
                del index[value]
