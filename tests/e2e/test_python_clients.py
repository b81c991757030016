"""The official and popular Python clients, unchanged, against a real ``kyb server``.

``kubernetes`` (sync), ``kubernetes_asyncio``, ``kr8s`` and ``lightkube`` each load the
server's kubeconfig file (TLS with client certificates) and do what their users do: CRUD,
selectors, patches of every kind they send, the scale subresource, server-side apply, the
errors they turn into exceptions, and watches. Every watch is bounded (a server-side
``timeoutSeconds`` and/or a client-side deadline) and every test works in a namespace of its
own, deleted afterwards.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx2
import kr8s
import kr8s.asyncio
import kubernetes
import kubernetes_asyncio
import pytest
from kr8s.asyncio.objects import ConfigMap as Kr8sConfigMap
from kr8s.asyncio.objects import Deployment as Kr8sDeployment
from kubernetes.client.rest import ApiException
from kubernetes_asyncio.client.rest import ApiException as AsyncApiException
from lightkube import ApiError, AsyncClient, Client, KubeConfig
from lightkube.config.client_adapter import verify_cluster
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.autoscaling_v1 import ScaleSpec
from lightkube.models.core_v1 import Container, ContainerPort, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import Deployment as LkDeployment
from lightkube.resources.core_v1 import ConfigMap as LkConfigMap
from lightkube.types import PatchType

from tests.e2e.conftest import Cluster, start_server, stop_server

pytestmark = pytest.mark.slow

#: Every watch in this module ends by itself within this many seconds (server side) ...
WATCH_SECONDS = 10
#: ... and every test that waits on events gives up after this long (client side).
DEADLINE = 30.0


def deployment(name: str, image: str = "nginx:1.25", replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "web", "image": image, "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }


#: In every namespace, as on a real cluster (the root CA publisher's); lists and watches of
#: ConfigMaps leave it out.
ROOT_CA = "kube-root-ca.crt"


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of the test's own, deleted (with anything left in it) afterwards."""
    name = "py-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:50]
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--timeout=30s")


# ----- kubernetes (the official client, synchronous) --------------------------------------


@pytest.fixture
def k8s(cluster: Cluster) -> Iterator[kubernetes.client.ApiClient]:
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(
        config_file=str(cluster.kubeconfig), client_configuration=configuration
    )
    api = kubernetes.client.ApiClient(configuration)
    yield api
    api.close()


def status_body(exc: ApiException | AsyncApiException) -> dict[str, Any]:
    """The ``Status`` an ApiException carries, checking that it came as plain JSON."""
    assert exc.headers is not None
    assert exc.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = json.loads(exc.body)
    assert body["kind"] == "Status"
    assert body["code"] == exc.status
    return body


def test_kubernetes_load_kube_config_default_client(cluster: Cluster) -> None:
    """The documented two-liner: ``load_kube_config`` then an API class with no arguments."""
    kubernetes.config.load_kube_config(config_file=str(cluster.kubeconfig))
    api = kubernetes.client.CoreV1Api()
    try:
        names = [ns.metadata.name for ns in api.list_namespace().items]
        assert {"default", "kube-system"} <= set(names)
        version = kubernetes.client.VersionApi(api.api_client).get_code()
        assert (version.major, version.minor) == ("1", "32")
    finally:
        api.api_client.close()


