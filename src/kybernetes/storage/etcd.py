"""The etcd storage backend: :class:`EtcdStorage` keeps the ``Storage`` contract over etcd v3.

It speaks etcd's gRPC API through ``grpcio`` with the etcd v3 protobuf messages and stubs that
the ``aetcd`` package ships (``aetcd.rpc``); ``aetcd``'s own ``Client`` is not used because it
dials a single endpoint, cannot range with a limit, a revision or ``count_only``, and has no
watch resumption (see ``docs/storage-etcd.md``).

Every operation maps to etcd the way Kubernetes' etcd3 store does:

* ``create``  = ``Txn(mod_revision(key) == 0 ? put)``
* ``update``  = ``Txn(mod_revision(key) == expected ? put, range(key) : range(key))``
* ``delete``  = ``Txn(mod_revision(key) == expected ? delete(prev_kv) : range(key))``
  (``expected`` 0 compares ``mod_revision > 0``: the key must exist)
* ``get``/``list``/``count`` = ``Range`` (with ``revision``, ``limit``, ``count_only``);
  ``start_after`` ranges from ``key + "\\0"``; a page read at revision 0 returns the revision
  it was read at, which later pages pass back, so all pages form one consistent snapshot.
* ``watch(prefix, R)`` = one ``Watch`` stream with ``prev_kv``, started at revision ``R`` and
  skipping the events of ``R`` itself, so etcd reports compaction exactly when ``R`` is below
  the compacted revision, as the contract says. A PUT whose ``create_revision`` equals its
  ``mod_revision`` is ADDED, any other PUT is MODIFIED, a DELETE is DELETED carrying the value
  before the delete.
* ``compact`` = physical ``Compact``; ``current_revision`` = the header of a ``Range``.

Key layout: every key handed in is stored under ``prefix + key``. The default ``prefix`` is
empty, because the API server already hands full keys (``/registry/pods/default/web``), so the
etcd keyspace matches Kubernetes' own and etcd tooling reads it the same way. A non-empty prefix
isolates tenants (tests use one per test); it is stripped from every key returned.

Invariants:

* A write returns only after etcd has committed it to a quorum of members' WALs (fsync'd).
* A write whose outcome is unknown (the connection broke after the request left) is never
  retried: it raises :class:`UnavailableError`. Reads, and writes that etcd refused before
  proposing them (no leader, too many requests), are retried until ``request_timeout``.
* A watch never ends by itself: when its stream breaks (the member died, or lost its leader,
  which etcd reports because watches require a leader), it reopens on another member from the
  last revision it delivered, so every event is yielded exactly once, in revision order.
* All endpoints share one gRPC channel balancing round-robin over the members; a dead member
  drops out of the rotation, and rejoins when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

import grpc  # type: ignore[import-untyped]
from aetcd import rpc

from kybernetes.storage.errors import (
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    StorageError,
    UnavailableError,
)
from kybernetes.storage.interface import EventType, KeyValue, ListResult, WatchEvent

__all__ = ["EtcdStorage", "EtcdWatch", "parse_endpoint"]

# etcd's error messages (etcdserver/api/v3rpc/rpctypes); the gRPC code alone is ambiguous.
_MSG_COMPACTED: Final = "required revision has been compacted"
_MSG_FUTURE: Final = "required revision is a future revision"
# Errors etcd returns before a request is proposed to raft: a write that got one was not
# applied and can be sent again.
_NOT_PROPOSED: Final = (
    "etcdserver: no leader",
    "etcdserver: not capable",
    "etcdserver: too many requests",
)
# Stream failures after which a watch reopens instead of failing.
_WATCH_RETRY_CODES: Final = frozenset(
    {"UNAVAILABLE", "UNKNOWN", "INTERNAL", "CANCELLED", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"}
)
# Watches require a leader: a member that loses its leader ends them, so they move to a member
# that still has one instead of stalling (Kubernetes sets the same metadata).
_REQUIRE_LEADER: Final = (("hasleader", "true"),)

_EVENT_DELETE: Final = 1  # mvccpb.Event.EventType.DELETE


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """Split ``host:port``, ``http://host:port`` or ``[v6]:port`` into host and port."""
    rest = endpoint
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        if scheme != "http":
            raise ValueError(f"unsupported etcd endpoint scheme {scheme!r} in {endpoint!r}")
    rest = rest.rstrip("/")
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"etcd endpoint must be host:port, got {endpoint!r}")
    return host, int(port)


