"""Decoding kubectl's protobuf request bodies (kybernetes.api.protobuf).

Three sources of bodies, none produced by the decoder's own code:

- REAL_BODIES: bytes kubectl 1.32.4 POSTed to a capture server (``kubectl --server=http://...
  create ...``); the expected dicts are ``kubectl create ... --dry-run=client -o json`` with its
  ``null`` values removed (token, can-i and whoami have no dry-run; theirs are written by hand).
  ``test_live_kubectl_capture`` repeats the capture with the kubectl on PATH, when there is one.
- An independent encoder: message classes built at test time from the field table with
  ``google.protobuf`` (descriptor_pb2 + descriptor_pool + message_factory), filled the way gogo's
  marshaller fills them (zeros of non-pointer fields written out) and wrapped in runtime.Unknown.
- Hand-made malformed bytes, and hypothesis-made ones.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import subprocess
import threading
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from kybernetes.api.errors import BadRequest
from kybernetes.api.protobuf import MAGIC, decode_message, decode_request, go_duration
from kybernetes.api.schema import protobuf_fields, protobuf_message_for, schema

CORE = "k8s.io.api.core.v1."
META = "k8s.io.apimachinery.pkg.apis.meta.v1."

# What gogo writes for an ObjectMeta whose only set field is the name: every non-pointer field,
# zero or not, and an empty Time for creationTimestamp.
GOGO_META_ZEROS: dict[str, Any] = {
    "generateName": "",
    "namespace": "",
    "selfLink": "",
    "uid": "",
    "resourceVersion": "",
    "generation": 0,
    "creationTimestamp": {},
}

REAL_BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "secret generic s --from-literal=a=b": (
        "6b3873000a0c0a0276311206536563726574121d0a110a017312001a0022002a0032003800420012060a0161"
        "1201621a001a002200",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "Yg=="}},
    ),
    "configmap cm --from-literal=k=v --from-literal=e=": (
        "6b3873000a0f0a0276311209436f6e6669674d617012230a120a02636d12001a0022002a0032003800420012"
        "050a0165120012060a016b1201761a002200",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm"},
            "data": {"e": "", "k": "v"},
        },
    ),
    "namespace x": (
        "6b3873000a0f0a02763112094e616d65737061636512190a110a017812001a0022002a003200380042001200"
        "1a020a001a002200",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "x"},
            "spec": {},
            "status": {},
        },
    ),
    "deployment web --image=nginx --replicas=2": (
        "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412ab010a1f0a0377656212001a0022002a"
        "003200380042005a0a0a036170701203776562127a0802120c0a0a0a0361707012037765621a600a1c0a0012"
        "001a0022002a003200380042005a0a0a036170701203776562124012220a056e67696e7812056e67696e782a"
        "0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100"
        "c2010022020a00280038001a0c0800100018002000280038001a002200",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]},
                },
                "strategy": {},
            },
            "status": {},
        },
    ),
    "deployment zero --image=nginx --replicas=0 --port=80": (
        "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412bc010a210a047a65726f12001a002200"
        "2a003200380042005a0b0a0361707012047a65726f1288010800120d0a0b0a0361707012047a65726f1a6d0a"
        "1d0a0012001a0022002a003200380042005a0b0a0361707012047a65726f124c122e0a056e67696e7812056e"
        "67696e782a00320a0a001000185022002a0042006a007200800100880100900100a201001a00320042004a00"
        "52005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a00"
        "2200",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "zero", "labels": {"app": "zero"}},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "zero"}},
                "template": {
                    "metadata": {"labels": {"app": "zero"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "nginx",
                                "image": "nginx",
                                "ports": [{"containerPort": 80}],
                                "resources": {},
                            }
                        ]
                    },
                },
                "strategy": {},
            },
            "status": {},
        },
    ),
    "job j --image=busybox -- echo hi": (
        "6b3873000a0f0a0862617463682f763112034a6f621282010a110a016a12001a0022002a0032003800420012"
        "6332610a100a0012001a0022002a00320038004200124d122a0a016a120762757379626f781a046563686f1a"
        "0268692a0042006a007200800100880100900100a201001a054e65766572320042004a005200580060006800"
        "8201008a01009a0100c201001a082000280030003a001a002200",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j"},
            "spec": {
                "template": {
                    "metadata": {},
                    "spec": {
                        "containers": [
                            {
                                "name": "j",
                                "image": "busybox",
                                "command": ["echo", "hi"],
                                "resources": {},
                            }
                        ],
                        "restartPolicy": "Never",
                    },
                }
            },
            "status": {},
        },
    ),
    "serviceaccount sa": (
        "6b3873000a140a027631120e536572766963654163636f756e7412140a120a02736112001a0022002a003200"
        "380042001a002200",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}},
    ),
    "cronjob cj --image=busybox --schedule=*/1 * * * *": (
        "6b3873000a130a0862617463682f7631120743726f6e4a6f62129e010a120a02636a12001a0022002a003200"
        "380042001285010a0b2a2f31202a202a202a202a1a002a740a120a02636a12001a0022002a00320038004200"
        "125e325c0a100a0012001a0022002a00320038004200124812210a02636a120762757379626f782a0042006a"
        "007200800100880100900100a201001a094f6e4661696c757265320042004a0052005800600068008201008a"
        "01009a0100c201001a001a002200",
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "cj"},
            "spec": {
                "schedule": "*/1 * * * *",
                "jobTemplate": {
                    "metadata": {"name": "cj"},
                    "spec": {
                        "template": {
                            "metadata": {},
                            "spec": {
                                "containers": [{"name": "cj", "image": "busybox", "resources": {}}],
                                "restartPolicy": "OnFailure",
                            },
                        }
                    },
                },
            },
            "status": {},
        },
    ),
    "priorityclass pc --value=0": (
        "6b3873000a250a147363686564756c696e672e6b38732e696f2f7631120d5072696f72697479436c61737312"
        "300a120a02706312001a0022002a003200380042001000180022002a14507265656d70744c6f776572507269"
        "6f726974791a002200",
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "pc"},
            "value": 0,
            "preemptionPolicy": "PreemptLowerPriority",
        },
    ),
    "quota q --hard=pods=0,cpu=1": (
        "6b3873000a130a027631120d5265736f7572636551756f746112300a110a017112001a0022002a0032003800"
        "420012190a0a0a0363707512030a01310a0b0a04706f647312030a01301a001a002200",
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "q"},
            "spec": {"hard": {"cpu": "1", "pods": "0"}},
            "status": {},
        },
    ),
    "pdb pdb --selector=app=x --min-available=0": (
        "6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e42756467657412370a130a03"
        "70646212001a0022002a0032003800420012140a06080010001a00120a0a080a036170701201781a0a080018"
        "002000280030001a002200",
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "pdb"},
            "spec": {"minAvailable": 0, "selector": {"matchLabels": {"app": "x"}}},
            "status": {
                "disruptionsAllowed": 0,
                "currentHealthy": 0,
                "desiredHealthy": 0,
                "expectedPods": 0,
            },
        },
    ),
    "service clusterip svc --tcp=80:8080": (
        "6b3873000a0d0a02763112075365727669636512690a1f0a0373766312001a0022002a003200380042005a0a"
        "0a03617070120373766312420a1b0a0738302d38303830120354435018502207080010903f1a002800120a0a"
        "0361707012037376631a002209436c757374657249503a00420052005a00600068001a020a001a002200",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "svc", "labels": {"app": "svc"}},
            "spec": {
                "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                "selector": {"app": "svc"},
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        },
    ),
    "ingress ing --rule=foo.com/bar=svc1:8080": (
        "6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e6772657373124a0a130a0369"
        "6e6712001a0022002a00320038004200122f1a2d0a07666f6f2e636f6d12220a200a1e0a042f626172120f22"
        "0d0a047376633112050a0010903f1a0545786163741a020a001a002200",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "ing"},
            "spec": {
                "rules": [
                    {
                        "host": "foo.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/bar",
                                    "backend": {
                                        "service": {"name": "svc1", "port": {"number": 8080}}
                                    },
                                    "pathType": "Exact",
                                }
                            ]
                        },
                    }
                ]
            },
            "status": {"loadBalancer": {}},
        },
    ),
    "token sa --duration=10m": (
        "6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e5265717565"
        "7374121d0a100a0012001a0022002a00320038004200120320d8041a040a0012001a002200",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "metadata": {},
            "spec": {"expirationSeconds": 600},
            "status": {"token": ""},
        },
    ),
    "rolebinding rb --role=r --user=u": (
        "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b526f6c654269"
        "6e64696e6712620a120a02726212001a0022002a0032003800420012260a04557365721219726261632e6175"
        "74686f72697a6174696f6e2e6b38732e696f1a017522001a240a19726261632e617574686f72697a6174696f"
        "6e2e6b38732e696f1204526f6c651a01721a002200",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "rb"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "u"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        },
    ),
    "clusterrole cr --verb=get --non-resource-url=/x": (
        "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c75737465"
        "72526f6c65121f0a120a02637212001a0022002a0032003800420012090a036765742a022f781a002200",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "cr"},
            "rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}],
        },
    ),
    "auth can-i get pods": (
        "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a656374"
        "416363657373526576696577123c0a100a0012001a0022002a00320038004200121e0a1c0a0764656661756c"
        "7412036765741a0022002a04706f647332003a001a08080012001a0020001a002200",
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {},
            "spec": {
                "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}
            },
            "status": {"allowed": False},
        },
    ),
    "auth whoami": (
        "6b3873000a2d0a1861757468656e7469636174696f6e2e6b38732e696f2f7631121153656c665375626a6563"
        "74526576696577121a0a100a0012001a0022002a0032003800420012060a040a0012001a002200",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
            "metadata": {},
            "status": {"userInfo": {}},
        },
    ),
    "secret docker-registry d --docker-server=s --docker-username=u --docker-password=p": (
        "6b3873000a0c0a02763112065365637265741287010a110a016412001a0022002a0032003800420012520a11"
        "2e646f636b6572636f6e6669676a736f6e123d7b226175746873223a7b2273223a7b22757365726e616d6522"
        "3a2275222c2270617373776f7264223a2270222c2261757468223a2264547077227d7d7d1a1e6b756265726e"
        "657465732e696f2f646f636b6572636f6e6669676a736f6e1a002200",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "d"},
            "data": {
                ".dockerconfigjson": (
                    "eyJhdXRocyI6eyJzIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIs"
                    "ImF1dGgiOiJkVHB3In19fQ=="
                )
            },
            "type": "kubernetes.io/dockerconfigjson",
        },
    ),
}
# --- the independent encoder -------------------------------------------------------------------

_FDP = descriptor_pb2.FieldDescriptorProto
_SCALAR_TYPES = {
    "double": _FDP.TYPE_DOUBLE,
    "float": _FDP.TYPE_FLOAT,
    "int32": _FDP.TYPE_INT32,
    "int64": _FDP.TYPE_INT64,
    "uint32": _FDP.TYPE_UINT32,
    "uint64": _FDP.TYPE_UINT64,
    "sint32": _FDP.TYPE_SINT32,
    "sint64": _FDP.TYPE_SINT64,
    "fixed32": _FDP.TYPE_FIXED32,
    "fixed64": _FDP.TYPE_FIXED64,
    "sfixed32": _FDP.TYPE_SFIXED32,
    "sfixed64": _FDP.TYPE_SFIXED64,
    "bool": _FDP.TYPE_BOOL,
    "string": _FDP.TYPE_STRING,
    "bytes": _FDP.TYPE_BYTES,
}


def _set_type(field: descriptor_pb2.FieldDescriptorProto, type_name: str, deps: set[str]) -> None:
    if type_name in _SCALAR_TYPES:
        field.type = _SCALAR_TYPES[type_name]
    else:
        field.type = _FDP.TYPE_MESSAGE
        field.type_name = "." + type_name
        deps.add(type_name.rsplit(".", 1)[0])


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    """Every message of the field table as a proto2 descriptor, one file per package."""
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    deps: dict[str, set[str]] = defaultdict(set)
    for name, message in sorted(protobuf_fields().items()):
        package, short = name.rsplit(".", 1)
        if package not in files:
            files[package] = descriptor_pb2.FileDescriptorProto(
                name=package.replace(".", "/") + ".proto", package=package, syntax="proto2"
            )
        proto = files[package].message_type.add(name=short)
        for pf in sorted(message.fields.values(), key=lambda f: f.number):
            field = proto.field.add(name=pf.name, number=pf.number)
            if pf.map_key is not None and pf.map_value is not None:
                entry = proto.nested_type.add(name=pf.name[:1].upper() + pf.name[1:] + "Entry")
                entry.options.map_entry = True
                key = entry.field.add(name="key", number=1, label=_FDP.LABEL_OPTIONAL)
                _set_type(key, pf.map_key, deps[package])
                value = entry.field.add(name="value", number=2, label=_FDP.LABEL_OPTIONAL)
                _set_type(value, pf.map_value, deps[package])
                field.label = _FDP.LABEL_REPEATED
                field.type = _FDP.TYPE_MESSAGE
                field.type_name = f".{name}.{entry.name}"
            else:
                field.label = _FDP.LABEL_REPEATED if pf.repeated else _FDP.LABEL_OPTIONAL
                _set_type(field, pf.message or pf.type, deps[package])
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(package: str) -> None:
        if package in added:
            return
        added.add(package)
        for dep in sorted(deps[package] - {package}):
            add(dep)
            files[package].dependency.append(files[dep].name)
        pool.Add(files[package])

    for package in sorted(files):
        add(package)
    return pool


def build(message: str, fields: dict[str, Any]) -> Message:
    """A message of the independent encoder, filled from a dict of proto field names (bytes
    as base64, as protobuf's JSON mapping has them)."""
    cls = message_factory.GetMessageClass(_pool().FindMessageTypeByName(message))
    msg = cls()
    json_format.ParseDict(fields, msg)
    return msg


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """``k8s\\0`` + runtime.Unknown, with the empty contentEncoding/contentType kubectl sends."""
    unknown = build(
        "k8s.io.apimachinery.pkg.runtime.Unknown",
        {
            "typeMeta": {"apiVersion": api_version, "kind": kind},
            "raw": b64(raw),
            "contentEncoding": "",
            "contentType": "",
        },
    )
    return MAGIC + bytes(unknown.SerializeToString())


def encode(api_version: str, kind: str, message: str, fields: dict[str, Any]) -> bytes:
    return envelope(api_version, kind, build(message, fields).SerializeToString())


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, **GOGO_META_ZEROS, **extra}


