"""TLS for the ingress: one server certificate per host, chosen by SNI, from ``kubernetes.io/tls``
Secrets named in ``Ingress.spec.tls``.

``HostCertificates`` is the host map both data planes share: which Secret serves which host
(the oldest Ingress's claim of a host wins; an exact host first, then a ``*.example.com`` entry
for one more label), each Secret checked and loaded once per resourceVersion by a loader the data
plane gives (an ``SSLContext`` for the in-project proxy, certificate files for nginx).
``Certificates`` is the in-project proxy's: ``server_context()`` is the listener's ``SSLContext``,
whose ``sni_callback`` swaps in the context of the host the client named. Hosts without a usable
Secret, and clients that send no SNI, get a self-signed "Kybernetes Ingress Controller Fake
Certificate", as ingress-nginx does. A certificate renewal reaches new handshakes without a
restart.

Invariant: the host map is replaced whole, never edited in place, so a handshake sees either the
old or the new certificates; a Secret that does not load (bad PEM, key not matching) is logged
and leaves its hosts on the fake certificate, it never breaks other hosts.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import ssl
import tempfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Generic, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kybernetes.network.ingress.routes import age_key

log = logging.getLogger(__name__)

TLS_SECRET_TYPE: Final = "kubernetes.io/tls"
FAKE_COMMON_NAME: Final = "Kybernetes Ingress Controller Fake Certificate"

SecretLookup = Callable[[str, str], Mapping[str, Any] | None]
T = TypeVar("T")


def tls_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A server context presenting ``cert_pem`` (a chain, leaf first) with ``key_pem``.

    ``ssl`` loads chains only from files, so the PEMs pass through a private temporary
    directory that is removed before this returns.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    with tempfile.TemporaryDirectory(prefix="kyb-ingress-tls-") as tmp:
        cert_path, key_path = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
        for path, data in ((cert_path, cert_pem), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


def fake_certificate() -> tuple[bytes, bytes]:
    """A self-signed certificate and key (PEM) for hosts with no certificate of their own."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, FAKE_COMMON_NAME)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("ingress.local")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def secret_pems(secret: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """The certificate chain and key (PEM) of a TLS Secret (``ValueError`` or ``KeyError`` for
    another type, missing keys or bad base64; loaders check that the PEMs load and match)."""
    if secret.get("type") not in (TLS_SECRET_TYPE, None):
        raise ValueError(f"type is {secret.get('type')}, not {TLS_SECRET_TYPE}")
    data = secret.get("data") or {}
    return base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"])


class HostCertificates(Generic[T]):
    """What ``load(cert_pem, key_pem)`` made of each host's Secret, by host name."""

    def __init__(self, load: Callable[[bytes, bytes], T]) -> None:
        self._load = load
        self._exact: dict[str, T] = {}
        self._wildcard: dict[str, T] = {}  # keyed by the part after "*."
        # (namespace, name) -> (resourceVersion, loaded or None when it failed to load)
        self._loaded: dict[tuple[str, str], tuple[str, T | None]] = {}

    def lookup(self, server_name: str) -> T | None:
        """The certificate for ``server_name`` (a ``*.suffix`` name finds only its own)."""
        host = server_name.lower().rstrip(".")
        found = self._exact.get(host)
        if found is None:
            _, dot, parent = host.partition(".")
            found = self._wildcard.get(parent) if dot else None
        return found

    def hosts(self) -> set[str]:
        return set(self._exact) | {f"*.{suffix}" for suffix in self._wildcard}

    def loaded(self) -> list[T]:
        """Every certificate loaded from a Secret some Ingress names now (hosts use a subset)."""
        return [value for _, value in self._loaded.values() if value is not None]

    def update(self, ingresses: Iterable[Mapping[str, Any]], secret: SecretLookup) -> None:
        """Rebuild the host map from ``ingresses`` (oldest claim of a host wins)."""
        exact: dict[str, T] = {}
        wildcard: dict[str, T] = {}
        used: set[tuple[str, str]] = set()
        for ingress in sorted(ingresses, key=age_key):
            namespace = str((ingress.get("metadata") or {}).get("namespace") or "default")
            for entry in (ingress.get("spec") or {}).get("tls") or ():
                name = entry.get("secretName")
                hosts = [str(h).lower() for h in entry.get("hosts") or () if h]
                if not name or not hosts:
                    continue
                used.add((namespace, name))
                loaded = self._get(namespace, name, secret(namespace, name))
                if loaded is None:
                    continue
                for host in hosts:
                    if host.startswith("*."):
                        wildcard.setdefault(host[2:], loaded)
                    else:
                        exact.setdefault(host, loaded)
        self._exact, self._wildcard = exact, wildcard
        for key in [k for k in self._loaded if k not in used]:
            del self._loaded[key]

    def _get(self, namespace: str, name: str, secret: Mapping[str, Any] | None) -> T | None:
        if secret is None:
            log.warning("tls secret not found secret=%s/%s", namespace, name)
            return None
        version = str((secret.get("metadata") or {}).get("resourceVersion") or "")
        cached = self._loaded.get((namespace, name))
        if cached is not None and cached[0] == version:
            return cached[1]
        loaded: T | None = None
        try:
            loaded = self._load(*secret_pems(secret))
        except (KeyError, ValueError, ssl.SSLError, OSError) as exc:
            log.warning("tls secret unusable secret=%s/%s error=%s", namespace, name, exc)
        self._loaded[(namespace, name)] = (version, loaded)
        return loaded


class Certificates:
    """The in-project proxy's server certificates by host name, selected by SNI."""

    def __init__(self) -> None:
        self._default = tls_context(*fake_certificate())
        self._default.sni_callback = self._on_sni
        self._hosts = HostCertificates(tls_context)

    def server_context(self) -> ssl.SSLContext:
        return self._default

    def context_for(self, server_name: str) -> ssl.SSLContext | None:
        return self._hosts.lookup(server_name)

    def _on_sni(self, sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        if server_name:
            ctx = self.context_for(server_name)
            if ctx is not None:
                sslobj.context = ctx

    def hosts(self) -> set[str]:
        return self._hosts.hosts()

    def update(self, ingresses: Iterable[Mapping[str, Any]], secret: SecretLookup) -> None:
        """Rebuild the host map from ``ingresses`` (oldest claim of a host wins)."""
        self._hosts.update(ingresses, secret)
