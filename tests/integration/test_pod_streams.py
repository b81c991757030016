"""Logs, exec and port-forward through the API server to a kubelet's server (fake runtime).

The in-process API server relays ``pods/log``, ``pods/exec`` and ``pods/portforward`` to the
agent's server, which reads the fake runtime's CRI logs, runs exec through ``exec_sync`` and
forwards ports to a TCP server on loopback (the test's dialer stands for the pod network).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio

from kybernetes.agent.kubelet.config import KubeletConfig
from kybernetes.agent.kubelet.kubelet import Kubelet
from kybernetes.agent.runtime.fakeruntime import FakeRuntime
from kybernetes.agent.server import spdy
from kybernetes.agent.server.app import KubeletServer, KubeletServerConfig
from kybernetes.agent.server.host import KubeletHost, KubeletPods
from kybernetes.client.resource import PODS
from kybernetes.client.rest import Client
from kybernetes.testing.apiserver import RunningAPIServer, running_apiserver
from tests.integration.test_kubelet import FakeImages

pytestmark = pytest.mark.timeout(60)

NODE = "kyb-stream-node"


@pytest_asyncio.fixture
async def echo_port() -> AsyncIterator[int]:
    """A TCP server standing for the pod's port: it answers each line upper-cased."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield int(server.sockets[0].getsockname()[1])


@pytest_asyncio.fixture
async def cluster(tmp_path: Path, echo_port: int) -> AsyncIterator[tuple[RunningAPIServer, Client]]:
    async with running_apiserver() as api, Client(api.url) as client:
        api.server.kubelets.address = lambda _node: "127.0.0.1"

        async def dial(_host: str, _port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await asyncio.open_connection("127.0.0.1", echo_port)

        server = KubeletServer(KubeletServerConfig("127.0.0.1", 0), dial=dial)
        port = await server.start()
        config = KubeletConfig(
            node_name=NODE,
            data_dir=str(tmp_path),
            pod_cidr="10.42.0.0/24",
            internal_ip="10.41.0.1",
            runtime_name="fake",
            resolv_conf=None,
            use_tmpfs=False,
            kubelet_port=port,
        )
        kubelet = Kubelet(client, config, images=FakeImages())
        server.host = KubeletHost(KubeletPods(kubelet))
        task = asyncio.ensure_future(kubelet.run(FakeRuntime(pod_ip=lambda _sid: "10.42.0.9")))
        try:
            await asyncio.wait_for(kubelet.ready.wait(), 10)
            yield api, client
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await server.close()


async def running_pod(client: Client, name: str, containers: list[dict[str, Any]]) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": NODE, "containers": containers},
    }
    await client.create(PODS, pod, "default")
    async with asyncio.timeout(10):
        while (await client.get(PODS, name, "default")).get("status", {}).get("phase") != "Running":
            await asyncio.sleep(0.05)


def ctr(name: str, script: str) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script]}


async def test_logs_follow_the_cri_file_with_options(
    cluster: tuple[RunningAPIServer, Client],
) -> None:
    api, client = cluster
    await running_pod(client, "talker", [ctr("main", "echo one; echo two >&2; sleep 3600")])
    base = f"{api.url}/api/v1/namespaces/default/pods/talker/log"
    async with aiohttp.ClientSession() as http:
        async with http.get(base) as response:
            assert response.status == 200
            assert await response.text() == "one\ntwo\n"
        async with http.get(base, params={"tailLines": "1"}) as response:
            assert await response.text() == "two\n"
        async with http.get(base, params={"timestamps": "true"}) as response:
            first = (await response.text()).splitlines()[0]
            assert first.endswith("Z one")
            assert first[4] == "-"
        async with http.get(base, params={"limitBytes": "2"}) as response:
            assert await response.text() == "on"
        async with http.get(base, params={"container": "nope"}) as response:
            assert response.status == 400
            assert (await response.json())[
                "message"
            ] == "container nope is not valid for pod talker"


async def test_log_needs_a_container_name_when_there_are_several(
    cluster: tuple[RunningAPIServer, Client],
) -> None:
    api, client = cluster
    await running_pod(client, "two", [ctr("a", "sleep 3600"), ctr("b", "sleep 3600")])
    async with aiohttp.ClientSession() as http:
        url = f"{api.url}/api/v1/namespaces/default/pods/two/log"
        async with http.get(url) as response:
            assert response.status == 400
            body = await response.json()
    assert body["message"] == "a container name must be specified for pod two, choose one of: [a b]"


async def test_exec_reports_output_and_exit_code_over_v5(
    cluster: tuple[RunningAPIServer, Client],
) -> None:
    api, client = cluster
    await running_pod(client, "shell", [ctr("main", "sleep 3600")])
    url = f"{api.url}/api/v1/namespaces/default/pods/shell/exec"
    params = [("command", "sh"), ("command", "-c"), ("command", "echo hi; exit 3")]
    params += [("stdout", "true"), ("stderr", "true")]
    out: dict[int, bytes] = {}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, params=params, protocols=("v5.channel.k8s.io",)) as ws,
    ):
        assert ws.protocol == "v5.channel.k8s.io"
        async for message in ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                out[message.data[0]] = out.get(message.data[0], b"") + message.data[1:]
    assert out[1] == b"hi\n"
    status = orjson.loads(out[3])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]


async def test_port_forward_in_the_python_clients_protocol(
    cluster: tuple[RunningAPIServer, Client],
) -> None:
    api, client = cluster
    await running_pod(client, "web", [ctr("main", "httpd -f")])
    url = f"{api.url}/api/v1/namespaces/default/pods/web/portforward"
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, params={"ports": "80"}, protocols=("v4.channel.k8s.io",)) as ws,
    ):
        first = [await ws.receive_bytes(), await ws.receive_bytes()]
        assert first == [b"\x00" + struct.pack("<H", 80), b"\x01" + struct.pack("<H", 80)]
        await ws.send_bytes(b"\x00hello\n")
        assert await ws.receive_bytes() == b"\x00HELLO\n"


async def test_port_forward_in_spdy_over_websocket(
    cluster: tuple[RunningAPIServer, Client],
) -> None:
    api, client = cluster
    await running_pod(client, "web2", [ctr("main", "httpd -f")])
    url = f"{api.url}/api/v1/namespaces/default/pods/web2/portforward"
    codec = spdy.HeaderCodec()
    reader = spdy.FrameReader()
    frames: list[spdy.Frame] = []
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, protocols=("SPDY/3.1+portforward.k8s.io",)) as ws,
    ):
        for stream_id, kind in ((1, "error"), (3, "data")):
            block = codec.encode({"streamtype": kind, "port": "80", "requestid": "0"})
            await ws.send_bytes(spdy.syn_stream_frame(stream_id, block))
        await ws.send_bytes(spdy.data_frame(3, b"ping\n"))
        async with asyncio.timeout(5):
            while not any(isinstance(f, spdy.DataFrame) and f.data for f in frames):
                frames += reader.feed(await ws.receive_bytes())
    replies = [f for f in frames if isinstance(f, spdy.ControlFrame) and f.type == spdy.SYN_REPLY]
    assert {f.stream_id for f in replies} == {1, 3}
    data = [f for f in frames if isinstance(f, spdy.DataFrame) and f.data]
    assert data[0].stream_id == 3
    assert data[0].data == b"PING\n"
