"""Who may talk to the API server: client certificates, bearer tokens, nobody else."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import start_server, stop_server

pytestmark = pytest.mark.slow


def test_tokens_certificates_and_anonymous(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('s3cret-token,alice,1001,"dev,ops"\n')
    home = tmp_path / "home"
    home.mkdir()
    cluster = start_server(tmp_path / "data", home, "--token-auth-file", str(tokens))
    try:
        ca = str(cluster.data_dir / "pki" / "ca.crt")
        base = ["kubectl", "--server", cluster.url, "--certificate-authority", ca]
        ok = subprocess.run(
            [*base, "--token", "s3cret-token", "get", "namespaces", "-o", "name"],
            capture_output=True,
            text=True,
            timeout=60,
            env={"HOME": str(home)},
        )
        assert ok.returncode == 0, ok.stderr
        assert "namespace/default" in ok.stdout.split()
        bad = subprocess.run(
            [*base, "--token", "wrong", "get", "namespaces"],
            capture_output=True,
            text=True,
            timeout=60,
            env={"HOME": str(home)},
        )
        assert bad.returncode == 1
        assert "Unauthorized" in bad.stderr or "provide credentials" in bad.stderr
        # The admin client certificate from the written kubeconfig.
        who = json.loads(cluster.kubectl("get", "--raw", "/api/v1/namespaces/default").stdout)
        assert who["metadata"]["name"] == "default"
        # No credentials: only health and version answer.
        context = ssl.create_default_context(cafile=ca)
        with urllib.request.urlopen(f"{cluster.url}/readyz", context=context) as resp:
            assert resp.read() == b"ok"
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{cluster.url}/api/v1/namespaces", context=context)
        assert denied.value.code == 401
        body = json.loads(denied.value.read())
        assert (body["kind"], body["reason"], body["code"]) == ("Status", "Unauthorized", 401)
    finally:
        stop_server(cluster)
