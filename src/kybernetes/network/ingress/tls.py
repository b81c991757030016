"""TLS for the ingress: one server certificate per host, chosen by SNI, from ``kubernetes.io/tls``
Secrets named in ``Ingress.spec.tls``.

``Certificates.server_context()`` is the listener's ``SSLContext``: its ``sni_callback`` swaps in
the context of the host the client named (exact host first, then a ``*.example.com`` entry for
one more label). Hosts without a usable Secret, and clients that send no SNI, get a self-signed
"Kybernetes Ingress Controller Fake Certificate", as ingress-nginx does. ``update()`` rebuilds
the host map from the current Ingresses and Secrets; a context is built once per Secret
resourceVersion, so a certificate renewal reaches new handshakes without a restart.

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
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kybernetes.network.ingress.routes import age_key

log = logging.getLogger(__name__)

TLS_SECRET_TYPE: Final = "kubernetes.io/tls"
FAKE_COMMON_NAME: Final = "Kybernetes Ingress Controller Fake Certificate"

SecretLookup = Callable[[str, str], Mapping[str, Any] | None]


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


class Certificates:
    """Server certificates by host name, selected during the handshake by SNI."""

    def __init__(self) -> None:
        self._default = tls_context(*fake_certificate())
        self._default.sni_callback = self._on_sni
        self._exact: dict[str, ssl.SSLContext] = {}
        self._wildcard: dict[str, ssl.SSLContext] = {}  # keyed by the part after "*."
        # (namespace, name) -> (resourceVersion, context or None when it failed to load)
        self._loaded: dict[tuple[str, str], tuple[str, ssl.SSLContext | None]] = {}

    def server_context(self) -> ssl.SSLContext:
        return self._default

    def context_for(self, server_name: str) -> ssl.SSLContext | None:
        host = server_name.lower().rstrip(".")
        ctx = self._exact.get(host)
        if ctx is None:
            _, dot, parent = host.partition(".")
            ctx = self._wildcard.get(parent) if dot else None
        return ctx

    def _on_sni(self, sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        if server_name:
            ctx = self.context_for(server_name)
            if ctx is not None:
                sslobj.context = ctx

    def hosts(self) -> set[str]:
        return set(self._exact) | {f"*.{suffix}" for suffix in self._wildcard}

    def update(self, ingresses: Iterable[Mapping[str, Any]], secret: SecretLookup) -> None:
        """Rebuild the host map from ``ingresses`` (oldest claim of a host wins)."""
        exact: dict[str, ssl.SSLContext] = {}
        wildcard: dict[str, ssl.SSLContext] = {}
        used: set[tuple[str, str]] = set()
        for ingress in sorted(ingresses, key=age_key):
            namespace = str((ingress.get("metadata") or {}).get("namespace") or "default")
            for entry in (ingress.get("spec") or {}).get("tls") or ():
                name = entry.get("secretName")
                hosts = [str(h).lower() for h in entry.get("hosts") or () if h]
                if not name or not hosts:
                    continue
                used.add((namespace, name))
                ctx = self._context(namespace, name, secret(namespace, name))
                if ctx is None:
                    continue
                for host in hosts:
                    if host.startswith("*."):
                        wildcard.setdefault(host[2:], ctx)
                    else:
                        exact.setdefault(host, ctx)
        self._exact, self._wildcard = exact, wildcard
        for key in [k for k in self._loaded if k not in used]:
            del self._loaded[key]

    def _context(
        self, namespace: str, name: str, secret: Mapping[str, Any] | None
    ) -> ssl.SSLContext | None:
        if secret is None:
            log.warning("tls secret not found secret=%s/%s", namespace, name)
            return None
        version = str((secret.get("metadata") or {}).get("resourceVersion") or "")
        cached = self._loaded.get((namespace, name))
        if cached is not None and cached[0] == version:
            return cached[1]
        ctx: ssl.SSLContext | None = None
        data = secret.get("data") or {}
        try:
            if secret.get("type") not in (TLS_SECRET_TYPE, None):
                raise ValueError(f"type is {secret.get('type')}, not {TLS_SECRET_TYPE}")
            cert = base64.b64decode(data["tls.crt"])
            key = base64.b64decode(data["tls.key"])
            ctx = tls_context(cert, key)
        except (KeyError, ValueError, ssl.SSLError, OSError) as exc:
            log.warning("tls secret unusable secret=%s/%s error=%s", namespace, name, exc)
        self._loaded[(namespace, name)] = (version, ctx)
        return ctx