def test_kubernetes_configmap_crud(k8s: kubernetes.client.ApiClient, namespace: str) -> None:
    core = kubernetes.client.CoreV1Api(k8s)
    body = kubernetes.client.V1ConfigMap(
        metadata=kubernetes.client.V1ObjectMeta(name="settings", labels={"tier": "web"}),
        data={"a": "1"},
    )
    created = core.create_namespaced_config_map(namespace, body)
    assert created.metadata.name == "settings"
    assert created.metadata.namespace == namespace
    assert created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "other"}})

    read = core.read_namespaced_config_map("settings", namespace)
    assert read.data == {"a": "1"}
    assert read.metadata.resource_version == created.metadata.resource_version

    by_label = core.list_namespaced_config_map(namespace, label_selector="tier=web")
    assert [cm.metadata.name for cm in by_label.items] == ["settings"]
    assert int(by_label.metadata.resource_version) >= int(created.metadata.resource_version)
    by_field = core.list_namespaced_config_map(namespace, field_selector="metadata.name=other")
    assert [cm.metadata.name for cm in by_field.items] == ["other"]
    everywhere = core.list_config_map_for_all_namespaces(
        label_selector="tier=web", field_selector=f"metadata.namespace={namespace}"
    )
    assert [(cm.metadata.namespace, cm.metadata.name) for cm in everywhere.items] == [
        (namespace, "settings")
    ]
    page = core.list_namespaced_config_map(namespace, limit=1)
    assert len(page.items) == 1
    assert page.metadata._continue
    names = [cm.metadata.name for cm in page.items]
    token = page.metadata._continue
    while token:
        rest = core.list_namespaced_config_map(namespace, limit=1, _continue=token)
        assert len(rest.items) == 1
        names += [cm.metadata.name for cm in rest.items]
        token = rest.metadata._continue
    assert [n for n in names if n != ROOT_CA] == ["other", "settings"]

    read.data["b"] = "2"
    replaced = core.replace_namespaced_config_map("settings", namespace, read)
    assert replaced.data == {"a": "1", "b": "2"}
    assert int(replaced.metadata.resource_version) > int(read.metadata.resource_version)

    # A dict body is sent as a strategic merge patch.
    patched = core.patch_namespaced_config_map(
        "settings", namespace, {"data": {"c": "3"}, "metadata": {"labels": {"patched": "yes"}}}
    )
    assert patched.data == {"a": "1", "b": "2", "c": "3"}
    assert patched.metadata.labels == {"tier": "web", "patched": "yes"}
    # A list body is sent as a JSON patch.
    patched = core.patch_namespaced_config_map(
        "settings", namespace, [{"op": "remove", "path": "/data/a"}]
    )
    assert patched.data == {"b": "2", "c": "3"}

    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "settings"}})
    assert info.value.status == 409
    status = status_body(info.value)
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'configmaps "settings" already exists'

    # ``read`` still carries the resourceVersion from before the replace: a stale write.
    read.data["d"] = "4"
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("settings", namespace, read)
    assert info.value.status == 409
    status = status_body(info.value)
    assert status["reason"] == "Conflict"
    assert status["message"].startswith('Operation cannot be fulfilled on configmaps "settings"')

    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "Not_Valid"}})
    assert info.value.status == 422
    status = status_body(info.value)
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "metadata.name"

    deleted = core.delete_namespaced_config_map("settings", namespace)
    # The client hands a DELETE's Status back as a plain dict.
    assert isinstance(deleted, dict)
    assert deleted["status"] == "Success"
    assert deleted["details"]["name"] == "settings"
    core.delete_namespaced_config_map("other", namespace)
    with pytest.raises(ApiException) as info:
        core.read_namespaced_config_map("settings", namespace)
    assert info.value.status == 404
    status = status_body(info.value)
    assert status["reason"] == "NotFound"
    assert status["message"] == 'configmaps "settings" not found'
    with pytest.raises(ApiException) as info:
        core.delete_namespaced_config_map("settings", namespace)
    assert info.value.status == 404
    left = core.list_namespaced_config_map(namespace).items
    assert [cm.metadata.name for cm in left if cm.metadata.name != ROOT_CA] == []


def test_kubernetes_large_bodies(k8s: kubernetes.client.ApiClient, namespace: str) -> None:
    """Bodies arrive in many TCP/TLS reads; the server reads them whole (3 MiB at most)."""
    core = kubernetes.client.CoreV1Api(k8s)
    value = "x" * (900 * 1024)
    created = core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "large"}, "data": {"a": value}}
    )
    assert created.data == {"a": value}
    replaced = core.replace_namespaced_config_map(
        "large", namespace, {"metadata": {"name": "large"}, "data": {"a": value[:-1] + "y"}}
    )
    assert replaced.data["a"].endswith("xy")
    with pytest.raises(ApiException) as info:  # decoded whole, then refused by validation
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": "too-large"}, "data": {"a": value * 2}}
        )
    assert info.value.status == 422
    assert status_body(info.value)["reason"] == "Invalid"
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": "too-large"}, "data": {"a": value * 4}}
        )
    assert info.value.status == 413
    assert status_body(info.value)["reason"] == "RequestEntityTooLarge"
    core.delete_namespaced_config_map("large", namespace)


