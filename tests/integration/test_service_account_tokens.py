"""Service-account tokens against a running control plane (one ``kyb server`` per module).

The TokenRequest API, authentication with the tokens it issues (through the real kubectl's
``--token``), their rejection when expired, for another audience or once the service account
or bound pod is gone, ``kubectl create token`` and ``kubectl auth whoami``, ServiceAccount
admission, the ``kube-root-ca.crt`` ConfigMaps and issuer discovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kybernetes.api import errors
from kybernetes.apiserver.auth import jwt
from kybernetes.apiserver.auth.serviceaccount import (
    DEFAULT_ISSUER,
    Bound,
    ServiceAccountTokens,
    TokenIssuer,
)
from kybernetes.client.resource import (
    CONFIGMAPS,
    NAMESPACES,
    NODES,
    PODS,
    SECRETS,
    SERVICEACCOUNTS,
    Resource,
)
from kybernetes.client.rest import Client
from kybernetes.util.pki import ensure_cluster_pki

Obj = dict[str, Any]


@dataclass
class ControlPlane:
    """A ``kyb server`` process (no real node; one simulated node) shared by this module."""

    data_dir: Path
    home: Path
    url: str

    async def kubectl(self, *args: str, token: str | None = None) -> tuple[int, str, str]:
        """The real kubectl: with the admin kubeconfig, or with nothing but ``token``."""
        if token is None:
            creds = ["--kubeconfig", str(self.data_dir / "kubeconfig")]
        else:
            creds = [
                "--kubeconfig",
                os.devnull,
                "--server",
                self.url,
                "--certificate-authority",
                str(self.data_dir / "pki" / "ca.crt"),
                "--token",
                token,
            ]
        proc = await asyncio.create_subprocess_exec(
            "kubectl",
            *creds,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "HOME": str(self.home)},
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, out.decode(), err.decode()


@dataclass
class Env:
    """One test's view: the control plane, an admin client, and a namespace of its own."""

    plane: ControlPlane
    client: Client
    ns: str

    async def kubectl(self, *args: str, token: str | None = None) -> tuple[int, str, str]:
        return await self.plane.kubectl(*args, "--namespace", self.ns, token=token)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    base = tmp_path_factory.mktemp("tokens")
    home = base / "home"
    home.mkdir()
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kybernetes",
            "server",
            "--data-dir",
            str(base / "data"),
            "--port",
            str(port),
            "--no-kubeconfig-merge",
            "--runtime",
            "none",
            "--fake-nodes",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        assert line.startswith("kybernetes ready:"), line
        yield ControlPlane(base / "data", home, f"https://127.0.0.1:{port}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate(timeout=10)
        assert "Traceback" not in err, err


@pytest.fixture
async def env(plane: ControlPlane, request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    """A fresh namespace (with its ``default`` account) for each test."""
    client = Client.from_kubeconfig(plane.data_dir / "kubeconfig")
    name = f"t{uuid.uuid4().hex[:8]}"
    try:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        await client.create(NAMESPACES, body)
        await eventually(lambda: _exists(client, SERVICEACCOUNTS, "default", name))
        yield Env(plane, client, name)
    finally:
        with contextlib.suppress(errors.StatusError):
            await client.delete(NAMESPACES, name)
        await client.close()


async def _exists(client: Client, resource: Resource, name: str, namespace: str | None) -> bool:
    try:
        await client.get(resource, name, namespace)
    except errors.NotFound:
        return False
    return True


def claims_of(token: str) -> Obj:
    return jwt.split(token).claims


async def request_token(env: Env, account: str, spec: Obj | None = None) -> Obj:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec or {}}
    return await env.client.create(SERVICEACCOUNTS, body, env.ns, name=account, subresource="token")


async def make_account(env: Env, name: str, **fields: Any) -> Obj:
    body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}, **fields}
    return await env.client.create(SERVICEACCOUNTS, body, env.ns)


async def make_pod(env: Env, name: str, account: str | None = None, **spec: Any) -> Obj:
    full: Obj = {"containers": [{"name": "c", "image": "busybox"}], **spec}
    if account is not None:
        full["serviceAccountName"] = account
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": full}
    return await env.client.create(PODS, body, env.ns)


# ----- the TokenRequest API --------------------------------------------------------------


async def test_token_request_as_upstream(env: Env) -> None:
    account = await make_account(env, "robot")
    before = time.time()
    answer = await request_token(env, "robot")
    assert answer["kind"] == "TokenRequest"
    assert answer["apiVersion"] == "authentication.k8s.io/v1"
    assert answer["metadata"]["name"] == "robot"
    assert answer["metadata"]["namespace"] == env.ns
    assert answer["spec"] == {"audiences": [DEFAULT_ISSUER], "expirationSeconds": 3600}
    claims = claims_of(answer["status"]["token"])
    assert claims["sub"] == f"system:serviceaccount:{env.ns}:robot"
    assert claims["aud"] == [DEFAULT_ISSUER]
    assert claims["iss"] == DEFAULT_ISSUER
    assert claims["exp"] - claims["iat"] == 3600
    assert before - 1 <= claims["iat"] <= time.time() + 1
    assert claims["kubernetes.io"] == {
        "namespace": env.ns,
        "serviceaccount": {"name": "robot", "uid": account["metadata"]["uid"]},
    }
    expires = answer["status"]["expirationTimestamp"]
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims["exp"])) == expires

    custom = await request_token(env, "robot", {"audiences": ["vault"], "expirationSeconds": 7200})
    assert claims_of(custom["status"]["token"])["aud"] == ["vault"]
    assert custom["spec"]["expirationSeconds"] == 7200


