"""A chatty pod cannot fill the disk: its log is rotated by size (``kyb server`` as root).

The node runs with a small containerLogMaxSize and containerLogMaxFiles (hidden server flags),
so a pod writing a few tens of kilobytes a second rotates its log every second or so. While
it runs, its log directory never holds more files than allowed, none much over the size, with
upstream's names; ``kubectl logs --tail`` shows the latest lines and ``kubectl logs -f`` reads
across rotations without losing or repeating a line.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kybernetes.testing.images import busybox_image
from tests.e2e.conftest import Cluster, real_node_cluster

pytestmark = [pytest.mark.slow, pytest.mark.root]

IMAGE = "example.com/busybox:1"
MAX_SIZE = 32 * 1024
MAX_FILES = 3
# 50 lines of about 100 bytes (with the CRI prefix) every 0.1 s: a rotation every second or so
CHATTY = (
    "i=0; while true; do j=0; while [ $j -lt 50 ]; do "
    'echo "line $i 0123456789012345678901234567890123456789"; i=$((i+1)); j=$((j+1)); done; '
    "sleep 0.1; done"
)
ROTATED = re.compile(r"0\.log\.\d{8}-\d{6}(\.gz)?")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Path]]:
    base = tmp_path_factory.mktemp("rotation")
    archive = busybox_image().write_oci(base / "busybox.tar", name=IMAGE)
    flags = ("--container-log-max-size", f"{MAX_SIZE}", "--container-log-max-files", f"{MAX_FILES}")
    with real_node_cluster(base, [archive], flags) as real:
        yield real.current, real.data


def start_chatty(cluster: Cluster) -> str:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "chatty"},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", CHATTY],
                }
            ],
            "terminationGracePeriodSeconds": 1,
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(body))
    cluster.kubectl("wait", "--for=condition=Ready", "pod/chatty", "--timeout=60s")
    pod = json.loads(cluster.kubectl("get", "pod", "chatty", "-o", "json").stdout)
    return str(pod["metadata"]["uid"])


def numbers(text: str) -> list[int]:
    return [int(line.split()[1]) for line in text.splitlines()]


def test_a_chatty_pods_log_stays_bounded_and_readable(node: tuple[Cluster, Path]) -> None:
    cluster, data = node
    uid = start_chatty(cluster)
    (directory,) = data.glob(f"agent/pods/logs/default_chatty_{uid}/main")
    follower = subprocess.Popen(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "logs", "-f", "chatty"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(cluster.home)},
    )
    try:
        seen_rotations: set[str] = set()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:  # bounded all along, not only at the end
            files = sorted(p for p in directory.iterdir() if not p.name.endswith(".tmp"))
            names = [p.name for p in files]
            assert len(files) <= MAX_FILES, names
            for path in files:
                with_slack = MAX_SIZE + 200  # one record over, at most
                assert path.name == "0.log" or ROTATED.fullmatch(path.name), names
                assert path.stat().st_size <= with_slack or path.name.endswith(".gz"), names
            seen_rotations.update(n.removesuffix(".gz") for n in names if n != "0.log")
            time.sleep(0.2)
        assert len(seen_rotations) >= 3, seen_rotations  # it did rotate, more than once
        rotated = sorted(p for p in directory.iterdir() if p.name != "0.log")
        compressed = [p for p in rotated if p.name.endswith(".gz")]
        assert compressed, rotated  # older rotated files are gzip-compressed
        assert gzip.decompress(compressed[0].read_bytes()).split(b" ", 3)[1] == b"stdout"

        # --tail shows the latest lines, in order. As upstream, only the current file is
        # read: just after a rotation it may hold fewer lines than asked for.
        tail: list[int] = []
        for _ in range(10):
            tail = numbers(cluster.kubectl("logs", "chatty", "--tail=5").stdout)
            if len(tail) == 5:
                break
            time.sleep(0.1)
        assert tail == list(range(tail[0], tail[0] + 5)), tail
        latest = numbers(cluster.kubectl("logs", "chatty", "--tail=1").stdout)[0]
        assert latest >= tail[-1]
        assert latest - tail[-1] < 500  # a second or so of output at most

        # -f, started before all those rotations, read across every one of them
        assert follower.stdout is not None
        followed = [int(follower.stdout.readline().split()[1]) for _ in range(latest)]
    finally:
        follower.kill()
        follower.communicate()
    assert followed == list(range(followed[0], followed[0] + len(followed)))
