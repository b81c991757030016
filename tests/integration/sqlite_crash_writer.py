"""Child process for the crash test: writes to a sqlite store as fast as it can.

Usage: ``python sqlite_crash_writer.py DB TAG WATCH_FROM``. Prints, flushing each line:

* ``READY <revision>`` once the store is open;
* ``W <op> <key> <revision> <value>`` after each write is acknowledged (``op`` is c/u/d);
* ``E <revision> <type> <key>`` for each event its watch (from ``WATCH_FROM``) delivers.

It never stops by itself; the test kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys

from kybernetes.storage.sqlite import SqliteStorage

WRITERS = 16


async def main(path: str, tag: str, watch_from: int) -> None:
    store = await SqliteStorage.open(path)
    out = sys.stdout
    out.write(f"READY {await store.current_revision()}\n")
    out.flush()
    events = store.watch("/", watch_from)

    async def watcher() -> None:
        async for event in events:
            out.write(f"E {event.revision} {event.type.value} {event.key}\n")
            out.flush()

    async def writer(w: int) -> None:
        n = 0
        while True:
            key = f"/crash/{tag}/{w}/{n}"
            value = f"{tag}-{w}-{n}"
            kv = await store.create(key, f"{value}-0".encode())
            out.write(f"W c {key} {kv.mod_revision} {value}-0\n")
            kv = await store.update(key, f"{value}-1".encode(), kv.mod_revision)
            out.write(f"W u {key} {kv.mod_revision} {value}-1\n")
            if n % 3 == 0:
                kv = await store.delete(key, kv.mod_revision)
                out.write(f"W d {key} {kv.mod_revision} {value}-1\n")
            out.flush()
            n += 1

    await asyncio.gather(watcher(), *(writer(w) for w in range(WRITERS)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