def _prefix_end(key: bytes) -> bytes:
    """The first key after every key starting with ``key`` (etcd's ``range_end``)."""
    stripped = key.rstrip(b"\xff")
    if not stripped:
        return b"\0"  # every key from ``key`` on
    return stripped[:-1] + bytes([stripped[-1] + 1])


class EtcdStorage:
    """``Storage`` over an etcd v3 cluster.

    ``endpoints`` are the members' client addresses (``host:port`` or ``http://host:port``);
    ``prefix`` is prepended to every key (see the module docstring). The constructor does not
    connect; the first operation does, or ``await EtcdStorage.connect(...)``, which also checks
    that a member answers.
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        prefix: str = "",
        request_timeout: float = 15.0,
        compact_timeout: float = 120.0,
    ) -> None:
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        if not endpoints:
            raise ValueError("EtcdStorage needs at least one endpoint")
        self.endpoints = [parse_endpoint(e) for e in endpoints]
        self.prefix = prefix
        self.request_timeout = request_timeout
        self.compact_timeout = compact_timeout
        self._root = prefix.encode()
        self._channel: Any = None
        self._kv: Any = None
        self._watch_stub: Any = None
        self._open_lock = asyncio.Lock()
        self._closed = False
        self._watches: dict[asyncio.Task[None], _WatchState] = {}

    @classmethod
    async def connect(
        cls,
        endpoints: Sequence[str],
        *,
        prefix: str = "",
        request_timeout: float = 15.0,
        compact_timeout: float = 120.0,
    ) -> EtcdStorage:
        """Open a storage and wait until the cluster answers a linearizable read."""
        storage = cls(
            endpoints,
            prefix=prefix,
            request_timeout=request_timeout,
            compact_timeout=compact_timeout,
        )
        try:
            await storage.current_revision()
        except BaseException:
            await storage.close()
            raise
        return storage

    # -- connection -------------------------------------------------------------------------

    async def _target(self) -> str:
        """A gRPC target naming every member's address, so one channel balances over all."""
        loop = asyncio.get_running_loop()
        v4: list[str] = []
        v6: list[str] = []
        for host, port in self.endpoints:
            try:
                addresses = [ipaddress.ip_address(host)]
            except ValueError:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
            for address in dict.fromkeys(addresses):
                if address.version == 4:
                    v4.append(f"{address}:{port}")
                else:
                    v6.append(f"[{address}]:{port}")
        # One gRPC target holds addresses of one family; prefer IPv4 when a name has both.
        if v4:
            return "ipv4:" + ",".join(dict.fromkeys(v4))
        return "ipv6:" + ",".join(dict.fromkeys(v6))

    async def _open(self) -> None:
        async with self._open_lock:
            if self._closed:
                raise UnavailableError("etcd storage is closed")
            if self._channel is not None:
                return
            target = await self._target()
            options = [
                ("grpc.lb_policy_name", "round_robin"),
                # Probe idle connections (a watch may see no event for hours) every 30 s;
                # etcd's server accepts pings at most every 5 s, and only with a stream open.
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.keepalive_timeout_ms", 10_000),
                ("grpc.keepalive_permit_without_calls", 0),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.max_receive_message_length", -1),
                # A killed member that comes back rejoins the rotation within seconds.
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 2_000),
            ]
            channel = grpc.aio.insecure_channel(target, options=options)
            self._kv = rpc.KVStub(channel)
            self._watch_stub = rpc.WatchStub(channel)
            self._channel = channel

    async def close(self) -> None:
        """End every watch, let in-flight requests finish, then close the channel."""
        async with self._open_lock:
            if self._closed:
                return
            self._closed = True
            for task, state in list(self._watches.items()):
                task.cancel()
                state.fail(UnavailableError("etcd storage is closed"))
            channel, self._channel = self._channel, None
            if channel is not None:
                await channel.close(grace=self.request_timeout)

    # -- calls ------------------------------------------------------------------------------

    def _key(self, key: str) -> bytes:
        return self._root + key.encode()

    def _range(self, prefix: str) -> tuple[bytes, bytes]:
        """The etcd ``[key, range_end)`` holding every key under ``prefix``."""
        start = self._key(prefix)
        if not start:
            # etcd rejects an empty key; from "\0" to the end "\0" is the whole keyspace.
            return b"\0", b"\0"
        return start, _prefix_end(start)

    def _kv_out(self, kv: Any) -> KeyValue:
        return KeyValue(
            key=kv.key[len(self._root) :].decode(),
            value=kv.value,
            create_revision=kv.create_revision,
            mod_revision=kv.mod_revision,
        )

    async def _call(
        self,
        method: str,
        request: Any,
        *,
        idempotent: bool,
        revision: int = 0,
        budget: float | None = None,
    ) -> Any:
        """Send one unary KV request, retrying while it is safe to; map failures to our errors.

        ``revision`` is the one the request reads at, for the errors that name it; ``budget``
        bounds the time spent, retries included (``request_timeout`` by default).
        """
        if self._channel is None:
            await self._open()
        send = getattr(self._kv, method)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (budget or self.request_timeout)
        delay = 0.02
        while True:
            if self._closed:
                raise UnavailableError("etcd storage is closed")
            remaining = deadline - loop.time()
            try:
                return await send(request, timeout=max(remaining, 0.001), wait_for_ready=True)
            except grpc.aio.AioRpcError as err:
                code, details = err.code(), err.details() or ""
                if _MSG_COMPACTED in details or _MSG_FUTURE in details:
                    raise await self._revision_error(details, revision) from err
                retry = code == grpc.StatusCode.RESOURCE_EXHAUSTED and "too many" in details
                retry = retry or (
                    code == grpc.StatusCode.UNAVAILABLE
                    and (idempotent or any(m in details for m in _NOT_PROPOSED))
                )
                if retry and deadline - loop.time() > delay:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    continue
                raise UnavailableError(f"etcd: {code.name}: {details}") from err
            except grpc.aio.UsageError as err:  # the channel was closed under us
                raise UnavailableError("etcd storage is closed") from err

    async def _revision_error(self, details: str, revision: int) -> StorageError:
        if _MSG_COMPACTED in details:
            return CompactedError(revision, await self._compacted_revision())
        return FutureRevisionError(revision, await self.current_revision())

    async def _compacted_revision(self) -> int:
        """The cluster's compacted revision, which etcd reveals only to a watch from 1."""
        call = self._watch_stub.Watch(metadata=_REQUIRE_LEADER, wait_for_ready=True)
        try:
            async with asyncio.timeout(self.request_timeout):
                key, _ = self._range("")
                create = rpc.WatchCreateRequest(key=key, start_revision=1)
                await call.write(rpc.WatchRequest(create_request=create))
                while True:
                    response = await call.read()
                    if response is grpc.aio.EOF:
                        return 0
                    if response.compact_revision or not response.created:
                        return int(response.compact_revision)
        except (TimeoutError, grpc.aio.AioRpcError):
            return 0
        finally:
            call.cancel()

    # -- Storage ----------------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        k = self._key(key)
        txn = rpc.TxnRequest(
            compare=[_mod_compare(k, rpc.Compare.EQUAL, 0)],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value))],
        )
        response = await self._call("Txn", txn, idempotent=False)
        if not response.succeeded:
            raise KeyExistsError(key)
        revision = int(response.header.revision)
        return KeyValue(key, value, revision, revision)

    async def get(self, key: str, revision: int = 0) -> KeyValue:
        response = await self._call(
            "Range",
            rpc.RangeRequest(key=self._key(key), revision=revision),
            idempotent=True,
            revision=revision,
        )
        if not response.kvs:
            raise KeyNotFoundError(key)
        return self._kv_out(response.kvs[0])

    async def list(
        self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0
    ) -> ListResult:
        start, end = self._range(prefix)
        if start_after:
            start = max(start, self._key(start_after) + b"\0")
        request = rpc.RangeRequest(key=start, range_end=end, limit=max(limit, 0), revision=revision)
        response = await self._call("Range", request, idempotent=True, revision=revision)
        items = [self._kv_out(kv) for kv in response.kvs]
        more = bool(response.more)
        return ListResult(
            items=items,
            revision=revision or int(response.header.revision),
            more=more,
            remaining=int(response.count) - len(items) if more else 0,
        )

    async def count(self, prefix: str) -> int:
        start, end = self._range(prefix)
        request = rpc.RangeRequest(key=start, range_end=end, count_only=True)
        response = await self._call("Range", request, idempotent=True)
        return int(response.count)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        k = self._key(key)
        txn = rpc.TxnRequest(
            compare=[_expect(k, expected_revision)],
            success=[
                rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value)),
                # Read back in the same txn: the put's response lacks create_revision.
                rpc.RequestOp(request_range=rpc.RangeRequest(key=k, keys_only=True)),
            ],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=k))],
        )
        response = await self._call("Txn", txn, idempotent=False)
        if not response.succeeded:
            raise self._write_failure(key, expected_revision, response)
        kv = response.responses[1].response_range.kvs[0]
        return KeyValue(key, value, int(kv.create_revision), int(kv.mod_revision))

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        k = self._key(key)
        txn = rpc.TxnRequest(
            compare=[_expect(k, expected_revision)],
            success=[
                rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=k, prev_kv=True))
            ],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=k))],
        )
        response = await self._call("Txn", txn, idempotent=False)
        if not response.succeeded:
            raise self._write_failure(key, expected_revision, response)
        prev = response.responses[0].response_delete_range.prev_kvs[0]
        return KeyValue(key, prev.value, int(prev.create_revision), int(response.header.revision))

    def _write_failure(self, key: str, expected: int, response: Any) -> StorageError:
        kvs = response.responses[0].response_range.kvs
        if not kvs:
            return KeyNotFoundError(key)
        return ConflictError(key, expected, self._kv_out(kvs[0]))

    async def current_revision(self) -> int:
        # A linearizable read of one (usually absent) key: its header carries the revision.
        key, _ = self._range("")
        request = rpc.RangeRequest(key=key, count_only=True)
        response = await self._call("Range", request, idempotent=True)
        return int(response.header.revision)

    async def compact(self, revision: int) -> None:
        request = rpc.CompactionRequest(revision=revision, physical=True)
        # Idempotent: compacting again at the same revision only reports "compacted".
        with contextlib.suppress(CompactedError):
            await self._call(
                "Compact",
                request,
                idempotent=True,
                revision=revision,
                budget=self.compact_timeout,
            )

    def watch(self, prefix: str, revision: int) -> EtcdWatch:
        # The stream opens now, in a task of its own, not at the first ``__anext__``: no event
        # could be missed either way (the stream starts at ``revision``), but history reaches a
        # watcher only once etcd has synced it (every 100 ms), so watchers opened together
        # should catch up together.
        state = _WatchState()
        task = asyncio.get_running_loop().create_task(self._pump(prefix, revision, state))
        self._watches[task] = state
        task.add_done_callback(self._watches.pop)
        return EtcdWatch(task, state)

    async def _pump(self, prefix: str, revision: int, state: _WatchState) -> None:
        """Feed ``state`` with the events after ``revision``, reopening broken streams."""
        try:
            current = await self.current_revision()
            if revision > current:
                raise FutureRevisionError(revision, current)
            start, end = self._range(prefix)
            last = revision  # every event up to and including ``last`` has been queued
            delay = 0.02
            while True:
                if self._closed:
                    raise UnavailableError("etcd storage is closed")
                call = self._watch_stub.Watch(metadata=_REQUIRE_LEADER, wait_for_ready=True)
                try:
                    # Start at ``last``, not ``last + 1``: etcd then reports compaction exactly
                    # when ``last`` is below the compacted revision (the contract's rule); the
                    # events of ``last`` itself, already queued, are skipped below.
                    create = rpc.WatchCreateRequest(
                        key=start, range_end=end, start_revision=max(last, 1), prev_kv=True
                    )
                    await call.write(rpc.WatchRequest(create_request=create))
                    state.call = call
                    if state.progress_pending:
                        await call.write(_PROGRESS_REQUEST)
                    while True:
                        response = await call.read()
                        if response is grpc.aio.EOF:
                            break
                        if response.compact_revision:
                            raise CompactedError(last, int(response.compact_revision))
                        if response.canceled:
                            reason = response.cancel_reason or "canceled"
                            raise UnavailableError(f"etcd canceled the watch: {reason}")
                        if response.created:
                            delay = 0.02
                        if not response.events and not response.created:
                            # A progress notification: every event up to the header's
                            # revision has been sent on this stream.
                            state.progress_pending = False
                            last = max(last, int(response.header.revision))
                            progress = WatchEvent(EventType.PROGRESS, "", b"", last)
                            await state.put([progress])
                            continue
                        events = [
                            self._event(e) for e in response.events if e.kv.mod_revision > last
                        ]
                        if events:
                            await state.put(events)
                            # etcd never splits one revision's events across responses (no
                            # fragmenting), so every event up to this one has been queued.
                            last = events[-1].revision
                except grpc.aio.AioRpcError as err:
                    if self._closed:
                        raise UnavailableError("etcd storage is closed") from err
                    if err.code().name not in _WATCH_RETRY_CODES:
                        message = f"etcd watch: {err.code().name}: {err.details()}"
                        raise UnavailableError(message) from err
                finally:
                    state.call = None
                    call.cancel()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        except StorageError as err:
            state.fail(err)
        except grpc.aio.UsageError:
            state.fail(UnavailableError("etcd storage is closed"))

    def _event(self, event: Any) -> WatchEvent:
        kv = event.kv
        key = kv.key[len(self._root) :].decode()
        revision = int(kv.mod_revision)
        prev = event.prev_kv.value if event.HasField("prev_kv") else None
        if event.type == _EVENT_DELETE:
            if prev is None:
                # The value before the delete is gone (compacted); DELETED must carry it.
                raise CompactedError(revision - 1, revision)
            return WatchEvent(EventType.DELETED, key, prev, revision)
        if kv.create_revision == kv.mod_revision:
            return WatchEvent(EventType.ADDED, key, kv.value, revision)
        return WatchEvent(EventType.MODIFIED, key, kv.value, revision, prev)


