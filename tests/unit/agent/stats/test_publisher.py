"""StatsPublisher: pushes what ``collect`` returns (plain or awaited), never raises."""

from __future__ import annotations

from typing import Any

from kybernetes.agent.stats.publisher import StatsPublisher


class Recorder:
    def __init__(self) -> None:
        self.puts: list[tuple[str, str, Any]] = []

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        self.puts.append((method, path, body))
        return {}


def _doc(node: str) -> dict[str, Any]:
    return {"node": {"nodeName": node}, "pods": []}


async def test_pushes_each_summary_of_a_plain_or_awaited_collection() -> None:
    client = Recorder()

    async def collect() -> list[dict[str, Any]]:
        return [_doc("real")]

    await StatsPublisher(client, collect).publish_once()  # type: ignore[arg-type]
    await StatsPublisher(client, lambda: [_doc("a"), _doc("b/c")]).publish_once()  # type: ignore[arg-type]
    paths = sorted(path for _, path, _ in client.puts)
    assert paths == [
        "/apis/metrics.k8s.io/v1beta1/nodes/a/summary",
        "/apis/metrics.k8s.io/v1beta1/nodes/b%2Fc/summary",
        "/apis/metrics.k8s.io/v1beta1/nodes/real/summary",
    ]
    assert {method for method, _, _ in client.puts} == {"PUT"}


async def test_a_failing_collection_is_logged_not_raised() -> None:
    client = Recorder()

    async def collect() -> list[dict[str, Any]]:
        raise OSError("cgroup gone")

    publisher = StatsPublisher(client, collect)  # type: ignore[arg-type]
    await publisher.publish_once()
    assert client.puts == []
