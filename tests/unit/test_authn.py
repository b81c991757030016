"""Authentication (client certificates, token files, union) and the interim authorizer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kybernetes.apiserver.auth import (
    AllowAuthenticated,
    Attributes,
    ClientCertAuthenticator,
    DecisionKind,
    RequestFacts,
    TokenFileAuthenticator,
    TokenFileError,
    UnionAuthenticator,
    UserInfo,
    bearer_token,
    default_authorizer,
    forbidden_message,
    is_public_path,
    parse_token_csv,
)
from kybernetes.util.pki import CertKeyPair, ClusterPKI, ensure_cluster_pki, issue_client_cert

TOKENS = """\
s3cr3t,alice,uid-1,"dev,ops"
t0ken,bob,uid-2

x-only-3,carol,uid-3,
with-extra,dave,uid-4,"g1",ignored-column,another
"quoted,token",erin,uid-5,admins
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> ClusterPKI:
    return ensure_cluster_pki(tmp_path_factory.mktemp("data"), hosts=[])


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> ClusterPKI:
    return ensure_cluster_pki(tmp_path_factory.mktemp("other"), hosts=[])


def der(pair: CertKeyPair) -> bytes:
    return pair.cert.public_bytes(serialization.Encoding.DER)


def facts(cert: bytes | None = None, authorization: str | None = None) -> RequestFacts:
    return RequestFacts(peer_cert_der=cert, authorization=authorization)


def custom_cert(ca: CertKeyPair, subject: x509.Name, eku: x509.ObjectIdentifier | None) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


# -- client certificates ---------------------------------------------------------------------


def test_admin_cert_is_admin_in_system_masters(pki: ClusterPKI) -> None:
    user = ClientCertAuthenticator(pki.ca.cert).authenticate(facts(der(pki.admin)))
    assert user == UserInfo(name="admin", groups=("system:masters", "system:authenticated"))


def test_cert_user_is_cn_and_groups_are_o_values(pki: ClusterPKI) -> None:
    node = issue_client_cert(pki, "system:node:n1", ["system:nodes", "extra-group"])
    user = ClientCertAuthenticator(pki.ca.cert).authenticate(facts(der(node)))
    assert user is not None
    assert user.name == "system:node:n1"
    assert user.groups == ("system:nodes", "extra-group", "system:authenticated")
    assert user.uid == ""
    # Already authenticated-group members are not given the group twice.
    again = issue_client_cert(pki, "x", ["system:authenticated"])
    got = ClientCertAuthenticator(pki.ca.cert).authenticate(facts(der(again)))
    assert got is not None
    assert got.groups == ("system:authenticated",)


def test_cert_from_another_ca_is_refused(pki: ClusterPKI, other_pki: ClusterPKI) -> None:
    auth = ClientCertAuthenticator(pki.ca.cert)
    assert auth.authenticate(facts(der(other_pki.admin))) is None
    assert auth.authenticate(facts(der(other_pki.admin))) is None  # cached refusal


def test_cert_checks_validity_on_every_call(pki: ClusterPKI) -> None:
    clock = [dt.datetime.now(dt.UTC)]
    auth = ClientCertAuthenticator(pki.ca.cert, clock=lambda: clock[0])
    pair = issue_client_cert(pki, "temp", [], days=1)
    assert auth.authenticate(facts(der(pair))) is not None
    clock[0] += dt.timedelta(days=2)
    assert auth.authenticate(facts(der(pair))) is None  # expired, though cached


def test_server_only_cert_garbage_and_no_cn_are_refused(pki: ClusterPKI) -> None:
    auth = ClientCertAuthenticator(pki.ca.cert)
    assert auth.authenticate(facts(der(pki.serving))) is None  # serverAuth only
    assert auth.authenticate(facts(b"\x30\x03garbage")) is None
    assert auth.authenticate(facts(None)) is None
    no_cn = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters")])
    assert auth.authenticate(facts(custom_cert(pki.ca, no_cn, None))) is None
    # No EKU extension at all means any usage, as Go's verifier reads it.
    plain = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "plain")])
    user = auth.authenticate(facts(custom_cert(pki.ca, plain, None)))
    assert user is not None
    assert user.name == "plain"
    client = custom_cert(pki.ca, plain, ExtendedKeyUsageOID.CLIENT_AUTH)
    assert auth.authenticate(facts(client)) is not None


def test_cert_cache_is_bounded(pki: ClusterPKI) -> None:
    auth = ClientCertAuthenticator(pki.ca.cert, cache_size=2)
    pairs = [issue_client_cert(pki, f"u{i}", []) for i in range(4)]
    for pair in pairs:
        user = auth.authenticate(facts(der(pair)))
        assert user is not None
    assert len(auth._cache) == 2


# -- bearer tokens ---------------------------------------------------------------------------


