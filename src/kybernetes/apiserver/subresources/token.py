"""The ``token`` subresource of service accounts: the TokenRequest API.

``POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`` with an
``authentication.k8s.io/v1 TokenRequest`` answers 201 with the request plus
``status.token`` and ``status.expirationTimestamp`` (``kubectl create token`` prints the
token; the kubelet writes it into projected volumes). As upstream's ``TokenREST``, in order:

- ``metadata.name``/``namespace`` in the body, if set, must match the URL (422); the service
  account must exist (404); ``spec.audiences`` defaults to the API server's audiences,
  ``spec.expirationSeconds`` to 3600, and must be at least 600 and at most 2^32 (422);
- ``spec.boundObjectRef`` may name a Pod (running as this service account, else 400), a
  Secret or a Node of the core group (any other kind: 400); a given ``uid`` must be the
  object's (409). A pod-bound token also carries the pod's node (its uid when it exists);
- a requested lifetime over ``--service-account-max-token-expiration`` is shortened, with a
  warning; a pod-bound request for exactly 3607 s with the API server's own audiences (what
  the kubelet asks for) gets a token valid for a year that warns after 3607 s, while the
  answer still says 3607 s (upstream's safe transition to short-lived tokens).

Nothing is stored.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339
from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver import encoding
from kybernetes.apiserver.auth.serviceaccount import (
    EXPIRATION_EXTENSION_SECONDS,
    WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS,
    Bound,
    TokenIssuer,
)

if TYPE_CHECKING:
    from kybernetes.apiserver.handlers import ResourceHandler
    from kybernetes.apiserver.registry import Store
    from kybernetes.apiserver.requestinfo import RequestInfo

GROUP: Final = "authentication.k8s.io"
DEFAULT_EXPIRATION_SECONDS: Final = 60 * 60
MIN_EXPIRATION_SECONDS: Final = 10 * 60
MAX_EXPIRATION_SECONDS: Final = 1 << 32


def token_request_info(service_accounts: ResourceInfo) -> ResourceInfo:
    """What the request body is decoded and checked as: ``authentication.k8s.io/v1``."""
    return dataclasses.replace(
        service_accounts,
        group=GROUP,
        version="v1",
        kind="TokenRequest",
        plural="tokenrequests",
        singular="tokenrequest",
        subresources=(),
        definition="io.k8s.api.authentication.v1.TokenRequest",
        list_definition=None,
    )


def _invalid(name: str, errs: list[errors.FieldError]) -> errors.StatusError:
    return errors.new_invalid("TokenRequest", name, errs, group=GROUP)


def _gvk(api_version: str, kind: str) -> tuple[str, str, str]:
    """``schema.FromAPIVersionAndKind``: (group, version, kind)."""
    group, _, version = api_version.rpartition("/")
    return group, version, kind


async def handle(
    handler: ResourceHandler, request: web.Request, info: RequestInfo, store: Store
) -> web.Response:
    issuer: TokenIssuer | None = handler.tokens
    if issuer is None:
        raise errors.NotFound("the server could not find the requested resource")
    req, warnings = await handler.decode(request, token_request_info(store.info))
    name, namespace = info.name, info.namespace
    meta = req.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    if meta.get("name") and meta["name"] != name:
        raise _invalid(
            name,
            [
                errors.invalid(
                    "metadata.name",
                    meta["name"],
                    "must match the service account name if specified",
                )
            ],
        )
    if meta.get("namespace") and meta["namespace"] != namespace:
        raise _invalid(
            name,
            [
                errors.invalid(
                    "metadata.namespace",
                    meta["namespace"],
                    "must match the service account namespace if specified",
                )
            ],
        )
    account = (await store.get(namespace, name)).obj
    spec = req.get("spec")
    spec = dict(spec) if isinstance(spec, dict) else {}
    config = issuer.config
    audiences = [a for a in spec.get("audiences") or () if isinstance(a, str)]
    spec["audiences"] = audiences or list(config.api_audiences)
    if spec.get("expirationSeconds") is None:
        spec["expirationSeconds"] = DEFAULT_EXPIRATION_SECONDS
    now = handler.now()
    meta = {
        **meta,
        "name": meta.get("name") or name,
        "namespace": meta.get("namespace") or namespace,
        "creationTimestamp": now_rfc3339(now),
    }
    seconds = int(spec["expirationSeconds"])
    if seconds < MIN_EXPIRATION_SECONDS:
        raise _invalid(
            "",
            [
                errors.invalid(
                    "spec.expirationSeconds",
                    seconds,
                    "may not specify a duration less than 10 minutes",
                )
            ],
        )
    if seconds > MAX_EXPIRATION_SECONDS:
        raise _invalid(
            "",
            [
                errors.invalid(
                    "spec.expirationSeconds",
                    seconds,
                    "may not specify a duration larger than 2^32 seconds",
                )
            ],
        )
    bound = await _bound(handler, namespace, name, spec.get("boundObjectRef"))
    if 0 < config.max_expiration_seconds < seconds:
        warnings.append(
            f"requested expiration of {seconds} seconds shortened to "
            f"{config.max_expiration_seconds} seconds"
        )
        seconds = config.max_expiration_seconds
    spec["expirationSeconds"] = seconds
    lifetime, warn_after = seconds, 0
    if (
        config.extend_expiration
        and bound.pod is not None
        and seconds == WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS
        and set(spec["audiences"]) <= set(config.api_audiences)
    ):
        lifetime, warn_after = EXPIRATION_EXTENSION_SECONDS, seconds
    claims = issuer.claims(
        account,
        bound,
        lifetime,
        spec["audiences"],
        now=now.timestamp(),
        warn_after_seconds=warn_after,
    )
    out = {
        "kind": "TokenRequest",
        "apiVersion": f"{GROUP}/v1",
        "metadata": meta,
        "spec": spec,
        "status": {
            "token": issuer.sign(claims),
            "expirationTimestamp": now_rfc3339(now + timedelta(seconds=seconds)),
        },
    }
    response = encoding.json_response(out, status=201)
    for warning in warnings:
        response.headers.add("Warning", f'299 - "{warning}"')
    return response


async def _bound(handler: ResourceHandler, namespace: str, account: str, ref: Any) -> Bound:
    """The object ``boundObjectRef`` names, checked as upstream (none: an unbound token)."""
    if not isinstance(ref, dict):
        return Bound()
    group, version, kind = _gvk(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
    ref_name = str(ref.get("name") or "")
    stores = handler.stores
    if group == "" and kind == "Pod":
        pod = (await stores[("", "pods")].get(namespace, ref_name)).obj
        if (pod.get("spec") or {}).get("serviceAccountName") != account:
            raise errors.new_bad_request(
                f'cannot bind token for serviceaccount "{account}" to pod running with '
                "different serviceaccount name."
            )
        found, bound = pod, Bound(pod=pod, node=_pod_node(handler, pod))
    elif group == "" and kind == "Secret":
        found = (await stores[("", "secrets")].get(namespace, ref_name)).obj
        bound = Bound(secret=found)
    elif group == "" and kind == "Node":
        found = (await stores[("", "nodes")].get("", ref_name)).obj
        bound = Bound(node=found)
    else:
        raise errors.new_bad_request(
            f"cannot bind token to object of type {group}/{version}, Kind={kind}"
        )
    uid = str(ref.get("uid") or "")
    if uid and uid != found["metadata"].get("uid"):
        raise errors.new_conflict(
            kind,
            ref_name,
            f"the UID in the bound object reference ({uid}) does not match the UID in record. "
            "The object might have been deleted and then recreated",
            group=group,
        )
    return bound


def _pod_node(handler: ResourceHandler, pod: dict[str, Any]) -> dict[str, Any] | None:
    """The pod's node from the watch cache; just its name when the Node is gone."""
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        return None
    nodes = handler.stores[("", "nodes")]
    cached = nodes.cache.get(nodes.key("", node_name))
    return cached.obj if cached is not None else {"metadata": {"name": node_name}}
