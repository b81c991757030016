"""JSON Web Tokens in compact form (RFC 7515/7519), signed RS256 or ES256, built by hand.

A token is ``base64url(header) . base64url(claims) . base64url(signature)`` with no padding.
The header is ``{"alg": ..., "kid": ...}``; the key id is upstream's: the unpadded base64url
SHA-256 of the public key's DER (SubjectPublicKeyInfo), so ``kid`` values match what
kube-apiserver would publish for the same key. Objects are serialised with sorted keys and no
spaces, which is what go-jose produces for Kubernetes' claims. ES256 signatures are the raw
``r || s`` pair (32 bytes each), not DER (RFC 7518 §3.4).

:func:`split` decodes a token without trusting it (the issuer decides which keys apply);
:func:`verify` checks the signature against one public key and never raises for a bad one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

#: Longer bearer tokens are not JWTs we issued (ours are well under 2 KiB).
MAX_TOKEN_BYTES = 16 * 1024
_P256_BYTES = 32


class JWTError(ValueError):
    """A token that is not a well-formed compact JWS, or a key this module cannot use."""


@dataclass(frozen=True, slots=True)
class Parts:
    """A decoded, not yet verified, token."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Unpadded base64url, strictly (as Go's ``RawURLEncoding``): no ``=``, no other alphabet."""
    if "=" in text or len(text) % 4 == 1:
        raise JWTError("illegal base64 data")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JWTError(f"illegal base64 data: {exc}") from None


def algorithm(key: PrivateKey | PublicKey) -> str:
    """``RS256`` for RSA keys, ``ES256`` for P-256 keys; anything else is refused."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise JWTError(f"unsupported ECDSA curve {key.curve.name} (want P-256)")


def _public(key: PrivateKey | PublicKey) -> PublicKey:
    if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return key.public_key()
    return key


def key_id(key: PrivateKey | PublicKey) -> str:
    """Upstream's ``keyIDFromPublicKey``: base64url(SHA-256(DER SubjectPublicKeyInfo))."""
    der = _public(key).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b64encode(hashlib.sha256(der).digest())


def _json(obj: Mapping[str, Any]) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def sign(claims: Mapping[str, Any], key: PrivateKey, kid: str | None = None) -> str:
    """The compact token for ``claims``, signed by ``key`` (``kid`` defaults to its key id)."""
    alg = algorithm(key)
    header = {"alg": alg, "kid": kid if kid is not None else key_id(key)}
    signing_input = f"{b64encode(_json(header))}.{b64encode(_json(claims))}".encode("ascii")
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")
    return f"{signing_input.decode('ascii')}.{b64encode(signature)}"


def looks_like_jwt(token: str) -> bool:
    """Cheap shape test before any decoding: three non-empty dot-separated parts."""
    return len(token) <= MAX_TOKEN_BYTES and token.count(".") == 2 and ".." not in token


def split(token: str) -> Parts:
    """Decode header and claims (both must be JSON objects); nothing is verified yet."""
    if not looks_like_jwt(token) or token.startswith(".") or token.endswith("."):
        raise JWTError("not a compact JWS")
    head, body, sig = token.split(".")
    try:
        header = orjson.loads(b64decode(head))
        claims = orjson.loads(b64decode(body))
    except orjson.JSONDecodeError as exc:
        raise JWTError(f"malformed JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JWTError("header and claims must be JSON objects")
    return Parts(header, claims, f"{head}.{body}".encode("ascii"), b64decode(sig))


def verify(parts: Parts, key: PublicKey) -> bool:
    """Whether ``key`` signed ``parts`` with the algorithm its header names (no ``none``)."""
    try:
        alg = algorithm(key)
    except JWTError:
        return False
    if parts.header.get("alg") != alg:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(parts.signature, parts.signing_input, padding.PKCS1v15(), hashes.SHA256())
            return True
        if len(parts.signature) != 2 * _P256_BYTES:
            return False
        r = int.from_bytes(parts.signature[:_P256_BYTES], "big")
        s = int.from_bytes(parts.signature[_P256_BYTES:], "big")
        key.verify(encode_dss_signature(r, s), parts.signing_input, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


def jwk(key: PrivateKey | PublicKey) -> dict[str, str]:
    """The public JSON Web Key, fields in go-jose's order (``use``, ``kty``, ``kid``, ...)."""
    public = _public(key)
    alg = algorithm(public)
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        return {
            "use": "sig",
            "kty": "RSA",
            "kid": key_id(public),
            "alg": alg,
            "n": b64encode(n),
            "e": b64encode(e),
        }
    point = public.public_numbers()
    return {
        "use": "sig",
        "kty": "EC",
        "kid": key_id(public),
        "crv": "P-256",
        "alg": alg,
        "x": b64encode(point.x.to_bytes(_P256_BYTES, "big")),
        "y": b64encode(point.y.to_bytes(_P256_BYTES, "big")),
    }
