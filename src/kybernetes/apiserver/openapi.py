"""The OpenAPI v3 documents served at ``/openapi/v3`` and ``/openapi/v3/<path>``.

kubectl needs them for ``apply``, ``create -f``, ``replace`` (it looks for a PATCH operation with
the object's ``x-kubernetes-group-version-kind`` and a ``fieldValidation`` parameter, then leaves
validation to the server) and ``explain`` (it walks ``components.schemas``). The documents are
generated from the packaged schema (the 1.32 definitions) and the resource table, in the shape
kube-apiserver 1.32 publishes: one document per group-version (``apis/apps/v1``), per group
(``apis/apps``), plus ``api``, ``apis`` and ``version``; a discovery document maps each to
``/openapi/v3/<path>?hash=<H>``.

Invariants:
- ``H`` is the upper-case hex SHA-512 of the document's bytes, as upstream computes it, so the
  URL changes exactly when the content does and kubectl's HTTP cache never serves stale schemas.
- A document is serialised once (sorted keys) and kept as bytes; later requests never rebuild it.
  ``set_custom_group_version``/``remove_custom_group_version`` replace one document and the
  discovery document, nothing else.
- Operations follow upstream's route layout: the same paths, ``operationId``s, actions, media
  types and parameters (parameters shared by every operation of a path sit on the path, sorted
  by name then location); a test compares them with the paths of the 1.32 OpenAPI v2 document.
- ``components.schemas`` holds exactly the definitions reachable from the document's
  operations. References are ``#/components/schemas/<name>``; a reference with sibling keywords
  (``x-kubernetes-patch-strategy``...) is wrapped in ``allOf`` as upstream does, because OpenAPI
  3.0 ignores siblings of ``$ref``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from importlib import resources as package_data
from typing import Any, Final

import orjson

from kybernetes.api import resources as resource_table
from kybernetes.api.resources import ResourceInfo, SubresourceInfo
from kybernetes.api.schema import SchemaDataError, definition_for_kind

__all__ = [
    "Document",
    "OpenAPIV3",
    "Response",
    "crd_definition_name",
    "custom_group_version",
    "group_version_document",
    "root_document",
]

DEFAULT_INFO_VERSION: Final = "v1.32.0"
REF_PREFIX: Final = "#/components/schemas/"
_META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1."
STATUS: Final = _META + "Status"
DELETE_OPTIONS: Final = _META + "DeleteOptions"
PATCH: Final = _META + "Patch"
WATCH_EVENT: Final = _META + "WatchEvent"
OBJECT_META: Final = _META + "ObjectMeta"
LIST_META: Final = _META + "ListMeta"
QUANTITY: Final = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING: Final = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

MEDIA_TYPES: Final = (
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/cbor",
)
WATCH_MEDIA_TYPES: Final = (
    *MEDIA_TYPES,
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
    "application/cbor-seq",
)
DISCOVERY_MEDIA_TYPES: Final = MEDIA_TYPES[:3]
PATCH_MEDIA_TYPES: Final = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/apply-patch+cbor",
)
_RESPONSE_DESCRIPTIONS: Final = {"200": "OK", "201": "Created", "202": "Accepted"}
_SECURITY_SCHEMES: Final = {
    "BearerToken": {
        "description": "Bearer Token authentication",
        "in": "header",
        "name": "authorization",
        "type": "apiKey",
    }
}

# --- parameters --------------------------------------------------------------------------------

# The JSON type of every query parameter the API takes (from the 1.32 route definitions).
_QUERY_TYPES: Final[Mapping[str, str]] = {
    "allowWatchBookmarks": "boolean",
    "command": "string",
    "container": "string",
    "continue": "string",
    "dryRun": "string",
    "fieldManager": "string",
    "fieldSelector": "string",
    "fieldValidation": "string",
    "follow": "boolean",
    "force": "boolean",
    "gracePeriodSeconds": "integer",
    "ignoreStoreReadErrorWithClusterBreakingPotential": "boolean",
    "insecureSkipTLSVerifyBackend": "boolean",
    "labelSelector": "string",
    "limit": "integer",
    "limitBytes": "integer",
    "orphanDependents": "boolean",
    "path": "string",
    "ports": "integer",
    "pretty": "string",
    "previous": "boolean",
    "propagationPolicy": "string",
    "resourceVersion": "string",
    "resourceVersionMatch": "string",
    "sendInitialEvents": "boolean",
    "sinceSeconds": "integer",
    "stderr": "boolean",
    "stdin": "boolean",
    "stdout": "boolean",
    "stream": "string",
    "tailLines": "integer",
    "timeoutSeconds": "integer",
    "timestamps": "boolean",
    "tty": "boolean",
    "watch": "boolean",
}
_LIST_QUERY: Final = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)
_DELETE_QUERY: Final = (
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "propagationPolicy",
)
_DELETE_COLLECTION_QUERY: Final = (
    *_DELETE_QUERY,
    *(q for q in _LIST_QUERY if q not in ("allowWatchBookmarks", "watch")),
)
_WRITE_QUERY: Final = ("dryRun", "fieldManager", "fieldValidation")
_PATCH_QUERY: Final = (*_WRITE_QUERY, "force")
_LOG_QUERY: Final = (
    "container",
    "follow",
    "insecureSkipTLSVerifyBackend",
    "limitBytes",
    "previous",
    "sinceSeconds",
    "stream",
    "tailLines",
    "timestamps",
)
# Connect subresources (exec, attach, port-forward, proxy): their query parameters and methods.
_CONNECT_QUERY: Final[Mapping[str, tuple[str, ...]]] = {
    "attach": ("container", "stderr", "stdin", "stdout", "tty"),
    "exec": ("command", "container", "stderr", "stdin", "stdout", "tty"),
    "portforward": ("ports",),
    "proxy": ("path",),
}
_CONNECT_METHODS: Final[Mapping[str, tuple[str, ...]]] = {
    "proxy": ("delete", "get", "head", "options", "patch", "post", "put"),
}
_CONNECT_DEFAULT_METHODS: Final = ("get", "post")


def _param(name: str, where: str, type_: str = "string") -> dict[str, Any]:
    param: dict[str, Any] = {
        "in": where,
        "name": name,
        "schema": {"type": type_, "uniqueItems": True},
    }
    if where == "path":
        param["required"] = True
    return param


def _query(names: Iterable[str]) -> list[dict[str, Any]]:
    return [_param(name, "query", _QUERY_TYPES[name]) for name in names]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_PREFIX + name}


# --- naming ------------------------------------------------------------------------------------


def _group_words(group: str) -> list[str]:
    """The words of a group's friendly name (``rbac.authorization.k8s.io``: rbac, authorization)."""
    if not group:
        return ["core"]
    trimmed = group.removesuffix(".k8s.io")
    return [w for w in trimmed.replace("-", ".").split(".") if w]