def test_encoder_writes_explicit_zeros_like_gogo() -> None:
    """The premise of the pruning tests: explicitly set zeros reach the wire."""
    raw = build(CORE + "Secret", {"metadata": meta("s"), "type": ""}).SerializeToString()
    assert raw == bytes.fromhex("0a110a017312001a0022002a00320038004200") + b"\x1a\x00"


# --- kubectl's create commands, through the independent encoder --------------------------------


def test_secret_generic_prunes_gogo_zeros() -> None:
    body = encode(
        "v1",
        "Secret",
        CORE + "Secret",
        {"metadata": meta("s"), "data": {"a": b64(b"b")}, "type": ""},
    )
    assert decode_request(body) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"a": "Yg=="},
    }


def test_configmap_keeps_empty_values_and_binary_data() -> None:
    body = encode(
        "v1",
        "ConfigMap",
        CORE + "ConfigMap",
        {
            "metadata": meta("cm", namespace="team", labels={"a": ""}),
            "data": {"k": "v", "empty": ""},
            "binaryData": {"bin": b64(b"\x00\xff")},
        },
    )
    assert decode_request(body) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "team", "labels": {"a": ""}},
        "data": {"k": "v", "empty": ""},
        "binaryData": {"bin": "AP8="},
    }


def test_namespace_and_serviceaccount() -> None:
    namespace = encode(
        "v1",
        "Namespace",
        CORE + "Namespace",
        {"metadata": meta("x"), "spec": {}, "status": {"phase": ""}},
    )
    assert decode_request(namespace) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "x"},
        "spec": {},
        "status": {},
    }
    account = encode("v1", "ServiceAccount", CORE + "ServiceAccount", {"metadata": meta("sa")})
    assert decode_request(account) == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "sa"},
    }


