"""nginx.conf from a snapshot: servers per host, locations per path type, upstreams, escaping.

What nginx makes of the file is tested against a real nginx in
``tests/integration/test_ingress_nginx.py``; here, the text for the cases that decide it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kybernetes.network.ingress.endpoints import Address, Upstream
from kybernetes.network.ingress.nginxconf import Settings, render
from kybernetes.network.ingress.proxy import Snapshot, Timeouts
from kybernetes.network.ingress.routes import BackendRef, build_routes


def settings(https: int | None = 8443) -> Settings:
    return Settings(
        bind_address="127.0.0.1",
        http_port=8080,
        https_port=https,
        pid_file=Path("state/nginx.pid"),
        temp_dir=Path("state/temp"),
        default_certificate=Path("state/tls/fake.pem") if https else None,
        workers=2,
        worker_connections=1024,
        user=None,
        balance="round_robin",
        timeouts=Timeouts(),
    )


def path(p: str, svc: str, kind: str = "Prefix") -> dict[str, Any]:
    backend = {"service": {"name": svc, "port": {"number": 80}}}
    return {"path": p, "pathType": kind, "backend": backend}


def snapshot(rules: list[dict[str, Any]], ready: dict[str, list[str]]) -> Snapshot:
    ingress = {"metadata": {"name": "i", "namespace": "ns"}, "spec": {"rules": rules}}
    table = build_routes([ingress])
    upstreams = {
        ref: Upstream(ref, tuple(Address(ip, 8080) for ip in ready.get(ref.service, ())))
        for ref in table.backends()
    }
    return Snapshot(table, upstreams)


def server_of(text: str, name: str) -> str:
    """The ``server`` block whose ``server_name`` is ``name``."""
    for block in text.split("    server {\n")[1:]:
        if f"server_name {name};" in block:
            return block
    raise AssertionError(f"no server {name} in:\n{text}")


def test_hosts_paths_and_upstreams() -> None:
    rules = [
        {"host": "a.test", "http": {"paths": [path("/foo/", "web"), path("/x", "web", "Exact")]}},
        {"host": "*.apps.test", "http": {"paths": [path("/", "empty")]}},
    ]
    text = render(snapshot(rules, {"web": ["10.42.0.5", "10.42.0.6"]}), None, settings())
    exact = server_of(text, "a.test")
    assert "listen 127.0.0.1:8080;" in exact
    assert "listen 127.0.0.1:8443 ssl;" in exact
    # Prefix /foo/: the path itself and everything below it, element-wise; Exact: only itself.
    assert 'location = "/foo" { proxy_pass http://ns_web_80; }' in exact
    assert 'location "/foo/" { proxy_pass http://ns_web_80; }' in exact
    assert 'location = "/x" { proxy_pass http://ns_web_80; }' in exact
    assert 'location "/" { return 404; }' in exact  # no rule for "/", no default backend
    # A wildcard covers exactly one more label; its backend has no ready endpoint.
    wildcard = server_of(text, r'"~^[^.]+\\.apps\\.test$"')
    assert 'location "/" { return 503; }' in wildcard
    assert "server 10.42.0.5:8080 max_fails=0;" in text
    assert "server 10.42.0.6:8080 max_fails=0;" in text
    assert "upstream ns_empty_80" not in text
    default = server_of(text, '""')
    assert "default_server" in default
    assert "ssl_certificate" in default


def test_default_backend_and_hosts_without_tls() -> None:
    ingress = {
        "metadata": {"name": "i", "namespace": "ns"},
        "spec": {"defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}}},
    }
    table = build_routes([ingress])
    ref = BackendRef("ns", "fallback", 80)
    snap = Snapshot(table, {ref: Upstream(ref, (Address("10.42.0.9", 80),))})
    text = render(snap, None, settings(https=None))
    assert 'location "/" { proxy_pass http://ns_fallback_80; }' in server_of(text, '""')
    assert " ssl;" not in text
    assert "ssl_certificate" not in text


def test_strings_from_the_api_are_escaped_or_left_out() -> None:
    rules = [
        {"host": "q.test", "http": {"paths": [path('/a"b\\c', "web"), path("/bad\nx", "web")]}},
        {"host": "bad_host;", "http": {"paths": [path("/", "web")]}},
    ]
    text = render(snapshot(rules, {"web": ["10.42.0.5"]}), None, settings())
    block = server_of(text, "q.test")
    assert 'location "/a\\"b\\\\c/" { proxy_pass http://ns_web_80; }' in block
    assert "/bad" not in text
    assert "bad_host" not in text
