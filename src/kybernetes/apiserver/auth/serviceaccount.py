"""Service-account tokens: the claims kube-apiserver issues, and the authenticator that checks them.

:class:`ServiceAccountTokens` is the configuration (signing key, issuer, audiences);
:class:`TokenIssuer` makes the bound tokens the TokenRequest API returns, with upstream's
claims, keys sorted as go-jose writes them::

    {"aud": [...], "exp": ..., "iat": ..., "iss": "https://kubernetes.default.svc.cluster.local",
     "jti": "<uuid4>", "kubernetes.io": {"namespace": ..., "node": {name, uid},
     "pod": {name, uid}, "serviceaccount": {name, uid}, "warnafter": ...}, "nbf": ...,
     "sub": "system:serviceaccount:<ns>:<name>"}

:class:`ServiceAccountAuthenticator` accepts a bearer token only if our issuer issued it, one
of our keys signed it, its audiences meet the API server's, it is within its validity (one
minute of leeway either side, as go-jose), and the objects it names still exist with the same
uids: the service account, and the pod, secret or (for a node-bound token) node it is bound to.
A token bound to a pod also carries the pod's node, which is reported but not checked (as
upstream). The user is ``system:serviceaccount:<ns>:<name>`` with the service account's uid,
groups ``system:serviceaccounts`` and ``system:serviceaccounts:<ns>`` (``system:authenticated``
is added), and the pod, node and ``JTI=`` credential id as extra values.

Invariant: a token that fails any check authenticates nobody; the reason is logged at debug
level only (it is the client's token). Objects are read from the API server's watch caches
through a synchronous lookup, so authentication does no I/O.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kybernetes.api.meta import parse_time
from kybernetes.apiserver.auth import jwt
from kybernetes.apiserver.auth.authn import RequestFacts, UserInfo, bearer_token
from kybernetes.apiserver.auth.authn import with_authenticated_group as _authenticated

log = logging.getLogger(__name__)

#: kubeadm's and k3s's ``--service-account-issuer``; also the default API audience.
DEFAULT_ISSUER: Final = "https://kubernetes.default.svc.cluster.local"
#: The kubelet asks for this lifetime; pod-bound tokens with it live a year and warn after it.
WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS: Final = 60 * 60 + 7
EXPIRATION_EXTENSION_SECONDS: Final = 24 * 365 * 60 * 60
#: go-jose's ``DefaultLeeway`` for exp/nbf/iat and for deleted objects.
LEEWAY_SECONDS: Final = 60

USERNAME_PREFIX: Final = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP: Final = "system:serviceaccounts"
GROUP_PREFIX: Final = "system:serviceaccounts:"
POD_NAME_KEY: Final = "authentication.kubernetes.io/pod-name"
POD_UID_KEY: Final = "authentication.kubernetes.io/pod-uid"
NODE_NAME_KEY: Final = "authentication.kubernetes.io/node-name"
NODE_UID_KEY: Final = "authentication.kubernetes.io/node-uid"
CREDENTIAL_ID_KEY: Final = "authentication.kubernetes.io/credential-id"

Obj = Mapping[str, Any]
#: (plural, namespace, name) -> the object, or None: pods, secrets, nodes, serviceaccounts.
ObjectLookup = Callable[[str, str, str], "Obj | None"]


def username(namespace: str, name: str) -> str:
    return f"{USERNAME_PREFIX}{namespace}:{name}"


def group_names(namespace: str) -> tuple[str, str]:
    return (ALL_SERVICE_ACCOUNTS_GROUP, f"{GROUP_PREFIX}{namespace}")


@dataclass(frozen=True)
class ServiceAccountTokens:
    """How the API server issues and checks service-account tokens."""

    signing_key: jwt.PrivateKey
    issuer: str = DEFAULT_ISSUER
    #: The API server's own audiences (``--api-audiences``); empty: just the issuer.
    audiences: tuple[str, ...] = ()
    #: Every key whose tokens are accepted (``--service-account-key-file``); empty: the
    #: signing key's public half.
    verification_keys: tuple[jwt.PublicKey, ...] = ()
    #: ``--service-account-extend-token-expiration`` (upstream's default: on).
    extend_expiration: bool = True
    #: ``--service-account-max-token-expiration`` in seconds; 0: no cap (upstream's default).
    max_expiration_seconds: int = 0
    #: ``--service-account-jwks-uri``; empty: ``https://<server address>/openid/v1/jwks``.
    jwks_uri: str = ""

    @property
    def api_audiences(self) -> tuple[str, ...]:
        return self.audiences or (self.issuer,)

    @property
    def public_keys(self) -> tuple[jwt.PublicKey, ...]:
        return self.verification_keys or (self.signing_key.public_key(),)


def _ref(obj: Obj) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    out = {"name": str(meta.get("name") or "")}
    if meta.get("uid"):
        out["uid"] = str(meta["uid"])
    return out


@dataclass(frozen=True, slots=True)
class Bound:
    """The object a token is bound to (at most one of pod, secret, node-only)."""

    pod: Obj | None = None
    secret: Obj | None = None
    #: The pod's node (pod-bound tokens) or the node itself (node-bound tokens).
    node: Obj | None = None


class TokenIssuer:
    """Signs service-account tokens (upstream's ``token.Claims`` plus the JWT generator)."""

    def __init__(self, config: ServiceAccountTokens) -> None:
        self.config = config
        self._kid = jwt.key_id(config.signing_key)

    def claims(
        self,
        account: Obj,
        bound: Bound,
        expiration_seconds: int,
        audiences: Sequence[str],
        *,
        now: float,
        warn_after_seconds: int = 0,
    ) -> dict[str, Any]:
        meta = account.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        issued = int(now)
        private: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": _ref(account),
        }
        if bound.pod is not None:
            private["pod"] = _ref(bound.pod)
        elif bound.secret is not None:
            private["secret"] = _ref(bound.secret)
        if bound.node is not None:
            private["node"] = _ref(bound.node)
        if warn_after_seconds:
            private["warnafter"] = issued + warn_after_seconds
        return {
            "aud": list(audiences),
            "exp": issued + expiration_seconds,
            "iat": issued,
            "iss": self.config.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": private,
            "nbf": issued,
            "sub": username(namespace, str(meta.get("name") or "")),
        }

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.sign(claims, self.config.signing_key, self._kid)