def _deployment(replicas: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {**GOGO_META_ZEROS, "name": "", "labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx",
                        "workingDir": "",
                        "resources": {},
                        "terminationMessagePath": "",
                        "imagePullPolicy": "",
                        "stdin": False,
                        "stdinOnce": False,
                        "tty": False,
                    }
                ],
                "restartPolicy": "",
                "dnsPolicy": "",
                "serviceAccountName": "",
                "nodeName": "",
                "hostNetwork": False,
                "hostPID": False,
                "hostIPC": False,
                "schedulerName": "",
            },
        },
        "strategy": {"type": ""},
        "minReadySeconds": 0,
        "paused": False,
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "metadata": meta("web", labels={"app": "web"}),
        "spec": spec,
        "status": {"observedGeneration": 0, "replicas": 0, "readyReplicas": 0},
    }


def _expected_deployment(replicas: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {} if replicas is None else {"replicas": replicas}
    spec |= {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]},
        },
        "strategy": {},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": spec,
        "status": {},
    }


@pytest.mark.parametrize("replicas", [2, 0, None])
def test_deployment_keeps_pointer_zeros_and_drops_value_zeros(replicas: int | None) -> None:
    """``replicas`` is ``*int32``: present means set, so 0 survives; ``minReadySeconds`` and
    ``paused`` are plain values, and their zeros go so that defaults apply."""
    body = encode("apps/v1", "Deployment", "k8s.io.api.apps.v1.Deployment", _deployment(replicas))
    assert decode_request(body) == _expected_deployment(replicas)


