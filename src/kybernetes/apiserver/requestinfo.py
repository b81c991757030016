"""What an API request is about, read from its method, path and query (no I/O).

Kubernetes resource paths have a fixed shape::

    /api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]
    /apis/{group}/{version}[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]

``/api/v1/namespaces/{name}`` is the namespaces resource itself (as are its ``status`` and
``finalize`` subresources). The verb follows from the method, whether a name is present and
the ``watch`` parameter, exactly as upstream's RequestInfoFactory derives it; authorization and
metrics use it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from kybernetes.api import errors

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


def parse_bool(name: str, value: str | None, default: bool = False) -> bool:
    """A boolean query parameter, parsed like Go's ``strconv.ParseBool``.

    kubernetes_asyncio sends ``watch=True``; an empty value means true, as upstream.
    """
    if value is None:
        return default
    if value in _TRUE or value == "":
        return True
    if value in _FALSE:
        return False
    raise errors.new_bad_request(f"invalid boolean value {value!r} for parameter {name!r}")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The resource coordinates and verb of one request.

    ``is_resource_request`` is false for everything outside the resource paths (discovery
    documents, ``/version``, ``/healthz``, OpenAPI, metrics); then only ``path`` and ``verb``
    (the lower-cased method) are meaningful.
    """

    verb: str
    path: str
    is_resource_request: bool = False
    api_prefix: str = ""
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


# Every request is classified, and most repeat a few (method, path) pairs (a collection's
# creates and lists, a controller's GETs of the same objects): parsing is a few microseconds,
# a cache hit a fraction of one. RequestInfo is immutable, so sharing one is safe.
@functools.lru_cache(maxsize=4096)
def parse_request_info(method: str, path: str, watch: bool) -> RequestInfo:
    """Classify a request; ``watch`` is the parsed ``watch`` query parameter."""
    parts = [p for p in path.split("/") if p]
    verb = method.lower()
    if not parts or parts[0] not in ("api", "apis"):
        return RequestInfo(verb=verb, path=path)
    prefix = parts[0]
    rest = parts[1:]
    if prefix == "api":
        group = ""
        if not rest:
            return RequestInfo(verb=verb, path=path)
        version, rest = rest[0], rest[1:]
    else:
        if len(rest) < 2:
            return RequestInfo(verb=verb, path=path)
        group, version, rest = rest[0], rest[1], rest[2:]
    if not rest:
        return RequestInfo(verb=verb, path=path)  # a group-version discovery document
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        # /namespaces/{ns}/{resource}... is inside a namespace; /namespaces/{name} and its
        # status and finalize subresources are the namespace object itself (upstream keeps
        # the namespace set to the object's name there too).
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = "/".join(rest[2:]) if len(rest) > 2 else ""
    if method == "GET":
        verb = ("watch" if watch else "get") if name else ("watch" if watch else "list")
    elif method == "POST":
        verb = "create"
    elif method == "PUT":
        verb = "update"
    elif method == "PATCH":
        verb = "patch"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    return RequestInfo(
        verb=verb,
        path=path,
        is_resource_request=True,
        api_prefix=prefix,
        group=group,
        version=version,
        namespace=namespace,
        resource=resource,
        name=name,
        subresource=subresource,
    )
