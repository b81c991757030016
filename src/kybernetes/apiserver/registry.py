"""The generic registry: every resource's create, read, update, delete over storage.

One ``Store`` per resource. It owns the resource's storage keys and its watch cache, applies
the kind's ``Strategy`` (strategy.py) and the object metadata rules every kind shares (uid,
creationTimestamp, generateName, resourceVersion preconditions, finalizers, graceful
deletion), and is the only place storage errors become API errors (``errors.py``).

Invariants:
* An object in storage never carries ``metadata.resourceVersion``; every object leaving the
  store carries the storage revision that wrote it, as a string.
* Reads without a resourceVersion are consistent: they wait until the watch cache has seen the
  storage's current revision, so a client always reads its own writes.
* Writes are conditional on the revision they read (optimistic concurrency); an update that
  names a stale resourceVersion fails with 409 Conflict, an update that names none is retried
  against the latest object.
* Validation and defaulting run before anything is stored; dry runs do everything but store.
* A request's admission (its webhooks, bound by the handler) mutates after defaulting and
  validates after validation, before quota and storage, as upstream orders admission.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import copy
import secrets
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from kybernetes.api import conversion, errors
from kybernetes.api.apply import record_update, reset_fields
from kybernetes.api.fields import FieldSelector
from kybernetes.api.meta import new_uid
from kybernetes.api.resources import ResourceInfo
from kybernetes.api.schema import find_definition
from kybernetes.api.selectors import Selector
from kybernetes.apiserver.fieldsets import fields_func
from kybernetes.apiserver.strategy import Strategy, strategy_for
from kybernetes.apiserver.watchcache import CachedObject, WatchCache, decode
from kybernetes.storage.errors import (
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
)
from kybernetes.storage.interface import Storage

#: Validates an object (``old`` on updates); returns field errors in upstream's words.
Validator = Callable[[ResourceInfo, dict[str, Any], dict[str, Any] | None], list[errors.FieldError]]
#: Fills in defaults in place.
Defaulter = Callable[[ResourceInfo, dict[str, Any]], None]


class RequestAdmission(Protocol):
    """One request's admission beyond the built-in plugins (the webhooks), bound to the
    request's attributes by the handler: ``mutate`` runs after defaulting and before
    validation, ``validate`` after validation and before quota and storage."""

    async def mutate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]: ...

    async def validate(self, obj: dict[str, Any] | None, old: dict[str, Any] | None) -> None: ...


class Reservation(Protocol):
    """Values an allocator set aside for one write: committed with the write's revision, or
    released (by leaving the ``with`` block uncommitted) if the write does not happen."""

    def __enter__(self) -> Reservation: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self, revision: int) -> None: ...


class Allocator(Protocol):
    """Hands out unique values stored in objects (Service cluster IPs and node ports).

    The Store calls it before validation, as upstream does, so that validation sees the
    allocated values; it is the only resource-specific hook of the write path.
    """

    def allocate_for_create(self, obj: dict[str, Any], *, dry_run: bool = False) -> Reservation: ...

    def reconcile_update(
        self, old: dict[str, Any], new: dict[str, Any], *, dry_run: bool = False
    ) -> Reservation: ...

    def release_for_delete(self, obj: Mapping[str, Any], *, revision: int = 0) -> None: ...


_SYSTEM_FIELDS = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_UPDATE_RETRIES = 20
_CONTINUE_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)


class _Timestamps:
    """RFC 3339 timestamps at one-second precision, formatted once per second.

    Every write stamps one or two (``creationTimestamp``, ``managedFields[].time``) and
    ``strftime`` was a visible share of a create; the text depends only on the wall-clock
    fields it prints, so those are the cache key (correct for any injected clock).
    """

    __slots__ = ("_key", "_text")

    def __init__(self) -> None:
        self._key: tuple[int, ...] = ()
        self._text = ""

    def __call__(self, now: datetime) -> str:
        key = (now.second, now.minute, now.hour, now.day, now.month, now.year)
        if key != self._key:
            self._text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
            self._key = key
        return self._text


def generate_name(prefix: str) -> str:
    """``prefix`` plus five random characters, as upstream's name generator makes them."""
    return prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))


