"""API server benchmark: a real ``kyb apiserver`` over HTTPS, driven by a keep-alive client.

Run: ``.venv/bin/python bench/apiserver.py [--quick]`` (``make bench`` runs it). Prints a
table and writes ``bench/results/apiserver.json``.

Figures:

* ``creates_per_s_1`` / ``creates_per_s_32`` — ConfigMap creates/s with 1 and 32 concurrent
  clients on keep-alive connections (every create durable before it is answered);
* ``mutating_p50_ms`` / ``mutating_p99_ms`` — create latency at a paced 200 writes/s;
* ``get_p50_ms`` / ``get_p99_ms`` — GET of one ConfigMap;
* ``list_10k_pods_json_ms`` / ``list_10k_pods_table_ms`` — LIST of 10,000 pods;
* ``watch_latency_p50_ms_<n>`` / ``_p99_ms_<n>`` — from a write's answer to its event at each
  of ``n`` watchers (100 and 1,000), each its own TLS connection read by a lean protocol that
  only stamps arrivals (see ``_StreamTimes``);
* ``rss_mb_idle`` / ``rss_mb_10k_pods`` — the server's resident memory;
* ``raw_storage_writes_per_s`` — in the same run, the storage engine alone: durable batched
  creates with 64 writers straight into SqliteStorage, the ceiling the API sits on.

Targets (issue: API server) on 2 cores: >= 3,000 creates/s, mutating p99 <= 50 ms at 200/s,
watch p99 <= 20 ms with 1,000 watchers, LIST of 10,000 pods <= 0.5 s, RSS <= 150 MB idle and
<= 600 MB with 10,000 pods.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from _harness import free_port, pct, report, rss_mb

from kybernetes.cli.main import tune_gc_for_servers
from kybernetes.client.kubeconfig import load_kubeconfig
from kybernetes.storage.sqlite import SqliteStorage

RESULTS = Path(__file__).resolve().parent / "results" / "apiserver.json"
CM = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"


def _configmap(i: int) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i}", "labels": {"app": "bench"}},
            "data": {f"key{k}": "x" * 48 for k in range(4)},
        }
    )


def _pod(i: int) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"pod-{i}", "labels": {"app": "bench", "shard": str(i % 10)}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "registry.local/app:1.0",
                        "ports": [{"containerPort": 8080}],
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    }
                ]
            },
        }
    )


class Client:
    def __init__(self, kubeconfig: Path) -> None:
        entry = load_kubeconfig(kubeconfig)
        ctx = ssl.create_default_context(cadata=(entry.certificate_authority or b"").decode())
        tmp = Path(tempfile.mkdtemp(prefix="kyb-bench-cert-"))
        (tmp / "c.crt").write_bytes(entry.client_certificate or b"")
        (tmp / "c.key").write_bytes(entry.client_key or b"")
        ctx.load_cert_chain(tmp / "c.crt", tmp / "c.key")
        shutil.rmtree(tmp)
        self.base = entry.server
        self.ssl = ctx
        self.session = aiohttp.ClientSession(
            base_url=self.base,
            connector=aiohttp.TCPConnector(ssl=ctx, limit=2000),
            headers={"Content-Type": "application/json"},
        )

    async def post(self, path: str, body: bytes) -> dict[str, Any]:
        async with self.session.post(path, data=body) as resp:
            data = await resp.read()
            if resp.status != 201:
                raise RuntimeError(f"POST {path}: {resp.status} {data[:200]!r}")
            return dict(orjson.loads(data))

    async def get(self, path: str, accept: str = "application/json") -> bytes:
        async with self.session.get(path, headers={"Accept": accept}) as resp:
            data = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"GET {path}: {resp.status}")
            return data

    async def close(self) -> None:
        await self.session.close()


async def creates_per_s(client: Client, start: int, total: int, concurrency: int) -> float:
    counter = iter(range(start, start + total))

    async def worker() -> None:
        for i in counter:
            await client.post(CM, _configmap(i))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - t0)


async def paced_latency(client: Client, start: int, rate: float, seconds: float) -> list[float]:
    samples: list[float] = []
    tasks = []

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        await client.post(CM, _configmap(i))
        samples.append((time.perf_counter() - t0) * 1000)

    interval = 1 / rate
    began = time.perf_counter()
    for n in range(int(rate * seconds)):
        delay = began + n * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(start + n)))
    await asyncio.gather(*tasks)
    return samples


class _StreamTimes(asyncio.Protocol):
    """One watch connection that only notes when each event line completes.

    A watch client's own work per event (aiohttp's stream reader, JSON parsing) runs on the
    same two cores as the server and, times a thousand watchers, would be most of what is
    measured; this protocol stamps the arrival of every ``}\\n`` (the end of an event line:
    JSON text holds no raw newline) and the events are parsed after the run.
    """

    def __init__(self, request: bytes, wanted: int) -> None:
        self.request = request
        self.wanted = wanted
        self.data = bytearray()
        self.times: list[float] = []
        self.headers_seen = asyncio.get_running_loop().create_future()
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        tail = len(self.data) - 1 if self.data else 0
        self.data += data
        if not self.headers_seen.done() and b"\r\n\r\n" in self.data:
            self.headers_seen.set_result(None)
        ends = self.data.count(b"}\n", tail)
        self.times.extend([now] * ends)
        if len(self.times) >= self.wanted and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def names(self) -> list[str]:
        """The event objects' names, in arrival order (chunk framing skipped)."""
        body = bytes(self.data).split(b"\r\n\r\n", 1)[1]
        return [
            orjson.loads(line)["object"]["metadata"]["name"]
            for line in body.split(b"\n")
            if line.startswith(b"{")
        ]


