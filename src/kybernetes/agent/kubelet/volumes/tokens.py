"""Service-account tokens for projected volumes: requested through the TokenRequest API, cached.

For every ``serviceAccountToken`` source of a pod's projected volumes the kubelet asks the API
server for a token of the pod's service account, with the source's audience (none: the API
server's) and ``expirationSeconds``, bound to the pod (name and uid), as upstream's token
manager does. Tokens are cached by (service account, namespace, audiences, lifetime, bound
pod) and requested again once 80% of their lifetime has passed or they are 24 hours old
(minus up to 10 s of jitter, so a node's pods do not all refresh at once). When a refresh
fails the old token is kept while it is still valid.

``prepare`` (async, before the volumes are set up) does the requests; ``token`` (sync, while
the files are rendered) returns what ``prepare`` got, or raises the ``VolumeError`` the pod's
``FailedMount`` event carries (``failed to fetch token: ...``). ``forget`` drops a pod's tokens
when its volumes are torn down.

Invariant: no request is made for a token that is cached and fresh; the token of a pod is
never handed to another pod (the pod uid is part of the key).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from kybernetes.agent.kubelet.volumes.render import VolumeError
from kybernetes.api import errors
from kybernetes.api.meta import parse_time
from kybernetes.util.clock import Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
#: (namespace, service account, TokenRequest) -> the answered TokenRequest.
TokenRequester = Callable[[str, str, Obj], Awaitable[Obj]]

MAX_TTL: Final = 24 * 60 * 60.0
MAX_JITTER: Final = 10.0
DEFAULT_EXPIRATION_SECONDS: Final = 60 * 60
_FAILURES = (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class _Key:
    namespace: str
    account: str
    audiences: tuple[str, ...]
    expiration_seconds: int
    pod_name: str
    pod_uid: str


@dataclass(frozen=True, slots=True)
class _Token:
    token: str
    expires: float  # status.expirationTimestamp, epoch seconds
    seconds: int  # spec.expirationSeconds as answered


def token_sources(pod: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every ``serviceAccountToken`` projection of the pod's volumes."""
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        projected = volume.get("projected")
        if not isinstance(projected, Mapping):
            continue
        for source in projected.get("sources") or ():
            token = source.get("serviceAccountToken") if isinstance(source, Mapping) else None
            if isinstance(token, Mapping):
                yield token


def _key(pod: Mapping[str, Any], source: Mapping[str, Any]) -> _Key:
    meta = pod.get("metadata") or {}
    audience = str(source.get("audience") or "")
    return _Key(
        namespace=str(meta.get("namespace") or ""),
        account=str((pod.get("spec") or {}).get("serviceAccountName") or ""),
        audiences=(audience,) if audience else (),
        expiration_seconds=int(source.get("expirationSeconds") or DEFAULT_EXPIRATION_SECONDS),
        pod_name=str(meta.get("name") or ""),
        pod_uid=str(meta.get("uid") or ""),
    )


def _request_body(key: _Key) -> Obj:
    spec: Obj = {
        "expirationSeconds": key.expiration_seconds,
        "boundObjectRef": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": key.pod_name,
            "uid": key.pod_uid,
        },
    }
    if key.audiences:
        spec["audiences"] = list(key.audiences)
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


class TokenManager:
    """The node's cache of service-account tokens for projected volumes."""

    def __init__(self, request: TokenRequester, clock: Clock) -> None:
        self._request = request
        self._clock = clock
        self._tokens: dict[_Key, _Token] = {}
        self._errors: dict[_Key, str] = {}

    def _requires_refresh(self, token: _Token) -> bool:
        now = self._clock.now()
        issued = token.expires - token.seconds
        jitter = random.random() * MAX_JITTER
        if now > issued + MAX_TTL - jitter:
            return True
        return now > token.expires - token.seconds * 20 // 100 - jitter

    async def prepare(self, pod: Mapping[str, Any]) -> None:
        """Have a fresh token (or the reason there is none) for every token source of ``pod``."""
        for source in token_sources(pod):
            key = _key(pod, source)
            cached = self._tokens.get(key)
            if cached is not None and not self._requires_refresh(cached):
                continue
            try:
                answer = await self._request(key.namespace, key.account, _request_body(key))
                status = answer.get("status") or {}
                token = str(status.get("token") or "")
                if not token:
                    raise ValueError("no token in server response")
                spec_seconds = (answer.get("spec") or {}).get("expirationSeconds")
                self._tokens[key] = _Token(
                    token,
                    parse_time(str(status.get("expirationTimestamp"))).timestamp(),
                    int(spec_seconds or key.expiration_seconds),
                )
                self._errors.pop(key, None)
                log.debug("service account token fetched pod=%s/%s", key.namespace, key.pod_name)
            except (*_FAILURES, ValueError) as exc:
                if cached is not None and self._clock.now() <= cached.expires:
                    log.warning(
                        "service account token refresh failed, keeping the old one pod=%s/%s "
                        "error=%s",
                        key.namespace,
                        key.pod_name,
                        exc,
                    )
                    continue
                self._tokens.pop(key, None)
                self._errors[key] = f"failed to fetch token: {exc}"

    def token(self, pod: Mapping[str, Any], source: Mapping[str, Any]) -> bytes:
        """The token ``prepare`` fetched for this source of ``pod``."""
        key = _key(pod, source)
        cached = self._tokens.get(key)
        if cached is None:
            raise VolumeError(self._errors.get(key, "failed to fetch token: not requested yet"))
        return cached.token.encode()

    def forget(self, pod_uid: str) -> None:
        """Drop every token bound to the pod (its volumes are gone)."""
        for key in [k for k in self._tokens if k.pod_uid == pod_uid]:
            del self._tokens[key]
        for key in [k for k in self._errors if k.pod_uid == pod_uid]:
            del self._errors[key]