def test_kubernetes_deployment_crud_and_scale(
    k8s: kubernetes.client.ApiClient, namespace: str
) -> None:
    apps = kubernetes.client.AppsV1Api(k8s)
    body = kubernetes.client.V1Deployment(
        metadata=kubernetes.client.V1ObjectMeta(name="web", labels={"app": "web"}),
        spec=kubernetes.client.V1DeploymentSpec(
            replicas=1,
            selector=kubernetes.client.V1LabelSelector(match_labels={"app": "web"}),
            template=kubernetes.client.V1PodTemplateSpec(
                metadata=kubernetes.client.V1ObjectMeta(labels={"app": "web"}),
                spec=kubernetes.client.V1PodSpec(
                    containers=[
                        kubernetes.client.V1Container(
                            name="web",
                            image="nginx:1.25",
                            ports=[kubernetes.client.V1ContainerPort(container_port=80)],
                        )
                    ]
                ),
            ),
        ),
    )
    created = apps.create_namespaced_deployment(namespace, body)
    assert created.metadata.generation == 1
    container = created.spec.template.spec.containers[0]
    assert container.image_pull_policy == "IfNotPresent"  # defaulted by the server
    assert container.ports[0].protocol == "TCP"
    assert created.spec.strategy.type == "RollingUpdate"

    listed = apps.list_namespaced_deployment(namespace, label_selector="app=web")
    assert [d.metadata.name for d in listed.items] == ["web"]
    listed = apps.list_deployment_for_all_namespaces(
        field_selector=f"metadata.name=web,metadata.namespace={namespace}"
    )
    assert [(d.metadata.namespace, d.metadata.name) for d in listed.items] == [(namespace, "web")]

    # The deployment controller writes the object too, so a read-modify-write can lose the
    # race; like client-go's RetryOnConflict, read again and retry.
    for _ in range(10):
        current = apps.read_namespaced_deployment("web", namespace)
        current.spec.replicas = 2
        try:
            replaced = apps.replace_namespaced_deployment("web", namespace, current)
            break
        except ApiException as conflict:
            if conflict.status != 409:
                raise
    assert replaced.spec.replicas == 2
    assert replaced.metadata.generation == 2

    # Strategic merge: the container list merges by name, so the port survives.
    patched = apps.patch_namespaced_deployment(
        "web",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}},
    )
    container = patched.spec.template.spec.containers[0]
    assert (container.image, container.ports[0].container_port) == ("nginx:1.27", 80)
    assert patched.metadata.generation == 3

    with pytest.raises(ApiException) as info:
        apps.replace_namespaced_deployment("web", namespace, current)  # stale resourceVersion
    assert info.value.status == 409
    assert status_body(info.value)["reason"] == "Conflict"

    scale = apps.read_namespaced_deployment_scale("web", namespace)
    assert scale.kind == "Scale"
    assert scale.api_version == "autoscaling/v1"
    assert scale.spec.replicas == 2
    assert scale.status.selector == "app=web"
    # The client sends a dict as a strategic merge patch, to the scale subresource too.
    scale = apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 5}})
    assert scale.spec.replicas == 5
    for _ in range(10):  # the controller writes the Deployment too: retry on conflict
        scale = apps.read_namespaced_deployment_scale("web", namespace)
        scale.spec.replicas = 4
        try:
            scale = apps.replace_namespaced_deployment_scale("web", namespace, scale)
            break
        except ApiException as conflict:
            if conflict.status != 409:
                raise
    assert scale.spec.replicas == 4
    after = apps.read_namespaced_deployment("web", namespace)
    assert after.spec.replicas == 4
    assert after.metadata.generation == 5
    with pytest.raises(ApiException) as info:
        apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": -1}})
    assert info.value.status == 422

    apps.delete_namespaced_deployment("web", namespace)
    with pytest.raises(ApiException) as info:
        apps.read_namespaced_deployment_scale("web", namespace)
    assert info.value.status == 404
    assert status_body(info.value)["message"] == 'deployments.apps "web" not found'


def test_kubernetes_watch_sees_existing_then_live(
    k8s: kubernetes.client.ApiClient, namespace: str
) -> None:
    core = kubernetes.client.CoreV1Api(k8s)
    for name in ("first", "second"):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name}})
    watch = kubernetes.watch.Watch()
    seen: list[tuple[str, str]] = []
    versions: list[int] = []
    # Watch.stream sends ?timeoutSeconds=N&watch=true and no resourceVersion: the server sends
    # ADDED for what exists, then the changes made here while the stream is open.
    for event in watch.stream(
        core.list_namespaced_config_map,
        namespace,
        timeout_seconds=WATCH_SECONDS,
        _request_timeout=DEADLINE,
    ):
        obj = event["object"]
        if obj.metadata.name == ROOT_CA:
            continue
        seen.append((event["type"], obj.metadata.name))
        versions.append(int(obj.metadata.resource_version))
        if seen == [("ADDED", "first"), ("ADDED", "second")]:
            core.patch_namespaced_config_map("first", namespace, {"data": {"k": "v"}})
        elif event["type"] == "MODIFIED":
            assert obj.data == {"k": "v"}
            core.delete_namespaced_config_map("first", namespace)
        elif event["type"] == "DELETED":
            watch.stop()
    assert seen == [
        ("ADDED", "first"),
        ("ADDED", "second"),
        ("MODIFIED", "first"),
        ("DELETED", "first"),
    ]
    assert versions[2] < versions[3]
    core.delete_namespaced_config_map("second", namespace)