async def watch_latency(client: Client, watchers: int, events: int, start: int) -> list[float]:
    """Open ``watchers`` watches, then write ``events`` ConfigMaps one at a time."""
    ns = f"watch-{watchers}"
    await client.post("/api/v1/namespaces", orjson.dumps({"metadata": {"name": ns}}))
    path = f"/api/v1/namespaces/{ns}/configmaps"
    listed = orjson.loads(await client.get(path))
    rv = listed["metadata"]["resourceVersion"]
    url = urlsplit(client.base)
    request = (
        f"GET {path}?watch=true&resourceVersion={rv}&timeoutSeconds=120 HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    streams: list[_StreamTimes] = []
    transports = []
    for _ in range(watchers):
        transport, stream = await loop.create_connection(
            lambda: _StreamTimes(request, events), url.hostname, url.port, ssl=client.ssl
        )
        transports.append(transport)
        streams.append(stream)
    await asyncio.wait_for(asyncio.gather(*(s.headers_seen for s in streams)), 60)
    await asyncio.sleep(0.5)
    answered: dict[str, float] = {}
    for i in range(events):
        name = f"cm-{start + i}"
        await client.post(path, _configmap(start + i))
        answered[name] = time.perf_counter()
        await asyncio.sleep(0.02)
    await asyncio.wait_for(asyncio.gather(*(s.done for s in streams)), 120)
    for transport in transports:
        transport.close()
    latencies = []
    for stream in streams:
        names = stream.names()
        if names != list(answered):
            raise RuntimeError(f"a watcher saw {len(names)} of {len(answered)} events")
        latencies += [(t - answered[n]) * 1000 for n, t in zip(names, stream.times, strict=True)]
    return latencies


async def raw_storage_rate(tmp: Path, total: int) -> float:
    store = await SqliteStorage.open(tmp / "raw.db")
    payload = _configmap(0)
    try:
        counter = iter(range(total))

        async def worker() -> None:
            for i in counter:
                await store.create(f"/raw/{i}", payload)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(64)))
        return total / (time.perf_counter() - t0)
    finally:
        await store.close()


def start_server(tmp: Path) -> subprocess.Popen[str]:
    """``kyb apiserver`` on a free port, sqlite under ``tmp``; returns once it is ready."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kybernetes",
            "apiserver",
            "--data-dir",
            str(tmp / "data"),
            "--port",
            str(free_port()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("kybernetes ready"):
        server.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return server


async def run(args: argparse.Namespace, tmp: Path, server: subprocess.Popen[str]) -> dict[str, Any]:
    results: dict[str, Any] = {"quick": args.quick, "cpus": os.cpu_count()}
    client = Client(tmp / "data" / "kubeconfig")
    try:
        await asyncio.sleep(1)
        results["rss_mb_idle"] = rss_mb(server.pid)
        # `kyb apiserver` runs no controllers: the default ServiceAccount pods are admitted
        # with (as upstream, pods are refused until it exists) is made here.
        await client.post(
            "/api/v1/namespaces/default/serviceaccounts",
            orjson.dumps({"metadata": {"name": "default"}}),
        )
        n = 0
        total = 300 if args.quick else 1000
        results["creates_per_s_1"] = await creates_per_s(client, n, total, 1)
        n += total
        total = 2000 if args.quick else 10000
        results["creates_per_s_32"] = await creates_per_s(client, n, total, 32)
        n += total
        samples = await paced_latency(client, n, 200, 3 if args.quick else 10)
        n += len(samples)
        results["mutating_p50_ms"] = pct(samples, 0.5)
        results["mutating_p99_ms"] = pct(samples, 0.99)
        gets = []
        for _ in range(300 if args.quick else 2000):
            t0 = time.perf_counter()
            await client.get(f"{CM}/cm-1")
            gets.append((time.perf_counter() - t0) * 1000)
        results["get_p50_ms"] = pct(gets, 0.5)
        results["get_p99_ms"] = pct(gets, 0.99)
        counter = iter(range(10_000))

        async def pods() -> None:
            for i in counter:
                await client.post(PODS, _pod(i))

        await asyncio.gather(*(pods() for _ in range(32)))
        for kind, accept in (
            ("json", "application/json"),
            ("table", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
        ):
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                await client.get(PODS, accept)
                times.append((time.perf_counter() - t0) * 1000)
            results[f"list_10k_pods_{kind}_ms"] = statistics.median(times)
        results["rss_mb_10k_pods"] = rss_mb(server.pid)
        for watchers in (100, 1000):
            events = 20 if args.quick else 50
            lat = await watch_latency(client, watchers, events, n)
            n += events
            results[f"watch_latency_p50_ms_{watchers}"] = pct(lat, 0.5)
            results[f"watch_latency_p99_ms_{watchers}"] = pct(lat, 0.99)
    finally:
        await client.close()
    results["raw_storage_writes_per_s"] = await raw_storage_rate(tmp, 5000 if args.quick else 20000)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer operations (under 60 s)")
    args = parser.parse_args()
    # The client holds 1,000 watch streams and every event they deliver; its own full garbage
    # collections would show up as server latency. Tuned as the server tunes itself.
    tune_gc_for_servers()
    tmp = Path(tempfile.mkdtemp(prefix="kyb-bench-apiserver-"))
    server = start_server(tmp)
    try:
        results = asyncio.run(run(args, tmp, server))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, RESULTS)


if __name__ == "__main__":
    main()
