"""The cluster's certificates and keys: created on first start, reused on every later one.

Everything lives under ``DATA_DIR/pki/``:

* ``ca.crt`` / ``ca.key`` — the self-signed cluster CA (CN ``kubernetes-ca``, 10 years). It
  signs every other certificate directly (no intermediates), and it is never replaced silently:
  an unreadable or mismatched CA is an error, because replacing it would invalidate every
  kubeconfig and node certificate already handed out.
* ``apiserver.crt`` / ``apiserver.key`` — the API server's serving certificate: SANs for every
  requested host plus the fixed in-cluster names (:data:`DEFAULT_SANS`). Re-issued when the
  requested names change, when it nears expiry, or when it no longer matches its key or the CA.
* ``admin.crt`` / ``admin.key`` — the admin client certificate (CN ``admin``, O
  ``system:masters``), re-issued under the same rules.
* ``sa.key`` / ``sa.pub`` — the service-account token signing key pair (ES256), kept for the
  token issuer; ``sa.pub`` is always derived from ``sa.key``.

Keys are ECDSA P-256: measured here, generating one takes ~0.13 ms against ~200 ms for
RSA-2048, and signing ~0.2 ms against ~2.5 ms, which matters for start-up and for issuing node
certificates on demand. kubectl, client-go and the Python clients all accept P-256.

Invariants: every file is written atomically (temporary file in the same directory, fsync,
rename, fsync of the directory), so a crash leaves either the old file or the new one, never a
half-written one. Keys are mode 0600 from the moment they exist. A key is always written before
its certificate; a certificate that does not match its key on the next start is re-issued, so a
crash between the two writes heals itself. Concurrent starts on one data directory serialize on
an ``flock``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import re
import ssl
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The cluster CA signs with whatever key it holds; we generate P-256, but an operator-provided
# RSA CA (kubeadm's default) loads as well.
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

CA_COMMON_NAME = "kubernetes-ca"
SERVING_COMMON_NAME = "kube-apiserver"
ADMIN_USER = "admin"
MASTERS_GROUP = "system:masters"
NODES_GROUP = "system:nodes"
SERVICE_IP = "10.43.0.1"
DEFAULT_SANS: tuple[str, ...] = (
    "localhost",
    "127.0.0.1",
    "::1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    SERVICE_IP,
)

CA_DAYS = 3650
LEAF_DAYS = 365
# Like k3s: a leaf certificate with less than this left is re-issued at start.
RENEW_BEFORE = dt.timedelta(days=90)
# Tolerate clients whose clocks run a little behind ours.
BACKDATE = dt.timedelta(hours=1)

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")


class PKIError(Exception):
    """The PKI directory is in a state we refuse to repair on our own."""


@dataclass(frozen=True)
class CertKeyPair:
    """A certificate and the private key it certifies."""

    cert: x509.Certificate
    key: SigningKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return _private_pem(self.key)


@dataclass(frozen=True)
class ClusterPKI:
    """The loaded PKI of one cluster; the files under ``directory`` hold the same material."""

    directory: Path
    ca: CertKeyPair
    serving: CertKeyPair
    admin: CertKeyPair
    service_account_key: ec.EllipticCurvePrivateKey

    @property
    def ca_cert_path(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def serving_cert_path(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key_path(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def service_account_public_pem(self) -> bytes:
        return self.service_account_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def ensure_cluster_pki(
    data_dir: Path, *, hosts: Sequence[str], now: dt.datetime | None = None
) -> ClusterPKI:
    """Create the PKI under ``data_dir/pki`` if missing, repair what is derived, and load it.

    ``hosts`` are the names and addresses clients use to reach the API server (the bind address,
    the machine's hostname, ...); unspecified addresses (``0.0.0.0``, ``::``) are skipped since
    no client connects to them. ``now`` is injectable for tests.
    """
    now = now or dt.datetime.now(dt.UTC)
    sans = serving_sans(hosts)
    pki_dir = data_dir / "pki"
    pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(pki_dir / ".lock"):
        ca = _ensure_ca(pki_dir, now)
        serving = _ensure_leaf(
            pki_dir,
            "apiserver",
            ca,
            now,
            fits=lambda c: _san_set(c) == sans and _has_eku(c, ExtendedKeyUsageOID.SERVER_AUTH),
            issue=lambda: _issue_leaf(
                ca, _name(SERVING_COMMON_NAME), now, LEAF_DAYS, server=True, sans=sans
            ),
        )
        admin_subject = _name(ADMIN_USER, [MASTERS_GROUP])
        admin = _ensure_leaf(
            pki_dir,
            "admin",
            ca,
            now,
            fits=lambda c: (
                c.subject == admin_subject and _has_eku(c, ExtendedKeyUsageOID.CLIENT_AUTH)
            ),
            issue=lambda: _issue_leaf(ca, admin_subject, now, LEAF_DAYS, server=False),
        )
        sa_key = _ensure_service_account_key(pki_dir)
    return ClusterPKI(pki_dir, ca, serving, admin, sa_key)


def issue_client_cert(
    pki: ClusterPKI,
    user: str,
    groups: Iterable[str] = (),
    days: int = LEAF_DAYS,
    *,
    now: dt.datetime | None = None,
) -> CertKeyPair:
    """A new client certificate for ``user`` (CN) in ``groups`` (O values), signed by the CA.

    Nothing is written to disk; a node's agent, for example, keeps its own copy. For a node
    use ``issue_client_cert(pki, f"system:node:{name}", [NODES_GROUP])``.
    """
    if not user:
        raise ValueError("a client certificate needs a user name")
    if days <= 0:
        raise ValueError(f"days must be positive, got {days}")
    return _issue_leaf(
        pki.ca, _name(user, list(groups)), now or dt.datetime.now(dt.UTC), days, server=False
    )


def issue_serving_cert(
    pki: ClusterPKI,
    common_name: str,
    hosts: Iterable[str],
    days: int = LEAF_DAYS,
    *,
    now: dt.datetime | None = None,
) -> CertKeyPair:
    """A new serving certificate for ``hosts`` (names and addresses), signed by the CA.

    Nothing is written to disk; ``kyb server`` issues its node agent's (port 10250) this way.
    """
    sans = [
        x509.DNSName(h) if not _is_ip(h) else x509.IPAddress(ipaddress.ip_address(h)) for h in hosts
    ]
    return _issue_leaf(
        pki.ca, _name(common_name), now or dt.datetime.now(dt.UTC), days, server=True, sans=sans
    )


def self_signed_serving_cert(
    common_name: str, hosts: Iterable[str], days: int = LEAF_DAYS, *, now: dt.datetime | None = None
) -> CertKeyPair:
    """A serving certificate for ``hosts`` signed by a throwaway CA of its own.

    What a node agent joining with only a kubeconfig serves port 10250 with, as upstream's
    kubelet does when given no certificate: the API server does not verify kubelet serving
    certificates unless told to, and no cluster CA key is needed on the node.
    """
    now = now or dt.datetime.now(dt.UTC)
    sans = [
        x509.DNSName(h) if not _is_ip(h) else x509.IPAddress(ipaddress.ip_address(h)) for h in hosts
    ]
    issuer = _self_signed_ca(_new_key(), now)
    return _issue_leaf(issuer, _name(common_name), now, days, server=True, sans=sans)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def ssl_server_context(pki: ClusterPKI) -> ssl.SSLContext:
    """TLS 1.2+ serving context: asks for (does not require) a client certificate from the CA.

    A client certificate that fails verification aborts the handshake (as Go's
    ``VerifyClientCertIfGiven`` does); a client without one connects and is authenticated
    by other means or refused with 401 by the server.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki.serving_cert_path, pki.serving_key_path)
    ctx.load_verify_locations(cadata=pki.ca.cert_pem.decode("ascii"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def serving_sans(hosts: Iterable[str]) -> frozenset[x509.GeneralName]:
    """The SANs of the serving certificate: :data:`DEFAULT_SANS` plus ``hosts``, normalized."""
    out: set[x509.GeneralName] = set()
    for raw in (*DEFAULT_SANS, *hosts):
        host = raw.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not host:
            raise ValueError("empty host name for the serving certificate")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            name = host.lower().rstrip(".")
            if not _DNS_NAME.match(name):
                raise ValueError(f"not an IP address or DNS name: {raw!r}") from None
            out.add(x509.DNSName(name))
        else:
            if not ip.is_unspecified:
                out.add(x509.IPAddress(ip))
    return frozenset(out)


def write_file_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data``: readers see the old file or the new one, never a part.

    The temporary file is created with ``mode`` (so a key is never readable by others, even for
    a moment), fsynced, renamed over ``path``, and the directory is fsynced so the rename
    survives a power loss.
    """
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# -- internals ------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _ensure_ca(pki_dir: Path, now: dt.datetime) -> CertKeyPair:
    cert_path, key_path = pki_dir / "ca.crt", pki_dir / "ca.key"
    if not key_path.exists():
        if cert_path.exists():
            raise PKIError(
                f"{cert_path} exists but its key {key_path} is missing; restore the key, or "
                f"remove {pki_dir} to start a new cluster CA (every issued credential is lost)"
            )
        key: SigningKey = _new_key()
        write_file_atomic(key_path, _private_pem(key))
    else:
        key = _load_key(key_path, PKIError)
    if not cert_path.exists():
        # Only the certificate is missing (first start crashed between the two writes, or it
        # was deleted): a new self-signed certificate over the same key and subject still
        # verifies every leaf the key has signed.
        ca = _self_signed_ca(key, now)
        write_file_atomic(cert_path, ca.cert_pem, mode=0o644)
        return ca
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError as e:
        raise PKIError(f"{cert_path}: not a PEM certificate ({e})") from e
    if not _same_public_key(cert, key):
        raise PKIError(f"{cert_path} does not match the key in {key_path}")
    if cert.not_valid_after_utc <= now:
        raise PKIError(
            f"the cluster CA {cert_path} expired on {cert.not_valid_after_utc:%Y-%m-%d}; "
            f"remove {pki_dir} to start a new one (every issued credential is lost)"
        )
    return CertKeyPair(cert, key)


def _ensure_leaf(
    pki_dir: Path,
    stem: str,
    ca: CertKeyPair,
    now: dt.datetime,
    *,
    fits: Callable[[x509.Certificate], bool],
    issue: Callable[[], CertKeyPair],
) -> CertKeyPair:
    cert_path, key_path = pki_dir / f"{stem}.crt", pki_dir / f"{stem}.key"
    existing = _load_pair(cert_path, key_path)
    if existing is not None and _usable(existing, ca, now) and fits(existing.cert):
        return existing
    pair = issue()
    write_file_atomic(key_path, pair.key_pem)
    write_file_atomic(cert_path, pair.cert_pem, mode=0o644)
    return pair


def _ensure_service_account_key(pki_dir: Path) -> ec.EllipticCurvePrivateKey:
    key_path, pub_path = pki_dir / "sa.key", pki_dir / "sa.pub"
    if key_path.exists():
        key = _load_key(key_path, PKIError)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PKIError(f"{key_path}: the service-account key must be an ECDSA key")
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        write_file_atomic(key_path, _private_pem(key))
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if not pub_path.exists() or pub_path.read_bytes() != pub:
        write_file_atomic(pub_path, pub, mode=0o644)
    return key


def _load_pair(cert_path: Path, key_path: Path) -> CertKeyPair | None:
    """The pair on disk, or None when missing, unreadable or mismatched (it is re-issued)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = _load_key(key_path, ValueError)
    except (OSError, ValueError):
        return None
    if not _same_public_key(cert, key):
        return None
    return CertKeyPair(cert, key)


def _usable(pair: CertKeyPair, ca: CertKeyPair, now: dt.datetime) -> bool:
    try:
        pair.cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return pair.cert.not_valid_before_utc <= now < pair.cert.not_valid_after_utc - RENEW_BEFORE


def _load_key(path: Path, error: type[Exception]) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as e:
        raise error(f"{path}: not an unencrypted PEM private key ({e})") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise error(f"{path}: unsupported key type {type(key).__name__} (want ECDSA or RSA)")
    return key


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _private_pem(key: SigningKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _same_public_key(cert: x509.Certificate, key: SigningKey) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    # ECDSA keys sign; they never encipher, so digitalSignature is the only leaf usage.
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _self_signed_ca(key: SigningKey, now: dt.datetime) -> CertKeyPair:
    subject = _name(CA_COMMON_NAME)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertKeyPair(cert, key)


def _issue_leaf(
    ca: CertKeyPair,
    subject: x509.Name,
    now: dt.datetime,
    days: int,
    *,
    server: bool,
    sans: Iterable[x509.GeneralName] = (),
) -> CertKeyPair:
    key = _new_key()
    eku = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    # Never outlive the CA: a leaf past its issuer's expiry would fail verification anyway.
    not_after = min(now + dt.timedelta(days=days), ca.cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    names = sorted(sans, key=lambda n: (type(n).__name__, str(n.value)))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return CertKeyPair(builder.sign(ca.key, hashes.SHA256()), key)


def _san_set(cert: x509.Certificate) -> frozenset[x509.GeneralName]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset(ext.value)


def _has_eku(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bool:
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return False
    return oid in ext.value
