"""Scheduler benchmark: pods/s from a backlog to bound, and create-to-bound latency, at scale.

Run: ``.venv/bin/python bench/scheduler.py [--quick] [--scale]`` (``make bench`` runs it
without ``--scale``). Prints a table and writes ``bench/results/scheduler.json``.

Setup, as upstream's scheduler_perf does it: ``kyb apiserver`` and ``kyb scheduler`` run as two
processes (so the two cores are used as a real control plane uses them); nodes are created
through the API with their capacity (no kubelets: pods stay bound, which is what is measured).

Figures, for each node count (1,000 and 5,000; 1,000 only with ``--quick``):

* ``pods_per_s_<n>_nodes`` — a backlog of pods (10,000; 2,000 quick) is created before the
  scheduler starts; from the first binding seen to the last, pods bound per second, observed
  through a watch (the scheduler's own start-up — listing nodes and pods — is reported apart as
  ``scheduler_startup_s_<n>_nodes``);
* ``pods_per_s_<n>_nodes_spread`` — the same with each pod carrying a zone topology spread
  constraint and a preferred hostname anti-affinity (the costly plugins);
* ``latency_p50_ms_<n>_nodes`` / ``_p99_`` — pods created at a steady 100/s with the scheduler
  running: from the create's answer to the binding seen through the watch;
* ``raw_binds_per_s`` — in the same run, the ceiling the API sets: the bench itself binds a
  backlog round-robin through the binding subresource with 32 concurrent clients, no scheduling
  decision at all. ``scheduler_vs_raw_binds`` is the ratio.

``--scale`` (not in ``make bench``): 5,000 nodes and 150,000 pods held by the cluster; reports
the API server's RSS, the time of ``kubectl get pods -A`` (as a client would see it), and of a
GET of one pod while it all sits there.

Target (issue: scheduler): >= 1,000 pods/s at 5,000 nodes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import free_port, pct, report, rss_mb

from kybernetes.cli.main import tune_gc_for_servers
from kybernetes.client.resource import NAMESPACES, NODES, PODS
from kybernetes.client.rest import Client

RESULTS = Path(__file__).resolve().parent / "results" / "scheduler.json"
ZONES = ("zone-a", "zone-b", "zone-c")


def start_apiserver(data: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kybernetes",
            "apiserver",
            "--data-dir",
            str(data),
            "--port",
            str(free_port()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("kybernetes ready"):
        proc.kill()
        raise RuntimeError(f"apiserver did not start: {line!r}")
    return proc


def start_scheduler(kubeconfig: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kybernetes",
            "scheduler",
            "--kubeconfig",
            str(kubeconfig),
            "--no-leader-elect",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def node(i: int) -> dict[str, Any]:
    name = f"node-{i}"
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/zone": ZONES[i % len(ZONES)],
            },
        },
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod(name: str, group: str, spread: bool) -> dict[str, Any]:
    labels = {"app": group}
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "app",
                "image": "registry.local/app:1",
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            }
        ]
    }
    if spread:
        selector = {"matchLabels": labels}
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": selector,
            }
        ]
        spec["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": selector,
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        }
    return {"metadata": {"name": name, "labels": labels}, "spec": spec}


async def parallel(count: int, concurrency: int, work: Any) -> None:
    counter = iter(range(count))

    async def worker() -> None:
        for i in counter:
            await work(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def create_nodes(client: Client, count: int) -> None:
    async def one(i: int) -> None:
        body = node(i)
        status = body.pop("status")
        await client.create(NODES, body)
        stored = await client.get(NODES, body["metadata"]["name"])
        await client.update_status(NODES, {**stored, "status": status})

    await parallel(count, 32, one)


class BindWatch:
    """Times at which each pod of a namespace was seen bound (through one watch)."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.bound: dict[str, float] = {}
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listed = await self.client.list(PODS, self.namespace, limit=1)
        rv = listed["metadata"]["resourceVersion"]
        self.task = asyncio.ensure_future(self._run(rv))

    async def _run(self, rv: str) -> None:
        async for kind, obj in self.client.watch(
            PODS, self.namespace, resource_version=rv, timeout_seconds=3600
        ):
            if kind == "MODIFIED" and (obj.get("spec") or {}).get("nodeName"):
                name = obj["metadata"]["name"]
                if name not in self.bound:
                    self.bound[name] = time.perf_counter()
                    self.changed.set()

    async def wait_for(self, count: int, limit_s: float) -> None:
        async with asyncio.timeout(limit_s):
            while len(self.bound) < count:
                self.changed.clear()
                await self.changed.wait()

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def backlog_rate(
    client: Client, kubeconfig: Path, namespace: str, pods: int, spread: bool
) -> tuple[float, float]:
    """Pods/s draining a backlog, and the scheduler's start-up time."""
    await client.create(NAMESPACES, {"metadata": {"name": namespace}})
    await parallel(
        pods, 32, lambda i: client.create(PODS, pod(f"p-{i}", f"g{i % 50}", spread), namespace)
    )
    watch = BindWatch(client, namespace)
    await watch.start()
    started = time.perf_counter()
    scheduler = start_scheduler(kubeconfig)
    try:
        await watch.wait_for(pods, 1800)
    finally:
        stop(scheduler)
        watch.stop()
    times = sorted(watch.bound.values())
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return rate, times[0] - started