def test_job_with_command() -> None:
    fields = {
        "metadata": meta("j"),
        "spec": {
            "template": {
                "metadata": dict(GOGO_META_ZEROS),
                "spec": {
                    "containers": [
                        {
                            "name": "j",
                            "image": "busybox",
                            "command": ["echo", "hi"],
                            "resources": {},
                        }
                    ],
                    "restartPolicy": "Never",
                },
            }
        },
        "status": {"active": 0, "succeeded": 0, "failed": 0},
    }
    assert decode_request(encode("batch/v1", "Job", "k8s.io.api.batch.v1.Job", fields)) == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "metadata": {},
                "spec": {
                    "containers": [
                        {
                            "name": "j",
                            "image": "busybox",
                            "command": ["echo", "hi"],
                            "resources": {},
                        }
                    ],
                    "restartPolicy": "Never",
                },
            }
        },
        "status": {},
    }


def test_pointer_false_and_empty_string_survive() -> None:
    pod = encode(
        "v1",
        "Pod",
        CORE + "Pod",
        {
            "metadata": meta("p"),
            "spec": {
                "containers": [{"name": "c", "image": "i"}],
                "automountServiceAccountToken": False,
                "hostNetwork": False,
                "enableServiceLinks": False,
            },
        },
    )
    assert decode_request(pod)["spec"] == {
        "containers": [{"name": "c", "image": "i"}],
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
    }
    claim = encode(
        "v1",
        "PersistentVolumeClaim",
        CORE + "PersistentVolumeClaim",
        {"metadata": meta("c"), "spec": {"storageClassName": "", "volumeName": ""}},
    )
    assert decode_request(claim)["spec"] == {"storageClassName": ""}


def test_required_zero_survives() -> None:
    body = encode(
        "scheduling.k8s.io/v1",
        "PriorityClass",
        "k8s.io.api.scheduling.v1.PriorityClass",
        {"metadata": meta("pc"), "value": 0, "globalDefault": False, "description": ""},
    )
    assert decode_request(body) == {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "pc"},
        "value": 0,
    }


# --- special types -----------------------------------------------------------------------------


def test_time_is_whole_seconds_and_zero_time_is_dropped() -> None:
    body = encode(
        "v1",
        "Secret",
        CORE + "Secret",
        {
            "metadata": meta(
                "s",
                creationTimestamp={"seconds": 1700000000, "nanos": 999},
                deletionTimestamp={"seconds": 0, "nanos": 0},
            )
        },
    )
    assert decode_request(body)["metadata"] == {
        "name": "s",
        "creationTimestamp": "2023-11-14T22:13:20Z",
    }