def converts(info: ResourceInfo) -> bool:
    """Whether this version of a resource is served by converting another's stored objects."""
    return (info.group, info.version, info.plural) in _CONVERSIONS


def storage_prefix(info: ResourceInfo) -> str:
    """``/registry/<group or core>/<plural>/``: the keys of every object of a resource."""
    group, plural = _STORED_AS.get((info.group, info.plural), (info.group, info.plural))
    return f"/registry/{group or 'core'}/{plural}/"


Conversion = Callable[[dict[str, Any]], dict[str, Any]]

#: Resources stored as another resource, converted on the way in and out (as upstream).
_STORED_AS = {("events.k8s.io", "events"): ("", "events")}
_CONVERSIONS: dict[tuple[str, str, str], tuple[Conversion, Conversion]] = {
    ("events.k8s.io", "v1", "events"): (conversion.event_to_core, conversion.event_from_core),
    ("autoscaling", "v1", "horizontalpodautoscalers"): (
        conversion.hpa_to_v2,
        conversion.hpa_to_v1,
    ),
}


@dataclass(frozen=True, slots=True)
class ListOptions:
    namespace: str = ""
    labels: Selector | None = None
    fields: FieldSelector | None = None
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""


@dataclass(frozen=True, slots=True)
class ListPage:
    items: list[CachedObject]
    revision: int
    continue_token: str = ""
    remaining: int | None = None


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str = ""
    precondition_uid: str = ""
    precondition_resource_version: str = ""
    dry_run: bool = False


