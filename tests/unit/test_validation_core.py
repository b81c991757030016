"""Semantic validation of core-group objects, with kube-apiserver 1.32's paths and messages.

Each case mutates a valid, defaulted object and lists every error upstream reports, verbatim.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kybernetes.api.defaults import (
    apply_defaults,
    normalize_cluster_ips,
    prepare_namespace_for_create,
)
from kybernetes.api.errors import ErrorType
from kybernetes.api.validation.semantic import invalid, validate_object

Obj = dict[str, Any]
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def errors(group: str, kind: str, obj: Obj, old: Obj | None = None) -> list[str]:
    """Default like the decoder does, then validate; the errors as upstream prints them."""
    version = obj["apiVersion"].rpartition("/")[2]
    apply_defaults(group, version, kind, obj)
    if old is not None:
        apply_defaults(group, version, kind, old)
    return [str(e) for e in validate_object(group, kind, obj, old)]


def pod(**spec: Any) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
    }
    obj["spec"].update(spec)
    return obj


def container(**fields: Any) -> Obj:
    return {"name": "app", "image": "nginx:1.27", **fields}


# --- object metadata -----------------------------------------------------------------------


def _set_meta(**fields: Any) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        obj["metadata"].update(fields)

    return mutate


META_CASES = [
    pytest.param(
        _set_meta(name="Bad_Name"),
        [f'metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN_MSG}'],
        id="name-not-subdomain",
    ),
    pytest.param(
        _set_meta(name=""),
        ["metadata.name: Required value: name or generateName is required"],
        id="name-missing",
    ),
    pytest.param(
        _set_meta(namespace=""), ["metadata.namespace: Required value"], id="namespace-missing"
    ),
    pytest.param(
        _set_meta(namespace="Prod"),
        [f'metadata.namespace: Invalid value: "Prod": {LABEL_MSG}'],
        id="namespace-not-label",
    ),
    pytest.param(
        _set_meta(labels={"app": "a b"}),
        [
            'metadata.labels: Invalid value: "a b": a valid label must be an empty string or '
            "consist "
            "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
            "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        ],
        id="label-value",
    ),
    pytest.param(
        _set_meta(annotations={"big": "x" * (256 * 1024)}),
        ["metadata.annotations: Too long: may not be more than 262144 bytes"],
        id="annotations-too-big",
    ),
    pytest.param(
        _set_meta(finalizers=["my-finalizer"]),
        [
            'metadata.finalizers[0]: Invalid value: "my-finalizer": name is neither a standard '
            "finalizer name nor is it fully qualified"
        ],
        id="unqualified-finalizer",
    ),
    pytest.param(
        _set_meta(finalizers=["orphan", "foregroundDeletion"]),
        [
            'metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: '
            "finalizer orphan and foregroundDeletion cannot be both set"
        ],
        id="conflicting-finalizers",
    ),
    pytest.param(
        _set_meta(
            ownerReferences=[
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": ""}
            ]
        ),
        ['metadata.ownerReferences.uid: Invalid value: "": must not be empty'],
        id="owner-without-uid",
    ),
    pytest.param(
        _set_meta(
            ownerReferences=[
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "a",
                    "uid": "1",
                    "controller": True,
                },
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "b",
                    "uid": "2",
                    "controller": True,
                },
            ]
        ),
        None,
        id="two-controllers",
    ),
    pytest.param(
        _set_meta(generation=-1),
        ["metadata.generation: Invalid value: -1: must be greater than or equal to 0"],
        id="generation",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), META_CASES)
def test_object_meta(mutate: Callable[[Obj], None], expected: list[str] | None) -> None:
    obj = pod()
    mutate(obj)
    got = errors("", "Pod", obj)
    if expected is None:
        assert len(got) == 1
        assert "Only one reference can have Controller set to true." in got[0]
        assert got[0].endswith('Found "true" in references for ReplicaSet/a and ReplicaSet/b')
    else:
        assert got == expected


def test_generate_name_is_checked_as_a_prefix() -> None:
    obj = pod()
    obj["metadata"]["generateName"] = "web-"
    assert errors("", "Pod", obj) == []
    obj["metadata"]["generateName"] = "Web-"
    assert errors("", "Pod", obj)[0].startswith('metadata.generateName: Invalid value: "Web-"')


def test_meta_update_rules() -> None:
    old = pod()
    old["metadata"].update(uid="u1", resourceVersion="5", generation=3)
    new = copy.deepcopy(old)
    new["metadata"].update(name="other", generation=2)
    del new["metadata"]["resourceVersion"]
    assert errors("", "Pod", new, old) == [
        'metadata.resourceVersion: Invalid value: "": must be specified for an update',
        "metadata.generation: Invalid value: 2: must not be decremented",
        'metadata.name: Invalid value: "other": field is immutable',
    ]


def test_no_new_finalizers_while_deleting() -> None:
    old = pod()
    old["metadata"].update(resourceVersion="5", deletionTimestamp="2024-01-01T00:00:00Z")
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = ["example.com/x"]
    assert errors("", "Pod", new, old) == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being "
        'deleted, found new finalizers []string{"example.com/x"}'
    ]


# --- pods ----------------------------------------------------------------------------------

POD_CASES = [
    pytest.param(pod(containers=[]), ["spec.containers: Required value"], id="no-containers"),
    pytest.param(
        pod(containers=[{"name": "", "image": ""}]),
        ["spec.containers[0].name: Required value", "spec.containers[0].image: Required value"],
        id="container-name-and-image-required",
    ),
    pytest.param(
        pod(containers=[container(name="App_1")]),
        [f'spec.containers[0].name: Invalid value: "App_1": {LABEL_MSG}'],
        id="container-name-label",
    ),
    pytest.param(
        pod(containers=[container(), container()], initContainers=[container()]),
        [
            'spec.containers[1].name: Duplicate value: "app"',
            'spec.initContainers[0].name: Duplicate value: "app"',
        ],
        id="duplicate-container-names",
    ),
    pytest.param(
        pod(
            containers=[
                container(
                    ports=[
                        {"containerPort": 0},
                        {"containerPort": 70000, "name": "web-http-and-more", "protocol": "ICMP"},
                    ]
                )
            ]
        ),
        [
            "spec.containers[0].ports[0].containerPort: Required value",
            'spec.containers[0].ports[1].name: Invalid value: "web-http-and-more": must be no '
            "more than 15 characters",
            "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 "
            "and 65535, inclusive",
            'spec.containers[0].ports[1].protocol: Unsupported value: "ICMP": supported values: '
            '"SCTP", "TCP", "UDP"',
        ],
        id="container-ports",
    ),
    pytest.param(
        pod(
            containers=[
                container(
                    ports=[
                        {"containerPort": 80, "name": "http"},
                        {"containerPort": 81, "name": "http"},
                    ]
                )
            ]
        ),
        ['spec.containers[0].ports[1].name: Duplicate value: "http"'],
        id="duplicate-port-names",
    ),
    pytest.param(
        pod(
            containers=[
                container(ports=[{"containerPort": 80, "hostPort": 8080}]),
                container(name="b", ports=[{"containerPort": 81, "hostPort": 8080}]),
            ]
        ),
        ['spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"'],
        id="host-port-conflict",
    ),
    pytest.param(
        pod(
            containers=[
                container(
                    env=[
                        {"name": ""},
                        {"name": "A=B"},
                        {
                            "name": "X",
                            "value": "1",
                            "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
                        },
                    ]
                )
            ]
        ),
        [
            "spec.containers[0].env[0].name: Required value",
            'spec.containers[0].env[1].name: Invalid value: "A=B": a valid environment variable '
            "name must consist only of printable ASCII characters other than '='",
            'spec.containers[0].env[2].valueFrom: Invalid value: "": may not be specified when '
            "`value` is not empty",
        ],
        id="env",
    ),
    pytest.param(
        pod(
            containers=[
                container(env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "spec.foo"}}}])
            ]
        ),
        [
            'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: "spec.foo": '
            "error converting fieldPath: field label not supported: spec.foo"
        ],
        id="env-field-ref",
    ),
    pytest.param(
        pod(containers=[container(envFrom=[{}])]),
        [
            'spec.containers[0].envFrom: Invalid value: "": must specify one of: `configMapRef` '
            "or `secretRef`"
        ],
        id="env-from",
    ),
    pytest.param(
        pod(
            containers=[
                container(
                    volumeMounts=[
                        {"name": "data", "mountPath": "/data"},
                        {"name": "data", "mountPath": "/data"},
                    ]
                )
            ]
        ),
        [
            'spec.containers[0].volumeMounts[0].name: Not found: "data"',
            'spec.containers[0].volumeMounts[1].name: Not found: "data"',
            'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data": must be unique',
        ],
        id="mount-without-volume",
    ),
    pytest.param(
        pod(
            volumes=[
                {"name": "a", "emptyDir": {}},
                {"name": "a", "emptyDir": {}},
                {"name": "B", "emptyDir": {}},
            ]
        ),
        [
            'spec.volumes[1].name: Duplicate value: "a"',
            f'spec.volumes[2].name: Invalid value: "B": {LABEL_MSG}',
        ],
        id="volume-names",
    ),
    pytest.param(
        pod(
            volumes=[
                {"name": "a", "emptyDir": {}, "hostPath": {"path": "/x"}},
                {"name": "b", "secret": {"defaultMode": 0o1000}},
            ]
        ),
        [
            "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
            "spec.volumes[1].secret.secretName: Required value",
            "spec.volumes[1].secret.defaultMode: Invalid value: 512: must be a number between 0 "
            "and 0777 (octal), both inclusive",
        ],
        id="volume-sources",
    ),
    pytest.param(
        pod(
            volumes=[
                {"name": "a", "configMap": {"name": "c", "items": [{"key": "k", "path": "../x"}]}}
            ]
        ),
        ["spec.volumes[0].configMap.items[0].path: Invalid value: \"../x\": must not contain '..'"],
        id="key-to-path-backsteps",
    ),
    pytest.param(
        pod(
            containers=[
                container(
                    resources={
                        "requests": {"cpu": "2", "memory": "1Gi"},
                        "limits": {"cpu": "1", "memory": "1Gi"},
                    }
                )
            ]
        ),
        [
            'spec.containers[0].resources.requests: Invalid value: "2": must be less than or '
            "equal to cpu limit of 1"
        ],
        id="requests-over-limits",
    ),
    pytest.param(
        pod(containers=[container(resources={"limits": {"gpu": "1", "example.com/foo": "1.5"}})]),
        [
            'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard '
            "resource type or fully qualified",
            'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard '
            "resource for containers",
            "spec.containers[0].resources.limits[example.com/foo]: Invalid value: "
            "resource.Quantity{i:resource.int64Amount{value:15, scale:-1}, "
            'd:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"", Format:"DecimalSI"}: must be an '
            "integer",
            'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard '
            "resource type or fully qualified",
            'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard '
            "resource for containers",
            "spec.containers[0].resources.requests[example.com/foo]: Invalid value: "
            "resource.Quantity{i:resource.int64Amount{value:15, scale:-1}, "
            'd:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"", Format:"DecimalSI"}: must be an '
            "integer",
        ],
        id="resource-names",
    ),
    pytest.param(
        pod(
            containers=[
                container(
                    livenessProbe={
                        "exec": {"command": ["true"]},
                        "tcpSocket": {"port": 80},
                        "successThreshold": 2,
                    },
                    readinessProbe={},
                )
            ]
        ),
        [
            "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 "
            "handler type",
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            "spec.containers[0].readinessProbe: Required value: must specify a handler type",
        ],
        id="probes",
    ),
    pytest.param(
        pod(containers=[container(readinessProbe={"httpGet": {"port": "HTTP"}})]),
        [
            'spec.containers[0].readinessProbe.httpGet.port: Invalid value: "HTTP": must contain '
            "only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            'spec.containers[0].readinessProbe.httpGet.port: Invalid value: "HTTP": must contain '
            "at least one letter (a-z)",
        ],
        id="probe-port-name",
    ),
    pytest.param(
        pod(containers=[container(lifecycle={"preStop": {"sleep": {"seconds": 60}}})]),
        [
            "spec.containers[0].lifecycle.preStop.sleep: Invalid value: 60: must be greater than "
            "0 and less than terminationGracePeriodSeconds (30). Enable "
            "AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep."
        ],
        id="sleep-longer-than-grace",
    ),
    pytest.param(
        pod(
            initContainers=[
                container(
                    name="init",
                    restartPolicy="OnFailure",
                    readinessProbe={"exec": {"command": ["true"]}},
                )
            ]
        ),
        [
            'spec.initContainers[0].restartPolicy: Unsupported value: "OnFailure": supported '
            'values: "Always"',
            "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers "
            "without restartPolicy=Always",
        ],
        id="init-container-rules",
    ),
    pytest.param(
        pod(containers=[container(restartPolicy="Always")]),
        ["spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"],
        id="restart-policy-on-regular-container",
    ),
    pytest.param(
        pod(restartPolicy="Sometimes", dnsPolicy="Cluster"),
        [
            'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
            '"OnFailure", "Never"',
            'spec.dnsPolicy: Unsupported value: "Cluster": supported values: '
            '"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
        ],
        id="pod-policies",
    ),
    pytest.param(
        pod(dnsPolicy="None"),
        ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"],
        id="dns-none-without-config",
    ),
    pytest.param(
        pod(dnsConfig={"nameservers": ["1.1.1.1", "8.8.8.8", "9.9.9.9", "not-an-ip"]}),
        [
            'spec.dnsConfig.nameservers: Invalid value: []string{"1.1.1.1", "8.8.8.8", "9.9.9.9", '
            '"not-an-ip"}: must not have more than 3 nameservers',
            'spec.dnsConfig.nameservers[3]: Invalid value: "not-an-ip": must be a valid IP '
            "address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ],
        id="dns-config",
    ),
    pytest.param(
        pod(
            tolerations=[
                {"operator": "Equal", "value": "x"},
                {"key": "k", "operator": "Exists", "value": "v", "effect": "NoRun"},
            ]
        ),
        [
            'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when '
            '`key` is empty, which means "match all values and all keys"',
            'spec.tolerations[1].operator: Invalid value: "v": value must be empty when '
            "`operator` is 'Exists'",
            'spec.tolerations[1].effect: Unsupported value: "NoRun": supported values: '
            '"NoSchedule", "PreferNoSchedule", "NoExecute"',
        ],
        id="tolerations",
    ),
    pytest.param(
        pod(
            affinity={
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"a": "b"}}}
                    ]
                }
            }
        ),
        [
            "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topol"
            "ogyKey: Required value: can not be empty",
            "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topol"
            'ogyKey: Invalid value: "": name part must be non-empty',
            "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topol"
            "ogyKey: Invalid value: \"\": name part must consist of alphanumeric characters, '-', "
            "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  "
            "or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ],
        id="anti-affinity-topology-key",
    ),
    pytest.param(
        pod(nodeName="Node_1", activeDeadlineSeconds=0, hostname="web.1"),
        [
            f'spec.nodeName: Invalid value: "Node_1": {SUBDOMAIN_MSG}',
            "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, "
            "inclusive",
            'spec.hostname: Invalid value: "web.1": must not contain dots',
        ],
        id="scalar-fields",
    ),
    pytest.param(
        pod(securityContext={"runAsUser": -1, "sysctls": [{"name": "Net.X"}]}),
        [
            "spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, "
            "inclusive",
            'spec.securityContext.sysctls[0].name: Invalid value: "Net.X": must have at most 253 '
            "characters and match regex "
            "^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
        ],
        id="pod-security-context",
    ),
    pytest.param(
        pod(containers=[container(image=" nginx ")]),
        [
            'spec.containers[0].image: Invalid value: " nginx ": must not have leading or '
            "trailing whitespace"
        ],
        id="image-whitespace",
    ),
    pytest.param(
        pod(ephemeralContainers=[{"name": "debug", "image": "busybox"}]),
        ["spec.ephemeralContainers: Forbidden: cannot be set on create"],
        id="ephemeral-on-create",
    ),
    pytest.param(
        pod(
            hostNetwork=True,
            containers=[container(ports=[{"containerPort": 80, "hostPort": 8080}])],
        ),
        [
            "spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match "
            "`containerPort` when `hostNetwork` is true"
        ],
        id="host-network-port",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), POD_CASES)
def test_pod(obj: Obj, expected: list[str]) -> None:
    assert errors("", "Pod", obj) == expected


def test_valid_pod_has_no_errors() -> None:
    assert errors("", "Pod", pod()) == []


def test_pod_update_may_only_change_images() -> None:
    old = pod()
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    assert errors("", "Pod", new, old) == []
    new["spec"]["restartPolicy"] = "Never"
    got = errors("", "Pod", new, old)
    assert got == [
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
        "set to 1 if it was previously negative)"
    ]


def test_invalid_status_error() -> None:
    obj = pod(containers=[])
    apply_defaults("", "v1", "Pod", obj)
    err = invalid("Pod", "web", validate_object("", "Pod", obj))
    assert str(err) == 'Pod "web" is invalid: spec.containers: Required value'
    assert err.to_status()["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}
    ]


# --- services ------------------------------------------------------------------------------


def service(**spec: Any) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    obj["spec"].update(spec)
    return obj


SERVICE_CASES = [
    pytest.param(service(), [], id="valid"),
    pytest.param(service(ports=[]), ["spec.ports: Required value"], id="ports-required"),
    pytest.param(service(ports=[], clusterIP="None"), [], id="headless-without-ports"),
    pytest.param(
        service(ports=[{"port": 80}, {"port": 443, "name": "Https"}]),
        [
            "spec.ports[0].name: Required value",
            f'spec.ports[1].name: Invalid value: "Https": {LABEL_MSG}',
        ],
        id="port-names",
    ),
    pytest.param(
        service(ports=[{"name": "a", "port": 80}, {"name": "b", "port": 80}]),
        [
            'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
            "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, "
            'StrVal:""}, NodePort:0}'
        ],
        id="duplicate-port",
    ),
    pytest.param(
        service(ports=[{"port": 0, "protocol": "HTTP", "targetPort": "Web"}]),
        [
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", '
            '"UDP"',
            'spec.ports[0].targetPort: Invalid value: "Web": must contain only alpha-numeric '
            "characters (a-z, 0-9), and hyphens (-)",
        ],
        id="port-fields",
    ),
    pytest.param(
        service(type="Magic"),
        [
            'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", '
            '"ExternalName", "LoadBalancer", "NodePort"'
        ],
        id="type",
    ),
    pytest.param(
        service(type="ExternalName", ports=[]),
        ["spec.externalName: Required value"],
        id="external-name-required",
    ),
    pytest.param(
        service(type="ExternalName", ports=[], externalName="db.example.com."),
        [],
        id="external-name-with-dot",
    ),
    pytest.param(
        service(ports=[{"port": 80, "nodePort": 30080}]),
        ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
        id="node-port-on-cluster-ip",
    ),
    pytest.param(
        service(sessionAffinity="Sticky"),
        ['spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"'],
        id="session-affinity",
    ),
    pytest.param(
        service(externalIPs=["127.0.0.1"]),
        [
            'spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range '
            "(127.0.0.0/8, ::1/128)"
        ],
        id="loopback-external-ip",
    ),
    pytest.param(
        service(loadBalancerSourceRanges=["10.0.0.0/8"]),
        [
            "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is "
            "'LoadBalancer'"
        ],
        id="source-ranges-need-lb",
    ),
    pytest.param(
        service(clusterIP="10.43.0.500"),
        [
            'spec.clusterIPs[0]: Invalid value: "10.43.0.500": must be a valid IP address, (e.g. '
            "10.9.8.7 or 2001:db8::ffff)"
        ],
        id="bad-cluster-ip",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), SERVICE_CASES)
def test_service(obj: Obj, expected: list[str]) -> None:
    normalize_cluster_ips(obj)
    assert errors("", "Service", obj) == expected


def test_service_name_is_dns1035() -> None:
    obj = service()
    obj["metadata"]["name"] = "1web"
    assert errors("", "Service", obj) == [
        'metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case '
        "alphanumeric characters or '-', start with an alphabetic character, and end with an "
        "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
        "'[a-z]([-a-z0-9]*[a-z0-9])?')"
    ]


def test_service_cluster_ip_is_immutable() -> None:
    old = service(clusterIP="10.43.0.10", clusterIPs=["10.43.0.10"])
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.43.0.11"
    normalize_cluster_ips(new, old)
    assert errors("", "Service", new, old) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.43.0.11"}: may not change once set'
    ]


def test_load_balancer_with_local_policy_needs_health_check_port() -> None:
    obj = service(type="LoadBalancer", externalTrafficPolicy="Local")
    assert errors("", "Service", obj) == ["spec.healthCheckNodePort: Required value"]
    obj["spec"]["healthCheckNodePort"] = 31000
    assert errors("", "Service", obj) == []


# --- config maps and secrets ---------------------------------------------------------------


def config_map(data: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "default"},
        "data": data,
    }


def secret(kind: str, data: dict[str, str] | None = None, **extra: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default"},
        "type": kind,
        "data": data or {},
        **extra,
    }


KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)

CONFIG_CASES = [
    pytest.param("ConfigMap", config_map({"app.yaml": "x: 1"}), [], id="configmap-valid"),
    pytest.param(
        "ConfigMap",
        config_map({"bad key": "v", "..": "v"}),
        [
            "data[..]: Invalid value: \"..\": must not be '..'",
            f'data[bad key]: Invalid value: "bad key": {KEY_MSG}',
        ],
        id="configmap-keys",
    ),
    pytest.param(
        "ConfigMap",
        config_map({"big": "x" * (1024 * 1024 + 1)}),
        ["[]: Too long: may not be more than 1048576 bytes"],
        id="configmap-too-big",
    ),
    pytest.param("Secret", secret("Opaque", {"password": "c2VjcmV0"}), [], id="secret-valid"),
    pytest.param(
        "Secret",
        secret("kubernetes.io/tls", {"tls.crt": "eA=="}),
        ["data[tls.key]: Required value"],
        id="tls-needs-key",
    ),
    pytest.param(
        "Secret",
        secret("kubernetes.io/dockerconfigjson", {".dockerconfigjson": "bm90IGpzb24="}),
        [
            'data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid '
            "character "
            "'o' in literal null (expecting 'u')"
        ],
        id="dockerconfigjson-not-json",
    ),
    pytest.param(
        "Secret",
        secret("kubernetes.io/basic-auth"),
        ["data[username]: Required value", "data[password]: Required value"],
        id="basic-auth",
    ),
    pytest.param(
        "Secret",
        secret("kubernetes.io/service-account-token"),
        ["metadata.annotations[kubernetes.io/service-account.name]: Required value"],
        id="service-account-token",
    ),
    pytest.param(
        "Secret",
        secret("Opaque", stringData={"bad key": "x"}),
        [f'data[bad key]: Invalid value: "bad key": {KEY_MSG}'],
        id="string-data-keys",
    ),
]


@pytest.mark.parametrize(("kind", "obj", "expected"), CONFIG_CASES)
def test_config_objects(kind: str, obj: Obj, expected: list[str]) -> None:
    assert errors("", kind, obj) == expected


def test_secret_type_is_immutable_and_immutable_data_stays() -> None:
    old = secret("Opaque", {"a": "eA=="}, immutable=True)
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["type"] = "kubernetes.io/tls"
    new["data"] = {"tls.crt": "eA==", "tls.key": "eA=="}
    assert errors("", "Secret", new, old) == [
        'type: Invalid value: "kubernetes.io/tls": field is immutable',
        "data: Forbidden: field is immutable when `immutable` is set",
    ]


def test_secret_defaults_to_opaque() -> None:
    obj: Obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "d"}}
    assert errors("", "Secret", obj) == []
    assert obj["type"] == "Opaque"


# --- cluster-scoped and other core kinds ---------------------------------------------------


def test_namespace() -> None:
    obj: Obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team.a"}}
    prepare_namespace_for_create(obj)
    assert errors("", "Namespace", obj) == [
        'metadata.name: Invalid value: "team.a": must not contain dots'
    ]
    ok: Obj = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "team-a"},
        "spec": {"finalizers": ["foo"]},
    }
    prepare_namespace_for_create(ok)
    assert errors("", "Namespace", ok) == [
        'spec.finalizers: Invalid value: "foo": name is neither a standard finalizer name nor is '
        "it fully qualified"
    ]


def test_cluster_scoped_object_may_not_have_a_namespace() -> None:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1", "namespace": "default"},
    }
    assert errors("", "Node", obj) == ["metadata.namespace: Forbidden: not allowed on this type"]


def test_node_taints_use_upstreams_path() -> None:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "spec": {
            "taints": [
                {"key": "a", "effect": "NoSchedule"},
                {"key": "a", "effect": "NoSchedule"},
                {"key": "b", "effect": "Never"},
            ]
        },
    }
    assert errors("", "Node", obj) == [
        'metadata.taints[1]: Duplicate value: core.Taint{Key:"a", Value:"", Effect:"NoSchedule", '
        "TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair",
        'metadata.taints[2].effect: Unsupported value: "Never": supported values: "NoSchedule", '
        '"PreferNoSchedule", "NoExecute"',
    ]


def test_endpoints() -> None:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": [
            {
                "addresses": [{"ip": "10.42.0.5"}, {"ip": "169.254.1.1"}],
                "ports": [{"port": 80}, {"port": 81}],
            },
            {},
        ],
    }
    assert errors("", "Endpoints", obj) == [
        'subsets[0].addresses[1].ip: Invalid value: "169.254.1.1": may not be in the link-local '
        "range (169.254.0.0/16, fe80::/10)",
        "subsets[0].ports[0].name: Required value",
        "subsets[0].ports[1].name: Required value",
        "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`",
    ]


def test_persistent_volume_claim() -> None:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "d"},
        "spec": {"accessModes": ["ReadWriteSome"]},
    }
    assert errors("", "PersistentVolumeClaim", obj) == [
        'spec.accessModes: Unsupported value: "ReadWriteSome": supported values: "ReadOnlyMany", '
        '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
        "spec.resources[storage]: Required value",
    ]
    ok: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "d", "resourceVersion": "1"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    assert errors("", "PersistentVolumeClaim", copy.deepcopy(ok)) == []
    grown = copy.deepcopy(ok)
    grown["spec"]["accessModes"] = ["ReadWriteMany"]
    assert errors("", "PersistentVolumeClaim", grown, ok)[0].startswith(
        "spec: Forbidden: spec is immutable after creation except resources.requests"
    )


def test_replication_controller_selector_must_match() -> None:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "rc", "namespace": "d"},
        "spec": {
            "selector": {"app": "a"},
            "template": {
                "metadata": {"labels": {"app": "b"}},
                "spec": {"containers": [container()]},
            },
        },
    }
    assert errors("", "ReplicationController", obj) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"b"}: `selector` '
        "does not match template `labels`"
    ]


def test_resource_quota_and_limit_range() -> None:
    quota: Obj = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "q", "namespace": "d"},
        "spec": {
            "hard": {"pods": "1.5", "widgets": "1"},
            "scopes": ["BestEffort", "NotBestEffort"],
        },
    }
    got = errors("", "ResourceQuota", quota)
    assert got[1:] == [
        'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource type or fully '
        "qualified",
        'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource for quota',
        'spec.scopes: Invalid value: []string{"BestEffort", "NotBestEffort"}: conflicting scopes',
    ]
    assert got[0].startswith("spec.hard[pods]: Invalid value: resource.Quantity{")
    assert got[0].endswith("must be an integer")
    limits: Obj = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "l", "namespace": "d"},
        "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]},
    }
    # Defaulting copied max into default and defaultRequest, so those conflict with min too.
    two, one = quantity_value(2), quantity_value(1)
    assert errors("", "LimitRange", limits) == [
        f"spec.limits[0].min[cpu]: Invalid value: {two}: min value 2 is greater than max value 1",
        f"spec.limits[0].defaultRequest[cpu]: Invalid value: {one}: min value 2 is greater than "
        "default request value 1",
        f"spec.limits[0].default[cpu]: Invalid value: {two}: min value 2 is greater than default "
        "value 1",
    ]


def quantity_value(value: int) -> str:
    return (
        f"resource.Quantity{{i:resource.int64Amount{{value:{value}, scale:0}}, "
        'd:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"", Format:"DecimalSI"}'
    )


def test_events_legacy_and_strict() -> None:
    core_event: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e1", "namespace": "default", "generateName": "kopf-event-"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "other"},
        "reason": "Hello",
    }
    assert errors("", "Event", core_event) == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace'
    ]
    new_style: Obj = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e2", "namespace": "default"},
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"},
        "eventTime": "2024-01-01T00:00:00.000000Z",
        "reportingController": "kybernetes.io/scheduler",
        "reportingInstance": "node-1",
        "action": "Scheduling",
        "reason": "Scheduled",
        "type": "Sideways",
    }
    assert errors("events.k8s.io", "Event", new_style) == [
        'type: Invalid value: "": has invalid value: Sideways'
    ]


def test_field_errors_carry_their_type() -> None:
    obj = pod(containers=[])
    apply_defaults("", "v1", "Pod", obj)
    (err,) = validate_object("", "Pod", obj)
    assert err.type is ErrorType.REQUIRED
    assert err.field == "spec.containers"


def test_node_port_range_helper() -> None:
    from kybernetes.api.validation.services import validate_node_port_range

    obj = service(
        type="NodePort", ports=[{"port": 80, "nodePort": 80}, {"port": 81, "nodePort": 30001}]
    )
    assert [str(e) for e in validate_node_port_range(obj)] == [
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The "
        "range of valid ports is 30000-32767"
    ]


def test_kinds_without_rules_get_the_generic_checks() -> None:
    driver: Obj = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIDriver",
        "metadata": {"name": "a/b"},
    }
    assert [str(e) for e in validate_object("storage.k8s.io", "CSIDriver", driver)] == [
        "metadata.name: Invalid value: \"a/b\": may not contain '/'"
    ]
    widget: Obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a/b"}}
    assert validate_object("example.com", "Widget", widget) == []
