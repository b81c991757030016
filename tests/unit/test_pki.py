"""The cluster PKI: created once, reused, repaired where derived, and usable for TLS."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kybernetes.util.pki import (
    DEFAULT_SANS,
    ClusterPKI,
    PKIError,
    ensure_cluster_pki,
    issue_client_cert,
    self_signed_serving_cert,
    serving_sans,
    ssl_server_context,
    write_file_atomic,
)

KEYS = ("ca.key", "apiserver.key", "admin.key", "sa.key")
CERTS = ("ca.crt", "apiserver.crt", "admin.crt", "sa.pub")


def snapshot(pki_dir: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(pki_dir.iterdir())
        if p.name != ".lock"
    }


def sans_of(cert: x509.Certificate) -> set[str]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n.value) for n in ext}


def test_first_start_creates_ca_serving_admin_and_sa_key(tmp_path: Path) -> None:
    pki = ensure_cluster_pki(tmp_path, hosts=["10.0.0.5", "node-a.example"])
    pki_dir = tmp_path / "pki"
    assert {p.name for p in pki_dir.iterdir()} >= {*KEYS, *CERTS}
    assert stat.S_IMODE(pki_dir.stat().st_mode) == 0o700
    for name in KEYS:
        assert stat.S_IMODE((pki_dir / name).stat().st_mode) == 0o600, name
    ca = pki.ca.cert
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubernetes-ca"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert lifetime >= dt.timedelta(days=3650)
    assert pki.ca_cert_path.read_bytes() == pki.ca.cert_pem
    assert (pki_dir / "sa.pub").read_bytes() == pki.service_account_public_pem


def test_second_start_reuses_every_file_unchanged(tmp_path: Path) -> None:
    first = ensure_cluster_pki(tmp_path, hosts=["10.0.0.5"])
    before = snapshot(tmp_path / "pki")
    second = ensure_cluster_pki(tmp_path, hosts=["10.0.0.5"])
    assert snapshot(tmp_path / "pki") == before
    assert second.ca.cert == first.ca.cert
    assert second.serving.cert == first.serving.cert
    assert second.admin.cert == first.admin.cert
    assert second.service_account_key.private_numbers() == (
        first.service_account_key.private_numbers()
    )


def test_host_order_case_and_brackets_do_not_reissue(tmp_path: Path) -> None:
    first = ensure_cluster_pki(tmp_path, hosts=["Node-A.example", "fd00::5", "10.0.0.5"])
    again = ensure_cluster_pki(tmp_path, hosts=["10.0.0.5", "[fd00::5]", "node-a.example."])
    assert again.serving.cert == first.serving.cert


def test_serving_cert_reissued_when_hosts_change_and_nothing_else(tmp_path: Path) -> None:
    first = ensure_cluster_pki(tmp_path, hosts=["10.0.0.5"])
    changed = ensure_cluster_pki(tmp_path, hosts=["10.0.0.5", "192.168.7.7"])
    assert changed.serving.cert.serial_number != first.serving.cert.serial_number
    assert "192.168.7.7" in sans_of(changed.serving.cert)
    assert changed.ca.cert == first.ca.cert
    assert changed.admin.cert == first.admin.cert
    # On disk too, and a host removed is a change as well.
    assert (tmp_path / "pki" / "apiserver.crt").read_bytes() == changed.serving.cert_pem
    back = ensure_cluster_pki(tmp_path, hosts=["10.0.0.5"])
    assert "192.168.7.7" not in sans_of(back.serving.cert)


def test_serving_cert_sans(tmp_path: Path) -> None:
    pki = ensure_cluster_pki(tmp_path, hosts=["10.0.0.5", "node-a.example", "0.0.0.0", "::"])
    ext = pki.serving.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(ext.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}
    assert dns == {
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "node-a.example",
    }
    # Unspecified bind addresses are not names anyone connects to.
    assert ips == {"127.0.0.1", "::1", "10.43.0.1", "10.0.0.5"}
    eku = pki.serving.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    pki.serving.cert.verify_directly_issued_by(pki.ca.cert)
    assert len(DEFAULT_SANS) == 8


@pytest.mark.parametrize("bad", ["", "   ", "host:6443", "under_score.example", "a..b"])
def test_bad_host_names_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match=r"host|DNS"):
        serving_sans([bad])


def test_admin_cert_chains_to_ca(tmp_path: Path) -> None:
    pki = ensure_cluster_pki(tmp_path, hosts=[])
    cert = pki.admin.cert
    cert.verify_directly_issued_by(pki.ca.cert)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "admin"
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    if shutil.which("openssl"):
        out = subprocess.run(
            [
                "openssl",
                "verify",
                "-CAfile",
                str(pki.ca_cert_path),
                str(tmp_path / "pki/admin.crt"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0, out.stderr


def test_issue_client_cert_for_a_node(tmp_path: Path) -> None:
    pki = ensure_cluster_pki(tmp_path, hosts=[])
    pair = issue_client_cert(pki, "system:node:n1", ["system:nodes"], days=30)
    pair.cert.verify_directly_issued_by(pki.ca.cert)
    subject = pair.cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:n1"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    lifetime = pair.cert.not_valid_after_utc - pair.cert.not_valid_before_utc
    assert dt.timedelta(days=30) <= lifetime <= dt.timedelta(days=31)
    assert pair.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    with pytest.raises(ValueError, match="user"):
        issue_client_cert(pki, "", [])
    with pytest.raises(ValueError, match="days"):
        issue_client_cert(pki, "x", [], days=0)


def test_leaf_certs_renewed_near_expiry(tmp_path: Path) -> None:
    first = ensure_cluster_pki(tmp_path, hosts=[])
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=300)
    renewed = ensure_cluster_pki(tmp_path, hosts=[], now=later)
    assert renewed.ca.cert == first.ca.cert
    assert renewed.serving.cert.serial_number != first.serving.cert.serial_number
    assert renewed.admin.cert.serial_number != first.admin.cert.serial_number
    assert renewed.admin.cert.not_valid_after_utc > first.admin.cert.not_valid_after_utc


def test_crash_between_key_and_cert_heals(tmp_path: Path) -> None:
    first = ensure_cluster_pki(tmp_path, hosts=[])
    # A crash after the new key was renamed into place but before its certificate was.
    other = issue_client_cert(first, "admin", ["system:masters"])
    write_file_atomic(tmp_path / "pki" / "admin.key", other.key_pem)
    healed = ensure_cluster_pki(tmp_path, hosts=[])
    assert healed.admin.cert.serial_number != first.admin.cert.serial_number
    assert healed.admin.cert.public_key() == healed.admin.key.public_key()
    on_disk = x509.load_pem_x509_certificate((tmp_path / "pki" / "admin.crt").read_bytes())
    assert on_disk == healed.admin.cert


def test_corrupt_leaf_is_reissued(tmp_path: Path) -> None:
    first = ensure_cluster_pki(tmp_path, hosts=[])
    (tmp_path / "pki" / "apiserver.crt").write_bytes(b"-----BEGIN CERT")
    again = ensure_cluster_pki(tmp_path, hosts=[])
    assert again.serving.cert != first.serving.cert
    again.serving.cert.verify_directly_issued_by(again.ca.cert)


def test_missing_ca_cert_is_rebuilt_from_its_key(tmp_path: Path) -> None:
    first = ensure_cluster_pki(tmp_path, hosts=[])
    (tmp_path / "pki" / "ca.crt").unlink()
    again = ensure_cluster_pki(tmp_path, hosts=[])
    # Same key and subject: every certificate issued before still verifies, so it is kept.
    assert again.admin.cert == first.admin.cert
    first.admin.cert.verify_directly_issued_by(again.ca.cert)


def test_missing_or_corrupt_ca_key_is_an_error_not_a_new_ca(tmp_path: Path) -> None:
    ensure_cluster_pki(tmp_path, hosts=[])
    ca_key = tmp_path / "pki" / "ca.key"
    saved = ca_key.read_bytes()
    ca_key.write_bytes(b"not a key")
    with pytest.raises(PKIError, match=r"ca\.key"):
        ensure_cluster_pki(tmp_path, hosts=[])
    ca_key.unlink()
    with pytest.raises(PKIError, match="missing"):
        ensure_cluster_pki(tmp_path, hosts=[])
    assert not ca_key.exists()
    ca_key.write_bytes(saved)
    ensure_cluster_pki(tmp_path, hosts=[])


def test_write_file_atomic_mode_and_no_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "secret.key"
    old_umask = os.umask(0)
    try:
        write_file_atomic(target, b"one")
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    write_file_atomic(target, b"two", mode=0o644)
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]


def test_write_file_atomic_failure_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ca.key"
    write_file_atomic(target, b"old content")

    def crash(*_: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        write_file_atomic(target, b"new content that never lands")
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["ca.key"]


def test_pki_write_crash_leaves_whole_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_cluster_pki(tmp_path, hosts=["10.0.0.5"])
    before = snapshot(tmp_path / "pki")
    real_replace = os.replace
    calls = 0

    def crash_on_second(src: str, dst: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("power cut")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_second)
    with pytest.raises(OSError, match="power cut"):
        ensure_cluster_pki(tmp_path, hosts=["10.0.0.6"])  # key lands, cert does not
    monkeypatch.undo()
    after = snapshot(tmp_path / "pki")
    assert after["apiserver.crt"] == before["apiserver.crt"]
    assert after["apiserver.key"] != before["apiserver.key"]
    assert not [p for p in (tmp_path / "pki").iterdir() if p.name.endswith(".tmp")]
    healed = ensure_cluster_pki(tmp_path, hosts=["10.0.0.6"])
    assert "10.0.0.6" in sans_of(healed.serving.cert)
    assert healed.serving.cert.public_key() == healed.serving.key.public_key()


def _handshake(pki: ClusterPKI, client_ctx: ssl.SSLContext) -> tuple[bytes | None, str | None]:
    server_ctx = ssl_server_context(pki)
    a, b = socket.socketpair()
    result: dict[str, object] = {}

    def serve() -> None:
        with server_ctx.wrap_socket(a, server_side=True) as s:
            result["peer"] = s.getpeercert(binary_form=True)
            result["alpn"] = s.selected_alpn_protocol()
            s.recv(1)

    t = threading.Thread(target=serve)
    t.start()
    try:
        with client_ctx.wrap_socket(b, server_hostname="kubernetes.default.svc") as c:
            c.sendall(b"x")
    finally:
        t.join(timeout=10)
        a.close()
        b.close()
    peer, alpn = result["peer"], result["alpn"]
    assert peer is None or isinstance(peer, bytes)
    assert alpn is None or isinstance(alpn, str)
    return peer, alpn


def test_ssl_server_context_requests_client_certs_and_speaks_http11(tmp_path: Path) -> None:
    pki = ensure_cluster_pki(tmp_path, hosts=[])
    ctx = ssl_server_context(pki)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_OPTIONAL

    client = ssl.create_default_context(cadata=pki.ca.cert_pem.decode())
    client.set_alpn_protocols(["h2", "http/1.1"])
    (tmp_path / "c.crt").write_bytes(pki.admin.cert_pem)
    (tmp_path / "c.key").write_bytes(pki.admin.key_pem)
    client.load_cert_chain(tmp_path / "c.crt", tmp_path / "c.key")
    peer, alpn = _handshake(pki, client)
    assert alpn == "http/1.1"
    assert peer is not None
    assert x509.load_der_x509_certificate(peer) == pki.admin.cert

    anonymous = ssl.create_default_context(cadata=pki.ca.cert_pem.decode())
    peer, _ = _handshake(pki, anonymous)
    assert peer is None


def test_ssl_server_context_refuses_a_client_cert_from_another_ca(tmp_path: Path) -> None:
    pki = ensure_cluster_pki(tmp_path / "ours", hosts=[])
    other = ensure_cluster_pki(tmp_path / "theirs", hosts=[])
    client = ssl.create_default_context(cadata=pki.ca.cert_pem.decode())
    (tmp_path / "c.crt").write_bytes(other.admin.cert_pem)
    (tmp_path / "c.key").write_bytes(other.admin.key_pem)
    client.load_cert_chain(tmp_path / "c.crt", tmp_path / "c.key")
    server_ctx = ssl_server_context(pki)
    a, b = socket.socketpair()
    errors: list[ssl.SSLError] = []

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(a, server_side=True):
                pass
        except ssl.SSLError as e:
            errors.append(e)
        finally:
            a.close()

    def talk() -> None:
        # TLS 1.3 finishes the client's side of the handshake first; the refusal shows on read.
        with client.wrap_socket(b, server_hostname="localhost") as c:
            c.sendall(b"x")
            if not c.recv(1):
                raise ConnectionError("closed")

    t = threading.Thread(target=serve)
    t.start()
    try:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            talk()
    finally:
        t.join(timeout=10)
        a.close()
        b.close()
    assert errors
    assert "certificate verify failed" in str(errors[0])


def test_self_signed_serving_cert_names_its_hosts_and_no_cluster_ca(tmp_path: Path) -> None:
    pki = ensure_cluster_pki(tmp_path, hosts=["127.0.0.1"])
    pair = self_signed_serving_cert("node-b", ["node-b", "192.0.2.12", "127.0.0.1"])
    assert sans_of(pair.cert) == {"node-b", "192.0.2.12", "127.0.0.1"}
    assert pair.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "node-b"
    eku = pair.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    # Signed by a throwaway issuer of its own, not by the cluster CA.
    with pytest.raises((ValueError, InvalidSignature)):
        pair.cert.verify_directly_issued_by(pki.ca.cert)
