"""API server benchmark: a real ``kyb apiserver`` over HTTPS, driven by keep-alive clients.

Run: ``.venv/bin/python bench/apiserver.py [--quick]`` (``make bench`` runs it). Prints a
table and writes ``bench/results/apiserver.json``.

Figures:

* ``creates_per_s_1`` / ``creates_per_s_32`` — ConfigMap creates/s with 1 and 32 concurrent
  keep-alive connections (every create durable before it is answered), driven by ``wrk`` (one
  thread, a bearer token, a unique name per request; every answer must be a 201). A Python
  client on the same two cores spends more CPU per create than the server does, so it would
  measure itself: ``creates_per_s_32_aiohttp`` is the same with the aiohttp client, for
  comparison;
* ``mutating_p50_ms`` / ``mutating_p99_ms`` — create latency at a paced 200 writes/s;
* ``get_p50_ms`` / ``get_p99_ms`` — GET of one ConfigMap;
* ``list_10k_pods_json_ms`` / ``list_10k_pods_table_ms`` — LIST of 10,000 pods;
* ``watch_latency_p50_ms_<n>`` / ``_p99_ms_<n>`` — from a write's answer reaching the writer's
  socket to its event reaching the socket of each of ``n`` watchers (100 and 1,000, each its
  own TLS connection). Both are the kernel's receive times (``_stamped.StampedTLS``), so the
  client's own work on a thousand streams is not counted as the server's;
  ``watch_latency_from_send_p99_ms_<n>`` counts from the moment the write was sent instead
  (the durable commit included);
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
import selectors
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from _harness import free_port, pct, report, rss_mb, run_wrk
from _stamped import StampedTLS, http_exchange

from kybernetes.cli.main import tune_gc_for_servers
from kybernetes.client.kubeconfig import load_kubeconfig
from kybernetes.storage.sqlite import SqliteStorage

RESULTS = Path(__file__).resolve().parent / "results" / "apiserver.json"
CM = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
BENCH_TOKEN = "kyb-bench-admin-token"


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


# wrk's script for ConfigMap creates: a unique name per request, and every answer counted as
# created (201) or not; one JSON line at the end.
WRK_CREATES = """
wrk.method = "POST"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) prefix = args[1]; n = 0; created = 0; failed = 0 end
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format(BODY, prefix, n))
end
function response(status, headers, body)
  if status == 201 then created = created + 1 else failed = failed + 1 end
end
function done(summary, latency, requests)
  local c, f = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); f = f + t:get("failed") end
  local e = summary.errors
  io.write(string.format('{"created": %d, "failed": %d, "errors": %d, "duration_us": %d}\\n',
    c, f, e.connect + e.read + e.write + e.timeout, summary.duration))
end
"""


def wrk_creates(client: Client, token: str, tmp: Path, concurrency: int, seconds: float) -> float:
    """ConfigMap creates/s from ``wrk`` (one thread, ``concurrency`` keep-alive connections,
    bearer token); raises unless every answer was a 201."""
    ns = f"wrk-{concurrency}"
    body = _configmap(0).replace(b'"cm-0"', b'"%s-%d"').decode()
    script = tmp / f"creates-{concurrency}.lua"
    script.write_text(f"BODY = [[{body}]]\n" + WRK_CREATES)
    summary = run_wrk(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{round(seconds)}s", "--timeout", "5s",
         "-s", str(script), "-H", "Content-Type: application/json",
         "-H", f"Authorization: Bearer {token}",
         f"{client.base}/api/v1/namespaces/{ns}/configmaps", "--", "cm"],
        timeout=seconds + 60,
    )  # fmt: skip
    if summary["failed"] or summary["errors"]:
        raise RuntimeError(f"wrk: creates failed: {summary}")
    return float(summary["created"]) / (float(summary["duration_us"]) / 1e6)


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


#: Events each watch connection gets before the measured ones. Linux ACKs the first 16
#: segments a connection receives one by one ("quickack"); on loopback those ACKs are
#: processed on the server's core, and real watch connections are long past them.
WARMUP_EVENTS = 20


class _Watch:
    """One watch stream; each completed event line (JSON text holds no raw newline, so
    ``}\\n`` ends one) gets the kernel's receive time of the read that completed it. Events
    are parsed after the run."""

    def __init__(self, conn: StampedTLS, wanted: int) -> None:
        self.conn, self.wanted = conn, wanted
        self.data = bytearray()
        self.times: list[float] = []
        self.headers_seen = self.done = False
        self.error: Exception | None = None

    def readable(self) -> None:
        try:
            stamp, plain = self.conn.receive()
        except BlockingIOError:
            return
        except (ConnectionError, ssl.SSLError) as exc:
            self.error, self.done = exc, True
            return
        tail = len(self.data) - 1 if self.data else 0
        self.data += plain
        self.headers_seen = self.headers_seen or b"\r\n\r\n" in self.data
        self.times.extend([stamp] * self.data.count(b"}\n", tail))
        self.done = len(self.times) >= self.wanted

    def names(self) -> list[str]:
        """The event objects' names, in arrival order (chunk framing skipped)."""
        body = bytes(self.data).split(b"\r\n\r\n", 1)[1]
        return [
            orjson.loads(line)["object"]["metadata"]["name"]
            for line in body.split(b"\n")
            if line.startswith(b"{")
        ]