def test_kubernetes_watch_from_list_resource_version(
    k8s: kubernetes.client.ApiClient, namespace: str
) -> None:
    """Watching from a list's resourceVersion replays only what changed after it."""
    core = kubernetes.client.CoreV1Api(k8s)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "before"}})
    listed = core.list_namespaced_config_map(namespace)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "after"}})
    core.delete_namespaced_config_map("before", namespace)
    watch = kubernetes.watch.Watch()
    seen: list[tuple[str, str]] = []
    for event in watch.stream(
        core.list_namespaced_config_map,
        namespace,
        resource_version=listed.metadata.resource_version,
        timeout_seconds=WATCH_SECONDS,
        _request_timeout=DEADLINE,
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 2:
            watch.stop()
    assert seen == [("ADDED", "after"), ("DELETED", "before")]
    core.delete_namespaced_config_map("after", namespace)


def test_watch_from_forgotten_resource_version_is_gone(tmp_path: Path) -> None:
    """A restarted server no longer has the history before it started: 410 Expired.

    The watch cache keeps events only from the revision it listed at (as upstream's does), so
    a watch from resourceVersion 1 after a restart is too old. The sync client raises
    ``ApiException(410)`` (it does not retry when ``timeout_seconds`` is given), and so does
    kubernetes_asyncio.
    """
    home = tmp_path / "home"
    home.mkdir()
    data = tmp_path / "data"
    server = start_server(data, home)
    try:
        server.kubectl("create", "configmap", "old", "--from-literal=k=v")
        server.kubectl("label", "configmap", "old", "changed=yes")
    finally:
        assert "Traceback" not in stop_server(server)
    server = start_server(data, home)
    try:
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(
            config_file=str(server.kubeconfig), client_configuration=configuration
        )
        with kubernetes.client.ApiClient(configuration) as api:
            core = kubernetes.client.CoreV1Api(api)
            current = core.list_namespaced_config_map("default").metadata.resource_version
            with pytest.raises(ApiException) as info:
                for _ in kubernetes.watch.Watch().stream(
                    core.list_namespaced_config_map,
                    "default",
                    resource_version="1",
                    timeout_seconds=WATCH_SECONDS,
                    _request_timeout=DEADLINE,
                ):
                    pass
            assert info.value.status == 410
            assert info.value.reason.startswith("Expired: too old resource version: 1 (")
            # The current revision is still fine to watch from.
            events = list(
                kubernetes.watch.Watch().stream(
                    core.list_namespaced_config_map,
                    "default",
                    resource_version=current,
                    timeout_seconds=1,
                    _request_timeout=DEADLINE,
                )
            )
            assert events == []
        asyncio.run(_asyncio_watch_gone(server.kubeconfig))
    finally:
        assert "Traceback" not in stop_server(server)


async def _asyncio_watch_gone(kubeconfig: Path) -> None:
    configuration = kubernetes_asyncio.client.Configuration()
    await kubernetes_asyncio.config.load_kube_config(
        config_file=str(kubeconfig), client_configuration=configuration
    )
    async with kubernetes_asyncio.client.ApiClient(configuration) as api:
        core = kubernetes_asyncio.client.CoreV1Api(api)
        watch = kubernetes_asyncio.watch.Watch()

        async def drain() -> None:
            async with (
                asyncio.timeout(DEADLINE),
                watch.stream(
                    core.list_namespaced_config_map,
                    "default",
                    resource_version="1",
                    timeout_seconds=WATCH_SECONDS,
                ) as stream,
            ):
                async for _ in stream:
                    pass

        with pytest.raises(AsyncApiException) as info:
            await drain()
        assert info.value.status == 410


# ----- kubernetes_asyncio -----------------------------------------------------------------


@pytest.fixture
async def k8s_async(cluster: Cluster) -> AsyncIterator[kubernetes_asyncio.client.ApiClient]:
    configuration = kubernetes_asyncio.client.Configuration()
    await kubernetes_asyncio.config.load_kube_config(
        config_file=str(cluster.kubeconfig), client_configuration=configuration
    )
    async with kubernetes_asyncio.client.ApiClient(configuration) as api:
        yield api


async def test_kubernetes_asyncio_configmap_crud(
    k8s_async: kubernetes_asyncio.client.ApiClient, namespace: str
) -> None:
    core = kubernetes_asyncio.client.CoreV1Api(k8s_async)
    created = await core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "settings", "labels": {"tier": "web"}}, "data": {"a": "1"}}
    )
    await core.create_namespaced_config_map(namespace, {"metadata": {"name": "other"}})
    read = await core.read_namespaced_config_map("settings", namespace)
    assert read.data == {"a": "1"}
    listed = await core.list_namespaced_config_map(namespace, label_selector="tier=web")
    assert [cm.metadata.name for cm in listed.items] == ["settings"]
    listed = await core.list_namespaced_config_map(namespace, field_selector="metadata.name=other")
    assert [cm.metadata.name for cm in listed.items] == ["other"]

    read.data["b"] = "2"
    replaced = await core.replace_namespaced_config_map("settings", namespace, read)
    assert replaced.data == {"a": "1", "b": "2"}
    patched = await core.patch_namespaced_config_map("settings", namespace, {"data": {"c": "3"}})
    assert patched.data == {"a": "1", "b": "2", "c": "3"}

    with pytest.raises(AsyncApiException) as info:
        await core.create_namespaced_config_map(namespace, {"metadata": {"name": "settings"}})
    assert info.value.status == 409
    assert status_body(info.value)["reason"] == "AlreadyExists"
    created.data = {"stale": "yes"}
    with pytest.raises(AsyncApiException) as info:
        await core.replace_namespaced_config_map("settings", namespace, created)
    assert info.value.status == 409
    assert status_body(info.value)["reason"] == "Conflict"
    with pytest.raises(AsyncApiException) as info:
        await core.create_namespaced_config_map(namespace, {"metadata": {"name": "-bad-"}})
    assert info.value.status == 422
    assert status_body(info.value)["reason"] == "Invalid"

    await core.delete_namespaced_config_map("settings", namespace)
    await core.delete_namespaced_config_map("other", namespace)
    with pytest.raises(AsyncApiException) as info:
        await core.read_namespaced_config_map("settings", namespace)
    assert info.value.status == 404
    assert status_body(info.value)["reason"] == "NotFound"