def test_time_before_the_epoch() -> None:
    body = encode(
        "v1",
        "Secret",
        CORE + "Secret",
        {"metadata": {"name": "s", "creationTimestamp": {"seconds": -86400}}},
    )
    assert decode_request(body)["metadata"]["creationTimestamp"] == "1969-12-31T00:00:00Z"


def test_micro_time_keeps_microseconds() -> None:
    body = encode(
        "events.k8s.io/v1",
        "Event",
        "k8s.io.api.events.v1.Event",
        {
            "metadata": meta("e"),
            "eventTime": {"seconds": 1700000000, "nanos": 123456789},
            "reportingController": "c",
            "reportingInstance": "i",
            "action": "A",
            "reason": "R",
            "type": "Normal",
        },
    )
    assert decode_request(body)["eventTime"] == "2023-11-14T22:13:20.123456Z"


def test_int_or_string_quantity_and_map_of_quantities() -> None:
    body = encode(
        "v1",
        "Pod",
        CORE + "Pod",
        {
            "metadata": meta("p"),
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "resources": {"limits": {"cpu": {"string": "500m"}, "memory": {}}},
                        "readinessProbe": {
                            "handler": {
                                "httpGet": {"path": "/", "port": {"type": 1, "strVal": "http"}}
                            },
                            "timeoutSeconds": 0,
                        },
                        "livenessProbe": {
                            "handler": {"tcpSocket": {"port": {"type": 0, "intVal": 8080}}}
                        },
                    }
                ]
            },
        },
    )
    container = decode_request(body)["spec"]["containers"][0]
    assert container == {
        "name": "c",
        "resources": {"limits": {"cpu": "500m", "memory": "0"}},
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
        "livenessProbe": {"tcpSocket": {"port": 8080}},
    }


def test_int_or_string_zero_is_an_int_zero() -> None:
    body = encode(
        "policy/v1",
        "PodDisruptionBudget",
        "k8s.io.api.policy.v1.PodDisruptionBudget",
        {
            "metadata": meta("pdb"),
            "spec": {"minAvailable": {}, "maxUnavailable": {"type": 1, "strVal": "50%"}},
        },
    )
    assert decode_request(body)["spec"] == {"minAvailable": 0, "maxUnavailable": "50%"}


def test_raw_extension_is_parsed_json() -> None:
    body = encode(
        "apps/v1",
        "ControllerRevision",
        "k8s.io.api.apps.v1.ControllerRevision",
        {"metadata": meta("r"), "data": {"raw": b64(b'{"spec":{"replicas":3}}')}, "revision": 2},
    )
    assert decode_request(body) == {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "r"},
        "data": {"spec": {"replicas": 3}},
        "revision": 2,
    }


def test_raw_extension_holding_a_protobuf_object_is_decoded() -> None:
    inner = encode("v1", "Secret", CORE + "Secret", {"metadata": meta("s"), "type": "Opaque"})
    body = encode(
        "apps/v1",
        "ControllerRevision",
        "k8s.io.api.apps.v1.ControllerRevision",
        {"metadata": meta("r"), "data": {"raw": b64(inner)}},
    )
    assert decode_request(body)["data"] == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "type": "Opaque",
    }


def test_unset_raw_extension_is_dropped() -> None:
    body = encode(
        "apps/v1",
        "ControllerRevision",
        "k8s.io.api.apps.v1.ControllerRevision",
        {"metadata": meta("r"), "data": {}, "revision": 0},
    )
    assert decode_request(body) == {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "r"},
        "revision": 0,
    }


def test_managed_fields_with_fields_v1() -> None:
    body = encode(
        "v1",
        "ConfigMap",
        CORE + "ConfigMap",
        {
            "metadata": meta(
                "cm",
                managedFields=[
                    {
                        "manager": "kubectl",
                        "operation": "Update",
                        "apiVersion": "v1",
                        "time": {"seconds": 1700000000},
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"Raw": b64(b'{"f:data":{".":{},"f:k":{}}}')},
                        "subresource": "",
                    }
                ],
            ),
        },
    )
    assert decode_request(body)["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2023-11-14T22:13:20Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:k": {}}},
        }
    ]


def test_extra_values_become_lists_and_bytes_become_base64() -> None:
    review = encode(
        "authorization.k8s.io/v1",
        "SubjectAccessReview",
        "k8s.io.api.authorization.v1.SubjectAccessReview",
        {"metadata": meta(""), "spec": {"user": "u", "extra": {"scopes": {"items": ["a", "b"]}}}},
    )
    assert decode_request(review)["spec"] == {"user": "u", "extra": {"scopes": ["a", "b"]}}
    csr = encode(
        "certificates.k8s.io/v1",
        "CertificateSigningRequest",
        "k8s.io.api.certificates.v1.CertificateSigningRequest",
        {"metadata": meta("c"), "spec": {"request": b64(b"PEM"), "signerName": "x/y"}},
    )
    assert decode_request(csr)["spec"] == {"request": "UEVN", "signerName": "x/y"}


def test_go_duration_matches_time_duration_string() -> None:
    cases = {
        0: "0s",
        1: "1ns",
        1_500: "1.5\u00b5s",
        1_500_000: "1.5ms",
        1_500_000_000: "1.5s",
        60_000_000_000: "1m0s",
        90_000_000_000: "1m30s",
        3_600_000_000_000: "1h0m0s",
        3_723_500_000_000: "1h2m3.5s",
        -1_500_000_000: "-1.5s",
    }
    assert {n: go_duration(n) for n in cases} == cases