def test_token_file_parsing_with_quoted_groups() -> None:
    parsed = parse_token_csv(TOKENS)
    assert parsed["s3cr3t"] == UserInfo("alice", "uid-1", ("dev", "ops"))
    assert parsed["t0ken"] == UserInfo("bob", "uid-2", ())
    assert parsed["x-only-3"] == UserInfo("carol", "uid-3", ())
    assert parsed["with-extra"] == UserInfo("dave", "uid-4", ("g1",))
    assert parsed["quoted,token"] == UserInfo("erin", "uid-5", ("admins",))
    assert len(parsed) == 5


def test_token_authenticates_and_adds_authenticated_group(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(TOKENS)
    auth = TokenFileAuthenticator.from_file(path)
    assert auth.authenticate(facts(authorization="Bearer s3cr3t")) == UserInfo(
        "alice", "uid-1", ("dev", "ops", "system:authenticated")
    )
    user = auth.authenticate(facts(authorization="bearer   t0ken  "))
    assert user is not None
    assert user.name == "bob"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer s3cr3",  # a prefix
        "Bearer s3cr3t1",  # longer
        "Bearer S3CR3T",
        "Basic s3cr3t",
        "Bearer s3cr3t extra",
        "s3cr3t",
    ],
)
def test_bad_token_is_none(header: str | None) -> None:
    auth = TokenFileAuthenticator(parse_token_csv(TOKENS))
    assert auth.authenticate(facts(authorization=header)) is None


def test_bearer_token_header_parsing() -> None:
    assert bearer_token("Bearer abc.def-ghi") == "abc.def-ghi"
    assert bearer_token("BEARER abc") == "abc"
    assert bearer_token("Bearer a\tb") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tok,user\n", r"line 1: want at least 3 columns .* found 2"),
        ("ok,u,1\nonly-one\n", r"line 2: want at least 3 columns"),
        (",user,uid\n", r"line 1: empty token"),
        ("tok,,uid\n", r"line 1: empty user name"),
        ("tok,u,1\ntok,v,2\n", r"line 2: duplicate token"),
        ('tok,u,1,"unterminated\n', r"line 1: unexpected end of data"),
        ('tok,"u"x,1\n', r"line 1: ',' expected"),
    ],
)
def test_malformed_token_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(content)
    with pytest.raises(TokenFileError, match=message) as info:
        TokenFileAuthenticator.from_file(path)
    assert str(path) in str(info.value)


def test_missing_token_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match="cannot read token file"):
        TokenFileAuthenticator.from_file(tmp_path / "absent.csv")


# -- union -----------------------------------------------------------------------------------


def test_union_tries_each_in_order(pki: ClusterPKI) -> None:
    certs = ClientCertAuthenticator(pki.ca.cert)
    tokens = TokenFileAuthenticator({"tok": UserInfo("token-user")})
    union = UnionAuthenticator([certs, tokens])
    assert union.authenticate(facts()) is None
    by_token = union.authenticate(facts(authorization="Bearer tok"))
    assert by_token is not None
    assert by_token.name == "token-user"
    both = union.authenticate(facts(der(pki.admin), "Bearer tok"))
    assert both is not None
    assert both.name == "admin"  # the first that recognises the request wins
    wrong_token = union.authenticate(facts(der(pki.admin), "Bearer nope"))
    assert wrong_token is not None
    assert wrong_token.name == "admin"


# -- authorization ---------------------------------------------------------------------------


def test_masters_and_authenticated_users_are_allowed() -> None:
    authz = default_authorizer()
    pods = Attributes(verb="list", resource="pods", namespace="default")
    master = UserInfo("root", groups=("system:masters",))  # even without authenticated group
    assert authz.authorize(master, pods).allowed
    bob = UserInfo("bob", groups=("system:authenticated",))
    assert authz.authorize(bob, pods).allowed
    nobody = UserInfo("system:anonymous", groups=("system:unauthenticated",))
    decision = authz.authorize(nobody, pods)
    assert decision.kind is DecisionKind.DENY
    assert not decision.allowed
    assert AllowAuthenticated().authorize(nobody, pods).kind is DecisionKind.NO_OPINION


def test_forbidden_message_matches_upstream_wording() -> None:
    bob = UserInfo("bob")
    assert forbidden_message(bob, Attributes("list", resource="pods", namespace="default")) == (
        'User "bob" cannot list resource "pods" in API group "" in the namespace "default"'
    )
    scale = Attributes("update", "apps", "v1", "deployments", "scale", "", "web")
    assert forbidden_message(bob, scale) == (
        'User "bob" cannot update resource "deployments/scale" in API group "apps" '
        "at the cluster scope"
    )
    raw = Attributes("get", path="/metrics", resource_request=False)
    assert forbidden_message(bob, raw) == 'User "bob" cannot get path "/metrics"'


def test_public_paths() -> None:
    for path in ("/healthz", "/livez", "/readyz", "/version", "/version/"):
        assert is_public_path(path)
    for path in ("/api", "/metrics", "/healthz/etcd", "/apis/"):
        assert not is_public_path(path)