async def test_kubernetes_asyncio_deployment_scale(
    k8s_async: kubernetes_asyncio.client.ApiClient, namespace: str
) -> None:
    apps = kubernetes_asyncio.client.AppsV1Api(k8s_async)
    created = await apps.create_namespaced_deployment(namespace, deployment("web"))
    assert created.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"
    scale = await apps.patch_namespaced_deployment_scale(
        "web", namespace, {"spec": {"replicas": 3}}
    )
    assert scale.spec.replicas == 3
    scale = await apps.read_namespaced_deployment_scale("web", namespace)
    assert (scale.spec.replicas, scale.status.selector) == (3, "app=web")
    patched = await apps.patch_namespaced_deployment(
        "web",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}},
    )
    assert patched.spec.replicas == 3
    assert patched.spec.template.spec.containers[0].ports[0].container_port == 80
    await apps.delete_namespaced_deployment("web", namespace)
    with pytest.raises(AsyncApiException) as info:
        await apps.read_namespaced_deployment("web", namespace)
    assert info.value.status == 404


async def test_kubernetes_asyncio_watch(
    k8s_async: kubernetes_asyncio.client.ApiClient, namespace: str
) -> None:
    core = kubernetes_asyncio.client.CoreV1Api(k8s_async)
    await core.create_namespaced_config_map(namespace, {"metadata": {"name": "existing"}})
    watch = kubernetes_asyncio.watch.Watch()
    seen: list[tuple[str, str]] = []
    # kubernetes_asyncio sends ?timeoutSeconds=N&watch=True (a capital T).
    async with asyncio.timeout(DEADLINE):
        async with watch.stream(
            core.list_namespaced_config_map, namespace, timeout_seconds=WATCH_SECONDS
        ) as stream:
            async for event in stream:
                if event["object"].metadata.name == ROOT_CA:
                    continue
                seen.append((event["type"], event["object"].metadata.name))
                if event["type"] == "ADDED" and len(seen) == 1:
                    await core.create_namespaced_config_map(
                        namespace, {"metadata": {"name": "new"}}
                    )
                elif event["type"] == "ADDED":
                    await core.patch_namespaced_config_map("new", namespace, {"data": {"k": "v"}})
                elif event["type"] == "MODIFIED":
                    await core.delete_namespaced_config_map("new", namespace)
                elif event["type"] == "DELETED":
                    watch.stop()
    assert seen == [
        ("ADDED", "existing"),
        ("ADDED", "new"),
        ("MODIFIED", "new"),
        ("DELETED", "new"),
    ]
    await core.delete_namespaced_config_map("existing", namespace)


# ----- kr8s -------------------------------------------------------------------------------


@pytest.fixture
async def kr8s_api(cluster: Cluster) -> AsyncIterator[kr8s.asyncio.Api]:
    api = await kr8s.asyncio.api(kubeconfig=str(cluster.kubeconfig))
    yield api
    # kr8s has no public close: shut its httpx client so no socket outlives the test's loop,
    # and forget the Api it keeps per thread and event loop (each test has a loop of its own).
    if api._session is not None:
        await api._session.aclose()
    kr8s.asyncio.Api._instances.clear()


