"""The scheduler's and controller manager's own ``/metrics`` server."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, Counter

from kybernetes.util.metricsserver import MetricsServer, parse_bind_address


def test_bind_addresses() -> None:
    assert parse_bind_address("127.0.0.1:10259", 1) == ("127.0.0.1", 10259)
    assert parse_bind_address(":10257", 1) == ("0.0.0.0", 10257)
    assert parse_bind_address("[::1]:9", 1) == ("::1", 9)
    assert parse_bind_address("localhost", 10259) == ("localhost", 10259)
    assert parse_bind_address("0", 1) is None
    assert parse_bind_address("", 1) is None
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_bind_address("host:port", 1)


async def test_serves_its_registry() -> None:
    registry = CollectorRegistry()
    Counter("things_total", "Things.", registry=registry).inc(3)
    server = MetricsServer("127.0.0.1", 0, registry)
    port = await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 200
                assert "things_total 3.0" in await response.text()
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert await response.text() == "ok"
    finally:
        await server.close()
