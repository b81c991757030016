"""Semantic validation of networking.k8s.io objects, with kube-apiserver 1.32's messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.defaults import apply_defaults
from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]
GROUP = "networking.k8s.io"


def errors(kind: str, obj: Obj, old: Obj | None = None) -> list[str]:
    apply_defaults(GROUP, "v1", kind, obj)
    return [str(e) for e in validate_object(GROUP, kind, obj, old)]


def backend(name: str = "web", port: Obj | None = None) -> Obj:
    return {"service": {"name": name, "port": {"number": 80} if port is None else port}}


def ingress(*rules: Obj, **spec: Any) -> Obj:
    body: Obj = dict(spec)
    if rules:
        body["rules"] = list(rules)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "shop", "namespace": "default"},
        "spec": body,
    }


def rule(host: str = "shop.example.com", *paths: Obj) -> Obj:
    return {
        "host": host,
        "http": {
            "paths": list(paths) or [{"path": "/", "pathType": "Prefix", "backend": backend()}]
        },
    }


INGRESS_CASES = [
    pytest.param(ingress(rule()), [], id="valid"),
    pytest.param(ingress(defaultBackend=backend()), [], id="default-backend-only"),
    pytest.param(
        ingress(),
        [
            "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or "
            "`rules` must be specified"
        ],
        id="nothing-to-route",
    ),
    pytest.param(ingress(rule("*.example.com")), [], id="wildcard-host"),
    pytest.param(
        ingress(rule("*.*.example.com")),
        [
            'spec.rules[0].host: Invalid value: "*.*.example.com": a wildcard DNS-1123 subdomain '
            "must "
            "start with '*.', followed by a valid DNS subdomain, which must consist of lower case "
            "alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. "
            "'*.example.com', regex used for validation is "
            "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ],
        id="double-wildcard",
    ),
    pytest.param(
        ingress(rule("10.0.0.1")),
        ['spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'],
        id="ip-host",
    ),
    pytest.param(
        ingress(rule("shop.example.com", {"path": "/api", "backend": backend()})),
        ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"],
        id="path-type-required",
    ),
    pytest.param(
        ingress(
            rule(
                "shop.example.com", {"path": "api/./v1/", "pathType": "Exact", "backend": backend()}
            )
        ),
        [
            'spec.rules[0].http.paths[0].path: Invalid value: "api/./v1/": must be an absolute '
            "path",
            'spec.rules[0].http.paths[0].path: Invalid value: "api/./v1/": must not contain '
            "'/./'",
        ],
        id="exact-path-rules",
    ),
    pytest.param(
        ingress(
            rule("shop.example.com", {"path": "/x/..", "pathType": "Prefix", "backend": backend()})
        ),
        ["spec.rules[0].http.paths[0].path: Invalid value: \"/x/..\": cannot end with '/..'"],
        id="path-suffix",
    ),
    pytest.param(
        ingress(
            rule(
                "shop.example.com",
                {"path": "x", "pathType": "ImplementationSpecific", "backend": backend()},
            )
        ),
        ['spec.rules[0].http.paths[0].path: Invalid value: "x": must be an absolute path'],
        id="implementation-specific",
    ),
    pytest.param(
        ingress(rule("shop.example.com", {"path": "/", "pathType": "Regex", "backend": backend()})),
        [
            'spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: '
            '"Exact", "ImplementationSpecific", "Prefix"'
        ],
        id="path-type-value",
    ),
    pytest.param(
        ingress(
            rule(
                "shop.example.com",
                {"path": "/", "pathType": "Prefix", "backend": backend("Web", {})},
            )
        ),
        [
            'spec.rules[0].http.paths[0].backend.service.name: Invalid value: "Web": a DNS-1035 '
            "label "
            "must consist of lower case alphanumeric characters or '-', start with an alphabetic "
            "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
            "regex "
            "used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            "spec.rules[0].http.paths[0].backend: Required value: port name or number is required",
        ],
        id="backend-service",
    ),
    pytest.param(
        ingress(
            rule(
                "shop.example.com",
                {
                    "path": "/",
                    "pathType": "Prefix",
                    "backend": backend(port={"name": "http", "number": 80}),
                },
            )
        ),
        [
            'spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port name & '
            "port number"
        ],
        id="port-name-and-number",
    ),
    pytest.param(
        ingress(rule(), tls=[{"hosts": ["Shop.example.com"], "secretName": "tls_cert"}]),
        None,
        id="tls",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), INGRESS_CASES)
def test_ingress(obj: Obj, expected: list[str] | None) -> None:
    got = errors("Ingress", obj)
    if expected is None:
        assert [g.split(":")[0] for g in got] == ["spec.tls[0].hosts[0]", "spec.tls[0].secretName"]
    else:
        assert got == expected


def test_ingress_class_annotation_conflicts_with_field() -> None:
    obj = ingress(rule(), ingressClassName="nginx")
    obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    assert errors("Ingress", obj) == [
        'annotations.kubernetes.io/ingress.class: Invalid value: "nginx": can not be set when the '
        "class field is also set"
    ]


def test_update_tolerates_existing_bad_secret_names() -> None:
    old = ingress(rule(), tls=[{"secretName": "Bad_Name"}])
    old["metadata"]["resourceVersion"] = "2"
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"a": "b"}
    assert errors("Ingress", new, old) == []


def test_ingress_class() -> None:
    obj: Obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "nginx"},
        "spec": {"controller": "nginx"},
    }
    assert errors("IngressClass", obj) == [
        'spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as '
        '"acme.io/foo")'
    ]
    obj["spec"] = {
        "controller": "k8s.io/ingress-nginx",
        "parameters": {"kind": "Config", "name": "c", "namespace": "x"},
    }
    assert errors("IngressClass", obj) == [
        "spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"
    ]
    assert obj["spec"]["parameters"]["scope"] == "Cluster"


def network_policy(**spec: Any) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "np", "namespace": "default"},
        "spec": {"podSelector": {}, **spec},
    }


def test_network_policy_defaults_and_rules() -> None:
    obj = network_policy(egress=[{"ports": [{"port": 53}]}])
    assert errors("NetworkPolicy", obj) == []
    assert obj["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert obj["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"
    bad = network_policy(
        ingress=[
            {
                "from": [
                    {},
                    {
                        "ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]},
                        "podSelector": {},
                    },
                ],
                "ports": [{"port": "dns", "endPort": 60}],
            }
        ],
        policyTypes=["Ingress", "Sideways"],
    )
    assert errors("NetworkPolicy", bad) == [
        "spec.ingress[0].ports[0].endPort: Invalid value: 60: may not be specified when `port` is "
        "non-numeric",
        "spec.ingress[0].from[0]: Required value: must specify a peer",
        'spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "192.168.0.0/16": must be a '
        "strict subset of `cidr`",
        "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
        'spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"',
    ]