async def test_kr8s_configmaps(kr8s_api: kr8s.asyncio.Api, namespace: str) -> None:
    version = await kr8s_api.version()
    assert (version["major"], version["minor"]) == ("1", "32")
    cm = Kr8sConfigMap(
        {
            "metadata": {"name": "settings", "namespace": namespace, "labels": {"tier": "web"}},
            "data": {"a": "1"},
        },
        api=kr8s_api,
    )
    await cm.create()
    assert cm.metadata.uid
    other = Kr8sConfigMap({"metadata": {"name": "other", "namespace": namespace}}, api=kr8s_api)
    await other.create()

    # Object.get lists with fieldSelector=metadata.name=X (twice over), then GETs.
    got = await Kr8sConfigMap.get("settings", namespace=namespace, api=kr8s_api)
    assert got.data == {"a": "1"}
    # Every kr8s patch is a merge patch.
    await got.patch({"data": {"b": "2"}})
    assert got.data == {"a": "1", "b": "2"}
    await got.patch([{"op": "add", "path": "/data/c", "value": "3"}], type="json")
    assert got.data == {"a": "1", "b": "2", "c": "3"}
    await got.label({"patched": "yes"})
    await got.refresh()
    assert got.labels == {"tier": "web", "patched": "yes"}

    found = [
        o.name
        async for o in kr8s_api.get("configmaps", namespace=namespace, label_selector="tier=web")
    ]
    assert found == ["settings"]
    found = [
        o.name
        async for o in kr8s_api.get(
            "configmaps", namespace=namespace, label_selector={"patched": "yes"}
        )
    ]
    assert found == ["settings"]
    found = [
        o.name
        async for o in kr8s_api.get(
            "configmaps", namespace=namespace, field_selector="metadata.name=other"
        )
    ]
    assert found == ["other"]

    duplicate = Kr8sConfigMap(
        {"metadata": {"name": "settings", "namespace": namespace}}, api=kr8s_api
    )
    with pytest.raises(kr8s.ServerError) as info:
        await duplicate.create()
    assert info.value.response is not None
    assert info.value.response.status_code == 409
    assert info.value.status is not None
    assert info.value.status["reason"] == "AlreadyExists"  # type: ignore[index]

    await got.delete()
    await other.delete()
    assert not await got.exists()
    with pytest.raises(kr8s.NotFoundError):
        await Kr8sConfigMap.get("settings", namespace=namespace, api=kr8s_api)


async def test_kr8s_deployment_scale(kr8s_api: kr8s.asyncio.Api, namespace: str) -> None:
    manifest = deployment("web")
    manifest["metadata"]["namespace"] = namespace
    dep = Kr8sDeployment(manifest, api=kr8s_api)
    await dep.create()
    # scale() merge-patches spec.replicas of the deployment and polls until it reads back.
    async with asyncio.timeout(DEADLINE):
        await dep.scale(3)
    assert dep.replicas == 3
    again = await Kr8sDeployment.get("web", namespace=namespace, api=kr8s_api)
    assert again.raw["spec"]["replicas"] == 3
    assert again.raw["metadata"]["generation"] == 2
    await dep.delete()
    assert not await dep.exists()


async def test_kr8s_watch(kr8s_api: kr8s.asyncio.Api, namespace: str) -> None:
    existing = Kr8sConfigMap(
        {"metadata": {"name": "existing", "namespace": namespace}}, api=kr8s_api
    )
    await existing.create()
    seen: list[tuple[str, str]] = []
    new = Kr8sConfigMap({"metadata": {"name": "new", "namespace": namespace}}, api=kr8s_api)
    # kr8s watches with ?watch=true and no timeout: the client-side deadline bounds it.
    async with asyncio.timeout(DEADLINE):
        async for kind, obj in kr8s_api.watch("configmaps", namespace=namespace):
            if obj.name == ROOT_CA:
                continue
            seen.append((kind, obj.name))
            if kind == "ADDED" and obj.name == "existing":
                await new.create()
            elif kind == "ADDED":
                await new.patch({"data": {"k": "v"}})
            elif kind == "MODIFIED":
                assert obj.raw["data"] == {"k": "v"}
                await new.delete()
            elif kind == "DELETED":
                break
    assert seen == [
        ("ADDED", "existing"),
        ("ADDED", "new"),
        ("MODIFIED", "new"),
        ("DELETED", "new"),
    ]
    await existing.delete()


# ----- lightkube --------------------------------------------------------------------------


class Exchange(NamedTuple):
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    status: int
    response_type: str


