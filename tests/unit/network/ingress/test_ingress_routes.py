"""The ingress route table: hosts, wildcards, path types, longest prefix, default backend."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.network.ingress.routes import BackendRef, build_routes


def backend(service: str, port: int | str = 80) -> dict[str, Any]:
    key = "number" if isinstance(port, int) else "name"
    return {"service": {"name": service, "port": {key: port}}}


def ingress(
    name: str,
    rules: list[dict[str, Any]],
    *,
    default: str | None = None,
    created: str = "2024-01-01T00:00:00Z",
    namespace: str = "default",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"rules": rules}
    if default:
        spec["defaultBackend"] = backend(default)
    meta = {"name": name, "namespace": namespace, "creationTimestamp": created}
    return {"metadata": meta, "spec": spec}


def rule(host: str | None, *paths: tuple[str, str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "http": {
            "paths": [
                {"path": path, "pathType": kind, "backend": backend(svc)}
                for path, kind, svc in paths
            ]
        }
    }
    if host:
        out["host"] = host
    return out


TABLE = build_routes(
    [
        ingress(
            "main",
            [
                rule(
                    "foo.example.com",
                    ("/", "Prefix", "root"),
                    ("/api", "Prefix", "api"),
                    ("/api/v2", "Prefix", "api-v2"),
                    ("/api/v2/", "Exact", "api-v2-exact"),
                    ("/login", "Exact", "login"),
                    ("/static/", "ImplementationSpecific", "static"),
                ),
                rule("*.example.com", ("/", "Prefix", "wild")),
                rule(None, ("/catch", "Prefix", "catch")),
            ],
            default="fallback",
        ),
    ]
)


@pytest.mark.parametrize(
    ("host", "path", "service"),
    [
        ("foo.example.com", "/", "root"),
        ("foo.example.com", "/anything", "root"),
        ("foo.example.com", "/api", "api"),
        ("foo.example.com", "/api/", "api"),
        ("foo.example.com", "/api/users", "api"),
        ("foo.example.com", "/apis", "root"),  # element-wise: /api is no prefix of /apis
        ("foo.example.com", "/api/v2", "api-v2"),
        ("foo.example.com", "/api/v2/x", "api-v2"),
        ("foo.example.com", "/api/v2/", "api-v2-exact"),  # Exact beats Prefix at equal length
        ("foo.example.com", "/login", "login"),
        ("foo.example.com", "/login/", "root"),  # Exact does not match a trailing slash
        ("foo.example.com", "/static", "static"),  # ImplementationSpecific is Prefix here
        ("foo.example.com", "/static/app.js", "static"),
        ("bar.example.com", "/x", "wild"),  # wildcard: one more label
        ("a.b.example.com", "/catch", "catch"),  # two labels: not the wildcard
        ("example.com", "/catch/me", "catch"),  # the bare domain: not the wildcard
        ("example.com", "/nothing", "fallback"),  # no path matches: default backend
        ("other.test", "/", "fallback"),
    ],
)
def test_route_table(host: str, path: str, service: str) -> None:
    match = TABLE.match(host, path)
    assert match.routed
    assert match.backend == BackendRef("default", service, 80)


def test_host_with_rules_does_not_fall_back_to_catch_all_rules() -> None:
    table = build_routes(
        [ingress("a", [rule("foo.test", ("/a", "Exact", "a")), rule(None, ("/", "Prefix", "c"))])]
    )
    assert table.match("foo.test", "/b").routed is False
    assert table.match("bar.test", "/b").backend == BackendRef("default", "c", 80)


def test_no_default_backend_means_not_routed() -> None:
    table = build_routes([ingress("a", [rule("foo.test", ("/a", "Prefix", "a"))])])
    assert not table.match("foo.test", "/b").routed
    assert not table.match("other.test", "/a").routed


def test_oldest_ingress_wins_a_conflict_and_default() -> None:
    young = ingress(
        "young", [rule("h.test", ("/", "Prefix", "young"))], default="d-young", created="2025"
    )
    old = ingress("old", [rule("h.test", ("/", "Prefix", "old"))], default="d-old", created="2024")
    table = build_routes([young, old])
    assert table.match("h.test", "/").backend == BackendRef("default", "old", 80)
    assert table.default == BackendRef("default", "d-old", 80)


def test_rules_merge_across_ingresses_and_namespaces() -> None:
    a = ingress("a", [rule("h.test", ("/a", "Prefix", "svc-a"))], namespace="one")
    b = ingress("b", [rule("h.test", ("/b", "Prefix", "svc-b"))], namespace="two")
    table = build_routes([a, b])
    assert table.match("h.test", "/a/x").backend == BackendRef("one", "svc-a", 80)
    assert table.match("h.test", "/b").backend == BackendRef("two", "svc-b", 80)
    assert table.backends() == {BackendRef("one", "svc-a", 80), BackendRef("two", "svc-b", 80)}


def test_port_by_name_and_resource_backends() -> None:
    spec_rule = {
        "host": "h.test",
        "http": {
            "paths": [
                {"path": "/n", "pathType": "Prefix", "backend": backend("svc", "http")},
                {
                    "path": "/r",
                    "pathType": "Prefix",
                    "backend": {"resource": {"kind": "Bucket", "name": "b"}},
                },
            ]
        },
    }
    table = build_routes([ingress("a", [spec_rule])])
    assert table.match("h.test", "/n").backend == BackendRef("default", "svc", "http")
    resource = table.match("h.test", "/r")
    assert resource.routed
    assert resource.backend is None


def test_prefix_root_matches_everything_and_hosts_are_case_insensitive() -> None:
    table = build_routes([ingress("a", [rule("Foo.Test", ("/", "Prefix", "root"))])])
    assert table.match("foo.test", "/a/b/c").backend == BackendRef("default", "root", 80)