class ServiceAccountAuthenticator:
    """Bearer tokens our issuer signed, checked against the objects they name.

    Signature checks are memoised per token (LRU of ``cache_size``); the cache is not locked:
    call from one event loop, as the API server does.
    """

    def __init__(
        self,
        config: ServiceAccountTokens,
        lookup: ObjectLookup,
        *,
        now: Callable[[], float] = time.time,
        cache_size: int = 4096,
    ) -> None:
        self.config = config
        self.lookup = lookup
        self.now = now
        self.cache_size = cache_size
        #: token -> its claims when our issuer signed it with one of our keys, else None
        self._verified: OrderedDict[str, dict[str, Any] | None] = OrderedDict()

    def authenticate(self, request_facts: RequestFacts) -> UserInfo | None:
        token = bearer_token(request_facts.authorization)
        if token is None or not jwt.looks_like_jwt(token):
            return None
        claims = self._signed(token)
        if claims is None:
            return None
        try:
            return self._validate(claims)
        except _Rejected as rejected:
            log.debug("service account token rejected reason=%s", rejected)
            return None

    def _signed(self, token: str) -> dict[str, Any] | None:
        """The claims of a token our issuer signed with one of our keys (memoised: a token's
        signature never changes, while the checks in ``_validate`` run on every request)."""
        if token in self._verified:
            self._verified.move_to_end(token)
            return self._verified[token]
        verified: dict[str, Any] | None = None
        try:
            parts = jwt.split(token)
        except jwt.JWTError:
            parts = None
        if parts is not None and parts.claims.get("iss") == self.config.issuer:
            if any(jwt.verify(parts, key) for key in self.config.public_keys):
                verified = parts.claims
            else:
                log.debug("service account token rejected reason=invalid signature")
        self._verified[token] = verified
        if len(self._verified) > self.cache_size:
            self._verified.popitem(last=False)
        return verified

    def _validate(self, claims: Mapping[str, Any]) -> UserInfo:
        audiences = _string_list(claims.get("aud")) or list(self.config.api_audiences)
        if not set(audiences) & set(self.config.api_audiences):
            raise _Rejected(
                f"token audiences {audiences!r} is invalid for the target audiences "
                f"{list(self.config.api_audiences)!r}"
            )
        now = self.now()
        exp, nbf, iat = (_number(claims.get(k)) for k in ("exp", "nbf", "iat"))
        if exp is not None and now - LEEWAY_SECONDS > exp:
            raise _Rejected("service account token has expired")
        if nbf is not None and now + LEEWAY_SECONDS < nbf:
            raise _Rejected("service account token is not valid yet")
        if iat is not None and now + LEEWAY_SECONDS < iat:
            raise _Rejected("service account token is issued in the future")
        private = claims.get("kubernetes.io")
        if not isinstance(private, Mapping):
            raise _Rejected("service account token has no kubernetes.io claims")
        namespace = str(private.get("namespace") or "")
        account_ref = _ref_of(private.get("serviceaccount")) or ("", "")
        account = self._alive(
            "serviceaccounts", namespace, account_ref, f"service account {namespace}/"
        )
        extra: dict[str, tuple[str, ...]] = {}
        pod_ref, secret_ref = _ref_of(private.get("pod")), _ref_of(private.get("secret"))
        node_ref = _ref_of(private.get("node"))
        if secret_ref is not None:
            self._alive("secrets", namespace, secret_ref, "secret ")
        if pod_ref is not None:
            self._alive("pods", namespace, pod_ref, "pod ")
            extra[POD_NAME_KEY], extra[POD_UID_KEY] = (pod_ref[0],), (pod_ref[1],)
        if node_ref is not None:
            if pod_ref is None:  # a node-bound token: the node must still be there
                self._alive("nodes", "", node_ref, "node ")
            extra[NODE_NAME_KEY] = (node_ref[0],)
            if node_ref[1]:
                extra[NODE_UID_KEY] = (node_ref[1],)
        jti = claims.get("jti")
        if isinstance(jti, str) and jti:
            extra[CREDENTIAL_ID_KEY] = (f"JTI={jti}",)
        uid = str((account.get("metadata") or {}).get("uid") or "")
        return _authenticated(
            UserInfo(
                name=username(namespace, account_ref[0]),
                uid=uid,
                groups=group_names(namespace),
                extra=extra,
            )
        )

    def _alive(self, plural: str, namespace: str, ref: tuple[str, str], what: str) -> Obj:
        """The named object, unless it is gone, long deleted, or another object by now."""
        name, uid = ref
        obj = self.lookup(plural, namespace, name) if name else None
        if obj is None:
            raise _Rejected(f"{what}{name} not found: service account token has been invalidated")
        meta = obj.get("metadata") or {}
        deleted = _timestamp(meta.get("deletionTimestamp"))
        if deleted is not None and deleted < self.now() - LEEWAY_SECONDS:
            raise _Rejected(f"{what}{name} has been deleted")
        if str(meta.get("uid") or "") != uid:
            raise _Rejected(f"{what}{name} UID ({meta.get('uid')}) does not match claim ({uid})")
        return obj


class _Rejected(Exception):
    """Why a well-signed token authenticates nobody (upstream's validator errors)."""


def _string_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _ref_of(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    return str(value.get("name") or ""), str(value.get("uid") or "")


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value).timestamp()
    except ValueError:
        return None