def _gv_id(group: str, version: str) -> str:
    """The group-version part of operation ids: ``CoreV1``, ``RbacAuthorizationV1``."""
    return "".join(w[:1].upper() + w[1:] for w in _group_words(group)) + version.capitalize()


def _group_tag(group: str) -> str:
    """The tag of a group document: ``core``, ``apps``, ``rbacAuthorization``."""
    words = _group_words(group)
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _gv_tag(group: str, version: str) -> str:
    return f"{_group_tag(group)}_{version}"


def gv_path(group: str, version: str) -> str:
    """The document path of a group-version: ``api/v1`` or ``apis/apps/v1``."""
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _title(word: str) -> str:
    return word[:1].upper() + word[1:]


# --- schemas -----------------------------------------------------------------------------------

# Keywords whose value is one schema, a list of schemas or a map of schemas (everything else in
# a schema is data, including property names such as JSONSchemaProps' "$ref").
_SCHEMA_KEYS: Final = ("items", "additionalProperties", "not")
_SCHEMA_LIST_KEYS: Final = ("allOf", "oneOf", "anyOf")
_SCHEMA_MAP_KEYS: Final = ("properties", "patternProperties")


def _v3_schema(raw: Mapping[str, Any], refs: set[str]) -> dict[str, Any]:
    """A v2 schema (refs as bare definition names) in OpenAPI v3 form; collects referenced names."""
    out: dict[str, Any] = {}
    ref = raw.get("$ref")
    for key, value in raw.items():
        if key == "$ref":
            continue
        if key in _SCHEMA_KEYS and isinstance(value, Mapping):
            out[key] = _v3_schema(value, refs)
        elif key in _SCHEMA_LIST_KEYS and isinstance(value, list):
            out[key] = [_v3_schema(v, refs) if isinstance(v, Mapping) else v for v in value]
        elif key in _SCHEMA_MAP_KEYS and isinstance(value, Mapping):
            out[key] = {
                k: _v3_schema(v, refs) if isinstance(v, Mapping) else v for k, v in value.items()
            }
        else:
            out[key] = value
    if isinstance(ref, str):
        name = ref.removeprefix("#/definitions/").removeprefix(REF_PREFIX)
        refs.add(name)
        if not out:
            return _ref(name)
        return {"allOf": [_ref(name)], **out}
    return out


