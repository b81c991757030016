"""Registry authentication: ``WWW-Authenticate`` challenges, bearer tokens and basic credentials.

The distribution protocol: a request answered 401 carries a challenge. ``Basic realm=...``
asks for the credentials themselves; ``Bearer realm=...,service=...,scope=...`` sends the client
to a token endpoint (with basic credentials when it has some, anonymously otherwise), whose
token then goes into ``Authorization: Bearer``. Tokens are cached per registry and scope until
shortly before they expire.

Invariant: credentials are only ever sent to the registry host that asked for them or to the
realm its challenge named, and a token is reused only for the scope it was issued for.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field

from kybernetes.agent.images.interface import AuthConfig

_PARAM = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')
#: Tokens without ``expires_in`` live 60 s (the distribution spec's default).
DEFAULT_TOKEN_TTL_S = 60.0


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic" (lower case)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` header (one or more challenges)."""
    out: list[Challenge] = []
    pos = 0
    header = header.strip()
    while pos < len(header):
        m = re.match(r"\s*,?\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s+|$)", header[pos:])
        if m is None:
            break
        scheme = m.group(1).lower()
        pos += m.end()
        params: dict[str, str] = {}
        while pos < len(header):
            pm = _PARAM.match(header, pos)
            if pm is None:
                break
            quoted, bare = pm.group(2), pm.group(3)
            value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare or ""
            params[pm.group(1).lower()] = value
            pos = pm.end()
        out.append(Challenge(scheme, params))
    return out


def basic_header(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def has_credentials(auth: AuthConfig | None) -> bool:
    return auth is not None and bool(auth.username or auth.password)


@dataclass
class _Token:
    value: str
    expires: float


class TokenCache:
    """Bearer tokens by (realm, service, scope); an expired one is never returned."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str, str], _Token] = {}

    def get(self, key: tuple[str, str, str, str]) -> str | None:
        token = self._tokens.get(key)
        if token is None or token.expires <= time.monotonic():
            self._tokens.pop(key, None)
            return None
        return token.value

    def put(self, key: tuple[str, str, str, str], value: str, expires_in: float) -> None:
        # renew 10 s early so a token never expires in the middle of a request
        self._tokens[key] = _Token(value, time.monotonic() + max(expires_in - 10.0, 1.0))


def token_from_response(doc: object) -> tuple[str, float]:
    """(token, lifetime) from a token endpoint's JSON answer."""
    if not isinstance(doc, dict):
        raise ValueError("token endpoint answered something other than a JSON object")
    token = doc.get("token") or doc.get("access_token")
    if not isinstance(token, str) or not token:
        raise ValueError("token endpoint answered without a token")
    expires_in = doc.get("expires_in")
    ttl = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 0.0
    return token, ttl or DEFAULT_TOKEN_TTL_S
