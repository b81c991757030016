"""gRPC probes against a real gRPC health server on 127.0.0.1: upstream's results and messages."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from kybernetes.agent.kubelet.grpcprobe import check
from kybernetes.agent.kubelet.handlers import run_action
from kybernetes.agent.runtime.fakeruntime import FakeRuntime
from kybernetes.testing.grpchealth import HealthServer

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def server() -> Iterator[HealthServer]:
    with HealthServer("127.0.0.1") as running:
        running.statuses.update({"db": "NOT_SERVING", "cache": "SERVING"})
        yield running


async def test_serving_succeeds(server: HealthServer) -> None:
    assert await check("127.0.0.1", server.port, "", 1) == (True, "service healthy")
    assert await check("127.0.0.1", server.port, "cache", 1) == (True, "service healthy")
    assert server.user_agents[0].startswith("kube-probe/1.32")


async def test_not_serving_fails(server: HealthServer) -> None:
    assert await check("127.0.0.1", server.port, "db", 1) == (
        False,
        'service unhealthy (responded with "NOT_SERVING")',
    )
    server.statuses["db"] = "SERVICE_UNKNOWN"
    assert await check("127.0.0.1", server.port, "db", 1) == (
        False,
        'service unhealthy (responded with "SERVICE_UNKNOWN")',
    )


async def test_unknown_service_fails_with_the_rpc_error(server: HealthServer) -> None:
    assert await check("127.0.0.1", server.port, "nope", 1) == (
        False,
        "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service",
    )


async def test_a_slow_answer_times_out(server: HealthServer) -> None:
    server.delay = 3
    started = time.monotonic()
    assert await check("127.0.0.1", server.port, "", 1) == (
        False,
        "timeout: health rpc did not complete within 1s",
    )
    assert time.monotonic() - started < 2.5


async def test_nothing_listening_times_out_connecting() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        started = time.monotonic()
        assert await check("127.0.0.1", port, "", 1) == (
            False,
            f'timeout: failed to connect service "127.0.0.1:{port}" within 1s: '
            "context deadline exceeded",
        )
        assert 0.9 < time.monotonic() - started < 2.5


async def test_a_server_without_the_health_service() -> None:
    with HealthServer("127.0.0.1", implement_health=False) as bare:
        ok, message = await check("127.0.0.1", bare.port, "", 1)
    assert not ok
    assert message.startswith(
        "error: this server does not implement the grpc health protocol (grpc.health.v1.Health)"
    )


async def test_probe_action_reaches_the_pod_ip(server: HealthServer) -> None:
    async def probe(spec: dict[str, object], pod_ip: str = "127.0.0.1") -> tuple[bool, str]:
        result = await run_action(
            {"grpc": spec},
            runtime=FakeRuntime(),
            container_id="c",
            container={},
            pod_ip=pod_ip,
            time_limit=1,
        )
        return result.success, result.output

    assert await probe({"port": server.port}) == (True, "service healthy")
    assert (await probe({"port": server.port, "service": "db"}))[0] is False
    assert await probe({"port": server.port}, pod_ip="") == (
        False,
        f"unable to resolve port or host: port={server.port}",
    )
