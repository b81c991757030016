"""In-process watch fan-out for backends that own their log (sqlite, memory).

A backend that writes its own revision log tells the hub about every committed batch of
events (``publish``), in revision order, from the event loop. The hub hands each event to
every watcher whose prefix matches. A watcher never misses or repeats an event:

* It subscribes *before* it reads history, then reads the backend's log after its start
  revision up to what has been published, and drops queued events it has already yielded
  (revisions are strictly increasing, so "already yielded" is ``revision <= last``).
* A watcher whose consumer falls behind by more than ``queue_limit`` events is not allowed
  to grow without bound: its queue is dropped and it re-reads the missed range from the
  backend's log, exactly as it caught up at the start. Slow consumers cost reads, never
  memory and never correctness.
* If the log no longer holds the range (compaction), the history reader raises
  ``CompactedError`` and the watch ends with it, as etcd ends a compacted watch.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Sequence

from kybernetes.storage.errors import FutureRevisionError, UnavailableError
from kybernetes.storage.interface import EventType, WatchEvent, WatchStream

#: Reads committed events under ``prefix`` with ``after < revision <= upto``, in order, at
#: most ``limit`` of them; raises ``CompactedError`` if ``after`` is below the compacted
#: revision.
HistoryReader = Callable[[str, int, int, int], Awaitable[list[WatchEvent]]]

_HISTORY_PAGE = 1000


class _Subscription:
    __slots__ = ("events", "overflowed", "prefix", "progress_wanted", "wakeup")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.events: deque[WatchEvent] = deque()
        self.overflowed = False
        self.progress_wanted = False
        self.wakeup = asyncio.Event()


class _Stream:
    """The ``WatchStream`` a hub watch returns: the generator plus progress requests."""

    __slots__ = ("_gen", "_sub")

    def __init__(self, gen: AsyncGenerator[WatchEvent, None], sub: _Subscription) -> None:
        self._gen = gen
        self._sub = sub

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> WatchEvent:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        await self._gen.aclose()

    def request_progress(self) -> None:
        self._sub.progress_wanted = True
        self._sub.wakeup.set()


class WatchHub:
    """Fans published events out to watchers; see the module docstring for the guarantees."""

    def __init__(self, history: HistoryReader, revision: int, queue_limit: int = 10_000) -> None:
        self._history = history
        self._published = revision
        self._queue_limit = queue_limit
        self._subs: set[_Subscription] = set()
        self._by_prefix: dict[str, set[_Subscription]] = {}
        self._unaligned: set[_Subscription] = set()
        self._closed = False

    @property
    def revision(self) -> int:
        """The revision of the latest published event (or the store's revision at start)."""
        return self._published

    @property
    def watcher_count(self) -> int:
        """How many watches are open."""
        return len(self._subs)

    def _add(self, sub: _Subscription) -> None:
        self._subs.add(sub)
        if sub.prefix.endswith("/") or not sub.prefix:
            self._by_prefix.setdefault(sub.prefix, set()).add(sub)
        else:
            self._unaligned.add(sub)

    def _remove(self, sub: _Subscription) -> None:
        self._subs.discard(sub)
        self._unaligned.discard(sub)
        group = self._by_prefix.get(sub.prefix)
        if group is not None:
            group.discard(sub)
            if not group:
                del self._by_prefix[sub.prefix]

    def _matching_unaligned(self, key: str) -> Iterator[_Subscription]:
        """Subscriptions with a prefix not ending in ``/`` that ``key`` starts with.

        Prefixes that end at a ``/`` (every watch the API server opens) are found in ``publish``
        by looking up each ``/``-terminated prefix of the key, so fan-out costs the key's depth,
        not the number of watches; only the rare other prefixes are tested one by one.
        """
        for sub in self._unaligned:
            if key.startswith(sub.prefix):
                yield sub

    def publish(self, events: Sequence[WatchEvent]) -> None:
        """Deliver committed events, in revision order, to the matching watchers."""
        if not events:
            return
        self._published = events[-1].revision
        if not self._subs:
            return
        touched: set[_Subscription] = set()
        by_prefix = self._by_prefix
        root = by_prefix.get("")
        for event in events:
            key = event.key
            # Inlined _matching: this runs for every committed write.
            matched: list[_Subscription] = list(root) if root else []
            end = key.find("/")
            while end >= 0:
                group = by_prefix.get(key[: end + 1])
                if group:
                    matched.extend(group)
                end = key.find("/", end + 1)
            if self._unaligned:
                matched.extend(self._matching_unaligned(key))
            for sub in matched:
                if not sub.overflowed:
                    sub.events.append(event)
                    touched.add(sub)
        limit = self._queue_limit
        for sub in touched:
            if len(sub.events) > limit:
                sub.events.clear()
                sub.overflowed = True
            sub.wakeup.set()

    def advance(self, revision: int) -> None:
        """Record that the store reached ``revision`` without events to publish."""
        self._published = max(self._published, revision)

    def close(self) -> None:
        """End every watch with ``UnavailableError``; later watches fail the same way."""
        self._closed = True
        for sub in self._subs:
            sub.wakeup.set()

    def watch(self, prefix: str, revision: int) -> WatchStream:
        """Start a watch now (subscribed before this returns) and return its iterator."""
        if self._closed:
            raise UnavailableError("storage is closed")
        if revision > self._published:
            raise FutureRevisionError(revision, self._published)
        sub = _Subscription(prefix)
        self._add(sub)
        return _Stream(self._iterate(sub, revision), sub)

    async def _iterate(self, sub: _Subscription, last: int) -> AsyncGenerator[WatchEvent, None]:
        try:
            caught_up = False
            while True:
                if self._closed:
                    raise UnavailableError("storage is closed")
                if not caught_up or sub.overflowed:
                    sub.overflowed = False
                    sub.events.clear()
                    # Read what was published after ``last``; events published meanwhile
                    # land in the queue and are deduplicated below by revision.
                    while last < self._published:
                        page = await self._history(sub.prefix, last, self._published, _HISTORY_PAGE)
                        for event in page:
                            yield event
                            last = event.revision
                        if len(page) < _HISTORY_PAGE:
                            # Nothing more under this prefix up to what was published then;
                            # later events arrive through the queue.
                            break
                    caught_up = True
                    continue
                queue = sub.events
                while queue and not sub.overflowed:
                    event = queue.popleft()
                    if event.revision > last:
                        yield event
                        last = event.revision
                if not queue and not sub.overflowed and not self._closed:
                    if sub.progress_wanted:
                        # The queue is drained: everything published so far was delivered.
                        sub.progress_wanted = False
                        yield WatchEvent(EventType.PROGRESS, "", b"", self._published)
                        continue
                    sub.wakeup.clear()
                    await sub.wakeup.wait()
        finally:
            self._remove(sub)
