"""The real node's summary from a fake cgroup v1 tree, ``/proc`` and disk (no root needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kybernetes.agent.kubelet.resources import cgroup_parent
from kybernetes.agent.stats import cgroupv1, fs, host
from kybernetes.agent.stats.collector import NodeCollector, NodeLayout

NODE = "n1"
CID = "c0ffee"
PID = 4242
MiB = 1 << 20


def _pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "burner", "namespace": "default", "uid": "u-1"},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "burn", "resources": {"requests": {"cpu": "100m"}}}],
        },
        "status": {
            "phase": "Running",
            "startTime": "2026-01-01T00:00:00Z",
            "containerStatuses": [
                {
                    "name": "burn",
                    "containerID": f"runc://{CID}",
                    "state": {"running": {"startedAt": "2026-01-01T00:00:01Z"}},
                }
            ],
            **status,
        },
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class Host:
    """A cgroup v1 tree (cpuacct, memory), a ``/proc`` and the agent's directories."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cpuacct = root / "cgroup" / "cpuacct"
        self.memory = root / "cgroup" / "memory"
        self.proc = root / "proc"
        self.logs = root / "agent" / "pods" / "logs"
        self.layers = root / "agent" / "runtime" / "containers"
        parent = cgroup_parent(_pod(), "kyb").lstrip("/")
        self.pod_dirs = (self.cpuacct / parent, self.memory / parent)
        self.container_dirs = (self.cpuacct / parent / CID, self.memory / parent / CID)
        _write(
            self.proc / "net" / "route", "Iface\tDestination\tGateway\neth9\t00000000\t0101A8C0\n"
        )
        header = (
            "Inter-|   Receive\n face |bytes packets errs drop fifo frame compressed multicast\n"
        )
        _write(
            self.proc / "net" / "dev",
            header
            + "    lo: 50 1 0 0 0 0 0 0 50 1 0 0 0 0 0 0\n"
            + "  eth9: 1000 10 1 0 0 0 0 0 2000 20 2 0 0 0 0 0\n",
        )
        _write(
            self.proc / str(PID) / "net" / "dev",
            header + "  eth0: 300 3 0 0 0 0 0 0 400 4 5 0 0 0 0 0\n",
        )
        _write(
            self.proc / "meminfo", "MemTotal: 4096 kB\nMemFree: 1024 kB\nMemAvailable: 3072 kB\n"
        )
        _write(self.container_dirs[0] / "cgroup.procs", f"{PID}\n")
        _write(self.logs / "default_burner_u-1" / "burn" / "0.log", "x" * 10_000)
        _write(self.layers / CID / "upper" / "tmp" / "file", "y" * 20_000)

    def sample(self, cpu_ns: int, proc_ticks: int, usage: int, inactive: int) -> None:
        for cpu_dir, memory_dir in (self.pod_dirs, self.container_dirs):
            _write(cpu_dir / "cpuacct.usage", f"{cpu_ns}\n")
            _write(memory_dir / "memory.usage_in_bytes", f"{usage}\n")
            _write(memory_dir / "memory.limit_in_bytes", f"{64 * MiB}\n")
            _write(
                memory_dir / "memory.stat",
                f"inactive_file 1\ntotal_inactive_file {inactive}\ntotal_rss {usage // 2}\n"
                "total_pgfault 7\ntotal_pgmajfault 1\n",
            )
        _write(self.proc / "stat", f"cpu  {proc_ticks} 0 0 100 0 0 0 0 0 0\nbtime 1700000000\n")

    def collector(self) -> NodeCollector:
        layout = NodeLayout(
            node_name=NODE,
            cgroup_root="kyb",
            root_dir=str(self.root / "agent"),
            logs_root=str(self.logs),
            writable_layer=lambda cid: str(self.layers / cid / "upper"),
            proc=str(self.proc),
        )
        mounts = {"cpuacct": str(self.cpuacct), "memory": str(self.memory)}
        return NodeCollector(layout, window=5.0, mounts=mounts)


@pytest.fixture
def node(tmp_path: Path) -> Host:
    return Host(tmp_path)


def test_first_collection_has_no_cpu_rate_but_cumulative_usage(node: Host) -> None:
    node.sample(cpu_ns=1_000_000_000, proc_ticks=100, usage=30 * MiB, inactive=10 * MiB)
    doc = node.collector().collect([_pod()], now=1_700_000_100.0, at=10.0)
    container = doc["pods"][0]["containers"][0]
    assert "usageNanoCores" not in container["cpu"]
    assert container["cpu"]["usageCoreNanoSeconds"] == 1_000_000_000
    assert container["memory"]["workingSetBytes"] == 20 * MiB
    assert doc["node"]["startTime"] == "2023-11-14T22:13:20Z"


