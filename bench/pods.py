"""Pod startup benchmark: create through the API -> Running seen through a watch, real containers.

Run (as root): ``.venv/bin/python bench/pods.py [--quick]`` (``make bench`` runs it). Prints a
table and writes ``bench/results/pods.json``.

The cluster is ``kyb server --runtime runc`` (API server, controllers, scheduler and the node
agent in one process, as a user starts it) with a busybox image imported beforehand; pods use
it with ``imagePullPolicy: Never`` (the issue's "locally present image"). Pods are created one
after another at a steady 5/s; each pod's latency runs from the create's answer to the first
watch event showing it Running.

Figures:

* ``startup_p50_ms`` / ``startup_p99_ms`` — over 50 pods (20 with ``--quick``);
* ``raw_pod_ms`` — in the same run, the same work done by hand with no agent at all: ``ip netns
  add``, a veth pair onto a bridge with an address and a route, a runc bundle over a prepared
  rootfs, ``runc create`` + ``runc start`` (median of 20);
* ``agent_overhead_x`` — ``startup_p50_ms / raw_pod_ms``.

Targets (issue: node agent): p99 <= 500 ms (the Kubernetes SLO is 5 s); overhead <= 3x raw.
The node's host objects are named per run and removed afterwards, pods included.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _harness import free_port, pct, report

from kybernetes.agent.local import NodeAgentConfig, cleanup_node, remove_all_pods
from kybernetes.client.resource import PODS
from kybernetes.client.rest import Client
from kybernetes.network.proxy.proxier import ProxyConfig
from kybernetes.network.proxy.proxier import cleanup as proxy_cleanup
from kybernetes.testing.images import busybox_image, busybox_layer

RESULTS = Path(__file__).resolve().parent / "results" / "pods.json"
IMAGE = "example.com/busybox:bench"


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


# --- the raw baseline ------------------------------------------------------------------------


def _spec(rootfs: Path, netns: str) -> dict[str, Any]:
    caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
            "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
            "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]  # fmt: skip
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    namespaces.append({"type": "network", "path": f"/run/netns/{netns}"})
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["sleep", "3600"],
            "cwd": "/",
            "env": ["PATH=/bin"],
            "capabilities": dict.fromkeys(("bounding", "effective", "permitted"), caps),
            "noNewPrivileges": True,
        },
        "root": {"path": str(rootfs), "readonly": True},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
        ],
        "linux": {"namespaces": namespaces},
    }


def raw_pod_ms(tmp: Path, rounds: int) -> float:
    """Median time of netns + veth on a bridge + runc create/start, by hand."""
    rootfs = tmp / "raw-rootfs"
    rootfs.mkdir()
    with tarfile.open(fileobj=io.BytesIO(busybox_layer())) as layer:
        layer.extractall(rootfs, filter="fully_trusted")
    tag = uuid.uuid4().hex[:5]
    bridge, root = f"kybraw{tag}", tmp / "raw-runc"
    _run("ip", "link", "add", bridge, "type", "bridge")
    _run("ip", "addr", "add", "10.42.251.1/24", "dev", bridge)
    _run("ip", "link", "set", bridge, "up")
    times: list[float] = []
    try:
        for i in range(rounds):
            netns, veth, cid = f"kybraw{tag}{i}", f"kybrv{tag}{i}", f"raw{tag}{i}"
            bundle = tmp / f"bundle-{i}"
            bundle.mkdir()
            (bundle / "config.json").write_text(json.dumps(_spec(rootfs, netns)))
            started = time.perf_counter()
            _run("ip", "netns", "add", netns)
            _run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
            _run("ip", "link", "set", veth, "master", bridge, "up")
            _run("ip", "-n", netns, "addr", "add", f"10.42.251.{i + 10}/24", "dev", "eth0")
            _run("ip", "-n", netns, "link", "set", "eth0", "up")
            _run("ip", "-n", netns, "link", "set", "lo", "up")
            _run("ip", "-n", netns, "route", "add", "default", "via", "10.42.251.1")
            subprocess.run(
                ["runc", "--root", str(root), "create", "--bundle", str(bundle), cid],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _run("runc", "--root", str(root), "start", cid)
            times.append((time.perf_counter() - started) * 1000)
            _run("runc", "--root", str(root), "delete", "--force", cid)
            _run("ip", "link", "del", veth)
            _run("ip", "netns", "del", netns)
    finally:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
    return statistics.median(times)


# --- through the cluster ---------------------------------------------------------------------


def start_cluster(data: Path, home: Path, instance: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kybernetes", "server", "--data-dir", str(data),
         "--port", str(free_port()), "--no-kubeconfig-merge", "--runtime", "runc",
         "--node-instance", instance, "--ingress-ports", "none"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("kybernetes ready"):
        proc.kill()
        raise RuntimeError(f"kyb server did not start: {line!r}")
    return proc


def pod(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {"name": "c", "image": IMAGE, "imagePullPolicy": "Never",
                 "command": ["sleep", "3600"]}
            ],
        },
    }  # fmt: skip


async def startup_latencies(kubeconfig: Path, count: int) -> list[float]:
    async with Client.from_kubeconfig(kubeconfig, user_agent="kyb/bench") as client:
        for _ in range(300):  # the node registers a moment after the server is ready
            if (await client.request("GET", "/api/v1/nodes")).get("items"):
                break
            await asyncio.sleep(0.1)
        rv = (await client.list(PODS, "default", limit=1))["metadata"]["resourceVersion"]
        running: dict[str, float] = {}
        done = asyncio.Event()

        async def watch() -> None:
            async for _, obj in client.watch(
                PODS, "default", resource_version=rv, timeout_seconds=600
            ):
                name = obj["metadata"]["name"]
                if (obj.get("status") or {}).get("phase") == "Running" and name not in running:
                    running[name] = time.perf_counter()
                    if len(running) == count:
                        done.set()

        watcher = asyncio.ensure_future(watch())
        created: dict[str, float] = {}
        for i in range(count):
            await client.create(PODS, pod(f"p{i}"), "default")
            created[f"p{i}"] = time.perf_counter()
            await asyncio.sleep(0.2)
        await asyncio.wait_for(done.wait(), 300)
        watcher.cancel()
        for name in created:
            await client.delete(PODS, name, "default", grace_period_seconds=0)
        return [(running[n] - t) * 1000 for n, t in created.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 pods (under 60 s)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/pods.py runs real containers: run it as root")
    tmp = Path(tempfile.mkdtemp(prefix="kyb-bench-pods-"))
    (tmp / "home").mkdir()
    data = tmp / "data"
    instance = uuid.uuid4().hex[:6]
    results: dict[str, Any] = {"quick": args.quick, "cpus": os.cpu_count()}
    archive = busybox_image().write_oci(tmp / "busybox.tar", name=IMAGE)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "kybernetes",
            "image",
            "import",
            str(archive),
            "--data-dir",
            str(data),
        ],
        check=True,
        capture_output=True,
    )
    server = start_cluster(data, tmp / "home", instance)
    try:
        samples = asyncio.run(startup_latencies(data / "kubeconfig", 20 if args.quick else 50))
        results["startup_p50_ms"] = pct(samples, 0.5)
        results["startup_p99_ms"] = pct(samples, 0.99)
    finally:
        time.sleep(2)  # let the agent remove the deleted pods
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        node = NodeAgentConfig.for_instance(data / "agent", instance)
        asyncio.run(remove_all_pods(node))
        table = f"kyb-services-{instance}"
        asyncio.run(proxy_cleanup(ProxyConfig(node_name="", bridge=node.bridge, table=table)))
        cleanup_node(node)
    results["raw_pod_ms"] = raw_pod_ms(tmp, 20)
    results["agent_overhead_x"] = results["startup_p50_ms"] / results["raw_pod_ms"]
    shutil.rmtree(tmp, ignore_errors=True)
    report(results, RESULTS)


if __name__ == "__main__":
    main()