class RecordingTransport(httpx2.BaseTransport):
    """Passes requests on to ``inner`` and keeps what went over the wire."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.inner.handle_request(request)
        self.exchanges.append(
            Exchange(
                request.method,
                request.url.path,
                dict(request.url.params),
                request.headers.get("Content-Type", ""),
                response.status_code,
                response.headers.get("Content-Type", ""),
            )
        )
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def lightkube_recorded(cluster: Cluster) -> Iterator[tuple[Client, RecordingTransport]]:
    config = KubeConfig.from_file(cluster.kubeconfig)
    single = config.get()
    assert single.user is not None
    tls = verify_cluster(single.cluster, single.user, single.abs_file)
    transport = RecordingTransport(httpx2.HTTPTransport(verify=tls))
    client = Client(config=config, transport=transport)
    yield client, transport
    client.close()


@pytest.fixture
def lightkube(cluster: Cluster) -> Iterator[Client]:
    client = Client(config=KubeConfig.from_file(cluster.kubeconfig))
    yield client
    client.close()


def lk_deployment(name: str, image: str = "nginx:1.25") -> LkDeployment:
    labels = {"app": name}
    return LkDeployment(
        metadata=ObjectMeta(name=name, labels=labels),
        spec=DeploymentSpec(
            replicas=1,
            selector=LabelSelector(matchLabels=labels),
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels=labels),
                spec=PodSpec(
                    containers=[
                        Container(name="web", image=image, ports=[ContainerPort(containerPort=80)])
                    ]
                ),
            ),
        ),
    )


def test_lightkube_crud_and_errors(lightkube: Client, namespace: str) -> None:
    created = lightkube.create(
        LkConfigMap(metadata=ObjectMeta(name="settings", labels={"tier": "web"}), data={"a": "1"}),
        namespace=namespace,
    )
    assert created.metadata is not None
    assert created.metadata.uid
    lightkube.create(LkConfigMap(metadata=ObjectMeta(name="other")), namespace=namespace)
    got = lightkube.get(LkConfigMap, "settings", namespace=namespace)
    assert got.data == {"a": "1"}
    names = [
        cm.metadata.name
        for cm in lightkube.list(LkConfigMap, namespace=namespace, labels={"tier": "web"})
        if cm.metadata is not None
    ]
    assert names == ["settings"]
    names = [
        cm.metadata.name
        for cm in lightkube.list(LkConfigMap, namespace=namespace, chunk_size=1)
        if cm.metadata is not None and cm.metadata.name != ROOT_CA
    ]
    assert names == ["other", "settings"]

    merged = lightkube.patch(
        LkConfigMap,
        "settings",
        {"data": {"b": "2"}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    assert merged.data == {"a": "1", "b": "2"}
    strategic = lightkube.patch(LkConfigMap, "settings", {"data": {"c": "3"}}, namespace=namespace)
    assert strategic.data == {"a": "1", "b": "2", "c": "3"}
    json_patched = lightkube.patch(
        LkConfigMap,
        "settings",
        [{"op": "remove", "path": "/data/a"}],
        namespace=namespace,
        patch_type=PatchType.JSON,
    )
    assert json_patched.data == {"b": "2", "c": "3"}

    with pytest.raises(ApiError) as info:
        lightkube.create(LkConfigMap(metadata=ObjectMeta(name="settings")), namespace=namespace)
    assert info.value.status.code == 409
    assert info.value.status.reason == "AlreadyExists"
    created.data = {"stale": "yes"}
    with pytest.raises(ApiError) as info:
        lightkube.replace(created, namespace=namespace)
    assert info.value.status.code == 409
    assert info.value.status.reason == "Conflict"
    with pytest.raises(ApiError) as info:
        lightkube.create(LkConfigMap(metadata=ObjectMeta(name="UPPER")), namespace=namespace)
    assert info.value.status.code == 422
    assert info.value.status.details is not None
    causes = info.value.status.details.causes or []
    assert [cause.field for cause in causes] == ["metadata.name"]

    lightkube.delete(LkConfigMap, "settings", namespace=namespace)
    lightkube.delete(LkConfigMap, "other", namespace=namespace)
    with pytest.raises(ApiError) as info:
        lightkube.get(LkConfigMap, "settings", namespace=namespace)
    assert info.value.status.code == 404
    assert info.value.status.reason == "NotFound"
    with pytest.raises(ApiError) as info:
        lightkube.delete(LkConfigMap, "settings", namespace=namespace)
    assert info.value.status.code == 404


def test_lightkube_apply_and_scale(
    lightkube_recorded: tuple[Client, RecordingTransport], namespace: str
) -> None:
    client, transport = lightkube_recorded
    applied = client.apply(
        LkConfigMap(metadata=ObjectMeta(name="applied"), data={"a": "1"}),
        namespace=namespace,
        field_manager="lk",
    )
    assert applied.data == {"a": "1"}
    applied = client.apply(
        LkConfigMap(metadata=ObjectMeta(name="applied"), data={"a": "2"}),
        namespace=namespace,
        field_manager="lk",
        force=True,
    )
    assert applied.data == {"a": "2"}
    path = f"/api/v1/namespaces/{namespace}/configmaps/applied"
    apply = "application/apply-patch+yaml"
    assert [x for x in transport.exchanges if x.path == path] == [
        Exchange("PATCH", path, {"fieldManager": "lk"}, apply, 201, "application/json"),
        Exchange(
            "PATCH", path, {"fieldManager": "lk", "force": "true"}, apply, 200, "application/json"
        ),
    ]

    dep = client.apply(lk_deployment("web"), namespace=namespace, field_manager="lk")
    assert dep.metadata is not None
    assert dep.metadata.generation == 1
    # Strategic merge on a Deployment: containers merge by name.
    dep = client.patch(
        LkDeployment,
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}},
        namespace=namespace,
        patch_type=PatchType.STRATEGIC,
    )
    assert dep.spec is not None
    assert dep.spec.template.spec is not None
    container = dep.spec.template.spec.containers[0]
    assert container.image == "nginx:1.27"
    assert container.ports is not None
    assert container.ports[0].containerPort == 80

    scale = client.get(LkDeployment.Scale, "web", namespace=namespace)
    assert scale.spec is not None
    assert scale.spec.replicas == 1
    scale = client.patch(LkDeployment.Scale, "web", {"spec": {"replicas": 3}}, namespace=namespace)
    assert scale.spec is not None
    assert scale.spec.replicas == 3
    scale = client.replace(
        LkDeployment.Scale(metadata=ObjectMeta(name="web", namespace=namespace), spec=ScaleSpec(4))
    )
    assert scale.spec is not None
    assert scale.spec.replicas == 4
    dep = client.get(LkDeployment, "web", namespace=namespace)
    assert dep.spec is not None
    assert dep.spec.replicas == 4

    client.delete(LkDeployment, "web", namespace=namespace)
    client.delete(LkConfigMap, "applied", namespace=namespace)
    with pytest.raises(ApiError) as info:
        client.get(LkDeployment.Scale, "web", namespace=namespace)
    assert info.value.status.code == 404
    # Every answer, errors included, was plain application/json (what ApiError needs).
    assert {x.response_type for x in transport.exchanges} == {"application/json"}
    assert 404 in {x.status for x in transport.exchanges}


@pytest.mark.timeout(DEADLINE * 2)
def test_lightkube_watch(lightkube: Client, namespace: str) -> None:
    lightkube.create(LkConfigMap(metadata=ObjectMeta(name="existing")), namespace=namespace)
    seen: list[tuple[str, str]] = []
    # lightkube re-watches whenever the server ends a stream, so only the test timeout (and the
    # break below) end this loop.
    for kind, obj in lightkube.watch(
        LkConfigMap, namespace=namespace, server_timeout=WATCH_SECONDS
    ):
        assert obj.metadata is not None
        assert obj.metadata.name is not None
        if obj.metadata.name == ROOT_CA:
            continue
        seen.append((kind, obj.metadata.name))
        if kind == "ADDED" and obj.metadata.name == "existing":
            lightkube.create(LkConfigMap(metadata=ObjectMeta(name="new")), namespace=namespace)
        elif kind == "ADDED":
            lightkube.patch(LkConfigMap, "new", {"data": {"k": "v"}}, namespace=namespace)
        elif kind == "MODIFIED":
            lightkube.delete(LkConfigMap, "new", namespace=namespace)
        elif kind == "DELETED":
            break
    assert seen == [
        ("ADDED", "existing"),
        ("ADDED", "new"),
        ("MODIFIED", "new"),
        ("DELETED", "new"),
    ]
    lightkube.delete(LkConfigMap, "existing", namespace=namespace)


async def test_lightkube_async_watch_with_selector(cluster: Cluster, namespace: str) -> None:
    client = AsyncClient(config=KubeConfig.from_file(cluster.kubeconfig))
    try:
        await client.create(LkConfigMap(metadata=ObjectMeta(name="ignored")), namespace=namespace)
        await client.create(
            LkConfigMap(metadata=ObjectMeta(name="picked", labels={"watched": "yes"})),
            namespace=namespace,
        )
        seen: list[tuple[str, str]] = []
        async with asyncio.timeout(DEADLINE):
            async for kind, obj in client.watch(
                LkConfigMap,
                namespace=namespace,
                labels={"watched": "yes"},
                server_timeout=WATCH_SECONDS,
            ):
                assert obj.metadata is not None
                assert obj.metadata.name is not None
                seen.append((kind, obj.metadata.name))
                if kind == "ADDED" and len(seen) == 1:
                    # Dropping the label takes it out of the selection: the watch sees DELETED.
                    await client.patch(
                        LkConfigMap,
                        "picked",
                        {"metadata": {"labels": {"watched": None}}},
                        namespace=namespace,
                        patch_type=PatchType.MERGE,
                    )
                elif kind == "DELETED":
                    # Labelling the other one brings it into the selection: ADDED.
                    await client.patch(
                        LkConfigMap,
                        "ignored",
                        {"metadata": {"labels": {"watched": "yes"}}},
                        namespace=namespace,
                    )
                else:
                    break
        assert seen == [("ADDED", "picked"), ("DELETED", "picked"), ("ADDED", "ignored")]
        await client.delete(LkConfigMap, "picked", namespace=namespace)
        await client.delete(LkConfigMap, "ignored", namespace=namespace)
    finally:
        await client.close()
