"""Interactive streams with the real kubectl and real containers (``kyb server`` as root).

``kubectl exec -it`` driven through a pseudo-terminal, as a person at a terminal would: the
shell's prompt, a command's output, a terminal resize seen by ``stty size`` inside, and
``exit 3`` ending kubectl with 3. ``kubectl attach -i``/``-it`` to containers started with
``stdin: true`` (and ``tty: true``): what is typed reaches the container, its output comes
back, and leaving is clean. kr8s's exec and port-forward, and the ``kubernetes`` client's
``stream`` with stdin, each run as a user's script would.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kybernetes.testing.images import busybox_image
from tests.e2e.conftest import Cluster, real_node_cluster

pytestmark = [pytest.mark.slow, pytest.mark.root]

IMAGE = "example.com/busybox:1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("interactive")
    archive = busybox_image().write_oci(base / "busybox.tar", name=IMAGE)
    with real_node_cluster(base, [archive]) as node:
        running = node.current
        # pods need the namespace's service account, which a controller makes
        wait_until(lambda: running.kubectl("get", "sa", "default", check=False).returncode == 0)
        yield running


def run_pod(cluster: Cluster, name: str, container: dict[str, Any], **spec: Any) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {"name": "main", "image": IMAGE, "imagePullPolicy": "Never", **container}
            ],
            "terminationGracePeriodSeconds": 1,
            **spec,
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(body))
    cluster.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s")


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Terminal:
    """kubectl on a pseudo-terminal of its own: what it prints is read from the primary end."""

    def __init__(self, cluster: Cluster, *args: str, rows: int = 24, cols: int = 80) -> None:
        self.primary, secondary = os.openpty()
        set_size(secondary, rows, cols)
        self.proc = subprocess.Popen(
            ["kubectl", "--kubeconfig", str(cluster.kubeconfig), *args],
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            start_new_session=True,
            env={**os.environ, "HOME": str(cluster.home), "TERM": "dumb"},
        )
        os.close(secondary)
        self.seen = b""

    def send(self, text: str) -> None:
        os.write(self.primary, text.encode())

    def expect(self, pattern: str, timeout: float = 20) -> re.Match[bytes]:
        """Wait for ``pattern`` in what was printed since the last match; consume up to it."""
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.seen)
            if found is not None:
                self.seen = self.seen[found.end() :]
                return found
            left = deadline - time.monotonic()
            assert left > 0, f"no {pattern!r} in {self.seen!r}"
            ready, _, _ = select.select([self.primary], [], [], left)
            if ready:
                try:
                    data = os.read(self.primary, 65536)
                except OSError:  # EIO: kubectl has exited
                    data = b""
                if not data:
                    assert regex.search(self.seen), (
                        f"kubectl ended: no {pattern!r} in {self.seen!r}"
                    )
                self.seen += data

    def resize(self, rows: int, cols: int) -> None:
        set_size(self.primary, rows, cols)
        os.kill(self.proc.pid, signal.SIGWINCH)

    def wait(self, timeout: float = 20) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.drain()

    def drain(self) -> None:
        while select.select([self.primary], [], [], 0)[0]:
            try:
                data = os.read(self.primary, 65536)
            except OSError:
                break
            if not data:
                break
            self.seen += data

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.primary)


def test_exec_it_shell_through_a_terminal(cluster: Cluster) -> None:
    run_pod(cluster, "interactive", {"command": ["sleep", "3600"]})
    term = Terminal(cluster, "exec", "-it", "interactive", "--", "sh", rows=24, cols=80)
    try:
        term.expect(r"# ")  # the shell's prompt
        term.send("echo $((6 * 7))-answer\r")
        term.expect(r"42-answer")
        term.send("stty size\r")
        term.expect(r"24 80")
        term.resize(40, 132)
        # the resize travels kubectl -> API server -> agent -> runc -> the container's tty
        deadline = time.monotonic() + 10
        while True:
            term.send("stty size\r")
            try:
                term.expect(r"40 132", timeout=1)
                break
            except AssertionError:
                assert time.monotonic() < deadline, term.seen
        term.send("exit 3\r")
        assert term.wait() == 3, term.seen
    finally:
        term.close()


def test_attach_i_to_a_stdin_once_container(cluster: Cluster) -> None:
    """``cat`` reads what is typed; the end of input ends it (stdinOnce), and attach with it."""
    body = {"command": ["cat"], "stdin": True, "stdinOnce": True}
    run_pod(cluster, "catter", body, restartPolicy="Never")
    proc = subprocess.Popen(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "attach", "-i", "catter"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "HOME": str(cluster.home)},
    )
    try:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(b"first line\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b"first line\n"
        # the end of input that follows closes the container's stdin: cat ends, and attach
        rest, err = proc.communicate(b"second line\n", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert rest == b"second line\n"

    def phase() -> str:
        pod = json.loads(cluster.kubectl("get", "pod", "catter", "-o", "json").stdout)
        return str(pod["status"].get("phase"))

    wait_until(lambda: phase() == "Succeeded", 30, "cat to end")
    logs = cluster.kubectl("logs", "catter").stdout
    assert logs == "first line\nsecond line\n"


def test_kubectl_run_i_rm(cluster: Cluster) -> None:
    """``kubectl run -i --rm``: a pod with stdinOnce, attached to once it runs, then deleted."""
    done = cluster.kubectl(
        "run",
        "runner",
        "-i",
        "--rm",
        "--restart=Never",
        f"--image={IMAGE}",
        "--image-pull-policy=Never",
        "--",
        "sh",
        "-c",
        "read line; echo got:$line; exit 7",
        input="typed\n",
        check=False,
    )
    assert "got:typed" in done.stdout, (done.stdout, done.stderr)
    assert done.returncode == 7, done.stderr  # the container's exit code
    assert "terminated (Error)" in done.stderr, done.stderr
    wait_until(
        lambda: cluster.kubectl("get", "pod", "runner", check=False).returncode != 0,
        30,
        "the pod to be deleted",
    )


def test_attach_it_to_a_tty_shell_detach_and_attach_again(cluster: Cluster) -> None:
    body = {"command": ["sh"], "stdin": True, "tty": True}
    run_pod(cluster, "console", body, restartPolicy="Never")
    term = Terminal(cluster, "attach", "-it", "console", rows=30, cols=100)
    try:
        term.expect("If you don't see a command prompt, try pressing enter.")
        term.send("\r")
        term.expect(r"# ")
        term.send("echo $((6 * 7))-attached; stty size\r")
        term.expect(r"42-attached")
        term.expect(r"30 100")
        term.send("export MARK=kept; echo exported-$MARK\r")
        term.expect(r"exported-kept")
    finally:
        term.close()  # leaving: the terminal goes away, the container stays
    time.sleep(1)
    pod = json.loads(cluster.kubectl("get", "pod", "console", "-o", "json").stdout)
    assert pod["status"]["phase"] == "Running"
    again = Terminal(cluster, "attach", "-it", "console", rows=30, cols=100)
    try:
        again.send("\r")
        again.send("echo mark=$MARK\r")
        again.expect(r"mark=kept")  # the same shell: stdin was not closed by the detach
        again.send("exit 0\r")
        assert again.wait() == 0, again.seen
    finally:
        again.close()
    wait_until(
        lambda: (
            json.loads(cluster.kubectl("get", "pod", "console", "-o", "json").stdout)["status"][
                "phase"
            ]
            == "Succeeded"
        ),
        30,
        "the shell to end",
    )


def test_attach_without_stdin_sees_new_output(cluster: Cluster) -> None:
    run_pod(
        cluster,
        "chatter",
        {"command": ["sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done"]},
    )
    proc = subprocess.Popen(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "attach", "chatter"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "HOME": str(cluster.home)},
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == list(range(numbers[0], numbers[0] + 3)), lines
    assert b"error" not in err.lower(), err


def wait_until(check: Any, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def run_script(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


KR8S_EXEC = """
import sys
import kr8s
from kr8s.objects import Pod