# --- names: embedded structs and proto names that differ from JSON ----------------------------


def test_embedded_structs_are_inlined() -> None:
    body = encode(
        "v1",
        "Pod",
        CORE + "Pod",
        {
            "metadata": meta("p"),
            "spec": {
                "volumes": [{"name": "scratch", "volumeSource": {"emptyDir": {}}}],
                "containers": [
                    {
                        "name": "c",
                        "env": [
                            {
                                "name": "E",
                                "valueFrom": {
                                    "configMapKeyRef": {
                                        "localObjectReference": {"name": "cm"},
                                        "key": "k",
                                    }
                                },
                            }
                        ],
                        "envFrom": [{"secretRef": {"localObjectReference": {"name": "s"}}}],
                    }
                ],
                "ephemeralContainers": [
                    {
                        "ephemeralContainerCommon": {"name": "debug", "image": "busybox"},
                        "targetContainerName": "c",
                    }
                ],
            },
        },
    )
    spec = decode_request(body)["spec"]
    assert spec == {
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "containers": [
            {
                "name": "c",
                "env": [
                    {"name": "E", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}
                ],
                "envFrom": [{"secretRef": {"name": "s"}}],
            }
        ],
        "ephemeralContainers": [{"name": "debug", "image": "busybox", "targetContainerName": "c"}],
    }


def test_proto_names_that_differ_from_json_names() -> None:
    webhooks = encode(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "k8s.io.api.admissionregistration.v1.ValidatingWebhookConfiguration",
        {
            "metadata": meta("w"),
            "Webhooks": [
                {
                    "name": "w.example.com",
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "clientConfig": {"url": "https://x"},
                    "rules": [
                        {
                            "operations": ["CREATE"],
                            "rule": {
                                "apiGroups": [""],
                                "apiVersions": ["v1"],
                                "resources": ["pods"],
                            },
                        }
                    ],
                }
            ],
        },
    )
    assert decode_request(webhooks)["webhooks"] == [
        {
            "name": "w.example.com",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"url": "https://x"},
            "rules": [
                {
                    "operations": ["CREATE"],
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "resources": ["pods"],
                }
            ],
        }
    ]
    token = encode(
        "authentication.k8s.io/v1",
        "TokenRequest",
        "k8s.io.api.authentication.v1.TokenRequest",
        {
            "metadata": meta(""),
            "spec": {
                "audiences": ["a"],
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uID": "1234"},
            },
        },
    )
    assert decode_request(token)["spec"]["boundObjectRef"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "name": "p",
        "uid": "1234",
    }
    ingress_class = encode(
        "networking.k8s.io/v1",
        "IngressClass",
        "k8s.io.api.networking.v1.IngressClass",
        {
            "metadata": meta("ic"),
            "spec": {"controller": "c", "parameters": {"aPIGroup": "", "kind": "K", "name": "n"}},
        },
    )
    assert decode_request(ingress_class)["spec"]["parameters"] == {
        "apiGroup": "",
        "kind": "K",
        "name": "n",
    }


def test_description_is_kept_even_though_the_schema_lacks_it() -> None:
    body = encode(
        "scheduling.k8s.io/v1",
        "PriorityClass",
        "k8s.io.api.scheduling.v1.PriorityClass",
        {"metadata": meta("pc"), "value": 10, "description": "high"},
    )
    assert decode_request(body)["description"] == "high"


# --- wire-format corners -----------------------------------------------------------------------


def test_packed_and_unpacked_repeated_integers() -> None:
    context = build(
        CORE + "PodSecurityContext", {"supplementalGroups": [1, 2, 300], "runAsUser": 0}
    ).SerializeToString()
    # supplementalGroups = 4: the same list packed (wire type 2), appended to the unpacked one.
    packed = bytes([4 << 3 | 2, 4, 7, 8, 0xAC, 0x02])
    raw = build(CORE + "PodSpec", {"containers": [{"name": "c"}]}).SerializeToString()
    raw += bytes([14 << 3 | 2, len(context) + len(packed)]) + context + packed
    spec = decode_message(CORE + "PodSpec", raw)
    assert spec["securityContext"] == {"supplementalGroups": [1, 2, 300, 7, 8, 300], "runAsUser": 0}


def test_negative_integers_use_ten_byte_varints() -> None:
    body = encode(
        "apps/v1",
        "Deployment",
        "k8s.io.api.apps.v1.Deployment",
        {
            "metadata": meta("d"),
            "spec": {
                "replicas": -1,
                "template": {"spec": {"terminationGracePeriodSeconds": -9223372036854775808}},
            },
        },
    )
    spec = decode_request(body)["spec"]
    assert spec["replicas"] == -1
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == -(2**63)