async def test_tokens_bound_to_pods_carry_the_node(env: Env) -> None:
    client = env.client
    await make_account(env, "robot")
    await make_pod(env, "bound", "robot")

    async def scheduled() -> bool:
        return bool((await client.get(PODS, "bound", env.ns))["spec"].get("nodeName"))

    await eventually(scheduled)
    pod = await client.get(PODS, "bound", env.ns)
    ref = {"apiVersion": "v1", "kind": "Pod", "name": "bound", "uid": pod["metadata"]["uid"]}
    answer = await request_token(env, "robot", {"boundObjectRef": ref})
    private = claims_of(answer["status"]["token"])["kubernetes.io"]
    assert private["pod"] == {"name": "bound", "uid": pod["metadata"]["uid"]}
    node = await client.get(NODES, pod["spec"]["nodeName"])
    assert private["node"] == {"name": node["metadata"]["name"], "uid": node["metadata"]["uid"]}
    # The kubelet's request: 3607 s is extended to a year, with a warning after 3607 s.
    kubelet = await request_token(env, "robot", {"boundObjectRef": ref, "expirationSeconds": 3607})
    claims = claims_of(kubelet["status"]["token"])
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600
    assert claims["kubernetes.io"]["warnafter"] - claims["iat"] == 3607
    assert kubelet["spec"]["expirationSeconds"] == 3607


@pytest.mark.parametrize(
    ("account", "spec", "code", "message"),
    [
        ("ghost", {}, 404, 'serviceaccounts "ghost" not found'),
        (
            "robot",
            {"expirationSeconds": 599},
            422,
            'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
            "Invalid value: 599: may not specify a duration less than 10 minutes",
        ),
        (
            "robot",
            {"expirationSeconds": 2**32 + 1},
            422,
            "may not specify a duration larger than 2^32 seconds",
        ),
        (
            "robot",
            {"boundObjectRef": {"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}},
            400,
            "cannot bind token to object of type /v1, Kind=ConfigMap",
        ),
        (
            "robot",
            {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "nope"}},
            404,
            'pods "nope" not found',
        ),
        (
            "robot",
            {"boundObjectRef": {"kind": "Secret", "name": "s", "uid": "wrong"}},
            409,
            'Operation cannot be fulfilled on Secret "s": the UID in the bound object reference '
            "(wrong) does not match the UID in record. The object might have been deleted and "
            "then recreated",
        ),
        (
            "robot",
            {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "other"}},
            400,
            'cannot bind token for serviceaccount "robot" to pod running with different '
            "serviceaccount name.",
        ),
    ],
)
async def test_token_request_errors(
    env: Env, account: str, spec: Obj, code: int, message: str
) -> None:
    await make_account(env, "robot")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    await env.client.create(SECRETS, secret, env.ns)
    await make_pod(env, "other")
    with pytest.raises(errors.StatusError) as failed:
        await request_token(env, account, spec)
    assert failed.value.code == code, failed.value
    assert message in str(failed.value)


# ----- authentication with the tokens (the real kubectl) ---------------------------------


