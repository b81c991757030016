"""Who is asking (``authn``) and may they (``authz``): the first two stages of every request.

The server builds :class:`RequestFacts` from the connection (the TLS peer certificate, already
verified against the cluster CA by the handshake) and the ``Authorization`` header, asks an
:class:`Authenticator` for the :class:`UserInfo` (none: 401, except on :data:`PUBLIC_PATHS`),
then asks an :class:`Authorizer` about the request's :class:`Attributes` (not allowed: 403 with
:func:`forbidden_message`). Neither stage knows about aiohttp.
"""

from kybernetes.apiserver.auth.authn import (
    SYSTEM_AUTHENTICATED,
    SYSTEM_MASTERS,
    Authenticator,
    ClientCertAuthenticator,
    RequestFacts,
    TokenFileAuthenticator,
    TokenFileError,
    UnionAuthenticator,
    UserInfo,
    bearer_token,
    parse_token_csv,
)
from kybernetes.apiserver.auth.authz import (
    ALLOW,
    NO_OPINION,
    PUBLIC_PATHS,
    AllowAuthenticated,
    Attributes,
    Authorizer,
    Decision,
    DecisionKind,
    PrivilegedGroups,
    UnionAuthorizer,
    default_authorizer,
    forbidden_message,
    is_public_path,
)

__all__ = [
    "ALLOW",
    "NO_OPINION",
    "PUBLIC_PATHS",
    "SYSTEM_AUTHENTICATED",
    "SYSTEM_MASTERS",
    "AllowAuthenticated",
    "Attributes",
    "Authenticator",
    "Authorizer",
    "ClientCertAuthenticator",
    "Decision",
    "DecisionKind",
    "PrivilegedGroups",
    "RequestFacts",
    "TokenFileAuthenticator",
    "TokenFileError",
    "UnionAuthenticator",
    "UnionAuthorizer",
    "UserInfo",
    "bearer_token",
    "default_authorizer",
    "forbidden_message",
    "is_public_path",
    "parse_token_csv",
]
