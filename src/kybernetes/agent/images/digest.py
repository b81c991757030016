"""Content digests: sha256 of bytes and of streams as they are read, and stream decompression.

Invariant: a :class:`HashingReader` hashes exactly the bytes that were read through it, so a
digest it reports after :meth:`HashingReader.drain` is the digest of the whole stream; callers
compare it with the expected digest before they trust anything made from the stream.
"""

from __future__ import annotations

import gzip
import hashlib
from typing import BinaryIO, Protocol, cast

from kybernetes.agent.images.interface import ImageError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def hex_of(digest: str) -> str:
    """The hex part of ``sha256:<hex>``."""
    return digest.partition(":")[2]


def verify(data: bytes, expected: str, what: str) -> None:
    actual = sha256_digest(data)
    if actual != expected:
        raise ImageError(f"digest mismatch for {what}: expected {expected}, got {actual}")


class HashingReader:
    """A file-like reader that counts and hashes what passes through it."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self.size = 0
        self._peeked = b""

    def peek(self, n: int) -> bytes:
        """The first ``n`` bytes, without consuming them (only before the first read)."""
        while len(self._peeked) < n:
            chunk = self._raw.read(n - len(self._peeked))
            if not chunk:
                break
            self._peeked += chunk
        return self._peeked[:n]

    def read(self, size: int = -1, /) -> bytes:
        if self._peeked and 0 <= size < len(self._peeked):
            data, self._peeked = self._peeked[:size], self._peeked[size:]
        elif self._peeked:
            head, self._peeked = self._peeked, b""
            data = head + self._raw.read(-1 if size < 0 else size - len(head))
        else:
            data = self._raw.read(size)
        self._hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """Read (and hash) the rest of the stream."""
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


def decompressed(reader: HashingReader) -> Readable:
    """``reader`` itself when it holds a plain tar, a gzip reader over it when it is gzipped."""
    head = reader.peek(4)
    if head.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=cast(BinaryIO, reader), mode="rb")
    if head.startswith(ZSTD_MAGIC):
        raise ImageError("zstd-compressed layers are not supported")
    return reader