def _builtin_component(name: str, raw: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    refs: set[str] = set()
    if name == QUANTITY:
        # A quantity is written as a string or a number; v3 says so with oneOf.
        return {"oneOf": [{"type": "string"}, {"type": "number"}]}, refs
    if name == INT_OR_STRING:
        return {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}, refs
    return _v3_schema(raw, refs), refs


@dataclass(slots=True)
class _Components:
    """Built-in component schemas, converted once, with the names each one references."""

    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    refs: dict[str, frozenset[str]] = field(default_factory=dict)

    def get(self, name: str) -> tuple[dict[str, Any], frozenset[str]] | None:
        if name not in self.schemas:
            raw = _raw_definitions().get(name)
            if raw is None:
                return None
            converted, refs = _builtin_component(name, raw)
            self.schemas[name] = converted
            self.refs[name] = frozenset(refs)
        return self.schemas[name], self.refs[name]


@functools.cache
def _raw_definitions() -> Mapping[str, Any]:
    """The raw definitions of the packaged schema data (what ``api.schema`` parses), loaded once:
    the documents need every keyword as written, which the parsed schema does not keep."""
    base = package_data.files("kybernetes.api").joinpath("data")
    plain = base.joinpath("schema.json")
    if plain.is_file():
        raw = plain.read_bytes()
    else:
        raw = gzip.decompress(base.joinpath("schema.json.gz").read_bytes())
    data = orjson.loads(raw)
    definitions = data.get("definitions") if isinstance(data, dict) else None
    if not isinstance(definitions, dict):
        raise SchemaDataError("schema.json has no definitions")
    return definitions


def _closure(
    roots: Iterable[str],
    builtin: _Components,
    custom: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Every schema reachable from ``roots``; custom schemas shadow built-in ones."""
    out: dict[str, dict[str, Any]] = {}
    todo = list(roots)
    custom_refs: dict[str, set[str]] = {}
    while todo:
        name = todo.pop()
        if name in out:
            continue
        if name in custom:
            refs = custom_refs.setdefault(name, set())
            out[name] = _v3_schema(custom[name], refs)
            todo.extend(refs)
            continue
        found = builtin.get(name)
        if found is None:
            raise SchemaDataError(f"OpenAPI: no schema named {name!r}")
        out[name], refs_of = found
        todo.extend(refs_of)
    return dict(sorted(out.items()))


# --- operations and paths ----------------------------------------------------------------------


@dataclass(slots=True)
class _Route:
    method: str
    operation: dict[str, Any]
    params: list[dict[str, Any]]


def _param_key(param: Mapping[str, Any]) -> tuple[str, str]:
    return (param["name"], param["in"])


def _sorted_params(params: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(params, key=_param_key)


def _content(media_types: Sequence[str], schema_: Mapping[str, Any]) -> dict[str, Any]:
    return {media: {"schema": dict(schema_)} for media in sorted(media_types)}


def _responses(
    codes: Sequence[str], schema_: Mapping[str, Any], media_types: Sequence[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        code: {
            "content": _content(media_types, schema_),
            "description": _RESPONSE_DESCRIPTIONS[code],
        }
        for code in codes
    }
    out["401"] = {"description": "Unauthorized"}
    return out


class _PathBuilder:
    """Routes grouped by path; ``paths()`` lifts the parameters all routes of a path share."""

    def __init__(self) -> None:
        self.routes: dict[str, list[_Route]] = {}
        self.refs: set[str] = set()

    def add(
        self,
        path: str,
        method: str,
        operation: dict[str, Any],
        params: Iterable[dict[str, Any]] = (),
        refs: Iterable[str] = (),
    ) -> None:
        self.routes.setdefault(path, []).append(_Route(method, operation, list(params)))
        self.refs.update(refs)

    def paths(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for path in sorted(self.routes):
            routes = self.routes[path]
            shared = [
                p
                for p in routes[0].params
                if all(any(q == p for q in route.params) for route in routes[1:])
            ]
            shared_keys = {_param_key(p) for p in shared}
            item: dict[str, Any] = {}
            for route in routes:
                operation = dict(route.operation)
                own = [p for p in route.params if _param_key(p) not in shared_keys]
                if own:
                    operation["parameters"] = _sorted_params(own)
                item[route.method] = dict(sorted(operation.items()))
            if shared:
                item["parameters"] = _sorted_params(shared)
            out[path] = dict(sorted(item.items()))
        return out


def _operation(
    operation_id: str,
    tag: str,
    responses: dict[str, Any],
    *,
    action: str | None = None,
    gvk: tuple[str, str, str] | None = None,
    request_body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": operation_id, "responses": responses, "tags": [tag]}
    if request_body is not None:
        op["requestBody"] = request_body
    if action is not None:
        op["x-kubernetes-action"] = action
    if gvk is not None:
        op["x-kubernetes-group-version-kind"] = {"group": gvk[0], "kind": gvk[2], "version": gvk[1]}
    return op


def _body(definition: str, *, required: bool = True, patch: bool = False) -> dict[str, Any]:
    media = PATCH_MEDIA_TYPES if patch else ("*/*",)
    body: dict[str, Any] = {"content": _content(media, _ref(definition))}
    if required:
        body["required"] = True
    return body


def _definition_of(group: str, version: str, kind: str) -> str | None:
    found = definition_for_kind(group, version, kind)
    return found.name if found is not None else None


@dataclass(frozen=True, slots=True)
class _Verb:
    """How one API verb becomes an operation: method, id prefix, action, responses, body."""

    method: str
    id_prefix: str
    action: str
    codes: tuple[str, ...]
    query: tuple[str, ...]
    # What the 200 response carries: the object, its list, a Status or watch events.
    returns: str
    # The request body: the object, a patch, DeleteOptions, or none.
    body: str | None = None
    media: tuple[str, ...] = MEDIA_TYPES


_COLLECTION_VERBS: Final = {
    "list": _Verb("get", "list", "list", ("200",), _LIST_QUERY, "list", media=WATCH_MEDIA_TYPES),
    "create": _Verb(
        "post", "create", "post", ("200", "201", "202"), _WRITE_QUERY, "object", "object"
    ),
    "deletecollection": _Verb(
        "delete",
        "delete",
        "deletecollection",
        ("200",),
        _DELETE_COLLECTION_QUERY,
        "status",
        "delete",
    ),
}
_ITEM_VERBS: Final = {
    "get": _Verb("get", "read", "get", ("200",), (), "object"),
    "update": _Verb("put", "replace", "put", ("200", "201"), _WRITE_QUERY, "object", "object"),
    "patch": _Verb("patch", "patch", "patch", ("200", "201"), _PATCH_QUERY, "object", "patch"),
    "delete": _Verb(
        "delete", "delete", "delete", ("200", "202"), _DELETE_QUERY, "status", "delete"
    ),
}
# Subresources take the item verbs that read and write the object; create means POST.
_SUBRESOURCE_VERBS: Final = {
    "get": _ITEM_VERBS["get"],
    "create": _COLLECTION_VERBS["create"],
    "update": _ITEM_VERBS["update"],
    "patch": _ITEM_VERBS["patch"],
}
# Registries that answer DELETE with the deleted object rather than a Status (upstream's
# ReturnDeletedObject), which the published documents reflect.
_DELETE_RETURNS_OBJECT: Final = frozenset(
    {
        ("", "persistentvolumeclaims"),
        ("", "persistentvolumes"),
        ("", "pods"),
        ("", "podtemplates"),
        ("", "resourcequotas"),
        ("", "serviceaccounts"),
        ("", "services"),
        ("resource.k8s.io", "deviceclasses"),
        ("resource.k8s.io", "resourceclaims"),
        ("resource.k8s.io", "resourceclaimtemplates"),
        ("resource.k8s.io", "resourceslices"),
        ("storage.k8s.io", "csidrivers"),
        ("storage.k8s.io", "csinodes"),
        ("storage.k8s.io", "storageclasses"),
        ("storage.k8s.io", "volumeattachments"),
        ("storage.k8s.io", "volumeattributesclasses"),
    }
)
_DELETE_OBJECT: Final = _Verb(
    "delete", "delete", "delete", ("200", "202"), _DELETE_QUERY, "object", "delete"
)
_WATCH: Final = _Verb(
    "get", "watch", "watch", ("200",), _LIST_QUERY, "event", media=WATCH_MEDIA_TYPES
)
_WATCH_LIST: Final = _Verb(
    "get", "watch", "watchlist", ("200",), _LIST_QUERY, "event", media=WATCH_MEDIA_TYPES
)

_NAME: Final = _param("name", "path")
_NAMESPACE: Final = _param("namespace", "path")
_PATH: Final = _param("path", "path")
_PRETTY: Final = _param("pretty", "query")


@dataclass(frozen=True, slots=True)
class _Target:
    """What routes of one resource (or subresource) talk about."""

    gv_id: str
    tag: str
    gvk: tuple[str, str, str]
    definition: str
    list_definition: str | None = None


def _add_route(
    builder: _PathBuilder,
    path: str,
    verb: _Verb,
    operation_id: str,
    target: _Target,
    params: Sequence[dict[str, Any]],
) -> None:
    returns = {
        "object": target.definition,
        "list": target.list_definition or target.definition,
        "status": STATUS,
        "event": WATCH_EVENT,
    }[verb.returns]
    refs = [returns]
    body = None
    if verb.body == "object":
        body = _body(target.definition)
    elif verb.body == "patch":
        body = _body(PATCH, patch=True)
        refs.append(PATCH)
    elif verb.body == "delete":
        body = _body(DELETE_OPTIONS, required=False)
        refs.append(DELETE_OPTIONS)
    operation = _operation(
        operation_id,
        target.tag,
        _responses(verb.codes, _ref(returns), verb.media),
        action=verb.action,
        gvk=target.gvk,
        request_body=body,
    )
    builder.add(path, verb.method, operation, [*params, _PRETTY, *_query(verb.query)], refs)


def _add_resource(builder: _PathBuilder, info: ResourceInfo) -> None:
    """Every route of one resource: collection, item, all-namespaces, watch and subresources."""
    prefix = "/" + gv_path(info.group, info.version)
    target = _Target(
        _gv_id(info.group, info.version),
        _gv_tag(info.group, info.version),
        (info.group, info.version, info.kind),
        info.definition,
        info.list_definition,
    )
    gv_id, kind = target.gv_id, info.kind
    scoped = "Namespaced" if info.namespaced else ""
    ns_path = "/namespaces/{namespace}" if info.namespaced else ""
    scope = [_NAMESPACE] if info.namespaced else []
    collection = f"{prefix}{ns_path}/{info.plural}"
    item = f"{collection}/{{name}}"
    verbs = set(info.verbs)
    if "list" in verbs and not info.list_definition:
        verbs.discard("list")

    for name, verb in _COLLECTION_VERBS.items():
        if name in verbs:
            middle = "Collection" if name == "deletecollection" else ""
            op_id = f"{verb.id_prefix}{gv_id}{middle}{scoped}{kind}"
            _add_route(builder, collection, verb, op_id, target, scope)
    if "list" in verbs and info.namespaced:
        op_id = f"list{gv_id}{kind}ForAllNamespaces"
        verb = _COLLECTION_VERBS["list"]
        _add_route(builder, f"{prefix}/{info.plural}", verb, op_id, target, [])
    for name, verb in _ITEM_VERBS.items():
        if name in verbs:
            if name == "delete" and (info.group, info.plural) in _DELETE_RETURNS_OBJECT:
                verb = _DELETE_OBJECT
            op_id = f"{verb.id_prefix}{gv_id}{scoped}{kind}"
            _add_route(builder, item, verb, op_id, target, [_NAME, *scope])
    if "watch" in verbs:
        watch = f"{prefix}/watch{ns_path}/{info.plural}"
        _add_route(builder, watch, _WATCH_LIST, f"watch{gv_id}{scoped}{kind}List", target, scope)
        op_id = f"watch{gv_id}{scoped}{kind}"
        _add_route(builder, f"{watch}/{{name}}", _WATCH, op_id, target, [_NAME, *scope])
        if info.namespaced:
            op_id = f"watch{gv_id}{kind}ListForAllNamespaces"
            _add_route(builder, f"{prefix}/watch/{info.plural}", _WATCH_LIST, op_id, target, [])
    for sub in info.subresources:
        _add_subresource(builder, info, sub, target, item, [_NAME, *scope])


def _add_subresource(
    builder: _PathBuilder,
    info: ResourceInfo,
    sub: SubresourceInfo,
    parent: _Target,
    item: str,
    item_params: list[dict[str, Any]],
) -> None:
    scoped = "Namespaced" if info.namespaced else ""
    name = f"{scoped}{info.kind}{_title(sub.name)}"
    gvk = (sub.group, sub.version, sub.kind)
    path = f"{item}/{sub.name}"
    if sub.name in _CONNECT_QUERY:
        # exec, attach, portforward and proxy: streaming "connect" operations.
        query = _query(_CONNECT_QUERY[sub.name])
        variants = [(path, "", item_params)]
        if sub.name == "proxy":
            variants.append((f"{path}/{{path}}", "WithPath", [*item_params, _PATH]))
        for variant_path, suffix, params in variants:
            for method in _CONNECT_METHODS.get(sub.name, _CONNECT_DEFAULT_METHODS):
                operation = _operation(
                    f"connect{parent.gv_id}{_title(method)}{name}{suffix}",
                    parent.tag,
                    _responses(["200"], {"type": "string"}, ("*/*",)),
                    action="connect",
                    gvk=gvk,
                )
                builder.add(variant_path, method, operation, [*params, *query])
        return
    if sub.name == "log":
        operation = _operation(
            f"read{parent.gv_id}{name}",
            parent.tag,
            _responses(["200"], {"type": "string"}, ("text/plain", *MEDIA_TYPES)),
            action="get",
            gvk=gvk,
        )
        builder.add(path, "get", operation, [*item_params, _PRETTY, *_query(_LOG_QUERY)])
        return
    # status and the like return the parent kind (a custom kind has no built-in definition).
    if gvk == parent.gvk:
        definition: str | None = parent.definition
    else:
        definition = _definition_of(sub.group, sub.version, sub.kind)
    if definition is None:
        raise SchemaDataError(f"OpenAPI: no definition for subresource {info.plural}/{sub.name}")
    target = _Target(parent.gv_id, parent.tag, gvk, definition)
    for verb_name, verb in _SUBRESOURCE_VERBS.items():
        if verb_name in sub.verbs:
            op_id = f"{verb.id_prefix}{parent.gv_id}{name}"
            _add_route(builder, path, verb, op_id, target, item_params)


# --- documents ---------------------------------------------------------------------------------


def _document(
    builder: _PathBuilder,
    info_version: str,
    builtin: _Components,
    custom: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "components": {
            "schemas": _closure(builder.refs, builtin, custom or {}),
            "securitySchemes": _SECURITY_SCHEMES,
        },
        "info": {"title": "Kubernetes", "version": info_version},
        "openapi": "3.0.0",
        "paths": builder.paths(),
    }


def _discovery_get(
    builder: _PathBuilder,
    path: str,
    operation_id: str,
    tag: str,
    definition: str,
    media: Sequence[str],
) -> None:
    builder.add(
        path,
        "get",
        _operation(operation_id, tag, _responses(["200"], _ref(definition), media)),
        refs=[definition],
    )


def _gv_builder(group: str, version: str, infos: Iterable[ResourceInfo]) -> _PathBuilder:
    builder = _PathBuilder()
    _discovery_get(
        builder,
        f"/{gv_path(group, version)}/",
        f"get{_gv_id(group, version)}APIResources",
        _gv_tag(group, version),
        _META + "APIResourceList",
        MEDIA_TYPES,
    )
    for info in infos:
        _add_resource(builder, info)
    return builder


def _group_builder(group: str) -> _PathBuilder:
    builder = _PathBuilder()
    friendly = "".join(_title(w) for w in _group_words(group))
    _discovery_get(
        builder,
        f"/apis/{group}/",
        f"get{friendly}APIGroup",
        _group_tag(group),
        _META + "APIGroup",
        DISCOVERY_MEDIA_TYPES,
    )
    return builder


_STATIC_DOCUMENTS: Final[Mapping[str, tuple[str, str, str, str, tuple[str, ...]]]] = {
    # document path: (route, operation id, tag, definition, media types)
    "api": ("/api/", "getCoreAPIVersions", "core", _META + "APIVersions", DISCOVERY_MEDIA_TYPES),
    "apis": ("/apis/", "getAPIVersions", "apis", _META + "APIGroupList", DISCOVERY_MEDIA_TYPES),
    "version": (
        "/version/",
        "getCodeVersion",
        "version",
        "io.k8s.apimachinery.pkg.version.Info",
        ("application/json",),
    ),
}


def _static_builder(path: str) -> _PathBuilder:
    builder = _PathBuilder()
    route, operation_id, tag, definition, media = _STATIC_DOCUMENTS[path]
    _discovery_get(builder, route, operation_id, tag, definition, media)
    return builder


def group_version_document(
    group: str, version: str, *, info_version: str = DEFAULT_INFO_VERSION
) -> dict[str, Any]:
    """The document of one built-in group-version (every resource the table has for it)."""
    infos = [r for r in resource_table.resources() if r.group == group and r.version == version]
    return _document(_gv_builder(group, version, infos), info_version, _Components())


def root_document(documents: Mapping[str, Document]) -> dict[str, Any]:
    """The discovery document: each document path mapped to its hash-carrying URL."""
    return {
        "paths": {path: {"serverRelativeURL": documents[path].url} for path in sorted(documents)}
    }


# --- custom resources --------------------------------------------------------------------------


def crd_definition_name(group: str, version: str, kind: str) -> str:
    """Upstream's component name of a custom kind, group reversed: ``com.example.v1.Widget``."""
    return ".".join([*reversed(group.split(".")), version, kind])


def _crd_schema(crd_version: Mapping[str, Any], gvk: Mapping[str, str]) -> dict[str, Any]:
    raw = crd_version.get("schema")
    body = raw.get("openAPIV3Schema") if isinstance(raw, Mapping) else None
    if isinstance(body, Mapping):
        out = dict(body)
    else:
        out = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    properties = dict(out.get("properties") or {})
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = {"$ref": OBJECT_META}
    out["properties"] = dict(sorted(properties.items()))
    out.setdefault("type", "object")
    out["x-kubernetes-group-version-kind"] = [dict(gvk)]
    return out


def _crd_list_schema(item: str, gvk: Mapping[str, str]) -> dict[str, Any]:
    return {
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {"items": {"$ref": item}, "type": "array"},
            "kind": {"type": "string"},
            "metadata": {"$ref": LIST_META},
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [dict(gvk)],
    }


def custom_group_version(
    crds: Iterable[Mapping[str, Any]], group: str, version: str
) -> tuple[dict[str, dict[str, Any]], list[ResourceInfo]]:
    """The component schemas and resources that the CRDs serve at ``group/version``, ready for
    ``OpenAPIV3.set_custom_group_version``. CRDs of other groups, or not serving the version,
    are skipped."""
    schemas: dict[str, dict[str, Any]] = {}
    infos: list[ResourceInfo] = []
    for crd in crds:
        spec = crd.get("spec")
        if not isinstance(spec, Mapping) or spec.get("group") != group:
            continue
        names = spec.get("names")
        names = names if isinstance(names, Mapping) else {}
        kind = str(names.get("kind", ""))
        list_kind = str(names.get("listKind") or kind + "List")
        for entry in spec.get("versions") or []:
            if not isinstance(entry, Mapping) or entry.get("name") != version:
                continue
            if entry.get("served") is False:
                continue
            definition = crd_definition_name(group, version, kind)
            list_definition = crd_definition_name(group, version, list_kind)
            gvk = {"group": group, "kind": kind, "version": version}
            schemas[definition] = _crd_schema(entry, gvk)
            schemas[list_definition] = _crd_list_schema(definition, {**gvk, "kind": list_kind})
            infos.append(_crd_resource(spec, entry, names, definition, list_definition))
    return schemas, infos


def _crd_resource(
    spec: Mapping[str, Any],
    entry: Mapping[str, Any],
    names: Mapping[str, Any],
    definition: str,
    list_definition: str,
) -> ResourceInfo:
    group = str(spec.get("group", ""))
    version = str(entry.get("name", ""))
    kind = str(names.get("kind", ""))
    declared = entry.get("subresources")
    subs: list[SubresourceInfo] = []
    patchable = ("get", "patch", "update")
    if isinstance(declared, Mapping):
        if "scale" in declared:
            subs.append(SubresourceInfo("scale", "autoscaling", "v1", "Scale", patchable))
        if "status" in declared:
            subs.append(SubresourceInfo("status", group, version, kind, patchable))
    return ResourceInfo(
        group=group,
        version=version,
        kind=kind,
        plural=str(names.get("plural", "")),
        singular=str(names.get("singular") or kind.lower()),
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
        short_names=tuple(str(n) for n in names.get("shortNames") or ()),
        categories=tuple(str(c) for c in names.get("categories") or ()),
        subresources=tuple(sorted(subs, key=lambda s: s.name)),
        definition=definition,
        list_definition=list_definition,
    )


# --- the cache ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Document:
    """One serialised document and its content hash."""

    path: str
    body: bytes
    hash: str

    @classmethod
    def of(cls, path: str, document: Mapping[str, Any]) -> Document:
        body = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        return cls(path, body, hashlib.sha512(body).hexdigest().upper())

    @property
    def etag(self) -> str:
        return f'"{self.hash}"'

    @property
    def url(self) -> str:
        return f"/openapi/v3/{self.path}?hash={self.hash}"


@dataclass(frozen=True, slots=True)
class Response:
    """What to answer an OpenAPI request with (the HTTP layer writes it out verbatim)."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""


_JSON_TYPES: Final = frozenset({"*/*", "application/*", "application/json"})


def _accepts_json(accept: str | None) -> bool:
    """Whether an Accept header admits JSON (upstream's negotiation, minus protobuf)."""
    if not accept:
        return True
    for clause in accept.split(","):
        media, _, params = clause.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and media.strip().lower() in _JSON_TYPES:
            return True
    return False


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


class OpenAPIV3:
    """The OpenAPI v3 documents of a running API server, serialised once and cached.

    Built-in documents are built lazily on first request (the discovery document needs every
    hash, so the first ``root()`` builds them all). Custom group-versions (CRDs) are added and
    removed with ``set_custom_group_version``/``remove_custom_group_version``.
    """

    def __init__(
        self,
        resources: Iterable[ResourceInfo] | None = None,
        *,
        info_version: str = DEFAULT_INFO_VERSION,
    ) -> None:
        if resources is None:
            resources = [r for r in resource_table.resources() if r.enabled_by_default]
        self._info_version = info_version
        self._builtin = _Components()
        self._by_gv: dict[tuple[str, str], list[ResourceInfo]] = {}
        for info in resources:
            self._by_gv.setdefault((info.group, info.version), []).append(info)
        # Document path -> how to build it; built documents are cached in _documents.
        self._sources: dict[str, tuple[str, ...]] = dict.fromkeys(_STATIC_DOCUMENTS, ("static",))
        for group, version in self._by_gv:
            self._sources[gv_path(group, version)] = ("gv", group, version)
            if group:
                self._sources[f"apis/{group}"] = ("group", group)
        self._custom: dict[str, tuple[dict[str, dict[str, Any]], list[ResourceInfo]]] = {}
        self._documents: dict[str, Document] = {}
        self._root: Document | None = None

    # -- documents --

    def paths(self) -> list[str]:
        """Every document path, sorted (``api``, ``api/v1``, ``apis``, ``apis/apps``, ...)."""
        return sorted({*self._sources, *self._custom})

    def document(self, path: str) -> Document | None:
        """The document at ``path`` (``apis/apps/v1``), built on first use; None if unknown."""
        path = path.strip("/")
        cached = self._documents.get(path)
        if cached is not None:
            return cached
        built = self._build(path)
        if built is None:
            return None
        document = Document.of(path, built)
        self._documents[path] = document
        return document

    def _build(self, path: str) -> dict[str, Any] | None:
        if path in self._custom:
            schemas, infos = self._custom[path]
            group, version = infos[0].group, infos[0].version
            return _document(
                _gv_builder(group, version, infos), self._info_version, self._builtin, schemas
            )
        source = self._sources.get(path)
        if source is None:
            return None
        if source[0] == "gv":
            group, version = source[1], source[2]
            builder = _gv_builder(group, version, self._by_gv[(group, version)])
        elif source[0] == "group":
            builder = _group_builder(source[1])
        else:
            builder = _static_builder(path)
        return _document(builder, self._info_version, self._builtin)

    def root(self) -> Document:
        """The discovery document (``GET /openapi/v3``)."""
        if self._root is None:
            documents = {}
            for path in self.paths():
                document = self.document(path)
                if document is not None:
                    documents[path] = document
            self._root = Document.of("", root_document(documents))
        return self._root

    def set_custom_group_version(
        self,
        group: str,
        version: str,
        schemas: Mapping[str, Mapping[str, Any]],
        resources: Sequence[ResourceInfo],
    ) -> Document | None:
        """Publish (or replace) the document of a custom group-version: ``schemas`` are extra
        component schemas by name (v2-style bare ``$ref`` names or ``#/components/schemas/``
        refs), ``resources`` its resources. No resources removes the document."""
        path = gv_path(group, version)
        if not resources:
            self.remove_custom_group_version(group, version)
            return None
        if any(r.group != group or r.version != version for r in resources):
            raise ValueError(f"resources must all be in {group}/{version}")
        self._custom[path] = ({k: dict(v) for k, v in schemas.items()}, list(resources))
        self._documents.pop(path, None)
        self._root = None
        return self.document(path)

    def remove_custom_group_version(self, group: str, version: str) -> bool:
        """Withdraw a custom group-version's document; False if there was none."""
        path = gv_path(group, version)
        if self._custom.pop(path, None) is None:
            return False
        self._documents.pop(path, None)
        self._root = None
        return True

    # -- HTTP semantics (upstream's handler3) --

    def serve(
        self,
        path: str,
        *,
        hash: str | None = None,
        accept: str | None = None,
        if_none_match: str | None = None,
        now: datetime | None = None,
    ) -> Response:
        """Answer ``GET /openapi/v3`` (``path`` empty) or ``GET /openapi/v3/<path>``.

        JSON only (a protobuf-only Accept gets 406); a stale ``hash`` is redirected (301) to
        the current URL; the right hash makes the response cacheable for a year; a matching
        ``If-None-Match`` gets 304.
        """
        path = path.strip("/")
        if not path:
            root = self.root()
            headers = {"Content-Type": "application/json", "Etag": root.etag}
            if _etag_matches(if_none_match, root.etag):
                return Response(304, headers)
            return Response(200, headers, root.body)
        document = self.document(path)
        if document is None:
            return Response(
                404, {"Content-Type": "text/plain; charset=utf-8"}, b"404 page not found\n"
            )
        if not _accepts_json(accept):
            return Response(406, {"Vary": "Accept"})
        headers = {"Content-Type": "application/json", "Etag": document.etag, "Vary": "Accept"}
        if hash:
            if hash != document.hash:
                return Response(301, {"Location": document.url, "Vary": "Accept"})
            expires = (now or datetime.now(UTC)) + timedelta(days=365)
            headers["Cache-Control"] = "public, immutable"
            headers["Expires"] = format_datetime(expires.astimezone(UTC), usegmt=True)
        if _etag_matches(if_none_match, document.etag):
            return Response(304, headers)
        return Response(200, headers, document.body)