def test_unknown_fields_are_skipped() -> None:
    raw = build(CORE + "Secret", {"metadata": {"name": "s"}, "type": "Opaque"}).SerializeToString()
    # Fields 99 (varint), 100 (length-delimited), 101 (64-bit) and 102 (32-bit): not in 1.32.
    raw += bytes([0x98, 0x06, 0x01, 0xA2, 0x06, 0x02, 0x61, 0x62, 0xA9, 0x06])
    raw += bytes(8) + bytes([0xB5, 0x06]) + bytes(4)
    assert decode_request(envelope("v1", "Secret", raw)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "type": "Opaque",
    }


def test_repeated_singular_message_is_merged_and_scalar_last_wins() -> None:
    first = build(CORE + "Secret", {"metadata": {"name": "s"}, "type": "A"})
    second = build(CORE + "Secret", {"metadata": {"labels": {"l": "v"}}, "type": "B"})
    raw = first.SerializeToString() + second.SerializeToString()
    assert decode_request(envelope("v1", "Secret", raw)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "labels": {"l": "v"}},
        "type": "B",
    }
    # A later zero of a plain field unsets it, as it would in Go.
    raw = first.SerializeToString() + build(CORE + "Secret", {"type": ""}).SerializeToString()
    assert "type" not in decode_request(envelope("v1", "Secret", raw))


def test_map_entries_missing_key_or_value_get_zeros() -> None:
    # data = 2: one entry with only a key, one with only a value.
    raw = bytes([0x12, 0x03, 0x0A, 0x01, 0x6B, 0x12, 0x03, 0x12, 0x01, 0x76])
    assert decode_message(CORE + "ConfigMap", raw) == {"data": {"k": "", "": "v"}}


def test_invalid_utf8_becomes_replacement_characters() -> None:
    raw = bytes([0x0A, 0x04, 0x0A, 0x02, 0x61, 0xFF])  # metadata.name = b"a\xff"
    assert decode_message(CORE + "Secret", raw) == {"metadata": {"name": "a\ufffd"}}


def test_big_configmap_decodes() -> None:
    data = {f"key-{i}": "x" * 1000 for i in range(1000)}
    body = encode("v1", "ConfigMap", CORE + "ConfigMap", {"metadata": meta("big"), "data": data})
    assert decode_request(body)["data"] == data


def test_every_served_kind_decodes_an_empty_object() -> None:
    """Every plan compiles: each built-in kind with a protobuf form decodes ``raw`` = b""."""
    count = 0
    for gvk, definition in schema().by_gvk.items():
        if protobuf_message_for(definition.name) is None:
            continue
        decoded = decode_request(envelope(gvk.api_version, gvk.kind, b""))
        assert decoded == {"apiVersion": gvk.api_version, "kind": gvk.kind}
        count += 1
    assert count > 100


def _fill_one_level(message: Message) -> None:
    for field in message.DESCRIPTOR.fields:
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            entry = getattr(message, field.name)
            value_type = field.message_type.fields_by_name["value"]
            if value_type.message_type is not None:
                entry["k"].SetInParent()
        elif field.is_repeated:
            getattr(message, field.name).add()
        else:
            getattr(message, field.name).SetInParent()


def test_every_message_and_its_fields_compile() -> None:
    """Each message of the table, with every message field present once, decodes."""
    specials = {"Time", "MicroTime", "Quantity", "QuantityValue", "IntOrString", "RawExtension"}
    specials |= {"FieldsV1", "Duration", "Verbs", "ExtraValue"}
    decoded = 0
    for name in protobuf_fields():
        if name.rsplit(".", 1)[1] in specials:
            continue
        msg = build(name, {})
        _fill_one_level(msg)
        assert isinstance(decode_message(name, msg.SerializeToString()), dict)
        decoded += 1
    assert decoded > 1000


def test_decode_message_rejects_unknown_and_scalar_messages() -> None:
    with pytest.raises(BadRequest, match="unknown protobuf message"):
        decode_message("k8s.io.api.core.v1.Nope", b"")
    with pytest.raises(BadRequest, match="has no object form"):
        decode_message(META + "Time", b"")


# --- malformed input ---------------------------------------------------------------------------


def _typed(raw: bytes, kind: str = "Secret", api_version: str = "v1") -> bytes:
    return envelope(api_version, kind, raw)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty data"),
        (b'{"kind":"Secret"}', r"does not appear to be a protobuf message, .*\[107 56 115 0\]"),
        (MAGIC, "empty body"),
        (MAGIC + b"\x0a", "truncated varint"),
        (MAGIC + b"\x0a\x05ab", "length 5 runs past the end"),
        (MAGIC + b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "longer than 10 bytes"),
        (MAGIC + b"\x08\x01", "runtime.Unknown field 1 has wire type 0, expected 2"),
        (MAGIC + b"\x4b", r"field 9 has unsupported wire type 3 \(start-group\)"),
        (MAGIC + b"\x00", "illegal field number 0"),
        (_typed(b"", kind=""), "Object 'Kind' is missing in 'runtime.TypeMeta"),
        (_typed(b"", api_version=""), "Object 'apiVersion' is missing"),
        (_typed(b"", kind="Nope"), 'no kind "Nope" is registered for version "v1"'),
        (_typed(b"", api_version="example.com/v1", kind="Widget"), 'no kind "Widget"'),
        (
            _typed(b"\x08\x01"),
            r"k8s.io.api.core.v1.Secret: field 1 has wire type 0 \(varint\), expected 2 "
            r"\(length-delimited\) \(in metadata\)",
        ),
        (_typed(b"\x0a\x03\x0a\x05a"), r"length 5 runs past .* \(in metadata.name\)"),
        (_typed(b"\x0a\x02\x38\x80"), r"truncated varint \(in metadata.generation\)"),
        (_typed(b"\x1a\x01"), "length 1 runs past"),
        (_typed(b"\x12\x02\x08\x01"), "map key has wire type 0, expected 2"),
        (_typed(b"\x9d\x06\x00\x00"), "truncated 32-bit value of field 99"),
    ],
)
def test_malformed_bodies_are_bad_requests(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message) as info:
        decode_request(body)
    assert info.value.to_status()["code"] == 400


