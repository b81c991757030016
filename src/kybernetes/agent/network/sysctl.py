"""Kernel network settings (``/proc/sys/net/...``) of the calling thread's network namespace.

``/proc/sys/net`` shows the namespace of the task that opens the file, so an agent that runs in
a namespace of its own (a simulated node) changes only its own settings.

Invariant: a value is written only when it differs, and every write is logged with the old
value, so nothing is changed silently.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

_ROOT = "/proc/sys/net"


def _path(key: tuple[str, ...]) -> str:
    """``("ipv4", "conf", "kyb0", "forwarding")`` -> its file (a tuple: names may hold dots)."""
    return os.path.join(_ROOT, *key)


def read(key: tuple[str, ...]) -> str | None:
    try:
        with open(_path(key)) as file:
            return file.read().strip()
    except FileNotFoundError:
        return None


def ensure(key: tuple[str, ...], value: str) -> bool:
    """Set ``net.<key>`` to ``value``; False when the setting does not exist in this kernel."""
    old = read(key)
    if old is None:
        return False
    if old != value:
        with open(_path(key), "w") as file:
            file.write(value)
        log.info("sysctl changed key=net.%s old=%s new=%s", ".".join(key), old, value)
    return True
