"""Service-account tokens: the JWT codec, upstream's claims, the authenticator, discovery."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kybernetes.apiserver.auth import jwt, oidc
from kybernetes.apiserver.auth.authn import RequestFacts
from kybernetes.apiserver.auth.serviceaccount import (
    DEFAULT_ISSUER,
    Bound,
    ServiceAccountAuthenticator,
    ServiceAccountTokens,
    TokenIssuer,
)

Obj = dict[str, Any]
NOW = 1_800_000_000.0
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _payload(token: str) -> Obj:
    body = token.split(".")[1]
    decoded: Obj = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


# ----- the JWT codec ---------------------------------------------------------------------


@pytest.mark.parametrize("key", [EC_KEY, RSA_KEY], ids=["ES256", "RS256"])
def test_sign_and_verify_round_trip(key: jwt.PrivateKey) -> None:
    token = jwt.sign({"sub": "x", "aud": ["a"]}, key)
    parts = jwt.split(token)
    assert parts.header == {"alg": jwt.algorithm(key), "kid": jwt.key_id(key)}
    assert parts.claims == {"aud": ["a"], "sub": "x"}
    assert jwt.verify(parts, key.public_key())
    # Header and claims are serialised with sorted keys and no padding anywhere.
    head = token.split(".")[0]
    assert "=" not in token
    assert base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).startswith(b'{"alg":')


def test_es256_signature_is_raw_r_and_s() -> None:
    parts = jwt.split(jwt.sign({"a": 1}, EC_KEY))
    assert len(parts.signature) == 64


def test_key_id_is_sha256_of_the_public_key_der() -> None:
    der = EC_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert jwt.key_id(EC_KEY) == jwt.key_id(EC_KEY.public_key()) == expected


def test_verify_refuses_tampering_other_keys_and_algorithm_swaps() -> None:
    token = jwt.sign({"sub": "x"}, EC_KEY)
    head, body, sig = token.split(".")
    forged_body = jwt.b64encode(b'{"sub":"admin"}')
    assert not jwt.verify(jwt.split(f"{head}.{forged_body}.{sig}"), EC_KEY.public_key())
    other = ec.generate_private_key(ec.SECP256R1())
    assert not jwt.verify(jwt.split(token), other.public_key())
    assert not jwt.verify(jwt.split(token), RSA_KEY.public_key())
    none_head = jwt.b64encode(b'{"alg":"none"}')
    assert not jwt.verify(jwt.split(f"{none_head}.{body}.{sig}"), EC_KEY.public_key())
    short = jwt.b64encode(b"\x01" * 10)
    assert not jwt.verify(jwt.split(f"{head}.{body}.{short}"), EC_KEY.public_key())


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        ".b.c",
        "a..c",
        "e30.e30.",
        "!!!.e30.e30",
        "e30=.e30.e30",
        "W10.e30.e30",
    ],
)
def test_split_rejects_malformed_tokens(token: str) -> None:
    with pytest.raises(jwt.JWTError):
        jwt.split(token)


def test_other_curves_are_refused() -> None:
    with pytest.raises(jwt.JWTError, match="P-256"):
        jwt.sign({}, ec.generate_private_key(ec.SECP384R1()))


def test_jwk_fields_in_go_jose_order() -> None:
    key = jwt.jwk(RSA_KEY)
    assert list(key) == ["use", "kty", "kid", "alg", "n", "e"]
    assert (key["kty"], key["alg"], key["e"]) == ("RSA", "RS256", "AQAB")
    point = jwt.jwk(EC_KEY)
    assert list(point) == ["use", "kty", "kid", "crv", "alg", "x", "y"]
    assert (point["crv"], point["alg"]) == ("P-256", "ES256")
    assert len(jwt.b64decode(point["x"])) == 32


# ----- claims ----------------------------------------------------------------------------


def _obj(name: str, uid: str, namespace: str = "ns", **extra: Any) -> Obj:
    meta: Obj = {"name": name, "uid": uid}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": {**meta, **extra}}


ACCOUNT = _obj("robot", "sa-uid")
POD = _obj("web", "pod-uid")
SECRET = _obj("s", "secret-uid")
NODE = _obj("n1", "node-uid", namespace="")


def test_claims_as_upstream_for_a_pod_bound_token() -> None:
    issuer = TokenIssuer(ServiceAccountTokens(EC_KEY))
    claims = issuer.claims(
        ACCOUNT, Bound(pod=POD, node=NODE), 3600, ["aud-1"], now=NOW, warn_after_seconds=3607
    )
    jti = claims.pop("jti")
    assert len(jti) == 36
    assert jti.count("-") == 4
    assert claims == {
        "aud": ["aud-1"],
        "exp": int(NOW) + 3600,
        "iat": int(NOW),
        "iss": DEFAULT_ISSUER,
        "kubernetes.io": {
            "namespace": "ns",
            "node": {"name": "n1", "uid": "node-uid"},
            "pod": {"name": "web", "uid": "pod-uid"},
            "serviceaccount": {"name": "robot", "uid": "sa-uid"},
            "warnafter": int(NOW) + 3607,
        },
        "nbf": int(NOW),
        "sub": "system:serviceaccount:ns:robot",
    }
    # What a real API server's token looks like on the wire: keys sorted at every level.
    payload = _payload(issuer.sign({**claims, "jti": jti}))
    assert list(payload) == sorted(payload)
    assert list(payload["kubernetes.io"]) == sorted(payload["kubernetes.io"])


def test_claims_for_unbound_and_secret_bound_tokens() -> None:
    issuer = TokenIssuer(ServiceAccountTokens(EC_KEY))
    plain = issuer.claims(ACCOUNT, Bound(), 600, ["a"], now=NOW)["kubernetes.io"]
    assert plain == {"namespace": "ns", "serviceaccount": {"name": "robot", "uid": "sa-uid"}}
    secret = issuer.claims(ACCOUNT, Bound(secret=SECRET), 600, ["a"], now=NOW)["kubernetes.io"]
    assert secret["secret"] == {"name": "s", "uid": "secret-uid"}
    gone_node = issuer.claims(
        ACCOUNT, Bound(pod=POD, node={"metadata": {"name": "n9"}}), 600, ["a"], now=NOW
    )
    assert gone_node["kubernetes.io"]["node"] == {"name": "n9"}


# ----- the authenticator -----------------------------------------------------------------


class World:
    """The objects the authenticator looks up, and its clock."""

    def __init__(self) -> None:
        self.now = NOW
        self.objects: dict[tuple[str, str, str], Obj] = {
            ("serviceaccounts", "ns", "robot"): ACCOUNT,
            ("pods", "ns", "web"): POD,
            ("secrets", "ns", "s"): SECRET,
            ("nodes", "", "n1"): NODE,
        }

    def lookup(self, plural: str, namespace: str, name: str) -> Obj | None:
        return self.objects.get((plural, namespace, name))


def _setup(config: ServiceAccountTokens | None = None) -> tuple[World, TokenIssuer, Any]:
    config = config or ServiceAccountTokens(EC_KEY)
    world = World()
    authn = ServiceAccountAuthenticator(config, world.lookup, now=lambda: world.now)
    return world, TokenIssuer(config), authn


def _facts(token: str) -> RequestFacts:
    return RequestFacts(peer_cert_der=None, authorization=f"Bearer {token}")


def test_a_valid_token_authenticates_as_the_service_account() -> None:
    _world, issuer, authn = _setup()
    claims = issuer.claims(ACCOUNT, Bound(pod=POD, node=NODE), 3600, [DEFAULT_ISSUER], now=NOW)
    user = authn.authenticate(_facts(issuer.sign(claims)))
    assert user is not None
    assert user.name == "system:serviceaccount:ns:robot"
    assert user.uid == "sa-uid"
    assert user.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:ns",
        "system:authenticated",
    )
    assert user.extra == {
        "authentication.kubernetes.io/pod-name": ("web",),
        "authentication.kubernetes.io/pod-uid": ("pod-uid",),
        "authentication.kubernetes.io/node-name": ("n1",),
        "authentication.kubernetes.io/node-uid": ("node-uid",),
        "authentication.kubernetes.io/credential-id": (f"JTI={claims['jti']}",),
    }


def test_expiry_and_not_before_with_one_minute_of_leeway() -> None:
    world, issuer, authn = _setup()
    token = issuer.sign(issuer.claims(ACCOUNT, Bound(), 600, [DEFAULT_ISSUER], now=NOW))
    world.now = NOW + 600 + 59
    assert authn.authenticate(_facts(token)) is not None
    world.now = NOW + 600 + 61
    assert authn.authenticate(_facts(token)) is None
    world.now = NOW - 59
    assert authn.authenticate(_facts(token)) is not None
    world.now = NOW - 61
    assert authn.authenticate(_facts(token)) is None


def test_audiences_must_meet_the_api_servers() -> None:
    _world, issuer, authn = _setup(ServiceAccountTokens(EC_KEY, audiences=("api", "k3s")))
    ok = issuer.sign(issuer.claims(ACCOUNT, Bound(), 600, ["vault", "k3s"], now=NOW))
    assert authn.authenticate(_facts(ok)) is not None
    other = issuer.sign(issuer.claims(ACCOUNT, Bound(), 600, ["vault"], now=NOW))
    assert authn.authenticate(_facts(other)) is None


def test_other_issuers_keys_and_tampered_tokens_authenticate_nobody() -> None:
    _world, issuer, authn = _setup()
    claims = issuer.claims(ACCOUNT, Bound(), 600, [DEFAULT_ISSUER], now=NOW)
    assert authn.authenticate(_facts(jwt.sign({**claims, "iss": "someone-else"}, EC_KEY))) is None
    stranger = ec.generate_private_key(ec.SECP256R1())
    assert authn.authenticate(_facts(jwt.sign(claims, stranger))) is None
    head, _, sig = issuer.sign(claims).split(".")
    forged = jwt.b64encode(orjson.dumps({**claims, "sub": "system:serviceaccount:ns:admin"}))
    assert authn.authenticate(_facts(f"{head}.{forged}.{sig}")) is None
    assert authn.authenticate(_facts("not-a-jwt")) is None
    assert authn.authenticate(RequestFacts(None, None)) is None


def test_rsa_keys_and_extra_verification_keys() -> None:
    old = ec.generate_private_key(ec.SECP256R1())
    config = ServiceAccountTokens(
        RSA_KEY, verification_keys=(RSA_KEY.public_key(), old.public_key())
    )
    _world, issuer, authn = _setup(config)
    claims = issuer.claims(ACCOUNT, Bound(), 600, [DEFAULT_ISSUER], now=NOW)
    assert jwt.split(issuer.sign(claims)).header["alg"] == "RS256"
    assert authn.authenticate(_facts(issuer.sign(claims))) is not None
    # A token from the previous key still verifies while that key is listed.
    assert authn.authenticate(_facts(jwt.sign(claims, old))) is not None


def test_deleted_or_recreated_objects_invalidate_their_tokens() -> None:
    world, issuer, authn = _setup()
    pod_token = issuer.sign(issuer.claims(ACCOUNT, Bound(pod=POD), 600, [DEFAULT_ISSUER], now=NOW))
    secret_token = issuer.sign(
        issuer.claims(ACCOUNT, Bound(secret=SECRET), 600, [DEFAULT_ISSUER], now=NOW)
    )
    node_token = issuer.sign(
        issuer.claims(ACCOUNT, Bound(node=NODE), 600, [DEFAULT_ISSUER], now=NOW)
    )
    for token in (pod_token, secret_token, node_token):
        assert authn.authenticate(_facts(token)) is not None
    world.objects[("pods", "ns", "web")] = _obj("web", "another-uid")
    assert authn.authenticate(_facts(pod_token)) is None
    del world.objects[("secrets", "ns", "s")]
    assert authn.authenticate(_facts(secret_token)) is None
    del world.objects[("nodes", "", "n1")]
    assert authn.authenticate(_facts(node_token)) is None
    # A pod-bound token names its node but does not depend on it.
    world.objects[("pods", "ns", "web")] = POD
    node_info = issuer.claims(ACCOUNT, Bound(pod=POD, node=NODE), 600, [DEFAULT_ISSUER], now=NOW)
    assert authn.authenticate(_facts(issuer.sign(node_info))) is not None
    world.objects[("serviceaccounts", "ns", "robot")] = _obj("robot", "new-uid")
    assert authn.authenticate(_facts(pod_token)) is None
    del world.objects[("serviceaccounts", "ns", "robot")]
    assert authn.authenticate(_facts(pod_token)) is None


def test_objects_being_deleted_keep_tokens_valid_for_the_leeway() -> None:
    world, issuer, authn = _setup()
    token = issuer.sign(issuer.claims(ACCOUNT, Bound(pod=POD), 3600, [DEFAULT_ISSUER], now=NOW))
    world.objects[("pods", "ns", "web")] = _obj(
        "web", "pod-uid", deletionTimestamp="2027-01-15T08:00:00Z"
    )
    deleted_at = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    world.now = deleted_at + 30
    assert authn.authenticate(_facts(token)) is not None
    world.now = deleted_at + 61
    assert authn.authenticate(_facts(token)) is None


def test_signature_checks_are_memoised_but_bounded() -> None:
    _world, issuer, authn = _setup()
    authn.cache_size = 2
    tokens = [
        issuer.sign(issuer.claims(ACCOUNT, Bound(), 600, [DEFAULT_ISSUER], now=NOW))
        for _ in range(3)
    ]
    for token in tokens:
        assert authn.authenticate(_facts(token)) is not None
    assert len(authn._verified) == 2


# ----- discovery -------------------------------------------------------------------------


def test_openid_configuration_and_key_set() -> None:
    docs = oidc.documents(
        DEFAULT_ISSUER,
        "https://10.0.0.1:6443/openid/v1/jwks",
        [EC_KEY.public_key(), RSA_KEY.public_key()],
    )
    assert docs.configuration is not None
    config = json.loads(docs.configuration)
    assert list(config) == [
        "issuer",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ]
    assert config["issuer"] == DEFAULT_ISSUER
    assert config["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    keys = json.loads(docs.jwks)["keys"]
    assert [k["kid"] for k in keys] == [jwt.key_id(EC_KEY), jwt.key_id(RSA_KEY)]
    assert (
        oidc.documents("kubernetes/serviceaccount", "", [EC_KEY.public_key()]).configuration is None
    )
