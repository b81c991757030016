"""The ``kyb`` command as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

KYB = [sys.executable, "-m", "kybernetes"]


def test_version() -> None:
    out = subprocess.run([*KYB, "version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("kybernetes ")


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [*KYB, "server", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line


@pytest.mark.slow
def test_server_starts_stops_on_sigterm_and_keeps_its_state(tmp_path: Path) -> None:
    proc, line = start_server(tmp_path)
    try:
        assert line.startswith("kybernetes ready: storage=sqlite"), line
        assert "revision=0" in line
        assert (tmp_path / "state.db").exists()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    proc, line = start_server(tmp_path)
    try:
        assert line.startswith("kybernetes ready:"), line
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=20)


def test_bad_option_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [*KYB, "server", "--data-dir", str(tmp_path), "--storage", "etcd"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == "kyb server: --storage etcd needs --etcd-servers"