def encode_continue(revision: int, start_key: str) -> str:
    token = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start_key})
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        revision, start = int(data["rv"]), str(data["start"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise errors.new_bad_request(f"continue key is not valid: {exc}") from exc
    if data.get("v") != "meta.k8s.io/v1" or revision <= 0:
        raise errors.new_bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion"
        )
    return revision, start


def parse_resource_version(value: str, what: str = "resourceVersion") -> int:
    try:
        revision = int(value)
    except ValueError:
        raise errors.new_bad_request(f"invalid {what}: {value!r}") from None
    if revision < 0:
        raise errors.new_bad_request(f"invalid {what}: {value!r}")
    return revision


class Store:
    """Everything the API does with one resource's objects."""

    def __init__(
        self,
        info: ResourceInfo,
        storage: Storage,
        *,
        validator: Validator,
        defaulter: Defaulter,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        strategy: Strategy | None = None,
    ) -> None:
        self.info = info
        self.storage = storage
        self.prefix = storage_prefix(info)
        self._to_stored: Conversion | None = None
        self._from_stored: Conversion | None = None
        conversions = _CONVERSIONS.get((info.group, info.version, info.plural))
        if conversions is not None:
            self._to_stored, self._from_stored = conversions
        self.cache = WatchCache(storage, self.prefix, decoder=self._decode_stored)
        self.strategy = strategy or strategy_for(info)
        self.fields = fields_func(info.group, info.plural)
        self.schema = find_definition(info.definition)
        self._validate = validator
        self._default = defaulter
        self._now = now
        self._timestamp = _Timestamps()
        #: Checked before an object is created in a namespace (set by the server).
        self.namespace_check: Callable[[str], Awaitable[None]] | None = None
        #: Mutating admission that reads cluster state (service accounts), on create only,
        #: after defaulting and before webhooks (set by the server).
        self.mutate_create: Callable[[ResourceInfo, dict[str, Any]], Awaitable[None]] | None = None
        #: Validating admission with side effects (quota), after validation (set by the server).
        self.admit_create: (
            Callable[[ResourceInfo, str, dict[str, Any], bool], Awaitable[None]] | None
        ) = None
        #: Allocates unique values for this resource's objects (services; set by the server).
        self.allocator: Allocator | None = None

    # ----- keys and encoding ------------------------------------------------------------

    def key(self, namespace: str, name: str) -> str:
        if self.info.namespaced:
            return f"{self.prefix}{namespace}/{name}"
        return f"{self.prefix}{name}"

    def _decode_stored(self, key: str, value: bytes, revision: int) -> CachedObject:
        cached = decode(key, value, revision)
        if self._from_stored is not None:
            cached.obj = self._from_stored(cached.obj)
        return cached

    def _encode(self, obj: dict[str, Any]) -> bytes:
        if self._to_stored is not None:
            obj = self._to_stored(obj)
        meta_ = obj["metadata"]
        rv = meta_.pop("resourceVersion", None)
        try:
            return orjson.dumps(obj)
        finally:
            if rv is not None:
                meta_["resourceVersion"] = rv

    def _not_found(self, name: str) -> errors.StatusError:
        return errors.new_not_found(self.info.plural, name, group=self.info.group)

    def _conflict(self, name: str) -> errors.StatusError:
        return errors.new_conflict(self.info.plural, name, group=self.info.group)

    def _invalid(self, name: str, errs: list[errors.FieldError]) -> errors.StatusError:
        return errors.new_invalid(self.info.kind, name, errs, group=self.info.group)

    # ----- reads ------------------------------------------------------------------------

    async def sync(self) -> None:
        """Wait until the cache reflects every write acknowledged so far."""
        revision = await self.storage.current_revision()
        if self.cache.revision < revision:
            self.cache.request_progress()
        try:
            await self.cache.wait_for_revision(revision)
        except TimeoutError:
            raise errors.Timeout(
                "Too large resource version: the watch cache did not catch up in time"
            ) from None

    async def get(self, namespace: str, name: str, resource_version: str = "") -> CachedObject:
        if resource_version and resource_version != "0":
            await self._wait_for(parse_resource_version(resource_version))
        elif not resource_version:
            await self.sync()
        else:
            await self.cache.wait_ready()
        cached = self.cache.get(self.key(namespace, name))
        if cached is None:
            raise self._not_found(name)
        return cached

    async def wait_for_watch(self, revision: int) -> None:
        """Wait until a watch from ``revision`` can be served (the cache has reached it)."""
        await self.cache.wait_ready()
        await self._wait_for(revision)

    async def _wait_for(self, revision: int) -> None:
        if self.cache.revision < revision:
            self.cache.request_progress()
        try:
            await self.cache.wait_for_revision(revision)
        except TimeoutError:
            raise errors.Timeout(
                f"Too large resource version: {revision}, current: {self.cache.revision}"
            ) from None

    def matcher(self, opts: ListOptions) -> Callable[[CachedObject], bool]:
        """The predicate of a list or watch (namespace, label and field selectors)."""
        labels = opts.labels if opts.labels is not None and not opts.labels.is_empty else None
        fields = opts.fields if opts.fields is not None and not opts.fields.is_empty else None
        fields_fn = self.fields

        def matches(cached: CachedObject) -> bool:
            if labels is not None and not labels.matches(cached.labels):
                return False
            return fields is None or fields.matches(cached.fields(fields_fn))

        return matches

    def namespace_prefix(self, namespace: str) -> str:
        return f"{namespace}/" if self.info.namespaced and namespace else ""

    async def list(self, opts: ListOptions) -> ListPage:
        matches = self.matcher(opts)
        if opts.continue_token:
            return await self._list_from_storage(opts, matches)
        rv = opts.resource_version
        if opts.resource_version_match == "Exact":
            if not rv:
                raise errors.new_bad_request(
                    "resourceVersionMatch is forbidden unless resourceVersion is provided"
                )
            return await self._list_from_storage(opts, matches, parse_resource_version(rv))
        if rv and rv != "0":
            await self._wait_for(parse_resource_version(rv))
        elif not rv:
            await self.sync()
        else:
            await self.cache.wait_ready()
        revision = self.cache.revision
        selected = self._select(self.cache.items(self.namespace_prefix(opts.namespace)), matches)
        if opts.limit <= 0:
            return ListPage(list(selected), revision)
        page: list[CachedObject] = []
        for cached in selected:
            if len(page) == opts.limit:
                remaining = 1 + sum(1 for _ in selected)
                token = encode_continue(revision, page[-1].key[len(self.prefix) :])
                return ListPage(page, revision, token, remaining)
            page.append(cached)
        return ListPage(page, revision)

    @staticmethod
    def _select(
        items: Iterator[CachedObject], matches: Callable[[CachedObject], bool]
    ) -> Iterator[CachedObject]:
        return (cached for cached in items if matches(cached))

    async def _list_from_storage(
        self, opts: ListOptions, matches: Callable[[CachedObject], bool], revision: int = 0
    ) -> ListPage:
        """A list read from storage at one revision: continue pages and Exact reads."""
        start_after = ""
        if opts.continue_token:
            revision, start = decode_continue(opts.continue_token)
            start_after = self.prefix + start
        prefix = self.prefix + self.namespace_prefix(opts.namespace)
        page: list[CachedObject] = []
        try:
            while True:
                chunk = await self.storage.list(
                    prefix, limit=max(opts.limit, 500), start_after=start_after, revision=revision
                )
                revision = chunk.revision
                for kv in chunk.items:
                    cached = self._decode_stored(kv.key, kv.value, kv.mod_revision)
                    if not matches(cached):
                        continue
                    if opts.limit and len(page) == opts.limit:
                        token = encode_continue(revision, page[-1].key[len(self.prefix) :])
                        return ListPage(page, revision, token, None)
                    page.append(cached)
                if not chunk.more:
                    return ListPage(page, revision)
                start_after = chunk.items[-1].key
        except CompactedError:
            if opts.continue_token:
                raise errors.new_resource_expired(_CONTINUE_TOO_OLD) from None
            raise errors.new_resource_expired(
                f"too old resource version: {revision} ({self.cache.revision})"
            ) from None
        except FutureRevisionError:
            raise errors.Timeout(
                f"Too large resource version: {revision}, current: {self.cache.revision}"
            ) from None

    # ----- writes -----------------------------------------------------------------------

    def _check_namespace(self, obj: dict[str, Any], namespace: str) -> None:
        meta_ = obj.setdefault("metadata", {})
        if not isinstance(meta_, dict):
            raise errors.new_bad_request("metadata must be an object")
        if self.info.namespaced:
            body_ns = meta_.get("namespace") or ""
            if body_ns and body_ns != namespace:
                raise errors.new_bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta_["namespace"] = namespace
        else:
            meta_.pop("namespace", None)

    def _validated(self, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        errs = self._validate(self.info, obj, old)
        if errs:
            raise self._invalid(obj["metadata"].get("name", ""), errs)

    def _record(
        self,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        field_manager: str | None,
        subresource: str,
    ) -> dict[str, Any]:
        """``new`` with the fields this write changed owned by ``field_manager``."""
        if field_manager is None:
            return new
        return record_update(
            old,
            new,
            field_manager,
            api_version=self.info.api_version,
            schema=self.schema,
            now=self._timestamp(self._now()),
            subresource=subresource,
            ignored=reset_fields(subresource, has_status=self.strategy.has_status),
        )

    async def create(
        self,
        namespace: str,
        obj: dict[str, Any],
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
        admission: RequestAdmission | None = None,
    ) -> dict[str, Any]:
        """Create ``obj`` (already decoded and structurally valid) in ``namespace``.

        With a ``field_manager`` the fields it set are recorded in ``managedFields`` (apply
        records its own and passes none).
        """
        self._check_namespace(obj, namespace)
        if self.info.namespaced and self.namespace_check is not None:
            await self.namespace_check(namespace)
        self._default(self.info, obj)
        # Owned as defaulted, before server-set fields (uid, status, allocations), as upstream.
        obj = self._record(None, obj, field_manager, "")
        if self.mutate_create is not None:
            await self.mutate_create(self.info, obj)
        if admission is not None:
            # Webhooks see the object before the server sets uid and a generated name.
            mutated = await admission.mutate(obj, None)
            if mutated is not obj:
                obj = mutated
                self._check_namespace(obj, namespace)
                self._default(self.info, obj)
        meta_ = obj["metadata"]
        if not meta_.get("name") and meta_.get("generateName"):
            meta_["name"] = generate_name(meta_["generateName"])
        name = meta_.get("name") or ""
        meta_["uid"] = new_uid()
        meta_["creationTimestamp"] = self._timestamp(self._now())
        for transient in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta_.pop(transient, None)
        self.strategy.prepare_for_create(obj)
        allocator = self.allocator
        reservation = allocator.allocate_for_create(obj, dry_run=dry_run) if allocator else None
        with reservation or contextlib.nullcontext():
            self._validated(obj, None)
            if admission is not None:
                await admission.validate(obj, None)
            if self.admit_create is not None and self.info.namespaced:
                await self.admit_create(self.info, namespace, obj, dry_run)
            if dry_run:
                return obj
            try:
                kv = await self.storage.create(self.key(namespace, name), self._encode(obj))
            except KeyExistsError:
                raise errors.new_already_exists(
                    self.info.plural, name, group=self.info.group
                ) from None
            if reservation is not None:
                reservation.commit(kv.mod_revision)
        meta_["resourceVersion"] = str(kv.mod_revision)
        return obj

    async def _current(self, namespace: str, name: str) -> CachedObject:
        await self.sync()
        cached = self.cache.get(self.key(namespace, name))
        if cached is None:
            raise self._not_found(name)
        return cached

    async def update(
        self,
        namespace: str,
        name: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        subresource: str = "",
        dry_run: bool = False,
        create: Callable[[], Awaitable[dict[str, Any]]] | None = None,
        field_manager: str | None = None,
        admission: RequestAdmission | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Read, ``mutate`` a private copy, and write it back conditionally, retrying.

        ``mutate`` returns the new object; if it carries ``metadata.resourceVersion`` the write
        is conditional on it (409 when stale); otherwise it is retried on the latest object.
        If the object does not exist and ``create`` is given, it is called instead (PUT and
        apply create). Returns the stored object and whether it was created.
        """
        key = self.key(namespace, name)
        try:
            current: CachedObject | None = await self._current(namespace, name)
        except errors.NotFound:
            if create is None:
                raise
            return await create(), True
        for _ in range(_UPDATE_RETRIES):
            if current is None:
                if create is None:
                    raise self._not_found(name)
                return await create(), True
            old = current.obj
            new = mutate(copy.deepcopy(old))
            self._check_namespace(new, namespace)
            new_meta = new["metadata"]
            if new_meta.get("name", name) != name:
                raise errors.new_bad_request(
                    f"the name of the object ({new_meta.get('name')}) does not match the name on "
                    f"the URL ({name})"
                )
            new_meta["name"] = name
            new_uid = new_meta.get("uid")
            if new_uid and new_uid != old["metadata"].get("uid"):
                raise self._invalid(
                    name, [errors.invalid("metadata.uid", new_uid, "field is immutable")]
                )
            wanted_rv = new_meta.get("resourceVersion") or ""
            if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
                raise self._conflict(name)
            self._keep_system_metadata(new_meta, old["metadata"])
            allocator = self.allocator if subresource != "status" else None
            if subresource != "status":
                self._default(self.info, new)
            new = self._record(old, new, field_manager, subresource)
            if admission is not None:
                mutated = await admission.mutate(new, old)
                if mutated is not new:
                    new = mutated
                    self._check_namespace(new, namespace)
                    self._keep_system_metadata(new["metadata"], old["metadata"])
                    if subresource != "status":
                        self._default(self.info, new)
            reservation = (
                allocator.reconcile_update(old, new, dry_run=dry_run) if allocator else None
            )
            # Leaving this block without a commit (conflict, no-op, dry run, error) gives
            # back whatever the allocator set aside for this attempt.
            with reservation or contextlib.nullcontext():
                new = self.strategy.prepare_for_update(new, old, subresource)
                if subresource != "binding":  # binding sets spec.nodeName, nothing else
                    self._validated(new, old)
                if admission is not None:
                    await admission.validate(new, old)
                if new == old:
                    return copy.deepcopy(old), False
                if dry_run:
                    return new, False
                if self._being_deleted(new) and self._finalized(new):
                    # The last finalizer went: the object goes.
                    gone = await self._remove(namespace, name, current.revision, new)
                    if allocator is not None:
                        revision = int(gone["metadata"]["resourceVersion"])
                        allocator.release_for_delete(old, revision=revision)
                    return gone, False
                try:
                    kv = await self.storage.update(key, self._encode(new), current.revision)
                except ConflictError as conflict:
                    if wanted_rv:
                        raise self._conflict(name) from None
                    current = self._decode_stored(
                        key, conflict.current.value, conflict.current.mod_revision
                    )
                    continue
                except KeyNotFoundError:
                    if wanted_rv:
                        raise self._conflict(name) from None
                    current = None
                    continue
                if reservation is not None:
                    reservation.commit(kv.mod_revision)
            new["metadata"]["resourceVersion"] = str(kv.mod_revision)
            return new, False
        raise self._conflict(name)

    @staticmethod
    def _keep_system_metadata(new_meta: dict[str, Any], old_meta: Mapping[str, Any]) -> None:
        """Fields clients cannot change on update keep their stored values."""
        for field in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if field in old_meta:
                new_meta[field] = old_meta[field]
            else:
                new_meta.pop(field, None)
        new_meta["resourceVersion"] = old_meta["resourceVersion"]

    def _being_deleted(self, obj: Mapping[str, Any]) -> bool:
        return bool(obj.get("metadata", {}).get("deletionTimestamp"))

    def _finalized(self, obj: Mapping[str, Any]) -> bool:
        """No finalizer is left (for namespaces: neither kind of finalizer)."""
        if obj.get("metadata", {}).get("finalizers"):
            return False
        return not (self.strategy.is_namespace and (obj.get("spec") or {}).get("finalizers"))

    async def _remove(
        self, namespace: str, name: str, revision: int, last: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            kv = await self.storage.delete(self.key(namespace, name), revision)
        except (ConflictError, KeyNotFoundError):
            raise self._conflict(name) from None
        last["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return last

    async def delete(
        self,
        namespace: str,
        name: str,
        opts: DeleteOptions,
        *,
        admission: RequestAdmission | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Delete (or start deleting) an object; returns it and whether it is gone now.

        Objects with finalizers, and pods on a node given a grace period, get a
        deletionTimestamp and stay until their finalizers are removed (or the node confirms).
        """
        key = self.key(namespace, name)
        current: CachedObject | None = None
        for _ in range(_UPDATE_RETRIES):
            if current is None:
                current = await self._current(namespace, name)
            obj = copy.deepcopy(current.obj)
            meta_ = obj["metadata"]
            if opts.precondition_uid and opts.precondition_uid != meta_.get("uid"):
                raise errors.new_conflict(
                    self.info.plural,
                    name,
                    f"Precondition failed: UID in precondition: {opts.precondition_uid}, "
                    f"UID in object meta: {meta_.get('uid')}",
                    group=self.info.group,
                )
            if (
                opts.precondition_resource_version
                and opts.precondition_resource_version != meta_["resourceVersion"]
            ):
                raise errors.new_conflict(
                    self.info.plural,
                    name,
                    "Precondition failed: ResourceVersion in precondition: "
                    f"{opts.precondition_resource_version}, ResourceVersion in object meta: "
                    f"{meta_['resourceVersion']}",
                    group=self.info.group,
                )
            if admission is not None:
                await admission.validate(None, current.obj)
            grace = self._grace_period(obj, opts)
            finalizers = list(meta_.get("finalizers") or [])
            policy = opts.propagation_policy
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if self.strategy.is_namespace:
                finalizers_pending = bool((obj.get("spec") or {}).get("finalizers")) or bool(
                    finalizers
                )
            else:
                finalizers_pending = bool(finalizers)
            if not finalizers_pending and not grace:
                if opts.dry_run:
                    return obj, True
                try:
                    kv = await self.storage.delete(key, current.revision)
                except ConflictError as conflict:
                    # Retry on what storage holds now; the watch cache may still be behind it.
                    current = self._decode_stored(
                        key, conflict.current.value, conflict.current.mod_revision
                    )
                    continue
                except KeyNotFoundError:
                    raise self._not_found(name) from None
                if self.allocator is not None:
                    self.allocator.release_for_delete(current.obj, revision=kv.mod_revision)
                meta_["resourceVersion"] = str(kv.mod_revision)
                return obj, True
            # Graceful: mark it deleted and let finalizers (or the node) finish the job.
            now = self._now()
            if not meta_.get("deletionTimestamp"):
                meta_["deletionTimestamp"] = (now + timedelta(seconds=grace or 0)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
                meta_["deletionGracePeriodSeconds"] = grace or 0
                if self.strategy.tracks_generation:
                    meta_["generation"] = meta_.get("generation", 1) + 1
            elif grace is not None and grace < (meta_.get("deletionGracePeriodSeconds") or 0):
                meta_["deletionTimestamp"] = (now + timedelta(seconds=grace)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
                meta_["deletionGracePeriodSeconds"] = grace
            meta_["finalizers"] = finalizers
            if self.strategy.is_namespace:
                obj.setdefault("status", {})["phase"] = "Terminating"
            if not finalizers:
                meta_.pop("finalizers")
            if opts.dry_run:
                return obj, False
            if obj == current.obj:
                return obj, False
            try:
                kv = await self.storage.update(key, self._encode(obj), current.revision)
            except ConflictError as conflict:
                current = self._decode_stored(
                    key, conflict.current.value, conflict.current.mod_revision
                )
                continue
            except KeyNotFoundError:
                raise self._not_found(name) from None
            meta_["resourceVersion"] = str(kv.mod_revision)
            return obj, False
        raise self._conflict(name)

    def _grace_period(self, obj: Mapping[str, Any], opts: DeleteOptions) -> int | None:
        """Seconds a pod gets to stop; ``None`` or 0 means delete now."""
        if not self.strategy.graceful:
            return None
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            # Never scheduled, or already finished: nothing to stop.
            return 0
        if opts.grace_period_seconds is not None:
            return max(opts.grace_period_seconds, 0)
        return int(spec.get("terminationGracePeriodSeconds", 30))

    async def delete_collection(
        self,
        opts: ListOptions,
        delete_opts: DeleteOptions,
        *,
        admission: RequestAdmission | None = None,
    ) -> builtins.list[dict[str, Any]]:
        page = await self.list(
            ListOptions(namespace=opts.namespace, labels=opts.labels, fields=opts.fields)
        )
        deleted = []
        for cached in page.items:
            meta_ = cached.obj["metadata"]
            try:
                obj, _ = await self.delete(
                    meta_.get("namespace", ""), meta_["name"], delete_opts, admission=admission
                )
            except errors.NotFound:
                continue
            deleted.append(obj)
        return deleted
