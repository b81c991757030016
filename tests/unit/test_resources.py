"""The table of built-in resources (kybernetes.api.resources)."""

from __future__ import annotations

import pytest

from kybernetes.api import resources, schema

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

# Every resource issue 3 asks the API server to serve: (group, version, plural, kind, namespaced).
ISSUE_3 = [
    ("", "v1", "namespaces", "Namespace", False),
    ("", "v1", "nodes", "Node", False),
    ("", "v1", "pods", "Pod", True),
    ("", "v1", "services", "Service", True),
    ("", "v1", "endpoints", "Endpoints", True),
    ("", "v1", "configmaps", "ConfigMap", True),
    ("", "v1", "secrets", "Secret", True),
    ("", "v1", "serviceaccounts", "ServiceAccount", True),
    ("", "v1", "events", "Event", True),
    ("events.k8s.io", "v1", "events", "Event", True),
    ("", "v1", "replicationcontrollers", "ReplicationController", True),
    ("", "v1", "persistentvolumes", "PersistentVolume", False),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    ("", "v1", "resourcequotas", "ResourceQuota", True),
    ("", "v1", "limitranges", "LimitRange", True),
    ("apps", "v1", "deployments", "Deployment", True),
    ("apps", "v1", "replicasets", "ReplicaSet", True),
    ("apps", "v1", "statefulsets", "StatefulSet", True),
    ("apps", "v1", "daemonsets", "DaemonSet", True),
    ("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    ("batch", "v1", "jobs", "Job", True),
    ("batch", "v1", "cronjobs", "CronJob", True),
    ("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", True),
    ("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", False),
    ("coordination.k8s.io", "v1", "leases", "Lease", True),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    ("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
]


@pytest.mark.parametrize(
    ("group", "version", "plural", "kind", "namespaced"),
    [pytest.param(*row, id=f"{row[0] or 'core'}/{row[1]}/{row[2]}") for row in ISSUE_3],
)
def test_issue_3_resources(
    group: str, version: str, plural: str, kind: str, namespaced: bool
) -> None:
    info = resources.get(group, version, plural)
    assert info is not None
    assert info.kind == kind
    assert info.namespaced is namespaced
    assert info.singular == kind.lower()
    assert info.enabled_by_default
    # Every verb of issue 3 is served, except where upstream itself has no deletecollection.
    expected = tuple(
        v for v in ALL_VERBS if not (plural == "namespaces" and v == "deletecollection")
    )
    assert info.verbs == expected
    assert resources.for_kind(group, version, kind) is info
    definition = schema.definition(info.definition)
    assert any(g.kind == kind and g.group == group for g in definition.gvks)
    assert info.list_definition is not None
    assert schema.definition(info.list_definition).fields["items"].items is not None


def test_every_resource_has_a_definition() -> None:
    for info in resources.resources():
        assert schema.find_definition(info.definition) is not None, info


@pytest.mark.parametrize(
    ("group", "plural", "short_names"),
    [
        pytest.param("", "pods", ("po",), id="po"),
        pytest.param("", "services", ("svc",), id="svc"),
        pytest.param("", "namespaces", ("ns",), id="ns"),
        pytest.param("", "nodes", ("no",), id="no"),
        pytest.param("", "configmaps", ("cm",), id="cm"),
        pytest.param("", "serviceaccounts", ("sa",), id="sa"),
        pytest.param("", "events", ("ev",), id="ev"),
        pytest.param("events.k8s.io", "events", ("ev",), id="ev-events"),
        pytest.param("", "persistentvolumeclaims", ("pvc",), id="pvc"),
        pytest.param("", "persistentvolumes", ("pv",), id="pv"),
        pytest.param("", "replicationcontrollers", ("rc",), id="rc"),
        pytest.param("", "resourcequotas", ("quota",), id="quota"),
        pytest.param("", "limitranges", ("limits",), id="limits"),
        pytest.param("", "endpoints", ("ep",), id="ep"),
        pytest.param("apps", "deployments", ("deploy",), id="deploy"),
        pytest.param("apps", "replicasets", ("rs",), id="rs"),
        pytest.param("apps", "statefulsets", ("sts",), id="sts"),
        pytest.param("apps", "daemonsets", ("ds",), id="ds"),
        pytest.param("batch", "cronjobs", ("cj",), id="cj"),
        pytest.param("batch", "jobs", (), id="jobs-none"),
        pytest.param("autoscaling", "horizontalpodautoscalers", ("hpa",), id="hpa"),
        pytest.param("networking.k8s.io", "ingresses", ("ing",), id="ing"),
        pytest.param("networking.k8s.io", "networkpolicies", ("netpol",), id="netpol"),
        pytest.param("policy", "poddisruptionbudgets", ("pdb",), id="pdb"),
        pytest.param("scheduling.k8s.io", "priorityclasses", ("pc",), id="pc"),
        pytest.param("storage.k8s.io", "storageclasses", ("sc",), id="sc"),
        pytest.param("certificates.k8s.io", "certificatesigningrequests", ("csr",), id="csr"),
        pytest.param(
            "apiextensions.k8s.io", "customresourcedefinitions", ("crd", "crds"), id="crd"
        ),
    ],
)
def test_short_names(group: str, plural: str, short_names: tuple[str, ...]) -> None:
    version = resources.preferred_version(group)
    assert version is not None
    info = resources.get(group, version, plural)
    assert info is not None
    assert info.short_names == short_names


def test_short_names_apply_to_every_version_of_a_group() -> None:
    v1 = resources.get("autoscaling", "v1", "horizontalpodautoscalers")
    assert v1 is not None
    assert v1.short_names == ("hpa",)


def test_category_all_in_upstream_order() -> None:
    assert [r.plural for r in resources.in_category("all")] == [
        "pods",
        "services",
        "replicationcontrollers",
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
        "horizontalpodautoscalers",
    ]
    hpa = resources.in_category("all")[-1]
    assert hpa.version == "v2"
    assert "all" in hpa.categories
    assert resources.in_category("nope") == ()


def test_crd_is_in_api_extensions() -> None:
    crd = resources.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert crd is not None
    assert crd.categories == ("api-extensions",)


@pytest.mark.parametrize(
    ("group", "preferred", "versions"),
    [
        pytest.param("", "v1", ("v1",), id="core"),
        pytest.param("autoscaling", "v2", ("v2", "v1"), id="autoscaling"),
        pytest.param("events.k8s.io", "v1", ("v1",), id="events"),
        pytest.param("networking.k8s.io", "v1", ("v1", "v1beta1"), id="networking-ga-over-beta"),
        pytest.param("resource.k8s.io", "v1beta1", ("v1beta1", "v1alpha3"), id="beta-over-alpha"),
        pytest.param("storagemigration.k8s.io", "v1alpha1", ("v1alpha1",), id="alpha-only"),
        pytest.param("nope.example.com", None, (), id="unknown"),
    ],
)
def test_preferred_versions(group: str, preferred: str | None, versions: tuple[str, ...]) -> None:
    assert resources.preferred_version(group) == preferred
    assert resources.versions(group) == versions


def test_groups_in_discovery_order() -> None:
    groups = resources.groups()
    assert groups[:4] == ("", "apiregistration.k8s.io", "apps", "events.k8s.io")
    assert len(groups) == len(set(groups))


def test_resources_in_discovery_order() -> None:
    ordered = resources.resources()
    assert ordered[0].group == ""
    core = [r.plural for r in ordered if r.group == ""]
    assert core == sorted(core)
    autoscaling = [r.version for r in ordered if r.group == "autoscaling"]
    assert autoscaling == ["v2", "v1"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("pods", ("", "v1", "pods"), id="plural"),
        pytest.param("pod", ("", "v1", "pods"), id="singular"),
        pytest.param("po", ("", "v1", "pods"), id="short"),
        pytest.param("Pod", ("", "v1", "pods"), id="kind"),
        pytest.param("deploy", ("apps", "v1", "deployments"), id="deploy"),
        pytest.param("deployments.apps", ("apps", "v1", "deployments"), id="plural-group"),
        pytest.param("deploy.apps", ("apps", "v1", "deployments"), id="short-group"),
        pytest.param("deployments.v1.apps", ("apps", "v1", "deployments"), id="fully-qualified"),
        pytest.param("ev", ("", "v1", "events"), id="ev-core-first"),
        pytest.param("events", ("", "v1", "events"), id="events-core-first"),
        pytest.param("events.events.k8s.io", ("events.k8s.io", "v1", "events"), id="events-group"),
        pytest.param("hpa", ("autoscaling", "v2", "horizontalpodautoscalers"), id="hpa-preferred"),
        pytest.param(
            "hpa.v1.autoscaling", ("autoscaling", "v1", "horizontalpodautoscalers"), id="hpa-v1"
        ),
        pytest.param(
            "crds", ("apiextensions.k8s.io", "v1", "customresourcedefinitions"), id="crds"
        ),
        pytest.param(
            "ingresses.networking.k8s.io",
            ("networking.k8s.io", "v1", "ingresses"),
            id="dotted-group",
        ),
        pytest.param("deployment.apps", ("apps", "v1", "deployments"), id="singular-group"),
        pytest.param("nope", None, id="unknown"),
        pytest.param("pods.apps", None, id="wrong-group"),
        pytest.param("POD", None, id="kind-case-matters"),
    ],
)
def test_resolve(name: str, expected: tuple[str, str, str] | None) -> None:
    info = resources.resolve(name)
    got = None if info is None else (info.group, info.version, info.plural)
    assert got == expected


def test_resolve_skips_disabled_versions_unless_asked() -> None:
    assert resources.resolve("ipaddresses") is None
    info = resources.resolve("ipaddresses", enabled_only=False)
    assert info is not None
    assert (info.group, info.version, info.stability) == ("networking.k8s.io", "v1beta1", "beta")


@pytest.mark.parametrize(
    ("plural", "name", "kind", "verbs"),
    [
        pytest.param("pods", "status", ("", "v1", "Pod"), ("get", "patch", "update"), id="status"),
        pytest.param("pods", "log", ("", "v1", "Pod"), ("get",), id="log"),
        pytest.param("pods", "exec", ("", "v1", "PodExecOptions"), ("create", "get"), id="exec"),
        pytest.param("pods", "binding", ("", "v1", "Binding"), ("create",), id="binding"),
        pytest.param("pods", "eviction", ("policy", "v1", "Eviction"), ("create",), id="eviction"),
        pytest.param(
            "pods",
            "proxy",
            ("", "v1", "PodProxyOptions"),
            ("create", "delete", "get", "patch", "update"),
            id="proxy",
        ),
        pytest.param(
            "replicationcontrollers",
            "scale",
            ("autoscaling", "v1", "Scale"),
            ("get", "patch", "update"),
            id="rc-scale",
        ),
        pytest.param("namespaces", "finalize", ("", "v1", "Namespace"), ("update",), id="finalize"),
        pytest.param(
            "serviceaccounts", "token", ("authentication.k8s.io", "v1", "TokenRequest"),
            ("create",), id="token",
        ),
    ],
)  # fmt: skip
def test_core_subresources(
    plural: str, name: str, kind: tuple[str, str, str], verbs: tuple[str, ...]
) -> None:
    info = resources.get("", "v1", plural)
    assert info is not None
    sub = info.subresource(name)
    assert sub is not None
    assert (sub.group, sub.version, sub.kind) == kind
    assert sub.verbs == verbs


@pytest.mark.parametrize("plural", ["deployments", "replicasets", "statefulsets"])
def test_apps_scale_subresource(plural: str) -> None:
    info = resources.get("apps", "v1", plural)
    assert info is not None
    scale = info.subresource("scale")
    assert scale is not None
    assert (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")
    assert info.subresource("status") is not None
    assert info.subresource("nope") is None


def test_create_only_resources() -> None:
    binding = resources.get("", "v1", "bindings")
    assert binding is not None
    assert binding.verbs == ("create",)
    review = resources.get("authorization.k8s.io", "v1", "selfsubjectaccessreviews")
    assert review is not None
    assert review.verbs == ("create",)
    assert not review.namespaced
    assert review.list_definition is None


def test_component_statuses_are_read_only() -> None:
    info = resources.get("", "v1", "componentstatuses")
    assert info is not None
    assert info.verbs == ("get", "list")
    assert info.has_verb("get")
    assert not info.has_verb("create")


def test_by_kind_and_short_name() -> None:
    assert [(r.group, r.version) for r in resources.by_kind("HorizontalPodAutoscaler")] == [
        ("autoscaling", "v2"),
        ("autoscaling", "v1"),
    ]
    assert [r.group for r in resources.by_kind("Event")] == ["", "events.k8s.io"]
    assert [r.group for r in resources.by_short_name("ev")] == ["", "events.k8s.io"]
    assert resources.by_short_name("nope") == ()


def test_api_version_strings() -> None:
    pods = resources.get("", "v1", "pods")
    deployments = resources.get("apps", "v1", "deployments")
    assert pods is not None
    assert deployments is not None
    assert pods.api_version == "v1"
    assert deployments.api_version == "apps/v1"
    assert deployments.group_version == "apps/v1"


@pytest.mark.parametrize(
    ("version", "stability"),
    [
        pytest.param("v1", "ga", id="ga"),
        pytest.param("v2beta2", "beta", id="beta"),
        pytest.param("v1alpha3", "alpha", id="alpha"),
        pytest.param("foo", "unknown", id="other"),
    ],
)
def test_stability(version: str, stability: str) -> None:
    assert resources.stability_of(version) == stability


def test_version_priority_order() -> None:
    ordered = sorted(
        ["v1alpha1", "v1", "v2beta1", "v1beta2", "v2", "v1beta1", "v10", "foo"],
        key=resources.version_priority,
        reverse=True,
    )
    assert ordered == ["v10", "v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "foo"]