def test_bad_special_values_are_bad_requests() -> None:
    bad_json = encode(
        "apps/v1",
        "ControllerRevision",
        "k8s.io.api.apps.v1.ControllerRevision",
        {"metadata": meta("r"), "data": {"raw": b64(b"{not json")}},
    )
    with pytest.raises(BadRequest, match=r"not valid JSON: .*\(in data\)"):
        decode_request(bad_json)
    bad_int_or_string = encode(
        "policy/v1",
        "PodDisruptionBudget",
        "k8s.io.api.policy.v1.PodDisruptionBudget",
        {"metadata": meta("p"), "spec": {"minAvailable": {"type": 7}}},
    )
    with pytest.raises(BadRequest, match=r"IntOrString: invalid type 7 .*\(in spec.minAvailable\)"):
        decode_request(bad_int_or_string)
    far_future = encode(
        "v1",
        "Secret",
        CORE + "Secret",
        {"metadata": {"name": "s", "creationTimestamp": {"seconds": 2**62}}},
    )
    with pytest.raises(BadRequest, match="out of range"):
        decode_request(far_future)


def test_nested_objects_are_bounded() -> None:
    body = encode("v1", "Secret", CORE + "Secret", {"metadata": {"name": "s"}})
    for _ in range(20):
        body = encode(
            "apps/v1",
            "ControllerRevision",
            "k8s.io.api.apps.v1.ControllerRevision",
            {"data": {"raw": b64(body)}},
        )
    with pytest.raises(BadRequest, match="nested more than 16 deep"):
        decode_request(body)


def _decodes_or_bad_request(body: bytes) -> None:
    try:
        result = decode_request(body)
    except BadRequest:
        return
    assert isinstance(result, dict)
    json.dumps(result)  # JSON-ready


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_other_errors(tail: bytes) -> None:
    _decodes_or_bad_request(MAGIC + tail)
    _decodes_or_bad_request(_typed(tail))
    _decodes_or_bad_request(_typed(tail, "Deployment", "apps/v1"))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(REAL_BODIES)), st.data())
def test_corrupted_real_bodies_never_escape_as_other_errors(name: str, data: st.DataObject) -> None:
    body = bytearray(bytes.fromhex(REAL_BODIES[name][0]))
    cut = data.draw(st.integers(0, len(body)))
    _decodes_or_bad_request(bytes(body[:cut]))
    where = data.draw(st.integers(len(MAGIC), len(body) - 1))
    body[where] = data.draw(st.integers(0, 255))
    _decodes_or_bad_request(bytes(body))


# --- real kubectl bodies -----------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(REAL_BODIES))
def test_real_kubectl_bodies(command: str) -> None:
    body, expected = REAL_BODIES[command]
    assert decode_request(bytes.fromhex(body)) == expected


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


class _CaptureHandler(BaseHTTPRequestHandler):
    """Answers kubectl's /version probe with 404 and records every POST body."""

    bodies: list[tuple[str, bytes]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, code: int) -> None:
        payload = b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"}'
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._reply(404)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.bodies.append((self.headers.get("Content-Type", ""), body))
        self._reply(201)


@pytest.fixture
def capture_server() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    bodies: list[tuple[str, bytes]] = []
    handler = type("Handler", (_CaptureHandler,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


LIVE_COMMANDS = [
    ["secret", "generic", "s", "--from-literal=a=b", "--from-literal=empty="],
    ["configmap", "cm", "--from-literal=k=v"],
    ["deployment", "web", "--image=nginx", "--replicas=0", "--port=80"],
    ["job", "j", "--image=busybox", "--", "echo", "hi"],
]


def test_live_kubectl_capture(
    capture_server: tuple[str, list[tuple[str, bytes]]], tmp_path: Path
) -> None:
    """The kubectl on PATH sends protobuf; each body decodes to its --dry-run=client JSON."""
    url, bodies = capture_server
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "none")}
    for args in LIVE_COMMANDS:
        kubectl = ["kubectl", f"--server={url}", "create", *args]
        subprocess.run(kubectl, env=env, check=True, capture_output=True, timeout=60)
        dry_run = ["kubectl", "create", "--dry-run=client", "-o", "json", *args]
        shown = subprocess.run(dry_run, env=env, check=True, capture_output=True, timeout=60)
        content_type, body = bodies.pop()
        assert content_type == "application/vnd.kubernetes.protobuf"
        assert decode_request(body) == _without_nulls(json.loads(shown.stdout))
