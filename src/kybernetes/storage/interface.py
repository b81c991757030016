"""The storage contract every backend keeps (sqlite, etcd, memory).

The model is etcd3's, which the real API server relies on:

* One global revision, a positive integer that increases by exactly one with every
  successful write (create, update or delete) and never goes back, across restarts too.
  The revision of the write that last touched a key is that key's ``mod_revision``; the API
  server shows it to clients as the object's ``resourceVersion``.
* Values are opaque bytes (the API server stores JSON). Keys are ``str`` paths such as
  ``/registry/pods/default/web-0``; listing and watching work on key prefixes.
* Every write is durable before its coroutine returns (fsync, or an etcd quorum).
* A watch from revision ``R`` yields every change with a revision greater than ``R`` under its
  prefix, in revision order, exactly once. If history after ``R`` is no longer kept (``R`` is
  below the compacted revision) it raises :class:`~kybernetes.storage.errors.CompactedError`.
* Compaction at ``C`` forgets values superseded at or before ``C``; reads and watches at
  revisions ``>= C`` keep working.

Errors are the :mod:`kybernetes.storage.errors` family; the API server's registry is the only
place that turns them into API ``Status`` errors.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol


class KeyValue(NamedTuple):
    """One key's value as of ``mod_revision``.

    ``create_revision`` is the revision that created this incarnation of the key (it changes
    when a key is deleted and created again); ``mod_revision`` the one that last wrote it.

    Immutable tuples: created on every write, so cheaper than dataclasses matters.
    """

    key: str
    value: bytes
    create_revision: int
    mod_revision: int


class EventType(enum.Enum):
    """What a watch event did to its key (the names Kubernetes watch events use)."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    #: Not a change: every change under the watch's prefix up to ``revision`` was delivered.
    PROGRESS = "PROGRESS"


class WatchEvent(NamedTuple):
    """One change seen by a watch.

    ``revision`` is the revision of the change. ``value`` is the new value, and for DELETED the
    value the key held just before it was deleted. A PROGRESS event (only after
    ``request_progress``) has an empty key and value. ``prev_value`` is the value before a
    MODIFIED change when the backend still has it (``None`` for ADDED, and where compaction
    already forgot it).
    """

    type: EventType
    key: str
    value: bytes
    revision: int
    prev_value: bytes | None = None


@dataclass(frozen=True, slots=True)
class ListResult:
    """A page of a prefix listing, in key order, all read at one ``revision``.

    ``more`` says whether keys after the last one returned still match; a caller continues
    with ``start_after`` set to the last key and ``revision`` set to this page's revision.
    ``remaining`` counts the matching keys after this page when ``more`` is true.
    """

    items: list[KeyValue]
    revision: int
    more: bool = False
    remaining: int = 0


class WatchStream(Protocol):
    """The iterator a watch returns: async iteration plus ``aclose()`` to stop it early."""

    def __aiter__(self) -> AsyncIterator[WatchEvent]: ...

    async def __anext__(self) -> WatchEvent: ...

    async def aclose(self) -> None: ...

    def request_progress(self) -> None:
        """Ask for a PROGRESS event: once every change up to the store's current revision has
        been delivered, the stream yields one carrying that revision. A watch cache uses it to
        know it is up to date although nothing under its prefix changed."""
        ...


class Storage(Protocol):
    """A revisioned key-value store with prefix listing, conditional writes and watch.

    All methods are coroutines and may be called concurrently from one event loop.
    """

    async def create(self, key: str, value: bytes) -> KeyValue:
        """Store ``value`` under a key that must not exist; return what was stored.

        Raises ``KeyExistsError`` if the key already holds a value.
        """
        ...

    async def get(self, key: str, revision: int = 0) -> KeyValue:
        """Return the key's value now, or as of ``revision`` when it is positive.

        Raises ``KeyNotFoundError`` if the key has no value (at that revision),
        ``CompactedError`` if ``revision`` is below the compacted revision and
        ``FutureRevisionError`` if it is above the current one.
        """
        ...

    async def list(
        self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0
    ) -> ListResult:
        """Return the live keys under ``prefix`` in key order.

        ``limit`` (0: no limit) caps the page; ``start_after`` skips keys up to and including
        it; ``revision`` (0: now) reads a consistent snapshot at that revision. Raises
        ``CompactedError`` or ``FutureRevisionError`` as ``get`` does.
        """
        ...

    async def count(self, prefix: str) -> int:
        """Return how many live keys are under ``prefix`` now."""
        ...

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        """Replace the key's value if its ``mod_revision`` equals ``expected_revision``.

        ``expected_revision`` 0 means unconditional. Raises ``KeyNotFoundError`` if the key does
        not exist and ``ConflictError`` (carrying the current value) if the revision differs.
        """
        ...

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        """Delete the key, if its ``mod_revision`` equals ``expected_revision`` (0: any).

        Returns the deleted value with ``mod_revision`` set to the deletion's revision.
        Raises ``KeyNotFoundError`` or ``ConflictError`` as ``update`` does.
        """
        ...

    def watch(self, prefix: str, revision: int) -> WatchStream:
        """Yield every change under ``prefix`` with a revision greater than ``revision``.

        The iterator starts immediately (no event is missed between the call and the first
        ``__anext__``), never ends by itself, and is closed with ``aclose()`` or by
        cancellation. It raises ``CompactedError`` when the history it needs is gone, and
        ``FutureRevisionError`` when ``revision`` is above the current revision.
        """
        ...

    async def current_revision(self) -> int:
        """Return the revision of the latest write (0 for an empty store)."""
        ...

    async def compact(self, revision: int) -> None:
        """Forget history before ``revision`` (values superseded at or before it).

        Compacting at or below the already compacted revision does nothing. Raises
        ``FutureRevisionError`` if ``revision`` is above the current one.
        """
        ...

    async def close(self) -> None:
        """Release the backend's resources; pending writes finish first."""
        ...
