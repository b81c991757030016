"""Service-account issuer discovery: the OpenID provider configuration and the key set.

kube-apiserver serves ``/.well-known/openid-configuration`` and ``/openid/v1/jwks`` so that
other systems can verify its service-account tokens without calling it (upstream's
``ServiceAccountIssuerDiscovery``). Both documents are fixed for the life of the server, so
they are rendered once; they are served with ``Cache-Control: public, max-age=3600`` and the
key set as ``application/jwk-set+json``, as upstream. As upstream, the configuration exists
only for an ``https`` issuer URL; like every path except health and version, they need an
authenticated caller (upstream grants them to service accounts through the
``system:service-account-issuer-discovery`` role).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import orjson

from kybernetes.apiserver.auth import jwt

CONFIGURATION_PATH: Final = "/.well-known/openid-configuration"
JWKS_PATH: Final = "/openid/v1/jwks"
CACHE_CONTROL: Final = "public, max-age=3600"
JWKS_MEDIA_TYPE: Final = "application/jwk-set+json"


@dataclass(frozen=True, slots=True)
class Documents:
    """The two rendered documents; ``configuration`` is None for a non-https issuer."""

    configuration: bytes | None
    jwks: bytes


def documents(issuer: str, jwks_uri: str, keys: Sequence[jwt.PublicKey]) -> Documents:
    key_set = orjson.dumps({"keys": [jwt.jwk(key) for key in keys]})
    if urlsplit(issuer).scheme != "https":
        return Documents(None, key_set)
    configuration = orjson.dumps(
        {
            "issuer": issuer,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": sorted({jwt.algorithm(k) for k in keys}),
        }
    )
    return Documents(configuration, key_set)
