"""HTTP handlers for resource requests: the REST verbs, watch, and the built-in subresources.

The pipeline of every request is explicit and in upstream's order: authenticate and authorize
(middleware in ``app.py``), decode, admit (defaults), validate (structural here, semantic in
the registry), store. Handlers translate HTTP (paths, query parameters, media types) into
registry calls and registry results back into HTTP; they hold no state of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from kybernetes.api import errors, fields, selectors
from kybernetes.api.apply import apply, manager_from_user_agent, reset_fields
from kybernetes.api.patch import apply_patch
from kybernetes.api.resources import ResourceInfo
from kybernetes.api.schema import find_definition
from kybernetes.api.tables import to_table
from kybernetes.api.validation import structural
from kybernetes.apiserver import directwrite, encoding
from kybernetes.apiserver.auth.authn import UserInfo
from kybernetes.apiserver.auth.serviceaccount import TokenIssuer
from kybernetes.apiserver.crd import scale as custom_scale
from kybernetes.apiserver.crd.store import CustomResourceStore
from kybernetes.apiserver.fieldsets import supported_fields
from kybernetes.apiserver.registry import DeleteOptions, ListOptions, Store
from kybernetes.apiserver.requestinfo import RequestInfo, parse_bool
from kybernetes.apiserver.subresources import binding, eviction, scale, streaming, token
from kybernetes.apiserver.subresources import log as pod_log
from kybernetes.apiserver.subresources.kubelet import KubeletClient
from kybernetes.apiserver.watchcache import CachedObject, TooOldError
from kybernetes.apiserver.webhooks import attributes as admission
from kybernetes.apiserver.webhooks.dispatcher import Recheck, RequestWebhooks, WebhookAdmission

#: Watches without timeoutSeconds stay open this long (upstream picks 30-60 minutes).
DEFAULT_WATCH_SECONDS = 1800
BOOKMARK_INTERVAL = 60.0

PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def _table_wanted(accept: str) -> bool:
    return any("as=Table" in part and "g=meta.k8s.io" in part for part in accept.split(","))


def _query_int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.new_bad_request(f"invalid value {value!r} for parameter {name!r}") from None


def _field_manager(request: web.Request) -> str:
    """``?fieldManager=``, or upstream's default: the User-Agent up to its first ``/``."""
    manager = request.query.get("fieldManager")
    if manager is None:
        return manager_from_user_agent(request.headers.get("User-Agent", ""))
    if len(manager.encode()) > 128 or not manager.isprintable():
        raise errors.new_invalid(
            "PatchOptions",
            "",
            [errors.invalid("fieldManager", manager, "must be printable and at most 128 bytes")],
            group="meta.k8s.io",
        )
    return manager


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for value in values:
        if value != "All":
            raise errors.new_bad_request(
                f'Invalid dry run value: {value!r}: supported values: "All"'
            )
    return bool(values)


