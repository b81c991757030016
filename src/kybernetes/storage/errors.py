"""Storage errors: what a backend reports, independent of the API that shows them.

The API server's registry translates these into ``Status`` errors (NotFound, AlreadyExists,
Conflict, Gone, ...); nothing else does.
"""

from __future__ import annotations

from kybernetes.storage.interface import KeyValue


class StorageError(Exception):
    """Base of every error a storage backend raises on purpose."""


class KeyNotFoundError(StorageError):
    """The key holds no value."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class KeyExistsError(StorageError):
    """A create found the key already holding a value."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class ConflictError(StorageError):
    """A conditional write's expected revision was not the key's current one."""

    def __init__(self, key: str, expected_revision: int, current: KeyValue) -> None:
        super().__init__(
            f"conflict on {key}: expected revision {expected_revision}, "
            f"current is {current.mod_revision}"
        )
        self.key = key
        self.expected_revision = expected_revision
        self.current = current


class CompactedError(StorageError):
    """The requested revision is older than the compacted revision; its history is gone."""

    def __init__(self, revision: int, compacted_revision: int) -> None:
        super().__init__(
            f"revision {revision} has been compacted (oldest kept is {compacted_revision})"
        )
        self.revision = revision
        self.compacted_revision = compacted_revision


class FutureRevisionError(StorageError):
    """The requested revision is newer than the store's current revision."""

    def __init__(self, revision: int, current_revision: int) -> None:
        super().__init__(f"revision {revision} is in the future (current is {current_revision})")
        self.revision = revision
        self.current_revision = current_revision


class UnavailableError(StorageError):
    """The backend cannot serve now (closed, or no quorum); the caller may retry."""
