"""Controllers benchmark: a 1,000-replica Deployment on 100 simulated nodes, created and rolled.

Run: ``.venv/bin/python bench/controllers.py [--quick]`` (``make bench`` runs it). Prints a
table and writes ``bench/results/controllers.json``.

The cluster is the product as a user starts it: ``kyb server --fake-nodes 100`` (API server,
controller manager, scheduler and the simulated nodes in one process). The bench is a separate
process that talks to it over HTTPS and watches.

Figures (1,000 replicas; 200 with ``--quick``):

* ``deployment_ready_s`` — from the Deployment's create to every replica Running and the
  Deployment Available (``availableReplicas`` = replicas at the current generation);
* ``rs_pods_created_per_s`` — pods created by the ReplicaSet controller per second, first to
  last pod ADDED event seen through a watch;
* ``rolling_update_s`` — from changing the image to the rollout complete (every replica updated
  and available, the old ReplicaSet at zero), with the default 25% surge/unavailable;
* ``raw_pod_creates_per_s`` — in the same run, the API's ceiling: the bench itself creates the
  same number of pods with 32 concurrent clients (no controller). ``rs_vs_raw_creates`` is the
  ratio.
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

from _harness import free_port, report

from kybernetes.cli.main import tune_gc_for_servers
from kybernetes.client.resource import DEPLOYMENTS, NAMESPACES, PODS
from kybernetes.client.rest import Client

RESULTS = Path(__file__).resolve().parent / "results" / "controllers.json"


def start_cluster(data: Path, home: Path, nodes: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kybernetes",
            "server",
            "--data-dir",
            str(data),
            "--port",
            str(free_port()),
            "--no-kubeconfig-merge",
            "--fake-nodes",
            str(nodes),
            # Only simulated nodes: as root this machine would otherwise be a node too.
            "--runtime",
            "none",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("kybernetes ready"):
        proc.kill()
        raise RuntimeError(f"kyb server did not start: {line!r}")
    return proc


def deployment(replicas: int, image: str) -> dict[str, Any]:
    labels = {"app": "bench"}
    return {
        "metadata": {"name": "bench"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


async def wait_rolled_out(client: Client, replicas: int, limit_s: float) -> None:
    """Until the Deployment reports what ``kubectl rollout status`` waits for."""
    async with asyncio.timeout(limit_s):
        while True:
            found = await client.get(DEPLOYMENTS, "bench", "bench")
            status = found.get("status") or {}
            if (
                status.get("observedGeneration", 0) >= found["metadata"]["generation"]
                and status.get("updatedReplicas") == replicas
                and status.get("availableReplicas") == replicas
                and status.get("replicas") == replicas
            ):
                return
            await asyncio.sleep(0.1)


class AddedPods:
    """Times of pod ADDED events in a namespace."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.times: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        rv = (await self.client.list(PODS, self.namespace, limit=1))["metadata"]["resourceVersion"]
        self.task = asyncio.ensure_future(self._run(rv))

    async def _run(self, rv: str) -> None:
        async for kind, _ in self.client.watch(
            PODS, self.namespace, resource_version=rv, timeout_seconds=3600
        ):
            if kind == "ADDED":
                self.times.append(time.perf_counter())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def raw_creates(client: Client, count: int) -> float:
    await client.create(NAMESPACES, {"metadata": {"name": "raw"}})
    counter = iter(range(count))

    async def worker() -> None:
        for i in counter:
            body = {
                "metadata": {"name": f"raw-{i}", "labels": {"app": "raw"}},
                "spec": {
                    "containers": [{"name": "app", "image": "i"}],
                    "schedulerName": "none",  # not scheduled: only the create is measured
                },
            }
            await client.create(PODS, body, "raw")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(32)))
    return count / (time.perf_counter() - started)


async def run(args: argparse.Namespace, kubeconfig: Path) -> dict[str, Any]:
    replicas = 200 if args.quick else 1000
    results: dict[str, Any] = {"quick": args.quick, "cpus": os.cpu_count(), "replicas": replicas}
    async with Client.from_kubeconfig(kubeconfig, user_agent="kyb/bench") as client:
        await client.create(NAMESPACES, {"metadata": {"name": "bench"}})
        added = AddedPods(client, "bench")
        await added.start()
        started = time.perf_counter()
        await client.create(DEPLOYMENTS, deployment(replicas, "app:1"), "bench")
        await wait_rolled_out(client, replicas, 900)
        results["deployment_ready_s"] = time.perf_counter() - started
        times = sorted(added.times)
        rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        results["rs_pods_created_per_s"] = rate
        started = time.perf_counter()
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}
        }
        await client.patch(DEPLOYMENTS, "bench", patch, "bench", patch_type="strategic")
        await asyncio.sleep(0.5)  # let the controller observe the new generation
        await wait_rolled_out(client, replicas, 1800)
        results["rolling_update_s"] = time.perf_counter() - started
        added.stop()
        raw = await raw_creates(client, replicas)
        results["raw_pod_creates_per_s"] = raw
        results["rs_vs_raw_creates"] = rate / raw if raw else 0.0
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 replicas (under 60 s)")
    args = parser.parse_args()
    tune_gc_for_servers()
    tmp = Path(tempfile.mkdtemp(prefix="kyb-bench-controllers-"))
    (tmp / "home").mkdir()
    server = start_cluster(tmp / "data", tmp / "home", 100)
    try:
        results = asyncio.run(run(args, tmp / "data" / "kubeconfig"))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, RESULTS)


if __name__ == "__main__":
    main()