class ResourceHandler:
    """Serves every request for the resources of one ``Stores`` collection."""

    def __init__(
        self,
        stores: dict[tuple[str, str], Store],
        other_versions: dict[tuple[str, str, str], Store],
        now: Callable[[], datetime],
    ) -> None:
        self.stores = stores
        self.other_versions = other_versions
        self.now = now
        #: Served custom resource versions by (group, version, plural) (the CRD controller's).
        self.custom: dict[tuple[str, str, str], CustomResourceStore] = {}
        #: Admission webhooks (set by the server; without them none are called).
        self.webhooks: WebhookAdmission | None = None
        #: The authenticated user of a request (set by the server).
        self.user_of: Callable[[web.Request], UserInfo | None] = lambda _request: None
        #: How pods/log, exec, attach and portforward reach kubelets (set by the server).
        self.kubelets: KubeletClient | None = None
        #: Issues service-account tokens (set by the server; without it no token subresource).
        self.tokens: TokenIssuer | None = None

    def store_for(self, info: RequestInfo) -> Store:
        store = self.stores.get((info.group, info.resource))
        if store is not None and store.info.version != info.version:
            store = self.other_versions.get((info.group, info.version, info.resource))
        if store is None:
            raise errors.NotFound("the server could not find the requested resource")
        return store

    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        store = self.store_for(info)
        res = store.info
        if not res.namespaced and info.namespace and res.plural != "namespaces":
            raise errors.NotFound("the server could not find the requested resource")
        if info.subresource:
            return await self._subresource(request, info, store)
        verb = info.verb
        if res.namespaced and not info.namespace and verb not in ("list", "watch"):
            raise errors.NotFound("the server could not find the requested resource")
        if not res.has_verb(verb) and not (verb == "watch" and res.has_verb("list")):
            raise errors.new_method_not_supported(res.plural, verb, group=res.group)
        if verb == "get":
            return self._object_response(
                request,
                store,
                await store.get(
                    info.namespace, info.name, request.query.get("resourceVersion", "")
                ),
            )
        if verb == "list":
            return await self._list(request, info, store)
        if verb == "watch":
            return await self._watch(request, info, store)
        if verb == "create":
            return await self._create(request, info, store)
        if verb == "update":
            return await self._update(request, info, store, "")
        if verb == "patch":
            return await self._patch(request, info, store, "")
        if verb == "delete":
            return await self._delete(request, info, store)
        if verb == "deletecollection":
            return await self._delete_collection(request, info, store)
        raise errors.new_method_not_supported(res.plural, verb, group=res.group)

    # ----- output -----------------------------------------------------------------------

    def _with_type(self, res: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        return obj

    def _object_response(
        self, request: web.Request, store: Store, cached: CachedObject, status: int = 200
    ) -> web.Response:
        if _table_wanted(request.headers.get("Accept", "")):
            return encoding.json_response(self._table(request, store.info, [cached.obj]), status)
        return encoding.raw_json_response(self._typed_json(store.info, cached), status)

    def _typed_json(self, res: ResourceInfo, cached: CachedObject) -> bytes:
        obj = cached.obj
        if obj.get("apiVersion") == res.api_version and obj.get("kind") == res.kind:
            return cached.json
        return orjson.dumps({**obj, "apiVersion": res.api_version, "kind": res.kind})

    def _table(
        self,
        request: web.Request,
        res: ResourceInfo,
        objects: list[dict[str, Any]],
        revision: int | None = None,
        continue_token: str = "",
    ) -> dict[str, Any]:
        include = request.query.get("includeObject", "Metadata")
        custom = self.custom.get((res.group, res.version, res.plural))
        table: dict[str, Any] = (
            custom.printer.table(objects, now=self.now(), include_object=include)
            if custom is not None
            else to_table(res, objects, now=self.now(), include_object=include)
        )
        meta = table.setdefault("metadata", {})
        if revision is not None:
            meta["resourceVersion"] = str(revision)
        if continue_token:
            meta["continue"] = continue_token
        return table

    def _typed(self, res: ResourceInfo, obj: dict[str, Any], status: int = 200) -> web.Response:
        return encoding.json_response(self._with_type(res, obj), status)

    # ----- list and watch ---------------------------------------------------------------

    def _list_options(self, request: web.Request, info: RequestInfo, store: Store) -> ListOptions:
        query = request.query
        try:
            labels = selectors.parse(query.get("labelSelector", ""))
        except ValueError as exc:  # the message is upstream's ("unable to parse requirement: ...")
            raise errors.new_bad_request(str(exc)) from None
        try:
            field_sel = fields.parse(query.get("fieldSelector", ""))
        except ValueError as exc:
            raise errors.new_bad_request(str(exc)) from None
        allowed = supported_fields(store.info.group, store.info.plural)
        for name in field_sel.field_names():
            if name not in allowed:
                raise errors.new_bad_request(f"field label not supported: {name}")
        return ListOptions(
            namespace=info.namespace,
            labels=labels,
            fields=field_sel,
            limit=_query_int(request, "limit") or 0,
            continue_token=query.get("continue", ""),
            resource_version=query.get("resourceVersion", ""),
            resource_version_match=query.get("resourceVersionMatch", ""),
        )

    async def _list(self, request: web.Request, info: RequestInfo, store: Store) -> web.Response:
        opts = self._list_options(request, info, store)
        page = await store.list(opts)
        res = store.info
        if _table_wanted(request.headers.get("Accept", "")):
            return encoding.json_response(
                self._table(
                    request, res, [c.obj for c in page.items], page.revision, page.continue_token
                )
            )
        meta: dict[str, Any] = {"resourceVersion": str(page.revision)}
        if page.continue_token:
            meta["continue"] = page.continue_token
            if page.remaining is not None:
                meta["remainingItemCount"] = page.remaining
        head = orjson.dumps(
            {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta}
        )
        items = b",".join(self._typed_json(res, c) for c in page.items)
        return encoding.raw_json_response(head[:-1] + b',"items":[' + items + b"]}")

    async def _watch(
        self, request: web.Request, info: RequestInfo, store: Store
    ) -> web.StreamResponse:
        opts = self._list_options(request, info, store)
        timeout = _query_int(request, "timeoutSeconds") or DEFAULT_WATCH_SECONDS
        bookmarks = parse_bool("allowWatchBookmarks", request.query.get("allowWatchBookmarks"))
        rv = opts.resource_version
        revision: int | None = None
        if rv and rv != "0":
            try:
                revision = int(rv)
            except ValueError:
                raise errors.new_bad_request(f"invalid resourceVersion: {rv!r}") from None
            await store.wait_for_watch(revision)
        else:
            await store.sync()
        table = _table_wanted(request.headers.get("Accept", ""))
        response = web.StreamResponse(headers={"Content-Type": encoding.JSON})
        response.enable_chunked_encoding()
        await response.prepare(request)
        res = store.info
        key_prefix = store.prefix + store.namespace_prefix(info.namespace)
        try:
            watcher = store.cache.watch(revision, store.matcher(opts), key_prefix)
        except TooOldError as exc:
            gone = errors.new_resource_expired(str(exc)).to_status()
            await response.write(orjson.dumps({"type": "ERROR", "object": gone}) + b"\n")
            return response
        sink = None
        if not table and request.transport is not None:
            sink = await _direct_sink(request.transport, response, res)
        first_table = True
        try:
            async with asyncio.timeout(timeout):
                while True:
                    # Queued events go out first, with the direct writer off meanwhile (a write
                    # may yield to the loop), so the client sees every event in order.
                    watcher.sink = None
                    while watcher.events:
                        kind, cached = watcher.events.popleft()
                        line: bytes | memoryview
                        if table:
                            obj = self._table(request, res, [cached.obj])
                            if not first_table:
                                obj["columnDefinitions"] = []
                            first_table = False
                            line = orjson.dumps({"type": kind, "object": obj})
                            line += b"\n"
                        elif (
                            cached.obj.get("apiVersion") == res.api_version
                            and cached.obj.get("kind") == res.kind
                        ):
                            line = cached.event_line(kind)
                        else:
                            typed = self._typed_json(res, cached)
                            line = b'{"type":"' + kind.encode() + b'","object":' + typed + b"}\n"
                        await response.write(line)
                    if watcher.closed:
                        break
                    watcher.sink = sink
                    watcher.wakeup.clear()
                    try:
                        async with asyncio.timeout(BOOKMARK_INTERVAL if bookmarks else None):
                            await watcher.wakeup.wait()
                    except TimeoutError:
                        if bookmarks:
                            bookmark = {
                                "type": "BOOKMARK",
                                "object": {
                                    "kind": res.kind,
                                    "apiVersion": res.api_version,
                                    "metadata": {"resourceVersion": str(store.cache.revision)},
                                },
                            }
                            await response.write(orjson.dumps(bookmark) + b"\n")
        except (TimeoutError, ConnectionResetError):
            pass
        finally:
            watcher.sink = None
            store.cache.stop_watching(watcher)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    # ----- create and update ------------------------------------------------------------

    async def decode(
        self, request: web.Request, res: ResourceInfo, expect_name: str = ""
    ) -> tuple[dict[str, Any], list[str]]:
        """Decode, check the type, validate the structure; returns the object and warnings."""
        body = await encoding.read_body(request)
        obj = encoding.decode_object(request.headers.get("Content-Type", encoding.JSON), body)
        return self._check_structure(request, res, obj)

    def _check_structure(
        self, request: web.Request, res: ResourceInfo, obj: dict[str, Any]
    ) -> tuple[dict[str, Any], list[str]]:
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version and api_version != res.api_version:
            raise errors.new_bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({res.api_version})"
            )
        if kind and kind != res.kind:
            raise errors.new_bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({res.kind})"
            )
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        schema = find_definition(res.definition)
        custom = self.custom.get((res.group, res.version, res.plural))
        warnings: list[str] = []
        if schema is None and custom is None:
            return obj, warnings
        mode = request.query.get("fieldValidation", "Warn") or "Warn"
        if mode not in ("Strict", "Warn", "Ignore"):
            raise errors.new_bad_request(
                f'fieldValidation parameter unsupported: {mode}: supported values: "Ignore", '
                '"Warn", "Strict"'
            )
        if custom is not None:
            problems = custom.structure(obj)
        elif schema is not None:
            problems = structural.validate_and_prune(obj, schema)
        wrong_types = [p for p in problems if p.kind is structural.ProblemKind.INVALID_TYPE]
        prefix = f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}'
        if wrong_types:
            raise errors.new_bad_request(
                f"{prefix}: " + "; ".join(p.message for p in wrong_types[:10])
            )
        unknown = [p for p in problems if p.kind is structural.ProblemKind.UNKNOWN_FIELD]
        if unknown and mode == "Strict":
            raise errors.new_bad_request(f"{prefix}: {structural.strict_decoding_error(unknown)}")
        if unknown and mode == "Warn":
            warnings = [p.message for p in unknown]
        return obj, warnings

    def _respond_warnings(self, response: web.Response, warnings: list[str]) -> web.Response:
        for warning in warnings:
            response.headers.add("Warning", f'299 - "{warning}"')
        return response

    def _admission(
        self,
        request: web.Request,
        info: RequestInfo,
        store: Store,
        operation: str,
        *,
        dry_run: bool,
        name: str = "",
        delete: DeleteOptions | None = None,
    ) -> RequestWebhooks | None:
        """The admission webhooks of this request, for the registry to call."""
        if self.webhooks is None or not self.webhooks.configured():
            return None
        attrs = admission.from_request(
            info,
            store.info,
            operation,
            user=self.user_of(request),
            query=request.query,
            dry_run=dry_run,
            name=name,
            delete=delete,
        )
        recheck: Recheck | None = None
        if isinstance(store, CustomResourceStore):
            recheck = store.structure
        elif (schema := store.schema) is not None:

            def recheck(obj: dict[str, Any]) -> list[structural.Problem]:
                return structural.validate_and_prune(obj, schema)

        return self.webhooks.bind(attrs, recheck)

    async def _create(self, request: web.Request, info: RequestInfo, store: Store) -> web.Response:
        obj, warnings = await self.decode(request, store.info)
        dry_run = _dry_run(request)
        name = str((obj.get("metadata") or {}).get("name") or "")
        hooks = self._admission(request, info, store, admission.CREATE, dry_run=dry_run, name=name)
        created = await store.create(
            info.namespace,
            obj,
            dry_run=dry_run,
            field_manager=_field_manager(request),
            admission=hooks,
        )
        status = 201
        warnings += hooks.warnings if hooks else []
        return self._respond_warnings(self._typed(store.info, created, status), warnings)

    async def _update(
        self, request: web.Request, info: RequestInfo, store: Store, subresource: str
    ) -> web.Response:
        obj, warnings = await self.decode(request, store.info)
        dry_run = _dry_run(request)
        manager = _field_manager(request)
        hooks = self._admission(request, info, store, admission.UPDATE, dry_run=dry_run)

        def replace(_old: dict[str, Any]) -> dict[str, Any]:
            return copy.deepcopy(obj)

        async def create() -> dict[str, Any]:
            nonlocal hooks
            if not obj.get("metadata", {}).get("name"):
                obj.setdefault("metadata", {})["name"] = info.name
            hooks = self._admission(request, info, store, admission.CREATE, dry_run=dry_run)
            return await store.create(
                info.namespace,
                copy.deepcopy(obj),
                dry_run=dry_run,
                field_manager=manager,
                admission=hooks,
            )

        if obj.get("metadata", {}).get("name", info.name) != info.name:
            raise errors.new_bad_request(
                f"the name of the object ({obj['metadata']['name']}) does not match the name on "
                f"the URL ({info.name})"
            )
        allow_create = subresource == "" and store.info.plural not in ("pods",)
        result, created = await store.update(
            info.namespace,
            info.name,
            replace,
            subresource=subresource,
            dry_run=dry_run,
            create=create if allow_create else None,
            field_manager=manager,
            admission=hooks,
        )
        warnings += hooks.warnings if hooks else []
        return self._respond_warnings(
            self._typed(store.info, result, 201 if created else 200), warnings
        )

    async def _patch(
        self, request: web.Request, info: RequestInfo, store: Store, subresource: str
    ) -> web.Response:
        content_type = encoding.media_type(request.headers.get("Content-Type", ""))
        allowed = store.patch_types if isinstance(store, CustomResourceStore) else PATCH_TYPES
        if content_type not in allowed:
            raise errors.new_unsupported_media_type(list(allowed))
        body = await encoding.read_body(request)
        dry_run = _dry_run(request)
        res = store.info
        schema = find_definition(res.definition)
        warnings: list[str] = []

        if content_type == "application/apply-patch+yaml":
            return await self._apply(request, info, store, body, subresource)
        if "force" in request.query:
            raise errors.new_invalid(
                "PatchOptions",
                "",
                [errors.forbidden("force", "may not be specified for non-apply patch")],
                group="meta.k8s.io",
            )

        def mutate(old: dict[str, Any]) -> dict[str, Any]:
            old = self._with_type(res, old)
            patched = apply_patch(content_type, old, body, schema)
            checked, found = self._check_structure(request, res, patched)
            warnings.extend(found)
            # A patch that does not name another resourceVersion applies to whatever is
            # current: the registry then retries it on a concurrent write instead of 409.
            meta = checked.get("metadata")
            if isinstance(meta, dict) and meta.get("resourceVersion") == (
                old.get("metadata") or {}
            ).get("resourceVersion"):
                meta.pop("resourceVersion", None)
            return checked

        hooks = self._admission(request, info, store, admission.UPDATE, dry_run=dry_run)
        result, _ = await store.update(
            info.namespace,
            info.name,
            mutate,
            subresource=subresource,
            dry_run=dry_run,
            field_manager=_field_manager(request),
            admission=hooks,
        )
        warnings += hooks.warnings if hooks else []
        return self._respond_warnings(self._typed(res, result), warnings)

    async def _apply(
        self, request: web.Request, info: RequestInfo, store: Store, body: bytes, subresource: str
    ) -> web.Response:
        """Server-side apply: create if absent, else merge with field ownership (api/apply.py).

        The applied configuration is checked against the schema by ``apply`` itself (upstream's
        "field not declared in schema"), then the result structurally, like any write.
        """
        manager = request.query.get("fieldManager")
        if not manager:
            raise errors.new_bad_request(
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                "required for apply patch"
            )
        applied = encoding.decode_yaml(body)
        if not isinstance(applied, dict):
            raise errors.new_bad_request("the apply patch must be an object")
        res = store.info
        if (applied.get("metadata") or {}).get("name", info.name) != info.name:
            raise errors.new_bad_request(
                f"the name of the object ({applied['metadata']['name']}) does not match the name "
                f"on the URL ({info.name})"
            )
        force = parse_bool("force", request.query.get("force"))
        dry_run = _dry_run(request)
        warnings: list[str] = []
        ignored = reset_fields(subresource, has_status=store.strategy.has_status)

        def applied_to(old: dict[str, Any] | None) -> dict[str, Any]:
            live = self._with_type(res, old) if old is not None else None
            obj = apply(
                live,
                applied,
                manager,
                force=force,
                api_version=res.api_version,
                schema=store.schema,
                now=self.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                kind=res.kind,
                subresource=subresource,
                ignored=ignored,
            )
            obj.setdefault("metadata", {}).setdefault("name", info.name)
            checked, found = self._check_structure(request, res, obj)
            warnings.extend(found)
            return checked

        hooks = self._admission(request, info, store, admission.UPDATE, dry_run=dry_run)

        async def create() -> dict[str, Any]:
            nonlocal hooks
            hooks = self._admission(request, info, store, admission.CREATE, dry_run=dry_run)
            return await store.create(
                info.namespace, applied_to(None), dry_run=dry_run, admission=hooks
            )

        result, created = await store.update(
            info.namespace,
            info.name,
            applied_to,
            subresource=subresource,
            dry_run=dry_run,
            create=create if not subresource else None,
            admission=hooks,
        )
        warnings += hooks.warnings if hooks else []
        return self._respond_warnings(self._typed(res, result, 201 if created else 200), warnings)

    # ----- delete -----------------------------------------------------------------------

    async def _delete_options(self, request: web.Request) -> DeleteOptions:
        body = await encoding.read_body(request)
        opts: dict[str, Any] = {}
        if body.strip():
            opts = encoding.decode_object(request.headers.get("Content-Type", encoding.JSON), body)
        grace = _query_int(request, "gracePeriodSeconds")
        if grace is None and opts.get("gracePeriodSeconds") is not None:
            grace = int(opts["gracePeriodSeconds"])
        policy = request.query.get("propagationPolicy") or opts.get("propagationPolicy") or ""
        if policy not in ("", "Orphan", "Background", "Foreground"):
            raise errors.new_bad_request(
                f'propagationPolicy: Unsupported value: "{policy}": supported values: '
                '"Foreground", "Background", "Orphan"'
            )
        if parse_bool("orphanDependents", request.query.get("orphanDependents")) or opts.get(
            "orphanDependents"
        ):
            policy = policy or "Orphan"
        preconditions = opts.get("preconditions") or {}
        dry_run = _dry_run(request) or bool(opts.get("dryRun"))
        return DeleteOptions(
            grace_period_seconds=grace,
            propagation_policy=policy,
            precondition_uid=preconditions.get("uid") or "",
            precondition_resource_version=preconditions.get("resourceVersion") or "",
            dry_run=dry_run,
        )

    async def _delete(self, request: web.Request, info: RequestInfo, store: Store) -> web.Response:
        opts = await self._delete_options(request)
        hooks = self._admission(
            request, info, store, admission.DELETE, dry_run=opts.dry_run, delete=opts
        )
        if hooks is not None:
            await hooks.mutate_without_object()
        obj, gone = await store.delete(info.namespace, info.name, opts, admission=hooks)
        res = store.info
        if gone and res.plural != "pods":
            return encoding.json_response(
                encoding.success_status(
                    {
                        "name": info.name,
                        "group": res.group,
                        "kind": res.plural,
                        "uid": obj["metadata"].get("uid", ""),
                    }
                )
            )
        return self._typed(res, obj)

    async def _delete_collection(
        self, request: web.Request, info: RequestInfo, store: Store
    ) -> web.Response:
        opts = self._list_options(request, info, store)
        delete = await self._delete_options(request)
        hooks = self._admission(
            request, info, store, admission.DELETE, dry_run=delete.dry_run, delete=delete
        )
        if hooks is not None:
            await hooks.mutate_without_object()
        deleted = await store.delete_collection(opts, delete, admission=hooks)
        res = store.info
        return encoding.json_response(
            {
                "kind": f"{res.kind}List",
                "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(store.cache.revision)},
                "items": [self._with_type(res, obj) for obj in deleted],
            }
        )

    # ----- subresources -----------------------------------------------------------------

    async def _subresource(
        self, request: web.Request, info: RequestInfo, store: Store
    ) -> web.StreamResponse:
        res = store.info
        sub = res.subresource(info.subresource)
        if sub is None:
            raise errors.NotFound("the server could not find the requested resource")
        if info.subresource == "status":
            if info.verb == "get":
                cached = await store.get(info.namespace, info.name)
                return self._object_response(request, store, cached)
            if info.verb == "update":
                return await self._update(request, info, store, "status")
            if info.verb == "patch":
                return await self._patch(request, info, store, "status")
        if info.subresource == "scale" and isinstance(store, CustomResourceStore):
            return await custom_scale.handle(request, info, store)
        if info.subresource == "scale":
            return await scale.handle(self, request, info, store)
        if info.subresource == "binding" and info.verb == "create":
            return await binding.handle(self, request, info, store)
        if info.subresource == "eviction" and info.verb == "create":
            return await eviction.handle(self, request, info, store)
        if (
            info.subresource == "token"
            and info.verb == "create"
            and res.plural == "serviceaccounts"
        ):
            return await token.handle(self, request, info, store)
        if res.plural == "pods" and res.group == "" and info.subresource == "log":
            return await pod_log.handle(self, request, info)
        if res.plural == "pods" and res.group == "" and info.subresource in streaming.KUBELET_PATHS:
            return await streaming.handle(self, request, info)
        if info.subresource == "finalize" and info.verb == "update" and res.plural == "namespaces":
            return await self._finalize_namespace(request, info, store)
        raise errors.new_method_not_supported(
            f"{res.plural}/{info.subresource}", info.verb, group=res.group
        )

    async def _finalize_namespace(
        self, request: web.Request, info: RequestInfo, store: Store
    ) -> web.Response:
        obj, _ = await self.decode(request, store.info)
        wanted = (obj.get("spec") or {}).get("finalizers") or []

        def mutate(old: dict[str, Any]) -> dict[str, Any]:
            old.setdefault("spec", {})["finalizers"] = wanted
            if not wanted:
                old["spec"].pop("finalizers")
            return old

        result, _ = await store.update(info.namespace, info.name, mutate, subresource="finalize")
        return self._typed(store.info, result)


#: Bytes a watch's send buffer may hold before events wait in its queue (and its task drains).
_DIRECT_WRITE_LIMIT = 1 << 16


async def _direct_sink(
    transport: asyncio.Transport, response: web.StreamResponse, res: ResourceInfo
) -> Callable[[str, CachedObject], bool]:
    """A watch's direct writer: an event in the resource's own version goes to the socket as
    one chunk of the chunked response (the chunk every watcher shares) the moment the cache
    applies it.

    aiohttp holds a prepared response's headers back until the first body write; an empty
    write sends them, so direct chunks never precede them.
    """
    await response.write(b"")
    api_version, kind = res.api_version, res.kind
    write = directwrite.writer(transport, _DIRECT_WRITE_LIMIT)

    def sink(event_type: str, cached: CachedObject) -> bool:
        obj = cached.obj
        if obj.get("apiVersion") != api_version or obj.get("kind") != kind:
            return False
        return write(cached.event_chunk(event_type))

    return sink
