"""Per-kind defaulting (kybernetes.api.defaults): upstream's SetDefaults_* values, idempotence,
and the real-world manifests validating cleanly once defaulted."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kybernetes.api.defaults import (
    apply_defaults,
    default_service_ip_families,
    generate_job_selector,
    image_tag,
    normalize_cluster_ips,
    prepare_namespace_for_create,
)
from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]
MANIFESTS = Path(__file__).resolve().parent / "manifests"
MANIFEST_FILES = sorted(p.name for p in MANIFESTS.glob("*.yaml"))


def load(name: str) -> Obj:
    data = yaml.load((MANIFESTS / name).read_text(), Loader=yaml.CSafeLoader)
    assert isinstance(data, dict)
    return data


def gvk(obj: Obj) -> tuple[str, str, str]:
    group, _, version = obj["apiVersion"].rpartition("/")
    return group, version, obj["kind"]


def defaulted(obj: Obj) -> Obj:
    apply_defaults(*gvk(obj), obj)
    return obj


# --- real manifests ------------------------------------------------------------------------


def registry_prepare(obj: Obj) -> None:
    """The registry and allocator steps that run between defaulting and validation."""
    kind = obj["kind"]
    obj["metadata"].setdefault("uid", "6f1c1d2e-0000-4000-8000-00000000abcd")
    if kind == "Service":
        normalize_cluster_ips(obj)
        default_service_ip_families(obj)
        spec = obj["spec"]
        spec.setdefault("clusterIP", "10.43.0.20")
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if spec["type"] in ("NodePort", "LoadBalancer"):
            for i, port in enumerate(spec["ports"]):
                port.setdefault("nodePort", 30080 + i)
        if spec["type"] == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
            spec.setdefault("healthCheckNodePort", 32000)
    elif kind == "Job":
        generate_job_selector(obj)
    elif kind == "Namespace":
        prepare_namespace_for_create(obj)


def test_there_are_manifests() -> None:
    assert len(MANIFEST_FILES) >= 6


@pytest.mark.parametrize("name", MANIFEST_FILES)
def test_manifests_validate_after_defaulting(name: str) -> None:
    obj = defaulted(load(name))
    registry_prepare(obj)
    group, _, kind = gvk(obj)
    assert [str(e) for e in validate_object(group, kind, obj)] == []


@pytest.mark.parametrize("name", MANIFEST_FILES)
def test_defaulting_manifests_is_idempotent(name: str) -> None:
    once = defaulted(load(name))
    twice = defaulted(copy.deepcopy(once))
    assert twice == once


@pytest.mark.parametrize("name", MANIFEST_FILES)
def test_update_to_itself_is_valid(name: str) -> None:
    obj = defaulted(load(name))
    registry_prepare(obj)
    obj["metadata"]["resourceVersion"] = "12"
    group, _, kind = gvk(obj)
    assert [str(e) for e in validate_object(group, kind, copy.deepcopy(obj), obj)] == []


# --- pods ----------------------------------------------------------------------------------


def test_pod_defaults() -> None:
    pod = defaulted(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "d"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "nginx",
                        "ports": [{"containerPort": 80}],
                        "env": [
                            {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                        ],
                        "resources": {"limits": {"cpu": "500m", "memory": "1024Mi"}},
                        "livenessProbe": {"httpGet": {"port": 80}},
                        "readinessProbe": {"grpc": {"port": 9000}},
                    }
                ],
                "volumes": [
                    {"name": "scratch"},
                    {"name": "cfg", "configMap": {"name": "cfg"}},
                    {"name": "host", "hostPath": {"path": "/var/log"}},
                    {
                        "name": "token",
                        "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]},
                    },
                ],
            },
        }
    )
    spec = pod["spec"]
    assert {
        k: spec[k]
        for k in (
            "restartPolicy",
            "dnsPolicy",
            "terminationGracePeriodSeconds",
            "schedulerName",
            "securityContext",
            "enableServiceLinks",
        )
    } == {
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "terminationGracePeriodSeconds": 30,
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "enableServiceLinks": True,
    }
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert (c["terminationMessagePath"], c["terminationMessagePolicy"]) == (
        "/dev/termination-log",
        "File",
    )
    assert c["ports"][0]["protocol"] == "TCP"
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert c["resources"] == {
        "limits": {"cpu": "500m", "memory": "1Gi"},
        "requests": {"cpu": "500m", "memory": "1Gi"},
    }
    assert c["livenessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["readinessProbe"]["grpc"] == {"port": 9000, "service": ""}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["scratch"]["emptyDir"] == {}
    assert volumes["cfg"]["configMap"]["defaultMode"] == 420
    assert volumes["host"]["hostPath"]["type"] == ""
    assert volumes["token"]["projected"]["defaultMode"] == 420
    assert (
        volumes["token"]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"]
        == 3600
    )


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        pytest.param("nginx", "latest", id="no-tag"),
        pytest.param("nginx:latest", "latest", id="latest"),
        pytest.param("nginx:1.27", "1.27", id="tag"),
        pytest.param("registry.example.com:5000/team/app", "latest", id="registry-port-no-tag"),
        pytest.param("registry.example.com:5000/team/app:v2", "v2", id="registry-port-tag"),
        pytest.param("busybox@sha256:" + "a" * 64, "", id="digest-only"),
        pytest.param("busybox:1.36@sha256:" + "a" * 64, "1.36", id="tag-and-digest"),
        pytest.param("Nginx", "", id="uppercase-does-not-parse"),
        pytest.param("", "", id="empty"),
    ],
)
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag


@pytest.mark.parametrize(
    ("image", "policy"),
    [("nginx", "Always"), ("nginx:1.27", "IfNotPresent"), ("Nginx", "IfNotPresent")],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    pod = defaulted(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {},
            "spec": {"containers": [{"name": "c", "image": image}]},
        }
    )
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_templates_get_pod_spec_defaults_but_not_pod_only_ones() -> None:
    deployment = defaulted(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "c", "image": "x:1", "resources": {"limits": {"cpu": "1"}}}
                        ]
                    }
                }
            },
        }
    )
    spec = deployment["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Always"
    assert "enableServiceLinks" not in spec
    assert "requests" not in spec["containers"][0]["resources"]


def test_host_network_pods_get_host_ports() -> None:
    pod = defaulted(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {},
            "spec": {
                "hostNetwork": True,
                "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 53}]}],
            },
        }
    )
    assert pod["spec"]["containers"][0]["ports"][0]["hostPort"] == 53


def test_resource_quantities_round_up_to_milli_units() -> None:
    pod = defaulted(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "x",
                        "resources": {"requests": {"cpu": "0.0001", "memory": 1073741824}},
                    }
                ]
            },
        }
    )
    # A JSON number is a decimal quantity: it keeps its digits (upstream prints the same).
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "1m",
        "memory": "1073741824",
    }


# --- other kinds ---------------------------------------------------------------------------

KIND_CASES = [
    pytest.param(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {}, "spec": {}},
        {
            "replicas": 1,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        id="deployment",
    ),
    pytest.param(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {},
            "spec": {"strategy": {"type": "Recreate"}},
        },
        {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        id="deployment-recreate",
    ),
    pytest.param(
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {}, "spec": {}},
        {
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
            "replicas": 1,
            "revisionHistoryLimit": 10,
        },
        id="statefulset",
    ),
    pytest.param(
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {}, "spec": {}},
        {
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "revisionHistoryLimit": 10,
        },
        id="daemonset",
    ),
    pytest.param(
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {}, "spec": {}},
        {"replicas": 1},
        id="replicaset",
    ),
    pytest.param(
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {}, "spec": {}},
        {
            "completions": 1,
            "parallelism": 1,
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "suspend": False,
            "podReplacementPolicy": "TerminatingOrFailed",
        },
        id="job",
    ),
    pytest.param(
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {}, "spec": {"parallelism": 3}},
        {
            "parallelism": 3,
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "suspend": False,
            "podReplacementPolicy": "TerminatingOrFailed",
        },
        id="job-parallel",
    ),
    pytest.param(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {},
            "spec": {"schedule": "@daily"},
        },
        {
            "schedule": "@daily",
            "concurrencyPolicy": "Allow",
            "suspend": False,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
        },
        id="cronjob",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "Service", "metadata": {}, "spec": {"ports": [{"port": 80}]}},
        {
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
            "sessionAffinity": "None",
            "type": "ClusterIP",
            "internalTrafficPolicy": "Cluster",
        },
        id="service",
    ),
    pytest.param(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {},
            "spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP"},
        },
        {
            "type": "LoadBalancer",
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
            "externalTrafficPolicy": "Cluster",
            "internalTrafficPolicy": "Cluster",
            "allocateLoadBalancerNodePorts": True,
        },
        id="service-load-balancer",
    ),
    pytest.param(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {},
            "spec": {
                "type": "ExternalName",
                "externalName": "db.example.com",
                "sessionAffinityConfig": {},
            },
        },
        {"type": "ExternalName", "externalName": "db.example.com", "sessionAffinity": "None"},
        id="service-external-name",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {}, "spec": {}},
        {"volumeMode": "Filesystem"},
        id="pvc",
    ),
    pytest.param(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {},
            "spec": {"hostPath": {"path": "/d"}},
        },
        {
            "hostPath": {"path": "/d", "type": ""},
            "persistentVolumeReclaimPolicy": "Retain",
            "volumeMode": "Filesystem",
        },
        id="pv",
    ),
    pytest.param(
        {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": {},
            "spec": {"template": {"metadata": {"labels": {"a": "b"}}}},
        },
        {
            "selector": {"a": "b"},
            "replicas": 1,
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "dnsPolicy": "ClusterFirst",
                    "restartPolicy": "Always",
                    "securityContext": {},
                    "terminationGracePeriodSeconds": 30,
                    "schedulerName": "default-scheduler",
                },
            },
        },
        id="replication-controller",
    ),
]


@pytest.mark.parametrize(("obj", "spec"), KIND_CASES)
def test_kind_defaults(obj: Obj, spec: Obj) -> None:
    assert defaulted(obj)["spec"] == spec


def test_secret_namespace_and_node() -> None:
    assert defaulted({"apiVersion": "v1", "kind": "Secret", "metadata": {}})["type"] == "Opaque"
    ns = defaulted({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "shop"}
    assert ns["status"] == {"phase": "Active"}
    prepare_namespace_for_create(ns)
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    node = defaulted(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi"}},
        }
    )
    assert node["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi"}


def test_job_copies_template_labels() -> None:
    job = defaulted(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {},
            "spec": {"template": {"metadata": {"labels": {"app": "pi"}}}},
        }
    )
    assert job["metadata"]["labels"] == {"app": "pi"}
    job["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    assert job["metadata"]["labels"] == {"app": "pi"}


def test_other_groups() -> None:
    np = defaulted(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {},
            "spec": {"podSelector": {}},
        }
    )
    assert np["spec"]["policyTypes"] == ["Ingress"]
    pc = defaulted(
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {}, "value": 1}
    )
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"
    sc = defaulted(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {},
            "provisioner": "x",
        }
    )
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    hpa = defaulted(
        {
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {},
            "spec": {},
        }
    )
    assert hpa["spec"] == {"minReplicas": 1}
    binding = defaulted(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {},
            "roleRef": {"kind": "ClusterRole", "name": "x"},
            "subjects": [{"kind": "Group", "name": "g"}],
        }
    )
    assert (
        binding["roleRef"]["apiGroup"]
        == binding["subjects"][0]["apiGroup"]
        == "rbac.authorization.k8s.io"
    )


def test_unknown_kinds_are_left_alone() -> None:
    obj: Obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}, "spec": {}}
    assert defaulted(copy.deepcopy(obj)) == obj


def test_service_ip_helpers() -> None:
    svc: Obj = {"spec": {"clusterIP": "10.43.0.9"}}
    normalize_cluster_ips(svc)
    assert svc["spec"]["clusterIPs"] == ["10.43.0.9"]
    default_service_ip_families(svc)
    assert (svc["spec"]["ipFamilyPolicy"], svc["spec"]["ipFamilies"]) == ("SingleStack", ["IPv4"])
    dual: Obj = {"spec": {"ipFamilyPolicy": "PreferDualStack"}}
    default_service_ip_families(dual, ("IPv4", "IPv6"))
    assert dual["spec"]["ipFamilies"] == ["IPv4", "IPv6"]


# --- idempotence on generated objects ------------------------------------------------------

_names = st.text(alphabet="abcdefgh", min_size=1, max_size=5)
_quantities = st.sampled_from(["1", "100m", "0.5", "1Gi", "1000Mi", "0.0001", 2, 1.5])
_containers = st.fixed_dictionaries(
    {
        "name": _names,
        "image": st.sampled_from(["nginx", "nginx:latest", "busybox:1.36", "Bad:image"]),
    },
    optional={
        "ports": st.lists(
            st.fixed_dictionaries({"containerPort": st.integers(1, 65535)}), max_size=2
        ),
        "resources": st.fixed_dictionaries(
            {},
            optional={
                "limits": st.dictionaries(st.sampled_from(["cpu", "memory"]), _quantities),
                "requests": st.dictionaries(st.sampled_from(["cpu", "memory"]), _quantities),
            },
        ),
        "livenessProbe": st.fixed_dictionaries(
            {"httpGet": st.fixed_dictionaries({"port": st.integers(1, 100)})}
        ),
        "imagePullPolicy": st.sampled_from(["", "Never"]),
    },
)
_pod_specs = st.fixed_dictionaries(
    {"containers": st.lists(_containers, min_size=1, max_size=3)},
    optional={
        "restartPolicy": st.sampled_from(["", "Never"]),
        "hostNetwork": st.booleans(),
        "volumes": st.lists(
            st.fixed_dictionaries(
                {"name": _names}, optional={"secret": st.just({"secretName": "s"})}
            ),
            max_size=2,
        ),
    },
)
_kinds = st.sampled_from(
    [
        ("", "v1", "Pod"),
        ("apps", "v1", "Deployment"),
        ("apps", "v1", "StatefulSet"),
        ("apps", "v1", "DaemonSet"),
        ("batch", "v1", "Job"),
        ("", "v1", "ReplicationController"),
    ]
)


@settings(max_examples=150, deadline=None)
@given(kind=_kinds, spec=_pod_specs)
def test_defaulting_generated_objects_is_idempotent(kind: tuple[str, str, str], spec: Obj) -> None:
    group, version, name = kind
    if name == "Pod":
        obj: Obj = {"metadata": {"name": "x"}, "spec": spec}
    else:
        obj = {
            "metadata": {"name": "x"},
            "spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": spec}},
        }
    apply_defaults(group, version, name, obj)
    again = copy.deepcopy(obj)
    apply_defaults(group, version, name, again)
    assert again == obj
