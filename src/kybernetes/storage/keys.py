"""Key-range helpers shared by the backends.

Keys are compared as byte strings (UTF-8, SQLite's BINARY collation, etcd's byte order); a
prefix covers the half-open range ``[prefix, prefix_end(prefix))``.
"""

from __future__ import annotations

#: A key greater than every key; the end of the range of the empty prefix.
KEY_MAX = "\U0010ffff"


def prefix_end(prefix: str) -> str:
    """Return the smallest key greater than every key that starts with ``prefix``."""
    prefix = prefix.rstrip(KEY_MAX)
    if not prefix:
        return KEY_MAX
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
