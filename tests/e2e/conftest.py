"""A real ``kyb server`` subprocess and a real ``kubectl`` pointed at it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    data_dir: Path
    home: Path
    proc: subprocess.Popen[str]
    url: str

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this cluster (its own HOME, so its own caches)."""
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "HOME": str(self.home), **(env or {})},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result


def start_server(data_dir: Path, home: Path, *extra: str) -> Cluster:
    """``kyb server`` on a free port; no real node unless ``extra`` asks for ``--runtime runc``
    (as root it would otherwise create a bridge and nftables rules for every test server)."""
    if "--runtime" not in extra:
        extra = (*extra, "--runtime", "none")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kybernetes",
            "server",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--no-kubeconfig-merge",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("kybernetes ready:"):
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise AssertionError(f"kyb server did not start: {line}\n{err}")
    return Cluster(data_dir, home, proc, f"https://127.0.0.1:{port}")


def stop_server(cluster: Cluster, sig: int = signal.SIGTERM) -> str:
    if cluster.proc.poll() is None:
        os.kill(cluster.proc.pid, sig)
    try:
        _, err = cluster.proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(cluster.proc.pid, signal.SIGKILL)
        _, err = cluster.proc.communicate(timeout=10)
    return err


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("cluster")
    home = base / "home"
    home.mkdir()
    running = start_server(base / "data", home)
    try:
        yield running
    finally:
        err = stop_server(running)
        assert "Traceback" not in err, err