api = kr8s.api(kubeconfig=sys.argv[1])
pod = Pod.get("kr8sexec", namespace="default", api=api)
done = pod.exec(["sh", "-c", "echo out; echo err >&2"])
print(repr((done.returncode, done.stdout, done.stderr)))
failed = pod.exec(["sh", "-c", "echo partial; exit 3"], check=False)
print(repr((failed.returncode, failed.stdout)))
"""


def test_kr8s_exec_output_and_exit_code(cluster: Cluster) -> None:
    run_pod(cluster, "kr8sexec", {"command": ["sleep", "3600"]})
    lines = run_script(KR8S_EXEC, str(cluster.kubeconfig)).splitlines()
    assert lines == ["(0, b'out\\n', b'err\\n')", "(3, b'partial\\n')"]


KR8S_PORT_FORWARD = """
import sys
import urllib.request
import kr8s
from kr8s.objects import Pod

api = kr8s.api(kubeconfig=sys.argv[1])
pod = Pod.get("kr8sweb", namespace="default", api=api)
with pod.portforward(remote_port=8080, local_port="auto") as port:
    for _ in range(3):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            print(response.read().decode(), end="")
"""


def test_kr8s_port_forward_carries_http(cluster: Cluster) -> None:
    script = "mkdir -p /www && echo hello-kr8s > /www/index.html && httpd -f -p 8080 -h /www"
    run_pod(cluster, "kr8sweb", {"command": ["sh", "-c", script]})
    assert run_script(KR8S_PORT_FORWARD, str(cluster.kubeconfig)) == "hello-kr8s\n" * 3


PYTHON_STDIN = """
import sys
from kubernetes import client, config
from kubernetes.stream import stream

api = client.CoreV1Api(config.new_client_from_config(sys.argv[1]))
resp = stream(
    api.connect_get_namespaced_pod_exec, "pystdin", "default",
    command=["sh", "-c", "while read line; do echo got:$line; done; echo bye >&2; exit 4"],
    stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False,
)
resp.write_stdin("one\\n")
first = resp.readline_stdout(timeout=10)
resp.write_stdin("two\\n")
resp.close_channel(0)
resp.run_forever(timeout=20)
print(repr((first, resp.read_stdout(), resp.read_stderr(), resp.returncode)))
"""


def test_python_client_stream_with_stdin(cluster: Cluster) -> None:
    run_pod(cluster, "pystdin", {"command": ["sleep", "3600"]})
    out = run_script(PYTHON_STDIN, str(cluster.kubeconfig)).strip()
    assert out == "('got:one', 'got:two\\n', 'bye\\n', 4)"