@pytest.mark.slow
async def test_kubectl_create_token_whoami_and_rejections(env: Env) -> None:
    client = env.client
    account = await make_account(env, "robot")
    code, token, err = await env.kubectl("create", "token", "robot")
    assert code == 0, err
    token = token.strip()
    code, out, err = await env.kubectl("get", "serviceaccounts", "-o", "name", token=token)
    assert code == 0, err
    assert "serviceaccount/robot" in out.split()
    code, out, err = await env.kubectl("auth", "whoami", "-o", "json", token=token)
    assert code == 0, err
    user = json.loads(out)["status"]["userInfo"]
    assert user["username"] == f"system:serviceaccount:{env.ns}:robot"
    assert user["uid"] == account["metadata"]["uid"]
    assert user["groups"] == [
        "system:serviceaccounts",
        f"system:serviceaccounts:{env.ns}",
        "system:authenticated",
    ]
    jti = claims_of(token)["jti"]
    assert user["extra"] == {"authentication.kubernetes.io/credential-id": [f"JTI={jti}"]}
    code, out, err = await env.kubectl("auth", "whoami", token=token)
    assert code == 0, err
    assert out.splitlines()[1].split() == ["Username", f"system:serviceaccount:{env.ns}:robot"]

    # Another audience is not the API server's.
    code, vault, err = await env.kubectl("create", "token", "robot", "--audience", "vault")
    assert code == 0, err
    await assert_unauthorized(env, vault.strip())

    # Expired: signed with the cluster's own key, but an hour and more ago.
    pki = ensure_cluster_pki(env.plane.data_dir, hosts=["127.0.0.1"])
    issuer = TokenIssuer(ServiceAccountTokens(pki.service_account_key))
    old = issuer.claims(account, Bound(), 600, [DEFAULT_ISSUER], now=time.time() - 3600)
    await assert_unauthorized(env, issuer.sign(old))
    fresh = issuer.claims(account, Bound(), 600, [DEFAULT_ISSUER], now=time.time())
    code, _, err = await env.kubectl("get", "pods", token=issuer.sign(fresh))
    assert code == 0, err

    # A token bound to a pod dies with the pod; every token dies with its account.
    await make_pod(env, "web", "robot")
    code, bound, err = await env.kubectl(
        "create", "token", "robot", "--bound-object-kind", "Pod", "--bound-object-name", "web"
    )
    assert code == 0, err
    bound = bound.strip()
    code, _, err = await env.kubectl("get", "pods", token=bound)
    assert code == 0, err
    await client.delete(PODS, "web", env.ns, grace_period_seconds=0)
    await eventually(lambda: _gone(env, PODS, "web"))
    await assert_unauthorized(env, bound)
    await client.delete(SERVICEACCOUNTS, "robot", env.ns)
    await eventually(lambda: _gone(env, SERVICEACCOUNTS, "robot"))
    await assert_unauthorized(env, token)


async def _gone(env: Env, resource: Resource, name: str) -> bool:
    return not await _exists(env.client, resource, name, env.ns)


async def assert_unauthorized(env: Env, token: str) -> None:
    code, _, err = await env.kubectl("get", "pods", token=token)
    assert code == 1
    assert err.strip() == "error: You must be logged in to the server (Unauthorized)", err


@pytest.mark.slow
async def test_kubectl_create_token_errors(env: Env) -> None:
    code, _, err = await env.kubectl("create", "token", "default", "--duration", "5m")
    assert code == 1
    assert err.strip() == (
        'error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: '
        "spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 "
        "minutes"
    )
    code, _, err = await env.kubectl("create", "token", "nobody")
    assert code == 1
    assert err.strip() == 'error: failed to create token: serviceaccounts "nobody" not found'


# ----- admission, the root CA, discovery -------------------------------------------------


async def test_admission_mounts_the_token_volume(env: Env) -> None:
    pod = await make_pod(env, "plain")
    spec = pod["spec"]
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    (volume,) = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-")
    assert len(volume["name"]) == len("kube-api-access-") + 5
    sources = volume["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert spec["containers"][0]["volumeMounts"] == [
        {
            "name": volume["name"],
            "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        }
    ]
    opted_out = await make_pod(env, "quiet", automountServiceAccountToken=False)
    assert "volumes" not in opted_out["spec"]
    await make_account(env, "shy", automountServiceAccountToken=False)
    shy = await make_pod(env, "shy", "shy")
    assert "volumes" not in shy["spec"]
    assert shy["spec"]["serviceAccountName"] == "shy"
    with pytest.raises(errors.Forbidden) as refused:
        await make_pod(env, "lost", "ghost")
    assert str(refused.value) == (
        f'pods "lost" is forbidden: error looking up service account {env.ns}/ghost: '
        'serviceaccount "ghost" not found'
    )


async def test_root_ca_configmap_in_every_namespace(env: Env) -> None:
    client = env.client
    ca = (env.plane.data_dir / "pki" / "ca.crt").read_text()

    async def published() -> bool:
        try:
            found = await client.get(CONFIGMAPS, "kube-root-ca.crt", env.ns)
        except errors.NotFound:
            return False
        return bool(found.get("data") == {"ca.crt": ca})

    await eventually(published)
    found = await client.get(CONFIGMAPS, "kube-root-ca.crt", env.ns)
    assert found["metadata"]["annotations"]["kubernetes.io/description"].startswith(
        "Contains a CA bundle that can be used to verify the kube-apiserver"
    )
    found["data"] = {"ca.crt": "tampered"}
    await client.update(CONFIGMAPS, found)
    await eventually(published)
    await client.delete(CONFIGMAPS, "kube-root-ca.crt", env.ns)
    await eventually(published)


async def test_issuer_discovery(env: Env) -> None:
    client = env.client
    config = await client.request("GET", "/.well-known/openid-configuration")
    assert config == {
        "issuer": DEFAULT_ISSUER,
        "jwks_uri": f"{env.plane.url}/openid/v1/jwks",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }
    (key,) = (await client.request("GET", "/openid/v1/jwks"))["keys"]
    token = (await request_token(env, "default"))["status"]["token"]
    parts = jwt.split(token)
    assert parts.header["kid"] == key["kid"]
    # The published key verifies the token without asking the API server anything else.
    x = int.from_bytes(jwt.b64decode(key["x"]), "big")
    y = int.from_bytes(jwt.b64decode(key["y"]), "big")
    public = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    assert jwt.verify(parts, public)
