"""The API server: routes, the request pipeline, TLS, and its lifecycle.

``APIServer.run()`` opens nothing itself: it is handed a storage engine, builds one registry
``Store`` per served resource, starts their watch caches, makes sure the default namespaces
exist, and serves HTTPS until cancelled. Every request passes the same stages, in order:
authenticate (401 unless it is a health or version probe), authorize, then the handler, which
decodes, admits, validates and stores. Any ``StatusError`` becomes a ``Status`` body; any
other exception is logged and answered with 500, never a traceback.

Given ``service_accounts``, the server also issues service-account tokens (the TokenRequest
subresource), accepts them after the configured authenticators, mounts them into pods
(ServiceAccount admission) and publishes its issuer's keys (OIDC discovery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from kybernetes import __version__
from kybernetes.api import errors
from kybernetes.api.resources import ResourceInfo, resources
from kybernetes.apiserver import admission, encoding, reviews
from kybernetes.apiserver.allocator import ServiceAllocator
from kybernetes.apiserver.auth import oidc
from kybernetes.apiserver.auth.authn import (
    Authenticator,
    RequestFacts,
    UnionAuthenticator,
    UserInfo,
)
from kybernetes.apiserver.auth.authz import (
    Attributes,
    Authorizer,
    default_authorizer,
    forbidden_message,
    is_public_path,
)
from kybernetes.apiserver.auth.serviceaccount import (
    ServiceAccountAuthenticator,
    ServiceAccountTokens,
    TokenIssuer,
)
from kybernetes.apiserver.crd.controller import CRDS, CustomResourceController
from kybernetes.apiserver.discovery import AGGREGATED_MEDIA_TYPE, Discovery, wants_aggregated
from kybernetes.apiserver.handlers import ResourceHandler
from kybernetes.apiserver.instrumentation import (
    InstrumentedStorage,
    RequestMetrics,
    StorageObjects,
    is_long_running,
    request_labels,
    storage_type,
)
from kybernetes.apiserver.metrics import METRICS_GROUP, METRICS_RESOURCES, ResourceMetricsAPI
from kybernetes.apiserver.namespaces import DEFAULT_NAMESPACES, NamespaceLifecycle
from kybernetes.apiserver.openapi import OpenAPIV3
from kybernetes.apiserver.quota import QuotaAdmission
from kybernetes.apiserver.registry import Store, converts, generate_name
from kybernetes.apiserver.requestinfo import RequestInfo, parse_bool, parse_request_info
from kybernetes.apiserver.subresources.kubelet import KubeletClient, node_address
from kybernetes.apiserver.webhooks import sources as webhook_sources
from kybernetes.storage.interface import Storage

log = logging.getLogger(__name__)

INFO_KEY = web.RequestKey("info", RequestInfo)
USER_KEY = web.RequestKey("user", UserInfo)

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": f"v1.32.0+kyb{__version__}",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "python3",
    "compiler": "cpython",
    "platform": "linux/amd64",
}


@dataclass
class APIServerConfig:
    """How the API server listens and who may call it."""

    bind_address: str = "127.0.0.1"
    port: int = 6443
    ssl_context: ssl.SSLContext | None = None
    authenticator: Authenticator | None = None
    authorizer: Authorizer = field(default_factory=default_authorizer)
    service_cidr: str = "10.43.0.0/16"
    node_port_range: tuple[int, int] = (30000, 32767)
    #: Client TLS for kubelets (logs, exec, port-forward); None: kubelets serve plain HTTP.
    kubelet_client_ssl: ssl.SSLContext | None = None
    #: The address of a node's kubelet (default: its InternalIP).
    kubelet_address: Callable[[Mapping[str, Any]], str] | None = None
    #: Service-account tokens: issued (TokenRequest), accepted as bearer tokens, mounted into
    #: pods (ServiceAccount admission), published (OIDC discovery). None: none of it.
    service_accounts: ServiceAccountTokens | None = None


class APIServer:
    """The Kubernetes API over one storage engine."""

    def __init__(
        self,
        storage: Storage,
        config: APIServerConfig,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        served: list[ResourceInfo] | None = None,
    ) -> None:
        # Prometheus metrics of this server (``instrumentation.py``); storage calls are timed.
        self.metrics = CollectorRegistry()
        self.request_metrics = RequestMetrics(self.metrics)
        storage = InstrumentedStorage(storage, self.metrics)
        self.storage = storage
        self.config = config
        self.now = now
        self.served = (
            served if served is not None else [r for r in resources() if r.enabled_by_default]
        )
        # One store per resource, for its preferred version; other versions are served only
        # where a conversion exists (autoscaling/v1 HPAs), by stores of their own that share
        # the preferred version's objects.
        self.stores: dict[tuple[str, str], Store] = {}
        self.other_versions: dict[tuple[str, str, str], Store] = {}
        self.admission = admission.Admission(self._priority_class, self._priority_classes)
        for info in self.served:
            key = (info.group, info.plural)
            new = Store(
                info,
                storage,
                validator=admission.validate,
                defaulter=self.admission.default,
                now=now,
            )
            if key not in self.stores:
                self.stores[key] = new
            elif converts(info):
                self.other_versions[(info.group, info.version, info.plural)] = new
        self.served = [
            r
            for r in self.served
            if self.stores[(r.group, r.plural)].info is r
            or (r.group, r.version, r.plural) in self.other_versions
        ]
        services = self.stores[("", "services")]
        self.allocator = ServiceAllocator(config.service_cidr, config.node_port_range)
        services.allocator = self.allocator
        namespaces = self.stores[("", "namespaces")]
        self.namespaces = NamespaceLifecycle(namespaces, self.stores)
        quotas = self.stores.get(("", "resourcequotas"))
        admit = QuotaAdmission(quotas).admit_create if quotas is not None else None
        for store in self.stores.values():
            store.namespace_check = self.namespaces.check_creatable
            store.admit_create = admit
        self.handler = ResourceHandler(self.stores, self.other_versions, now)
        # Admission webhooks, configured by the webhook configurations this server stores.
        self.webhooks = webhook_sources.for_server(
            self.stores, self.other_versions, self.handler.custom
        )
        self.handler.webhooks = self.webhooks
        self.handler.user_of = lambda request: request.get(USER_KEY)
        self.kubelets = KubeletClient(
            config.kubelet_client_ssl, config.kubelet_address or node_address
        )
        self.handler.kubelets = self.kubelets
        self.authenticator = config.authenticator
        self._oidc: oidc.Documents | None = None
        if config.service_accounts is not None:
            self._serve_service_accounts(config.service_accounts)
        address = f"{config.bind_address}:{config.port}"
        # metrics.k8s.io is served from the agents' pushed summaries (apiserver/metrics).
        self.resource_metrics = ResourceMetricsAPI(
            self.stores[("", "nodes")], self.stores[("", "pods")], now=now
        )
        self.discovery = Discovery([*self.served, *METRICS_RESOURCES], address)
        self.openapi = OpenAPIV3(self.served)
        # CRDs become served resources (stores, discovery, OpenAPI) through this controller.
        self.custom_resources: CustomResourceController | None = None
        if CRDS in self.stores:
            self.custom_resources = CustomResourceController(
                storage=storage,
                stores=self.stores,
                other_versions=self.other_versions,
                custom=self.handler.custom,
                discovery=self.discovery,
                openapi=self.openapi,
                builtin=[*self.served, *METRICS_RESOURCES],
                now=now,
                configure=self._configure_custom_store,
            )
        self.metrics.register(
            StorageObjects(lambda: {storage_type(s.prefix): s.cache for s in self.stores.values()})
        )
        self.ready = asyncio.Event()
        self.port = config.port

    # ----- lifecycle --------------------------------------------------------------------

    async def run(self, on_ready: Callable[[APIServer], Awaitable[None]] | None = None) -> None:
        """Serve until cancelled."""
        async with asyncio.TaskGroup() as group:
            every_store = [*self.stores.values(), *self.other_versions.values()]
            for store in every_store:
                group.create_task(store.cache.run())
            for store in every_store:
                await store.cache.wait_ready()
            await self._rebuild_allocations()
            await self.namespaces.ensure_defaults(DEFAULT_NAMESPACES)
            await self._ensure_kubernetes_service()
            await self._ensure_system_priority_classes()
            group.create_task(self.namespaces.run())
            if self.custom_resources is not None:
                await self.custom_resources.start()
                group.create_task(self.custom_resources.run())
            app = self.make_app()
            # A client that goes away cancels its handler: watches end with their clients.
            runner = web.AppRunner(
                app,
                access_log=None,
                handle_signals=False,
                handler_cancellation=True,
                shutdown_timeout=5.0,
            )
            await runner.setup()
            site = web.TCPSite(
                runner,
                self.config.bind_address,
                self.config.port,
                ssl_context=self.config.ssl_context,
                backlog=1024,
            )
            try:
                await site.start()
                self.port = _bound_port(runner, self.config.port)
                self.ready.set()
                if on_ready is not None:
                    await on_ready(self)
                await asyncio.Event().wait()
            finally:
                for store in every_store:
                    store.cache.close_watchers("the server is shutting down")
                await runner.cleanup()
                await self.webhooks.close()
                await self.kubelets.close()

    async def _rebuild_allocations(self) -> None:
        """Make the allocator hold exactly what the stored Services hold."""
        services = self.stores[("", "services")]
        await services.sync()
        self.allocator.rebuild(
            (cached.obj for cached in services.cache.items()), revision=services.cache.revision
        )

    async def _ensure_kubernetes_service(self) -> None:
        """The ``kubernetes`` Service in ``default``, on the first address of the range."""
        services = self.stores[("", "services")]
        if services.cache.get(services.key("default", "kubernetes")) is not None:
            return
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": self.allocator.kubernetes_service_ip,
                "ports": [
                    {
                        "name": "https",
                        "port": 443,
                        "protocol": "TCP",
                        "targetPort": self.config.port or 6443,
                    }
                ],
                "sessionAffinity": "None",
            },
        }
        with contextlib.suppress(errors.AlreadyExists):
            await services.create("default", service)

    def _serve_service_accounts(self, tokens: ServiceAccountTokens) -> None:
        """TokenRequest, the token authenticator after the configured ones, and admission."""
        self.handler.tokens = TokenIssuer(tokens)
        if self.authenticator is not None:
            accounts = ServiceAccountAuthenticator(
                tokens, self._cached_object, now=lambda: self.now().timestamp()
            )
            self.authenticator = UnionAuthenticator([self.authenticator, accounts])
        pods = self.stores.get(("", "pods"))
        if pods is not None and ("", "serviceaccounts") in self.stores:
            plugin = admission.ServiceAccountAdmission(self._service_account, generate_name)
            pods.mutate_create = plugin.admit_create

    def _cached_object(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        store = self.stores.get(("", plural))
        cached = store.cache.get(store.key(namespace, name)) if store is not None else None
        return cached.obj if cached is not None else None

    async def _service_account(self, namespace: str, name: str) -> dict[str, Any] | None:
        """From the watch cache; on a miss, once more after it caught up with storage (an
        account created a moment ago), as upstream falls back to a live lookup."""
        found = self._cached_object("serviceaccounts", namespace, name)
        if found is None:
            await self.stores[("", "serviceaccounts")].sync()
            found = self._cached_object("serviceaccounts", namespace, name)
        return found

    def _configure_custom_store(self, store: Store) -> None:
        """Give a custom resource's store the server-wide hooks every built-in store has."""
        template = self.stores[CRDS]
        store.namespace_check = self.namespaces.check_creatable
        store.admit_create = template.admit_create

    def _priority_class(self, name: str) -> dict[str, Any] | None:
        store = self.stores.get(("scheduling.k8s.io", "priorityclasses"))
        cached = store.cache.get(store.key("", name)) if store is not None else None
        return cached.obj if cached is not None else None

    def _priority_classes(self) -> list[dict[str, Any]]:
        store = self.stores.get(("scheduling.k8s.io", "priorityclasses"))
        return [c.obj for c in store.cache.items()] if store is not None else []

    async def _ensure_system_priority_classes(self) -> None:
        """``system-node-critical`` and ``system-cluster-critical``, as upstream creates them."""
        store = self.stores.get(("scheduling.k8s.io", "priorityclasses"))
        if store is None:
            return
        for name, value, description in admission.SYSTEM_PRIORITY_CLASSES:
            if store.cache.get(store.key("", name)) is not None:
                continue
            priority_class = {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
                "preemptionPolicy": "PreemptLowerPriority",
            }
            with contextlib.suppress(errors.AlreadyExists):
                await store.create("", priority_class)

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=encoding.MAX_BODY + 1024)
        # One route takes every path into the pipeline, called directly rather than as an
        # aiohttp middleware: a middleware adds a wrapper coroutine (and aiohttp its own
        # current-app one) to every request.
        app.router.add_route("*", "/{tail:.*}", self._pipeline)
        return app

    # ----- the pipeline -----------------------------------------------------------------

    async def _pipeline(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        info: RequestInfo | None = None
        labels: tuple[str, ...] | None = None
        try:
            watch = parse_bool("watch", request.query.get("watch"))
            info = parse_request_info(request.method, request.path, watch)
            request[INFO_KEY] = info
            if info.is_resource_request:
                labels = request_labels(
                    info,
                    request.headers.get("Content-Type", ""),
                    request.query.get("dryRun") == "All",
                )
            if not is_public_path(request.path):
                user = self._authenticate(request)
                self._authorize(user, info)
            if labels is not None and is_long_running(info):
                with self.request_metrics.long_running(labels):
                    response = await self._route(request)
            else:
                response = await self._route(request)
        except errors.StatusError as err:
            response = encoding.status_response(err)
        except web.HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the server keeps serving; the client gets a Status
            log.exception("request failed method=%s path=%s", request.method, request.path)
            response = encoding.status_response(errors.new_internal_error(exc))
        if labels is not None and info is not None:
            seconds = None if is_long_running(info) else time.perf_counter() - started
            self.request_metrics.observe(labels, response.status, seconds)
        return response

    def _authenticate(self, request: web.Request) -> Any:
        authenticator = self.authenticator
        if authenticator is None:
            return None
        peer_der: bytes | None = None
        transport = request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_object is not None:
            peer_der = ssl_object.getpeercert(binary_form=True)
        user = authenticator.authenticate(
            RequestFacts(peer_cert_der=peer_der, authorization=request.headers.get("Authorization"))
        )
        if user is None:
            raise errors.new_unauthorized("Unauthorized")
        request[USER_KEY] = user
        return user

    def _authorize(self, user: Any, info: RequestInfo) -> None:
        if user is None:
            return
        attributes = Attributes(
            verb=info.verb,
            api_group=info.group,
            resource=info.resource,
            subresource=info.subresource,
            namespace=info.namespace,
            name=info.name,
            path=info.path,
            resource_request=info.is_resource_request,
        )
        decision = self.config.authorizer.authorize(user, attributes)
        if not decision.allowed:
            raise errors.new_forbidden(
                info.resource, info.name, forbidden_message(user, attributes), group=info.group
            )

    # ----- routing ----------------------------------------------------------------------

    async def _route(self, request: web.Request) -> web.StreamResponse:
        info = request[INFO_KEY]
        if info.is_resource_request and (info.group, info.resource) in reviews.REVIEWS:
            return await self._review(request, info)
        if info.is_resource_request and info.group == METRICS_GROUP:
            return await self.resource_metrics.handle(request, info)
        if info.is_resource_request:
            return await self.handler.handle(request, info)
        path = request.path.rstrip("/") or "/"
        if request.method not in ("GET", "HEAD"):
            raise errors.new_method_not_supported(path, request.method.lower())
        if path == "/version":
            return encoding.json_response(VERSION_INFO)
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/metrics":
            # this server's, then the process's: in ``kyb server`` every component's (as k3s)
            body = generate_latest(self.metrics) + generate_latest(REGISTRY)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
        if path.startswith("/openapi/v3"):
            return self._openapi(request, path)
        if path in (oidc.CONFIGURATION_PATH, oidc.JWKS_PATH):
            return self._issuer_discovery(path)
        if path in ("/api", "/apis"):
            return self._discovery_root(request, path == "/api")
        parts = path.split("/")[1:]
        if parts[0] == "api" and len(parts) == 2:
            return self._document(request, self.discovery.resource_list("", parts[1]))
        if parts[0] == "apis" and len(parts) == 2:
            return self._document(request, self.discovery.api_group(parts[1]))
        if parts[0] == "apis" and len(parts) == 3:
            return self._document(request, self.discovery.resource_list(parts[1], parts[2]))
        raise errors.NotFound("the server could not find the requested resource")

    async def _review(self, request: web.Request, info: RequestInfo) -> web.Response:
        """Answer a review (can-i, whoami, token and access reviews); nothing is stored."""
        store = self.handler.store_for(info)
        if info.verb != "create" or info.name:
            raise errors.new_method_not_supported(info.resource, info.verb, group=info.group)
        review, _ = await self.handler.decode(request, store.info)
        answered = reviews.answer(
            info.resource,
            review,
            request.get(USER_KEY),
            info.namespace,
            self.authenticator,
            self.config.authorizer,
        )
        answered["apiVersion"] = store.info.api_version
        answered["kind"] = store.info.kind
        return encoding.json_response(answered, status=201)

    def _issuer_discovery(self, path: str) -> web.Response:
        """The OpenID configuration and key set of the service-account token issuer."""
        tokens = self.config.service_accounts
        if tokens is None:
            raise errors.NotFound("the server could not find the requested resource")
        if self._oidc is None:
            jwks_uri = tokens.jwks_uri or f"{self.external_url()}{oidc.JWKS_PATH}"
            self._oidc = oidc.documents(tokens.issuer, jwks_uri, tokens.public_keys)
        if path == oidc.JWKS_PATH:
            body, media_type = self._oidc.jwks, oidc.JWKS_MEDIA_TYPE
        elif self._oidc.configuration is not None:
            body, media_type = self._oidc.configuration, encoding.JSON
        else:
            raise errors.NotFound("the server could not find the requested resource")
        return web.Response(
            body=body,
            headers={"Content-Type": media_type, "Cache-Control": oidc.CACHE_CONTROL},
        )

    def external_url(self) -> str:
        """How clients reach this server: its bind address (loopback when it binds them all)."""
        host = self.config.bind_address
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.config.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    def _document(
        self, request: web.Request, doc: tuple[bytes, str] | None, media_type: str = encoding.JSON
    ) -> web.Response:
        if doc is None:
            raise errors.NotFound("the server could not find the requested resource")
        body, etag = doc
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"Content-Type": media_type, "ETag": etag})

    def _discovery_root(self, request: web.Request, core: bool) -> web.Response:
        aggregated = wants_aggregated(request.headers.get("Accept", ""))
        if aggregated is not None:
            body, etag = self.discovery.aggregated(core)
            if aggregated != AGGREGATED_MEDIA_TYPE:
                body = body.replace(b"apidiscovery.k8s.io/v2", b"apidiscovery.k8s.io/v2beta1", 1)
            return self._document(request, (body, etag), aggregated)
        if core:
            return self._document(request, self.discovery.api_versions())
        return self._document(request, self.discovery.api_group_list())

    def _openapi(self, request: web.Request, path: str) -> web.Response:
        reply = self.openapi.serve(
            path.removeprefix("/openapi/v3").strip("/"),
            hash=request.query.get("hash"),
            accept=request.headers.get("Accept"),
            if_none_match=request.headers.get("If-None-Match"),
        )
        return web.Response(status=reply.status, headers=reply.headers, body=reply.body)


def _bound_port(runner: web.AppRunner, fallback: int) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        for sock in sockets:
            return int(sock.getsockname()[1])
    return fallback
