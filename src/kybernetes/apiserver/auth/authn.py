"""Authentication: who sent a request, from its TLS peer certificate or bearer token.

An :class:`Authenticator` maps :class:`RequestFacts` (what the transport saw, independent of
the HTTP library) to a :class:`UserInfo`, or to None when its kind of credential is absent or
not valid; the server answers 401 when no authenticator recognises the request (anonymous
requests are refused except on the public health and version paths, see ``authz``).

Invariants: every authenticated user carries the group ``system:authenticated``, added once.
A client certificate is accepted only if the cluster CA signed it directly, it is within its
validity period, and (when it lists extended key usages) it allows client authentication;
this repeats what the TLS handshake verified so the mapping stays sound whatever trust store
the TLS context is given. Token comparison is constant-time in the token's content.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SYSTEM_AUTHENTICATED = "system:authenticated"
SYSTEM_MASTERS = "system:masters"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An authenticated user, as Kubernetes' ``user.Info``."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    # Not hashed: a mapping is not hashable, and name/uid/groups identify a user already.
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What an authenticator may look at: the verified TLS peer leaf and the header."""

    peer_cert_der: bytes | None
    authorization: str | None


class Authenticator(Protocol):
    def authenticate(self, request_facts: RequestFacts) -> UserInfo | None:
        """The user the request proves to be, or None if this authenticator cannot tell."""
        ...


class TokenFileError(ValueError):
    """A token file (``--token-auth-file`` format) does not parse."""


def with_authenticated_group(user: UserInfo) -> UserInfo:
    """``user`` with ``system:authenticated`` appended unless it is there already."""
    if SYSTEM_AUTHENTICATED in user.groups:
        return user
    return UserInfo(user.name, user.uid, (*user.groups, SYSTEM_AUTHENTICATED), user.extra)


class ClientCertAuthenticator:
    """User = the certificate's CN, groups = its O values; signed directly by ``ca``.

    Parsed and verified certificates are cached by their DER bytes (a connection presents the
    same leaf on every request); the validity period is checked on every call. The cache is not
    locked: call from one event loop (or thread), as the API server does.
    """

    def __init__(
        self,
        ca: x509.Certificate,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        cache_size: int = 1024,
    ) -> None:
        self._ca = ca
        self._clock = clock
        self._cache_size = cache_size
        # DER -> (user, not_before, not_after), or None for a certificate that never verifies.
        self._cache: OrderedDict[bytes, tuple[UserInfo, dt.datetime, dt.datetime] | None] = (
            OrderedDict()
        )

    def authenticate(self, request_facts: RequestFacts) -> UserInfo | None:
        der = request_facts.peer_cert_der
        if not der:
            return None
        if der in self._cache:
            self._cache.move_to_end(der)
            hit = self._cache[der]
        else:
            hit = self._verify(der)
            self._cache[der] = hit
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        if hit is None:
            return None
        user, not_before, not_after = hit
        if not not_before <= self._clock() <= not_after:
            return None
        return user

    def _verify(self, der: bytes) -> tuple[UserInfo, dt.datetime, dt.datetime] | None:
        try:
            cert = x509.load_der_x509_certificate(der)
            cert.verify_directly_issued_by(self._ca)
        except (ValueError, TypeError, InvalidSignature):
            return None
        try:
            usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usages = None  # no EKU extension: any usage, as Go's verifier treats it
        if usages is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
            return None
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        name = str(names[0].value) if names else ""
        if not name:
            return None  # as upstream: a certificate without a CN names nobody
        groups = tuple(
            str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        )
        user = with_authenticated_group(UserInfo(name=name, groups=groups))
        return user, cert.not_valid_before_utc, cert.not_valid_after_utc


@dataclass(frozen=True, slots=True)
class _TokenEntry:
    token: bytes
    user: UserInfo


class TokenFileAuthenticator:
    """Static bearer tokens, kube-apiserver's ``--token-auth-file`` format.

    Each CSV record is ``token,user,uid[,"group1,group2"]``; further columns are ignored, as
    upstream. Tokens are looked up by their SHA-256 digest and then compared with
    :func:`hmac.compare_digest`, so response time does not reveal how much of a guess matched.
    """

    def __init__(self, entries: Mapping[str, UserInfo]) -> None:
        self._by_digest = {
            hashlib.sha256(token.encode()).digest(): _TokenEntry(
                token.encode(), with_authenticated_group(user)
            )
            for token, user in entries.items()
        }

    @classmethod
    def from_file(cls, path: Path) -> TokenFileAuthenticator:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise TokenFileError(f"cannot read token file {path}: {e}") from e
        return cls(parse_token_csv(text, source=str(path)))

    def authenticate(self, request_facts: RequestFacts) -> UserInfo | None:
        token = bearer_token(request_facts.authorization)
        if token is None:
            return None
        presented = token.encode()
        entry = self._by_digest.get(hashlib.sha256(presented).digest())
        if entry is None or not hmac.compare_digest(entry.token, presented):
            return None
        return entry.user


class UnionAuthenticator:
    """Tries each authenticator in order; the first that recognises the request wins."""

    def __init__(self, authenticators: Iterable[Authenticator]) -> None:
        self._authenticators: Sequence[Authenticator] = tuple(authenticators)

    def authenticate(self, request_facts: RequestFacts) -> UserInfo | None:
        for authenticator in self._authenticators:
            user = authenticator.authenticate(request_facts)
            if user is not None:
                return user
        return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, rest = authorization.strip().partition(" ")
    token = rest.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        return None
    return token


def parse_token_csv(text: str, *, source: str = "<token file>") -> dict[str, UserInfo]:
    """Parse ``--token-auth-file`` CSV into token -> user (without the authenticated group).

    Blank lines are skipped. A record with fewer than three columns, an empty token or user
    name, a duplicated token, or broken quoting is an error naming the line: a silently
    skipped credential is worse than a server that refuses to start.
    """
    out: dict[str, UserInfo] = {}
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for record in reader:
            line = reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if len(record) < 3:
                raise TokenFileError(
                    f"{source}: line {line}: want at least 3 columns (token, user name, "
                    f"uid), found {len(record)}"
                )
            token, name, uid = record[0], record[1], record[2]
            if not token:
                raise TokenFileError(f"{source}: line {line}: empty token")
            if not name:
                raise TokenFileError(f"{source}: line {line}: empty user name")
            if token in out:
                raise TokenFileError(f"{source}: line {line}: duplicate token")
            groups: tuple[str, ...] = ()
            if len(record) >= 4:
                groups = tuple(g for g in (s.strip() for s in record[3].split(",")) if g)
            out[token] = UserInfo(name=name, uid=uid, groups=groups)
    except csv.Error as e:
        raise TokenFileError(f"{source}: line {reader.line_num}: {e}") from e
    return out
