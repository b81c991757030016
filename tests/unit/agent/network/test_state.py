"""Per-sandbox network records: atomic files, reloaded after a restart so no address repeats."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kybernetes.agent.ipam import IPPool
from kybernetes.agent.network.bridge import host_ifname, netns_name
from kybernetes.agent.network.state import SandboxRecord, StateStore, valid_sandbox_id
from kybernetes.agent.runtime.interface import PortMapping


def record(sandbox_id: str, ip: str, *ports: PortMapping) -> SandboxRecord:
    return SandboxRecord(sandbox_id, "web", "shop", f"kyb-{sandbox_id}", "kybv0", ip, ports)


def test_records_round_trip(tmp_path: Path) -> None:
    store = StateStore(str(tmp_path / "net"))
    first = record("a1", "10.42.0.2", PortMapping(80, 8080, "TCP", "192.0.2.2"))
    store.save(first)
    store.save(record("b2", "10.42.0.3"))
    assert list(store.load()) == [first, record("b2", "10.42.0.3")]
    store.delete("a1")
    store.delete("a1")  # idempotent
    assert [r.sandbox_id for r in store.load()] == ["b2"]


def test_broken_and_half_written_files_are_skipped(tmp_path: Path) -> None:
    store = StateStore(str(tmp_path))
    store.save(record("good", "10.42.0.2"))
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps(record("good2", "10.42.0.9").to_json()))
    (tmp_path / "half.json.tmp").write_text("{")
    assert [r.sandbox_id for r in store.load()] == ["good"]
    assert not (tmp_path / "half.json.tmp").exists()


def test_missing_directory_loads_nothing(tmp_path: Path) -> None:
    assert list(StateStore(str(tmp_path / "absent")).load()) == []


def test_ids_that_are_not_file_names_are_refused(tmp_path: Path) -> None:
    assert valid_sandbox_id("0123abc_x.y-z")
    for bad in ("", "../x", ".hidden", "a/b", "x" * 201):
        assert not valid_sandbox_id(bad)
    with pytest.raises(ValueError, match="file name"):
        StateStore(str(tmp_path)).save(record("../x", "10.42.0.2"))


def test_a_restarted_pool_never_repeats_a_persisted_address(tmp_path: Path) -> None:
    store = StateStore(str(tmp_path))
    pool = IPPool("10.42.7.0/29")  # .2 to .6 assignable
    for name in ("a", "b", "c"):
        address = pool.allocate(name)
        assert address is not None
        store.save(record(name, address))
    pool.release("b")
    store.delete("b")

    restarted = IPPool("10.42.7.0/29")
    for saved in store.load():
        assert restarted.claim(saved.ip, saved.sandbox_id)
    fresh = {restarted.allocate(f"n{i}") for i in range(3)}
    assert fresh == {"10.42.7.3", "10.42.7.5", "10.42.7.6"}
    assert restarted.allocate("full") is None
    assert not restarted.claim("10.42.7.2", "someone-else")


def test_names_fit_the_kernel_and_are_stable() -> None:
    cri = "f" * 64
    assert netns_name("kyb-", cri) == "kyb-ffffffffffff"
    assert netns_name("kyb-", "pod-a") == netns_name("kyb-", "pod-a") != netns_name("kyb-", "pod-b")
    assert len(host_ifname(cri)) == 15
    assert host_ifname(cri).startswith("kybv")
    assert host_ifname("pod-a") != host_ifname("pod-b")
    assert os.path.basename(netns_name("kyb-", "../x")) == netns_name("kyb-", "../x")
