"""The agent server's ``/stats/summary``, ``/metrics`` and ``/metrics/resource``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from kybernetes.agent.kubelet.metrics import PodStarts
from kybernetes.agent.server.app import KubeletServer, KubeletServerConfig
from kybernetes.agent.stats.summary import ContainerSample, PodSample, Sample, build_summary
from kybernetes.util.clock import FakeClock

STAMP = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Stats:
    def __init__(self) -> None:
        self.calls = 0
        pod = PodSample(
            "web",
            "default",
            "u-1",
            (
                ContainerSample(
                    "app", Sample(250_000_000, 64 << 20, 5_000_000_000), "2026-01-01T00:00:00Z"
                ),
            ),
        )
        node = Sample(1_000_000_000, 1 << 30, 90_000_000_000)
        self.doc = build_summary("n1", node, [pod], STAMP, 15.0)

    async def summary(self) -> dict[str, Any]:
        self.calls += 1
        return self.doc


@pytest_asyncio.fixture
async def server() -> AsyncIterator[tuple[KubeletServer, str]]:
    server = KubeletServer(KubeletServerConfig("127.0.0.1", 0))
    port = await server.start()
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        await server.close()


async def _get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], Any]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): (s.value, s.timestamp)
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


async def test_metrics_are_served_while_the_kubelet_starts(
    server: tuple[KubeletServer, str],
) -> None:
    _, url = server
    count = ("kubelet_pod_start_duration_seconds_count", ())
    total = ("kubelet_pod_start_duration_seconds_sum", ())
    status, content_type, body = await _get(f"{url}/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=")
    before = _samples(body)

    clock = FakeClock()
    starts = PodStarts(clock)
    starts.seen("u-1", "Pending")
    clock.advance(3.0)
    starts.phase("u-1", "Pending")
    starts.phase("u-1", "Running")
    starts.phase("u-1", "Running")  # observed once
    starts.seen("u-2", "Running")  # already running when first seen (an agent restart)
    starts.phase("u-2", "Running")

    after = _samples((await _get(f"{url}/metrics"))[2])
    assert after[count][0] == before[count][0] + 1
    assert after[total][0] == pytest.approx(before[total][0] + 3.0)
    status, _, _ = await _get(f"{url}/stats/summary")
    assert status == 503  # no stats before the kubelet runs


async def test_summary_and_resource_metrics(server: tuple[KubeletServer, str]) -> None:
    kubelet, url = server
    kubelet.host = object()  # type: ignore[assignment]  # anything: the kubelet is up
    stats = Stats()
    kubelet.stats = stats
    async with aiohttp.ClientSession() as session, session.get(f"{url}/stats/summary") as response:
        assert response.status == 200
        assert await response.json() == stats.doc
    status, _, body = await _get(f"{url}/metrics/resource")
    assert status == 200
    samples = _samples(body)
    where = (("namespace", "default"), ("pod", "web"))
    container = (("container", "app"), *where)
    assert samples[("node_cpu_usage_seconds_total", ())] == (90.0, STAMP)
    assert samples[("node_memory_working_set_bytes", ())] == (1 << 30, STAMP)
    assert samples[("pod_cpu_usage_seconds_total", where)] == (5.0, STAMP)
    assert samples[("container_cpu_usage_seconds_total", container)] == (5.0, STAMP)
    assert samples[("container_memory_working_set_bytes", container)] == (64 << 20, STAMP)
    assert samples[("container_start_time_seconds", container)][0] == STAMP
    assert samples[("resource_scrape_error", ())][0] == 0
    assert stats.calls == 2  # one summary per request, never collected twice
