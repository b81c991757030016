"""The node agent against a real API server, on the in-memory runtime and a fake clock.

Each test runs ``Kubelet`` over ``FakeRuntime`` (containers interpret their shell commands:
``exit N``, ``sleep N``...), creates pods bound to its node and watches what a user would see:
phases, conditions, container states, restart counts, events, files of volumes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kybernetes.agent.images.interface import AuthConfig, Image, ImageError
from kybernetes.agent.kubelet.config import KubeletConfig
from kybernetes.agent.kubelet.kubelet import Kubelet
from kybernetes.agent.runtime.fakeruntime import FakeRuntime, FakeState
from kybernetes.api import errors
from kybernetes.client.resource import CONFIGMAPS, EVENTS, LEASES, NODES, PODS, SECRETS, SERVICES
from kybernetes.client.rest import Client
from kybernetes.testing.apiserver import RunningAPIServer, running_apiserver
from kybernetes.util.clock import FakeClock

pytestmark = pytest.mark.timeout(60)

Obj = dict[str, Any]
NODE = "kyb-node-1"


class FakeImages:
    """An image service double: every image but ``missing/*`` pulls; pulls are recorded."""

    def __init__(self) -> None:
        self.present: dict[str, Image] = {}
        self.pulls: list[str] = []

    async def pull_image(self, reference: str, auth: AuthConfig | None = None) -> Image:
        self.pulls.append(reference)
        if reference.startswith("missing/"):
            raise ImageError(f"{reference}: manifest unknown")
        image = Image(id="sha256:" + format(abs(hash(reference)), "x").rjust(64, "0"), size=1234)
        self.present[reference] = image
        return image

    async def image_status(self, reference: str) -> Image | None:
        return self.present.get(reference)

    async def list_images(self) -> list[Image]:
        return list(self.present.values())

    async def remove_image(self, reference: str) -> None:
        self.present.pop(reference, None)

    async def prepare_rootfs(self, image: str, container_dir: str) -> str:
        return container_dir

    async def release_rootfs(self, container_dir: str) -> None:
        return None


@pytest_asyncio.fixture
async def api() -> AsyncIterator[RunningAPIServer]:
    async with running_apiserver() as running:
        yield running


@pytest_asyncio.fixture
async def client(api: RunningAPIServer) -> AsyncIterator[Client]:
    async with Client(api.url) as c:
        yield c


class Node:
    def __init__(self, kubelet: Kubelet, runtime: FakeRuntime, clock: FakeClock) -> None:
        self.kubelet = kubelet
        self.runtime = runtime
        self.clock = clock


_ips = itertools.count(2)


@contextlib.asynccontextmanager
async def running_kubelet(
    client: Client, data_dir: Path, clock: FakeClock, state: FakeState | None = None
) -> AsyncIterator[Node]:
    runtime = FakeRuntime(clock, state, pod_ip=lambda sid: f"10.42.0.{next(_ips) % 250 + 2}")
    config = KubeletConfig(
        node_name=NODE,
        data_dir=str(data_dir),
        pod_cidr="10.42.0.0/24",
        internal_ip="10.41.0.1",
        runtime_name="fake",
        resolv_conf=None,
        use_tmpfs=False,
    )
    kubelet = Kubelet(client, config, images=FakeImages(), clock=clock)
    task = asyncio.ensure_future(kubelet.run(runtime))
    try:
        async with asyncio.timeout(10):
            ready = asyncio.ensure_future(kubelet.ready.wait())
            await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()
        yield Node(kubelet, runtime, clock)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(
    check: Callable[[], Awaitable[bool]],
    clock: FakeClock | None = None,
    timeout: float = 10.0,
    step: float = 0.0,
) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            if clock is not None and step:
                clock.advance(step)
            await asyncio.sleep(0.02)


async def advance(clock: FakeClock, seconds: float, step: float = 1.0) -> None:
    moved = 0.0
    while moved < seconds:
        clock.advance(step)
        moved += step
        await asyncio.sleep(0.03)


def pod_of(name: str, containers: Sequence[Obj], **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {"nodeName": NODE, "containers": list(containers), **spec},
    }


def container(name: str, command: Sequence[str], **extra: Any) -> Obj:
    return {"name": name, "image": "busybox:1.36", "command": list(command), **extra}


async def get_pod(client: Client, name: str) -> Obj:
    return await client.get(PODS, name, "default")


async def phase(client: Client, name: str) -> str:
    return str((await get_pod(client, name)).get("status", {}).get("phase", ""))


def cstatus(pod: Obj, name: str, init: bool = False) -> Obj:
    key = "initContainerStatuses" if init else "containerStatuses"
    for status in (pod.get("status") or {}).get(key) or ():
        if status["name"] == name:
            found: Obj = status
            return found
    return {}


def condition(pod: Obj, type_: str) -> str:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c["type"] == type_:
            return str(c["status"])
    return ""


async def events_of(client: Client, name: str) -> list[Obj]:
    await asyncio.sleep(0.1)
    items = (await client.list(EVENTS, "default")).get("items") or []
    return [e for e in items if e["involvedObject"].get("name") == name]


# --- the node ---------------------------------------------------------------------------------


async def test_node_registered_with_capacity_and_lease(client: Client, tmp_path: Path) -> None:
    async with running_kubelet(client, tmp_path, FakeClock()):
        node = await client.get(NODES, NODE)
        capacity = node["status"]["capacity"]
        assert int(capacity["cpu"]) == os.cpu_count()
        assert capacity["pods"] == "110"
        assert capacity["memory"].endswith("Ki")
        assert node["spec"]["podCIDR"] == "10.42.0.0/24"
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready[0]["status"] == "True"

        async def leased() -> bool:
            with contextlib.suppress(errors.NotFound):
                await client.get(LEASES, NODE, "kube-node-lease")
                return True
            return False

        await eventually(leased)


# --- pods -------------------------------------------------------------------------------------


async def test_pod_runs_with_conditions_and_events(client: Client, tmp_path: Path) -> None:
    async with running_kubelet(client, tmp_path, FakeClock()):
        await client.create(PODS, pod_of("web", [container("c", ["sleep", "infinity"])]))

        async def running() -> bool:
            pod = await get_pod(client, "web")
            return (
                pod.get("status", {}).get("phase") == "Running"
                and condition(pod, "Ready") == "True"
            )

        await eventually(running)
        pod = await get_pod(client, "web")
        status = pod["status"]
        assert status["podIP"].startswith("10.42.0.")
        assert status["hostIP"] == "10.41.0.1"
        assert status["qosClass"] == "BestEffort"
        for type_ in (
            "PodReadyToStartContainers",
            "Initialized",
            "ContainersReady",
            "PodScheduled",
        ):
            assert condition(pod, type_) == "True"
        c = cstatus(pod, "c")
        assert c["ready"]
        assert c["started"]
        assert c["restartCount"] == 0
        assert c["containerID"].startswith("fake://")
        assert "running" in c["state"]
        reasons = [e["reason"] for e in await events_of(client, "web")]
        for reason in ("Pulling", "Pulled", "Created", "Started"):
            assert reason in reasons


async def test_crashing_container_backs_off(client: Client, tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_kubelet(client, tmp_path, clock):
        await client.create(PODS, pod_of("crash", [container("c", ["sh", "-c", "exit 1"])]))

        async def crashlooping() -> bool:
            c = cstatus(await get_pod(client, "crash"), "c")
            return c.get("restartCount") == 1 and (
                c["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"
            )

        await eventually(crashlooping, clock, step=1.0)
        c = cstatus(await get_pod(client, "crash"), "c")
        assert c["lastState"]["terminated"]["exitCode"] == 1
        assert "back-off 10s restarting failed container=c" in c["state"]["waiting"]["message"]
        await advance(clock, 12)

        async def second() -> bool:
            return cstatus(await get_pod(client, "crash"), "c").get("restartCount") == 2

        await eventually(second, clock, step=1.0)
        await advance(clock, 5)
        c = cstatus(await get_pod(client, "crash"), "c")
        assert c["restartCount"] == 2  # 20 s now
        assert "back-off 20s" in c["state"]["waiting"]["message"]
        messages = [e["message"] for e in await events_of(client, "crash")]
        assert any(
            m.startswith("Back-off restarting failed container c in pod crash_default(")
            for m in messages
        )


@pytest.mark.parametrize(("code", "want"), [(0, "Succeeded"), (3, "Failed")])
async def test_restart_never_ends(client: Client, tmp_path: Path, code: int, want: str) -> None:
    clock = FakeClock()
    async with running_kubelet(client, tmp_path, clock):
        await client.create(
            PODS,
            pod_of("once", [container("c", ["sh", "-c", f"exit {code}"])], restartPolicy="Never"),
        )

        async def done() -> bool:
            return await phase(client, "once") == want

        await eventually(done, clock, step=1.0)
        c = cstatus(await get_pod(client, "once"), "c")
        assert c["state"]["terminated"]["exitCode"] == code
        assert c["restartCount"] == 0


async def test_init_containers_run_in_order(client: Client, tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_kubelet(client, tmp_path, clock) as node:
        pod = pod_of("init", [container("app", ["sleep", "infinity"])])
        pod["spec"]["initContainers"] = [
            container("first", ["sh", "-c", "sleep 3"]),
            container("second", ["true"]),
        ]
        await client.create(PODS, pod)

        async def first_running() -> bool:
            p = await get_pod(client, "init")
            return "running" in cstatus(p, "first", init=True).get("state", {})

        await eventually(first_running)
        p = await get_pod(client, "init")
        assert p["status"]["phase"] == "Pending"
        assert cstatus(p, "app")["state"]["waiting"]["reason"] == "PodInitializing"
        assert condition(p, "Initialized") == "False"

        async def running() -> bool:
            return await phase(client, "init") == "Running"

        await eventually(running, clock, step=1.0)
        p = await get_pod(client, "init")
        first = cstatus(p, "first", init=True)["state"]["terminated"]
        second = cstatus(p, "second", init=True)["state"]["terminated"]
        assert first["reason"] == second["reason"] == "Completed"
        started = {c.config.name: c.started_at for c in node.runtime.state.containers.values()}
        assert started["first"] < started["second"] <= started["app"]


async def test_failing_liveness_probe_restarts(client: Client, tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_kubelet(client, tmp_path, clock):
        probe = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 2}
        await client.create(
            PODS, pod_of("live", [container("c", ["sleep", "infinity"], livenessProbe=probe)])
        )

        async def restarted() -> bool:
            return int(cstatus(await get_pod(client, "live"), "c").get("restartCount", 0)) >= 1

        await eventually(restarted, clock, step=1.0)
        events = await events_of(client, "live")
        assert any(
            e["reason"] == "Unhealthy" and e["message"].startswith("Liveness probe failed")
            for e in events
        )
        assert any(
            e["message"] == "Container c failed liveness probe, will be restarted" for e in events
        )


@pytest.mark.parametrize(("command", "ready"), [(["true"], "True"), (["false"], "False")])
async def test_readiness_gates_ready(
    client: Client, tmp_path: Path, command: list[str], ready: str
) -> None:
    clock = FakeClock()
    async with running_kubelet(client, tmp_path, clock):
        probe = {"exec": {"command": command}, "periodSeconds": 1}
        await client.create(
            PODS, pod_of("ready", [container("c", ["sleep", "infinity"], readinessProbe=probe)])
        )

        async def running() -> bool:
            return await phase(client, "ready") == "Running"

        await eventually(running, clock, step=1.0)
        await advance(clock, 5)
        pod = await get_pod(client, "ready")
        assert condition(pod, "Ready") == ready
        assert condition(pod, "ContainersReady") == ready
        assert cstatus(pod, "c")["ready"] is (ready == "True")


async def test_graceful_deletion(client: Client, tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_kubelet(client, tmp_path, clock) as node:
        await client.create(PODS, pod_of("bye", [container("c", ["sleep", "infinity"])]))

        async def running() -> bool:
            return await phase(client, "bye") == "Running"

        await eventually(running)
        await client.delete(PODS, "bye", "default")

        async def gone() -> bool:
            try:
                await get_pod(client, "bye")
            except errors.NotFound:
                return True
            return False

        await eventually(gone, clock, step=1.0)
        assert not node.runtime.state.sandboxes
        assert not node.runtime.state.containers
        assert any(e["reason"] == "Killing" for e in await events_of(client, "bye"))


async def test_image_pull_failure_backs_off(client: Client, tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_kubelet(client, tmp_path, clock):
        spec = {"name": "c", "image": "missing/image:1", "command": ["sleep", "infinity"]}
        await client.create(PODS, pod_of("pull", [spec]))

        async def failed() -> bool:
            c = cstatus(await get_pod(client, "pull"), "c")
            return c.get("state", {}).get("waiting", {}).get("reason") in (
                "ErrImagePull",
                "ImagePullBackOff",
            )

        await eventually(failed, clock, step=1.0)
        messages = [e["message"] for e in await events_of(client, "pull")]
        assert any(m.startswith('Failed to pull image "missing/image:1"') for m in messages)
        assert "Error: ErrImagePull" in messages


async def test_restart_adopts_running_containers(client: Client, tmp_path: Path) -> None:
    clock = FakeClock()
    state = FakeState()
    async with running_kubelet(client, tmp_path, clock, state):
        await client.create(PODS, pod_of("keep", [container("c", ["sh", "-c", "exit 1"])]))

        async def restarted() -> bool:
            return cstatus(await get_pod(client, "keep"), "c").get("restartCount") == 1

        await eventually(restarted, clock, step=1.0)
        await client.create(PODS, pod_of("steady", [container("c", ["sleep", "infinity"])]))

        async def running() -> bool:
            return await phase(client, "steady") == "Running"

        await eventually(running)
        before = cstatus(await get_pod(client, "steady"), "c")["containerID"]
    async with running_kubelet(client, tmp_path, clock, state) as node:
        await advance(clock, 3)
        steady = await get_pod(client, "steady")
        assert cstatus(steady, "c")["containerID"] == before
        assert cstatus(steady, "c")["restartCount"] == 0
        running_ids = [
            cid
            for cid, c in node.runtime.state.containers.items()
            if c.config.name == "c" and c.started_at and c.stopped is None
        ]
        assert before.removeprefix("fake://") in running_ids
        assert cstatus(await get_pod(client, "keep"), "c")["restartCount"] >= 1


async def test_orphaned_sandboxes_removed_at_start(client: Client, tmp_path: Path) -> None:
    clock = FakeClock()
    state = FakeState()
    async with running_kubelet(client, tmp_path, clock, state):
        await client.create(PODS, pod_of("orphan", [container("c", ["sleep", "infinity"])]))

        async def running() -> bool:
            return await phase(client, "orphan") == "Running"

        await eventually(running)
    await client.delete(PODS, "orphan", "default", grace_period_seconds=0)
    async with running_kubelet(client, tmp_path, clock, state):
        assert not state.sandboxes
        assert not state.containers


# --- volumes and environment ------------------------------------------------------------------


def mount_path(node: Node, name: str, container_path: str) -> str:
    for c in node.runtime.state.containers.values():
        if c.config.name == name:
            for m in c.config.mounts:
                if m.container_path == container_path:
                    return m.host_path
    raise AssertionError(f"no mount {container_path} in {name}")


async def test_volume_contents_and_updates(client: Client, tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_kubelet(client, tmp_path, clock) as node:
        await client.create(
            CONFIGMAPS,
            {"metadata": {"name": "cfg", "namespace": "default"}, "data": {"greeting": "hello"}},
        )
        await client.create(
            SECRETS,
            {
                "metadata": {"name": "sec", "namespace": "default"},
                "data": {"password": base64.b64encode(b"s3cret").decode()},
            },
        )
        mounts = [{"name": n, "mountPath": f"/{n}"} for n in ("cfg", "sec", "info", "scratch")]
        pod = pod_of("vols", [container("c", ["sleep", "infinity"], volumeMounts=mounts)])
        pod["spec"]["volumes"] = [
            {"name": "cfg", "configMap": {"name": "cfg"}},
            {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o400}},
            {
                "name": "info",
                "downwardAPI": {
                    "items": [
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                    ]
                },
            },
            {"name": "scratch", "emptyDir": {}},
        ]
        await client.create(PODS, pod)

        async def running() -> bool:
            return await phase(client, "vols") == "Running"

        await eventually(running)
        cfg = mount_path(node, "c", "/cfg")
        assert Path(cfg, "greeting").read_text() == "hello"
        sec = Path(mount_path(node, "c", "/sec"), "password")
        assert sec.read_bytes() == b"s3cret"
        assert os.stat(sec).st_mode & 0o777 == 0o400
        info = mount_path(node, "c", "/info")
        assert Path(info, "labels").read_text() == 'app="vols"'
        assert Path(info, "name").read_text() == "vols"
        assert os.path.isdir(mount_path(node, "c", "/scratch"))

        current = await client.get(CONFIGMAPS, "cfg", "default")
        current["data"] = {"greeting": "bonjour"}
        await client.update(CONFIGMAPS, current)

        async def updated() -> bool:
            return Path(cfg, "greeting").read_text() == "bonjour"

        await eventually(updated)
        uid = (await get_pod(client, "vols"))["metadata"]["uid"]
        await client.delete(PODS, "vols", "default")

        async def cleaned() -> bool:
            return not Path(tmp_path, "pods", uid).exists()

        await eventually(cleaned, clock, step=1.0)


async def test_environment(client: Client, tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_kubelet(client, tmp_path, clock) as node:
        await client.create(
            CONFIGMAPS,
            {
                "metadata": {"name": "env", "namespace": "default"},
                "data": {"MODE": "fast", "LEVEL": "3"},
            },
        )
        await client.create(
            SERVICES,
            {
                "metadata": {"name": "my-db", "namespace": "default"},
                "spec": {"ports": [{"name": "sql", "port": 5432}]},
            },
        )
        env = [
            {"name": "GREETING", "value": "hi $(MODE)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "LVL", "valueFrom": {"configMapKeyRef": {"name": "env", "key": "LEVEL"}}},
        ]
        c = container(
            "c",
            ["echo", "$(GREETING)"],
            env=env,
            envFrom=[{"configMapRef": {"name": "env"}, "prefix": "CM_"}],
        )
        c["env"].insert(0, {"name": "MODE", "value": "slow"})
        await client.create(PODS, pod_of("env", [c]))

        async def created() -> bool:
            return any(x.config.name == "c" for x in node.runtime.state.containers.values())

        await eventually(created)
        config = next(x.config for x in node.runtime.state.containers.values())
        values = dict(config.env)
        assert values["GREETING"] == "hi slow"
        assert values["POD"] == "env"
        assert values["LVL"] == "3"
        assert values["CM_MODE"] == "fast"
        assert values["MY_DB_SERVICE_PORT"] == "5432"
        assert values["MY_DB_SERVICE_PORT_SQL"] == "5432"
        assert "MY_DB_SERVICE_HOST" in values
        assert list(config.command) == ["echo", "hi slow"]


async def test_missing_configmap_waits_with_config_error(client: Client, tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_kubelet(client, tmp_path, clock):
        env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]
        await client.create(PODS, pod_of("cfgerr", [container("c", ["sleep", "1"], env=env)]))

        async def waiting() -> bool:
            c = cstatus(await get_pod(client, "cfgerr"), "c")
            reason = c.get("state", {}).get("waiting", {}).get("reason")
            return bool(reason == "CreateContainerConfigError")

        await eventually(waiting)
        c = cstatus(await get_pod(client, "cfgerr"), "c")
        assert c["state"]["waiting"]["message"] == 'configmap "nope" not found'
        # Creating it lets the container start.
        await client.create(
            CONFIGMAPS, {"metadata": {"name": "nope", "namespace": "default"}, "data": {"k": "v"}}
        )

        async def started() -> bool:
            c = cstatus(await get_pod(client, "cfgerr"), "c")
            return "running" in c.get("state", {}) or "terminated" in c.get("state", {})

        await eventually(started, clock, step=1.0)
