"""A real ``kyb server`` subprocess and a real ``kubectl`` pointed at it."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from kybernetes.agent.local import NodeAgentConfig, cleanup_node, remove_all_pods
from kybernetes.network.policy.enforcer import cleanup as policy_cleanup
from kybernetes.network.proxy.proxier import ProxyConfig
from kybernetes.network.proxy.proxier import cleanup as proxy_cleanup

#: The seeds' echo example: its image builder, Deployment, Service and Ingress.
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "echo"


def echo_example() -> ModuleType:
    """``examples/echo/image.py`` loaded as a module (the example is not a package)."""
    spec = importlib.util.spec_from_file_location("echo_image", EXAMPLE / "image.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    #: the flags the server was started with beyond the defaults (to restart it alike)
    extra: tuple[str, ...] = ()
    #: the ingress controller's HTTP port, when a real node runs one
    ingress_port: int = 0

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
    return Cluster(data_dir, home, proc, f"https://127.0.0.1:{port}", extra=extra)


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


def import_image(data_dir: Path, archive: Path) -> None:
    """``kyb image import`` into the node store of the server that will use ``data_dir``."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kybernetes",
            "image",
            "import",
            str(archive),
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


class RealNodeCluster:
    """``kyb server --runtime runc`` with its node's host objects named after one instance.

    ``current`` is the running server (a test may restart it); ``close`` deletes every
    workload, stops the server, removes whatever the node left on the host — pods, the proxy
    and policy tables, the bridge, cgroups — and only then asserts that nothing was left.
    """

    def __init__(self, base: Path, archives: Iterable[Path], flags: Iterable[str] = ()) -> None:
        if os.geteuid() != 0:
            raise AssertionError("real containers need root: run this suite as root (CI does)")
        self.base = base
        home = base / "home"
        home.mkdir()
        self.data = base / "data"
        for archive in archives:
            import_image(self.data, archive)
        self.instance = uuid.uuid4().hex[:6]
        http, https = free_port(), free_port()
        extra = ("--runtime", "runc", "--node-instance", self.instance, *flags)
        self.current = start_server(self.data, home, *extra, "--ingress-ports", f"{http},{https}")
        self.current.ingress_port = http

    def restart(self) -> Cluster:
        err = stop_server(self.current)
        assert "Traceback" not in err, err
        port = self.current.ingress_port
        self.current = start_server(self.data, self.current.home, *self.current.extra)
        self.current.ingress_port = port
        return self.current

    def close(self) -> None:
        running = self.current
        running.kubectl("delete", "networkpolicies", "--all", check=False)
        running.kubectl("delete", "deployments", "--all", "--wait=true", check=False)
        running.kubectl("delete", "pods", "--all", "--wait=true", "--timeout=120s", check=False)
        sandboxes = self.data / "agent" / "runtime" / "sandboxes"
        # Deleted pods leave the API at once; the agent then removes their sandboxes.
        deadline = time.monotonic() + 60
        while list(sandboxes.glob("*")) and time.monotonic() < deadline:
            time.sleep(0.2)
        err = stop_server(running)
        node = NodeAgentConfig.for_instance(self.data / "agent", self.instance)
        left = asyncio.run(remove_all_pods(node))
        table = f"kyb-services-{self.instance}"
        asyncio.run(proxy_cleanup(ProxyConfig(node_name="", bridge=node.bridge, table=table)))
        asyncio.run(policy_cleanup(f"kyb-policy-{self.instance}"))
        cleanup_node(node)
        assert "Traceback" not in err, err
        assert left == 0, f"{left} sandboxes left behind"
        assert str(self.base) not in Path("/proc/self/mountinfo").read_text(), "mounts left"
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        assert self.instance not in tables, tables


#: Real-node clusters on one machine share the cluster's service and DNS addresses and the
#: node's port 10250, so they take turns: each holds this lock while it runs.
REAL_NODE_LOCK = Path(tempfile.gettempdir()) / "kyb-realnode.lock"
_LOCK_WAIT = 90.0


@contextlib.contextmanager
def one_real_node_at_a_time() -> Iterator[None]:
    with REAL_NODE_LOCK.open("a") as lock:
        deadline = time.monotonic() + _LOCK_WAIT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"another real-node cluster on this machine holds {REAL_NODE_LOCK}; "
                        "real-node runs take turns: run again when it has finished"
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def real_node_cluster(
    base: Path, archives: Iterable[Path], flags: Iterable[str] = ()
) -> Iterator[RealNodeCluster]:
    """A real-node cluster for the block; ``flags`` go to ``kyb server`` as well."""
    with one_real_node_at_a_time():
        node = RealNodeCluster(base, archives, flags)
        try:
            yield node
        finally:
            node.close()
