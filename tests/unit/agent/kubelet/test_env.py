"""Environment resolution: expansion, valueFrom, envFrom, service variables, errors."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kybernetes.agent.kubelet.env import (
    EnvError,
    command_line,
    container_env,
    expand,
    service_env,
    services_for,
)

Obj = dict[str, Any]
CONFIGMAPS = {("ns", "cm"): {"data": {"A": "1", "bad-key!": "x"}}}
SECRETS = {("ns", "s"): {"data": {"pw": base64.b64encode(b"hunter2").decode()}}}


def cm(ns: str, name: str) -> Obj | None:
    return CONFIGMAPS.get((ns, name))


def sec(ns: str, name: str) -> Obj | None:
    return SECRETS.get((ns, name))


POD: Obj = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
    "spec": {
        "nodeName": "n1",
        "serviceAccountName": "default",
        "containers": [
            {"name": "c", "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}}}
        ],
    },
    "status": {"podIP": "10.42.0.5", "hostIP": "10.0.0.1"},
}


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("$(A)", "1"),
        ("$$(A)", "$(A)"),
        ("$(MISSING)", "$(MISSING)"),
        ("a$b", "a$b"),
        ("$(A", "$(A"),
        ("x$", "x$"),
        ("$(A)-$(B)", "1-two"),
    ],
)
def test_expand(text: str, out: str) -> None:
    assert expand(text, {"A": "1", "B": "two"}) == out


def test_value_from_and_env_from() -> None:
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "P_"}, {"secretRef": {"name": "s"}}],
        "env": [
            {"name": "X", "value": "$(P_A)/$(pw)"},
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {
                "name": "MEM",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {
                "name": "CPUREQ",
                "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}},
            },
            {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
            {
                "name": "OPT",
                "valueFrom": {"configMapKeyRef": {"name": "no", "key": "k", "optional": True}},
            },
        ],
    }
    env = dict(
        container_env(
            POD, container, configmaps=cm, secrets=sec, allocatable={"cpu": "4", "memory": "8Gi"}
        )
    )
    assert env["P_A"] == "1"
    assert "P_bad-key!" not in env
    assert env["pw"] == "hunter2"
    assert env["X"] == "1/hunter2"
    assert env["NAME"] == "p"
    assert env["APP"] == "web"
    assert env["IP"] == "10.42.0.5"
    assert env["MEM"] == "64"
    assert env["CPU"] == "4"  # no limit: the node's allocatable
    assert env["CPUREQ"] == "250"
    assert env["SECRET"] == "hunter2"
    assert "OPT" not in env


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
        ({"configMapKeyRef": {"name": "cm", "key": "Z"}}, "couldn't find key Z in ConfigMap ns/cm"),
        ({"secretKeyRef": {"name": "s", "key": "Z"}}, "couldn't find key Z in Secret ns/s"),
        ({"secretKeyRef": {"name": "x", "key": "Z"}}, 'secret "x" not found'),
    ],
)
def test_missing_sources(ref: Obj, message: str) -> None:
    container = {"name": "c", "env": [{"name": "V", "valueFrom": ref}]}
    with pytest.raises(EnvError, match=message):
        container_env(POD, container, configmaps=cm, secrets=sec)


SERVICES = [
    {
        "metadata": {"name": "my-db", "namespace": "ns"},
        "spec": {
            "clusterIP": "10.43.0.9",
            "ports": [
                {"name": "sql", "port": 5432},
                {"name": "udp", "port": 53, "protocol": "UDP"},
            ],
        },
    },
    {
        "metadata": {"name": "headless", "namespace": "ns"},
        "spec": {"clusterIP": "None", "ports": [{"port": 80}]},
    },
    {
        "metadata": {"name": "kubernetes", "namespace": "default"},
        "spec": {"clusterIP": "10.43.0.1", "ports": [{"name": "https", "port": 443}]},
    },
    {
        "metadata": {"name": "other", "namespace": "elsewhere"},
        "spec": {"clusterIP": "10.43.0.7", "ports": [{"port": 80}]},
    },
]


def test_service_variables() -> None:
    env = dict(service_env(services_for(POD, SERVICES)))
    assert env["MY_DB_SERVICE_HOST"] == "10.43.0.9"
    assert env["MY_DB_SERVICE_PORT"] == "5432"
    assert env["MY_DB_SERVICE_PORT_SQL"] == "5432"
    assert env["MY_DB_PORT"] == "tcp://10.43.0.9:5432"
    assert env["MY_DB_PORT_53_UDP"] == "udp://10.43.0.9:53"
    assert env["MY_DB_PORT_53_UDP_PROTO"] == "udp"
    assert env["MY_DB_PORT_5432_TCP_ADDR"] == "10.43.0.9"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.43.0.1"
    assert not any(k.startswith(("HEADLESS", "OTHER")) for k in env)


def test_service_links_disabled_keeps_kubernetes() -> None:
    pod = {**POD, "spec": {**POD["spec"], "enableServiceLinks": False}}
    names = [s["metadata"]["name"] for s in services_for(pod, SERVICES)]
    assert names == ["kubernetes"]


def test_explicit_env_wins_over_service_variables() -> None:
    container = {
        "name": "c",
        "env": [{"name": "MY_DB_SERVICE_HOST", "value": "mine"}],
        "command": ["run", "$(MY_DB_SERVICE_HOST)"],
        "args": ["$$(X)"],
    }
    env = container_env(POD, container, configmaps=cm, secrets=sec, services=SERVICES)
    assert dict(env)["MY_DB_SERVICE_HOST"] == "mine"
    assert command_line(container, env) == (["run", "mine"], ["$(X)"])