_PROGRESS_REQUEST: Final = rpc.WatchRequest(progress_request=rpc.WatchProgressRequest())


class _WatchState:
    """What a watch's pump task hands its consumer: batches of events, then maybe an error.

    The pump waits while ``_BUFFER`` events are queued, so a slow consumer slows the stream
    (and gRPC flow control slows etcd) instead of growing memory without bound.
    """

    _BUFFER: Final = 1024

    def __init__(self) -> None:
        self.events: deque[WatchEvent] = deque()
        self.error: StorageError | None = None
        # The open gRPC stream, for progress requests (None while reconnecting).
        self.call: Any = None
        self.progress_pending = False
        self.changed = asyncio.Event()  # set when events or an error arrive
        self.drained = asyncio.Event()  # set when the consumer takes events

    async def put(self, events: list[WatchEvent]) -> None:
        while len(self.events) >= self._BUFFER:
            self.drained.clear()
            await self.drained.wait()
        self.events.extend(events)
        self.changed.set()

    def fail(self, error: StorageError) -> None:
        if self.error is None:
            self.error = error
        self.changed.set()


class EtcdWatch(AsyncIterator[WatchEvent]):
    """The iterator ``EtcdStorage.watch`` returns.

    ``aclose()``, or cancelling a consumer waiting in ``__anext__`` (as with an async
    generator), ends its pump task and so its etcd stream.
    """

    def __init__(self, task: asyncio.Task[None], state: _WatchState) -> None:
        self._task = task
        self._state = state
        self._closed = False

    def __aiter__(self) -> EtcdWatch:
        return self

    async def __anext__(self) -> WatchEvent:
        state = self._state
        while not state.events:
            if self._closed:
                raise StopAsyncIteration
            if state.error is not None:
                self._closed = True
                raise state.error
            state.changed.clear()
            try:
                await state.changed.wait()
            except asyncio.CancelledError:
                self._stop()
                raise
        event = state.events.popleft()
        state.drained.set()
        return event

    async def aclose(self) -> None:
        self._stop()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def request_progress(self) -> None:
        state = self._state
        if state.progress_pending:
            return
        state.progress_pending = True
        call = state.call
        if call is not None:
            # Sent from a task of its own: the consumer must not wait on the stream's writes.
            task = asyncio.get_running_loop().create_task(call.write(_PROGRESS_REQUEST))
            task.add_done_callback(_ignore_write_failure)

    def _stop(self) -> None:
        self._closed = True
        self._state.events.clear()
        self._task.cancel()

    def __del__(self) -> None:
        # An iterator dropped without aclose() must not leave its stream open.
        if not self._task.done() and not self._task.get_loop().is_closed():
            self._task.cancel()


def _ignore_write_failure(task: asyncio.Task[None]) -> None:
    # A stream that broke meanwhile is reopened by the pump, which re-sends the request.
    if not task.cancelled():
        task.exception()


def _mod_compare(key: bytes, result: Any, revision: int) -> Any:
    return rpc.Compare(key=key, target=rpc.Compare.MOD, result=result, mod_revision=revision)


def _expect(key: bytes, expected_revision: int) -> Any:
    """The compare of a conditional write: at ``expected_revision``, or existing when 0."""
    if expected_revision:
        return _mod_compare(key, rpc.Compare.EQUAL, expected_revision)
    return _mod_compare(key, rpc.Compare.GREATER, 0)