async def steady_latency(
    client: Client, kubeconfig: Path, namespace: str, rate: float, seconds: float
) -> list[float]:
    await client.create(NAMESPACES, {"metadata": {"name": namespace}})
    watch = BindWatch(client, namespace)
    await watch.start()
    scheduler = start_scheduler(kubeconfig)
    created: dict[str, float] = {}
    try:
        # Wait until the scheduler runs (it has bound a first pod): listing a large cluster
        # takes seconds, and pods created before that would time the start-up, not scheduling.
        await client.create(PODS, pod("l-probe", "latency", False), namespace)
        await watch.wait_for(1, 120)
        total = int(rate * seconds)
        begin = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)

            async def one(i: int = i) -> None:
                await client.create(PODS, pod(f"l-{i}", "latency", False), namespace)
                created[f"l-{i}"] = time.perf_counter()

            tasks.append(asyncio.ensure_future(one()))
        await asyncio.gather(*tasks)
        await watch.wait_for(total + 1, 120)
    finally:
        stop(scheduler)
        watch.stop()
    return [(watch.bound[n] - t) * 1000 for n, t in created.items() if n in watch.bound]


async def raw_binds(client: Client, namespace: str, pods: int, nodes: int) -> float:
    await client.create(NAMESPACES, {"metadata": {"name": namespace}})
    await parallel(pods, 32, lambda i: client.create(PODS, pod(f"r-{i}", "raw", False), namespace))

    async def bind(i: int) -> None:
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": f"r-{i}"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": f"node-{i % nodes}"},
        }
        await client.create(PODS, binding, namespace, name=f"r-{i}", subresource="binding")

    started = time.perf_counter()
    await parallel(pods, 32, bind)
    return pods / (time.perf_counter() - started)


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"quick": args.quick, "cpus": os.cpu_count()}
    node_counts = (1000,) if args.quick else (1000, 5000)
    backlog = 2000 if args.quick else 10000
    for count in node_counts:
        data = tmp / f"data-{count}"
        server = start_apiserver(data)
        kubeconfig = data / "kubeconfig"
        try:
            async with Client.from_kubeconfig(kubeconfig, user_agent="kyb/bench") as client:
                t0 = time.perf_counter()
                await create_nodes(client, count)
                results[f"node_registration_s_{count}"] = time.perf_counter() - t0
                rate, startup = await backlog_rate(client, kubeconfig, "basic", backlog, False)
                results[f"pods_per_s_{count}_nodes"] = rate
                results[f"scheduler_startup_s_{count}_nodes"] = startup
                rate, _ = await backlog_rate(client, kubeconfig, "spread", backlog // 2, True)
                results[f"pods_per_s_{count}_nodes_spread"] = rate
                latencies = await steady_latency(
                    client, kubeconfig, "latency", 100, 5 if args.quick else 15
                )
                results[f"latency_p50_ms_{count}_nodes"] = pct(latencies, 0.5)
                results[f"latency_p99_ms_{count}_nodes"] = pct(latencies, 0.99)
                if count == node_counts[-1]:
                    raw = await raw_binds(client, "raw", backlog, count)
                    results["raw_binds_per_s"] = raw
                    results["scheduler_vs_raw_binds"] = results[f"pods_per_s_{count}_nodes"] / raw
                results[f"apiserver_rss_mb_{count}_nodes"] = rss_mb(server.pid)
        finally:
            stop(server)
    if args.scale:
        results.update(await scale(tmp))
    return results


async def scale(tmp: Path) -> dict[str, Any]:
    """5,000 nodes and 150,000 pods held: memory and responsiveness."""
    out: dict[str, Any] = {}
    data = tmp / "data-scale"
    server = start_apiserver(data)
    kubeconfig = data / "kubeconfig"
    scheduler: subprocess.Popen[str] | None = None
    try:
        async with Client.from_kubeconfig(kubeconfig, user_agent="kyb/bench") as client:
            await create_nodes(client, 5000)
            scheduler = start_scheduler(kubeconfig)
            watch = BindWatch(client, "scale")
            await client.create(NAMESPACES, {"metadata": {"name": "scale"}})
            await watch.start()
            t0 = time.perf_counter()
            await parallel(
                150_000,
                64,
                lambda i: client.create(PODS, pod(f"s-{i}", f"g{i % 500}", False), "scale"),
            )
            out["scale_create_150k_s"] = time.perf_counter() - t0
            await watch.wait_for(150_000, 3600)
            out["scale_all_bound_s"] = time.perf_counter() - t0
            watch.stop()
            out["scale_apiserver_rss_mb"] = rss_mb(server.pid)
            out["scale_scheduler_rss_mb"] = rss_mb(scheduler.pid)
            t0 = time.perf_counter()
            await client.get(PODS, "s-1", "scale")
            out["scale_get_one_pod_ms"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        done = await asyncio.to_thread(
            subprocess.run,
            ["kubectl", "--kubeconfig", str(kubeconfig), "get", "pods", "-A", "--no-headers"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        out["scale_kubectl_get_pods_all_s"] = time.perf_counter() - t0
        out["scale_kubectl_rows"] = len(done.stdout.splitlines())
    finally:
        if scheduler is not None:
            stop(scheduler)
        stop(server)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 nodes only (under 90 s)")
    parser.add_argument("--scale", action="store_true", help="also 5,000 nodes / 150,000 pods")
    args = parser.parse_args()
    tune_gc_for_servers()
    tmp = Path(tempfile.mkdtemp(prefix="kyb-bench-scheduler-"))
    try:
        results = asyncio.run(run(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, RESULTS)


if __name__ == "__main__":
    main()