def _read_as_it_comes(streams: list[_Watch], stop: threading.Event) -> None:
    """Read every stream until each is done, each as soon as it is readable (a reader that
    leaves data waiting delays the segments after it on loopback)."""
    with selectors.EpollSelector() as selector:
        for stream in streams:
            selector.register(stream.conn.fileno(), selectors.EVENT_READ, stream)
        pending = len(streams)
        while pending and not stop.is_set():
            for key, _ in selector.select(0.05):
                stream = key.data
                stream.readable()
                if stream.done:
                    selector.unregister(key.fd)
                    pending -= 1


def _until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)


def _measure_watch(
    context: ssl.SSLContext, netloc: str, path: str, rv: str, watchers: int, events: int, start: int
) -> tuple[list[float], list[float]]:
    host, _, port = netloc.rpartition(":")
    request = (
        f"GET {path}?watch=true&resourceVersion={rv}&timeoutSeconds=120 HTTP/1.1\r\n"
        f"Host: {netloc}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    total = WARMUP_EVENTS + events
    streams: list[_Watch] = []
    stop = threading.Event()
    reader = threading.Thread(target=_read_as_it_comes, args=(streams, stop))
    try:
        for _ in range(watchers):
            conn = StampedTLS(context, host, int(port))
            conn.send(request)
            conn.setblocking(False)
            streams.append(_Watch(conn, total))
        reader.start()
        _until(lambda: all(s.headers_seen or s.error for s in streams), 60, "watch headers")
        time.sleep(0.5)
        writer = StampedTLS(context, host, int(port))
        sent: dict[str, float] = {}
        answered: dict[str, float] = {}
        for i in range(total):
            name = f"cm-{start + i}"
            body = _configmap(start + i)
            post = (
                f"POST {path} HTTP/1.1\r\nHost: {netloc}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            sent[name], answered[name], status, answer = http_exchange(writer, post)
            if status != 201:
                raise RuntimeError(f"POST {path}: {status} {answer[:200]!r}")
            time.sleep(0.02)
        writer.close()
        _until(lambda: all(s.done for s in streams), 120, "watch events")
    finally:
        stop.set()
        if reader.is_alive():
            reader.join()
        for stream in streams:
            stream.conn.close()
    from_answer, from_send = [], []
    for stream in streams:
        if stream.error is not None:
            raise RuntimeError(f"a watch failed: {stream.error}")
        names = stream.names()
        if names != list(answered):
            raise RuntimeError(f"a watcher saw {len(names)} of {len(answered)} events")
        for name, t in list(zip(names, stream.times, strict=True))[WARMUP_EVENTS:]:
            from_answer.append((t - answered[name]) * 1000)
            from_send.append((t - sent[name]) * 1000)
    return from_answer, from_send


async def watch_latency(
    client: Client, watchers: int, events: int, start: int
) -> tuple[list[float], list[float]]:
    """Open ``watchers`` watches, write ``WARMUP_EVENTS`` and then ``events`` ConfigMaps one at
    a time. Returns the latencies (ms) of the measured ones from each write's answer reaching
    the writer's socket to its event reaching each watcher's socket, and the same from the
    moment the write was sent. The streams and the writer are plain blocking code in threads
    of their own (see ``_read_as_it_comes``)."""
    ns = f"watch-{watchers}"
    await client.post("/api/v1/namespaces", orjson.dumps({"metadata": {"name": ns}}))
    path = f"/api/v1/namespaces/{ns}/configmaps"
    listed = orjson.loads(await client.get(path))
    rv = listed["metadata"]["resourceVersion"]
    netloc = urlsplit(client.base).netloc
    return await asyncio.to_thread(
        _measure_watch, client.ssl, netloc, path, rv, watchers, events, start
    )


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
    """``kyb apiserver`` on a free port, sqlite under ``tmp``, ``BENCH_TOKEN`` accepted for an
    admin; returns once it is ready."""
    (tmp / "tokens.csv").write_text(f'{BENCH_TOKEN},bench,bench,"system:masters"\n')
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
            "--token-auth-file",
            str(tmp / "tokens.csv"),
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
        seconds = 3 if args.quick else 10
        for concurrency in (1, 32):
            ns = orjson.dumps({"metadata": {"name": f"wrk-{concurrency}"}})
            await client.post("/api/v1/namespaces", ns)
            rate = await asyncio.to_thread(
                wrk_creates, client, BENCH_TOKEN, tmp, concurrency, seconds
            )
            results[f"creates_per_s_{concurrency}"] = rate
        n = 0
        total = 2000 if args.quick else 10000
        results["creates_per_s_32_aiohttp"] = await creates_per_s(client, n, total, 32)
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
            lat, from_send = await watch_latency(client, watchers, events, n)
            n += WARMUP_EVENTS + events
            results[f"watch_latency_p50_ms_{watchers}"] = pct(lat, 0.5)
            results[f"watch_latency_p99_ms_{watchers}"] = pct(lat, 0.99)
            results[f"watch_latency_from_send_p99_ms_{watchers}"] = pct(from_send, 0.99)
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