def test_rates_memory_network_and_disk_of_a_running_pod(node: Host) -> None:
    collector = node.collector()
    ticks = os.sysconf("SC_CLK_TCK")
    node.sample(cpu_ns=1_000_000_000, proc_ticks=100, usage=30 * MiB, inactive=10 * MiB)
    collector.collect([_pod()], now=1_700_000_100.0, at=10.0)
    # 5 s later: the container used 2.5 s of CPU (half a core), the host 4 s (0.8 cores)
    node.sample(cpu_ns=3_500_000_000, proc_ticks=100 + 4 * ticks, usage=40 * MiB, inactive=8 * MiB)
    doc = collector.collect([_pod()], now=1_700_000_105.0, at=15.0)

    assert doc["windowSeconds"] == 5.0
    pod = doc["pods"][0]
    assert pod["podRef"] == {"name": "burner", "namespace": "default", "uid": "u-1"}
    assert pod["startTime"] == "2026-01-01T00:00:00Z"
    assert pod["cpu"]["usageNanoCores"] == 500_000_000
    container = pod["containers"][0]
    assert container["name"] == "burn"
    assert container["startTime"] == "2026-01-01T00:00:01Z"
    assert container["cpu"] == {
        "time": "2023-11-14T22:15:05Z",
        "usageNanoCores": 500_000_000,
        "usageCoreNanoSeconds": 3_500_000_000,
    }
    memory = container["memory"]
    assert memory["workingSetBytes"] == 32 * MiB  # usage minus total_inactive_file
    assert memory["usageBytes"] == 40 * MiB
    assert memory["rssBytes"] == 20 * MiB
    assert memory["availableBytes"] == 32 * MiB  # the 64 MiB limit minus the working set
    assert (memory["pageFaults"], memory["majorPageFaults"]) == (7, 1)

    # the pod's own network namespace, through a process of its container
    network = pod["network"]
    assert (network["name"], network["rxBytes"], network["txBytes"]) == ("eth0", 300, 400)
    assert network["txErrors"] == 5
    assert [i["name"] for i in network["interfaces"]] == ["eth0"]

    assert container["logs"]["usedBytes"] >= 10_000
    assert container["rootfs"]["usedBytes"] >= 20_000
    assert container["rootfs"]["inodesUsed"] == 3  # upper/, tmp/, file
    assert container["rootfs"]["capacityBytes"] > 0
    storage = pod["ephemeral-storage"]
    assert storage["usedBytes"] == container["logs"]["usedBytes"] + container["rootfs"]["usedBytes"]

    host_stats = doc["node"]
    assert host_stats["nodeName"] == NODE
    assert host_stats["cpu"]["usageNanoCores"] == 800_000_000
    assert host_stats["memory"]["workingSetBytes"] == 1024 * 1024  # MemTotal - MemAvailable
    assert host_stats["memory"]["availableBytes"] == 3072 * 1024
    assert host_stats["network"]["name"] == "eth9"  # the default route's interface
    assert [i["name"] for i in host_stats["network"]["interfaces"]] == ["eth9"]  # no lo
    assert host_stats["fs"]["capacityBytes"] >= host_stats["fs"]["availableBytes"] > 0


def test_only_running_containers_of_this_node_are_sampled(node: Host) -> None:
    node.sample(cpu_ns=1, proc_ticks=1, usage=MiB, inactive=0)
    waiting = _pod(containerStatuses=[{"name": "burn", "state": {"waiting": {}}}])
    elsewhere = _pod()
    elsewhere["spec"]["nodeName"] = "other"
    gone = _pod()
    gone["status"]["containerStatuses"][0]["containerID"] = "runc://gone"
    doc = node.collector().collect([waiting, elsewhere, gone], now=1.0, at=1.0)
    assert doc["pods"] == []


def test_a_restarted_counter_starts_over(node: Host) -> None:
    collector = node.collector()
    node.sample(cpu_ns=5_000_000_000, proc_ticks=1, usage=MiB, inactive=0)
    collector.collect([_pod()], now=1.0, at=1.0)
    node.sample(cpu_ns=1_000, proc_ticks=2, usage=MiB, inactive=0)
    doc = collector.collect([_pod()], now=2.0, at=2.0)
    assert "usageNanoCores" not in doc["pods"][0]["containers"][0]["cpu"]


async def test_refresh_keeps_the_latest_summary(node: Host) -> None:
    node.sample(cpu_ns=1, proc_ticks=1, usage=MiB, inactive=0)
    collector = node.collector()
    collector.pods = lambda: [_pod()]
    before = collector.latest
    first = await collector.summary()  # collected on demand
    assert before is None
    assert collector.latest is first
    assert await collector.summary() is first  # served, not collected again
    [pushed] = await collector.publish()
    assert collector.latest is pushed is not first


def test_readers_of_missing_files_answer_none(tmp_path: Path) -> None:
    assert cgroupv1.cpu_usage_ns(str(tmp_path / "none")) is None
    assert cgroupv1.memory_stats(str(tmp_path / "none")) is None
    assert cgroupv1.first_pid(str(tmp_path)) is None
    assert host.interfaces(str(tmp_path / "dev")) == []
    assert host.network_stats([], "eth0") is None
    assert fs.tree(str(tmp_path / "none"), None) is None
    assert host.boot_time(str(tmp_path)) == ""


def test_unlimited_memory_reports_no_available_bytes(tmp_path: Path) -> None:
    _write(tmp_path / "memory.usage_in_bytes", "100\n")
    _write(tmp_path / "memory.limit_in_bytes", "9223372036854771712\n")
    stats = cgroupv1.memory_stats(str(tmp_path))
    assert stats is not None
    assert "availableBytes" not in stats
    assert cgroupv1.working_set(str(tmp_path)) == 100
