"""Network benchmark: requests/s and p99 through a ClusterIP, a NodePort and the Ingress, each
next to a direct connection to the pod in the same run; endpoint change to proxy rules live.

Run (as root, under the lock every real-node run on this machine takes):
``flock /tmp/kyb-realnode.lock .venv/bin/python bench/network.py [--quick]`` (``make bench``
runs it). Prints a table and writes ``bench/results/network.json``.

The cluster is ``kyb server --runtime runc --node-instance <id> --ingress-ports HTTP,HTTPS``
(API server, controllers, node agent, service proxy and ingress controller in one process, as a
user starts it), its host objects named after a per-run instance as the e2e fixture
``RealNodeCluster`` does. Afterwards exactly those are removed (pods with their netns, veths,
mounts and cgroups; the proxy's and the policy's nftables tables; the bridge; the service route)
and the bench checks that nothing named after the instance is left (``host_clean``).

**Backend.** One pod running a ~100-line C server (epoll, one thread, HTTP/1.1 keep-alive and
``Connection: close``, a 6-byte body), compiled ``-static`` by the bench into a busybox image.
The echo example's busybox ``httpd`` forks a shell per request (CGI) and, even serving a static
file, forks per connection without keep-alive: about a thousand requests/s here, which would
make every path look as fast as the direct one and hide what the paths cost. The C server
answers 60-95k requests/s on one core. It listens on one port per path (8080 direct, 8081
behind the ClusterIP, 8082 behind the NodePort, 8083 behind the Ingress): with ``Connection:
close`` the server closes first and keeps each 4-tuple in TIME_WAIT, and a later SYN for the
same tuple arriving by another path carries TCP timestamps with another offset (Linux derives
it from the client socket's address pair, and the ClusterIP's and NodePort's sockets have other
destinations than the pod), fails the PAWS check and waits out a 1 s SYN retransmit. Measured
with one port: ``TcpExtTCPSynRetrans`` grew by hundreds per run and the direct path fell from
8.7k to 1.3k requests/s after ClusterIP runs, an artifact of the bench and not of the proxy.
(Without a C compiler the bench falls back to busybox ``httpd`` on a static file and says so
in ``backend``.)

The seeds' echo app (``examples/echo/``: busybox ``httpd`` and a CGI script) runs too, and its
direct path and its Ingress are measured the same way (mode ``echo``, 8 connections since
``httpd`` listens with a backlog of 9): what the Ingress target means for the example a
newcomer deploys. ``httpd`` answers HTTP/1.1 without ``Connection: close`` and then closes, so
wrk counts a read error per request on the direct path (``echo_direct_errors``): the answers
were complete; wrk only notices the close when it tries to reuse the connection.

**Load generator.** ``wrk`` (Debian package, in the Makefile's ``APT_PACKAGES``), one thread,
32 connections, at saturation: a closed loop, so p99 is the latency at the measured throughput.
In the same run the bench measures what a Python asyncio client (the same 32 keep-alive
connections, a minimal HTTP/1.1 parser) reaches on the direct path: ``loadgen_asyncio_rps``
against ``loadgen_wrk_rps``. It reaches about a third of wrk, so it would be the bottleneck and
flatten every ratio. Without wrk the bench falls back to it (and skips the pod-client modes).

Paths, each to the same pod:

* ``direct`` — to ``podIP:8080`` (the baseline);
* ``clusterip`` — to ``ClusterIP:80``: DNAT by the proxy's rules;
* ``nodeport`` — to ``127.0.0.1:<nodePort>``: DNAT plus masquerade (``route_localnet``);
* ``ingress_nginx`` — to ``127.0.0.1:<ingress HTTP port>`` with ``Host: bench.example.com``:
  the server's ingress controller with its default data plane, nginx (``--ingress-proxy
  nginx``: master and one worker per core, children of ``kyb server``), keep-alive connections
  to the pod;
* ``ingress_builtin`` — the same Ingress through a second ingress controller with the builtin
  asyncio proxy (``--ingress-proxy builtin``), in a process of its own on another loopback
  port, watching the same cluster (it writes no status), pooled keep-alive connections to the
  pod. Both data planes are measured in the same run against the same pod.

Modes: ``ka`` (keep-alive: the NAT rules run once per connection, then conntrack alone) and
``close`` (``Connection: close``, a TCP connection per request, so the ClusterIP's DNAT chain
runs for every request; wrk's latency starts at the request's write, so the connect, and the
DNAT, show in requests/s but not in p50/p99), both from the node; ``pod-ka`` and ``pod-close``,
direct and ClusterIP from a client pod (wrk in the pod's network namespace, ``ip netns exec``),
as Services are mostly used; ``echo``. Each non-direct run is paired with a direct run of the
same mode (direct first in even rounds, second in odd ones) and ``vs_direct`` is the median
over rounds of the pairs' ratios: that holds up better than a ratio of medians on a 2-core
machine that other work may share. ``background_cores`` is the median CPU (in cores) that
processes other than wrk, the cluster and the backends used during the runs.
``<mode>_<path>_cpu_us`` is the CPU per request of wrk, ``kyb server`` and the backends together
(the kernel's network work is charged to the process whose send triggers it), which other work
on the machine barely disturbs: the paths' cost where requests/s are noisy.
``<mode>_<path>_server_cpu_us`` is the share of the processes serving the path: nginx's master
and workers, the builtin controller's process, else the ``kyb server`` process (about zero for
the kernel paths). ``close`` runs leave a conntrack entry per
request for 120 s, so they run in fewer rounds and the bench waits (bounded) for room in the
conntrack table before each one (``conntrack_wait_s``).

**Endpoint change to rules live**, observed by a connect to the ClusterIP that succeeds (or is
refused), polled every 0.5 ms from a thread: a Service without endpoints has a REJECT rule (TCP
reset), so the first successful connect is the first moment the kernel's data path sends new
connections to the endpoint, and after a removal the first refused one is the moment it stops.
That is "live" as a client sees it, to ~1 ms, at almost no cost. Polling ``nft list table``
forks a process per poll (``nft_list_ms``, 4-8 ms each) on 2 cores where the proxy being
measured needs the CPU, resolves no better than that, and shows only that the ruleset's text is
in place.

* ``endpoint_to_rules_*`` — a selectorless Service with a hand-written EndpointSlice whose one
  endpoint (the web pod) is added and removed alternately: from the bench sending the slice
  write to the connect outcome flipping (the API write included, ``api_write_p50_ms``). The
  proxy's own figure from its log (``network_programming_ms``: first unsynced event to the
  transaction applied, over every sync of the run) is ``proxy_reported_p50_ms``.
* ``pod_ready_to_*`` — a Deployment scaled 0 -> 1: from the pod's Ready status seen through a
  watch to its endpoint ready in the EndpointSlice (the EndpointSlice controller), and to the
  ClusterIP's first successful connect (controller plus proxy).

Targets (issue 9): ClusterIP within 10% of direct, requests/s in both modes, judged from the
client pod (``clusterip_from_node_within_10pct`` beside it); Ingress at least 50% of direct for
small responses (``ka``, the way HTTP proxies are usually measured; the ``close`` and ``echo``
ratios are reported beside it), judged on the default data plane, nginx
(``builtin_ingress_half_of_direct`` beside it); rules live within 100 ms of an endpoint change
(p99).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import free_port, pct, report, run_wrk

from kybernetes.agent.local import NodeAgentConfig, cleanup_node, remove_all_pods
from kybernetes.api.errors import NotFound
from kybernetes.client.resource import (
    DEPLOYMENTS,
    ENDPOINTSLICES,
    PODS,
    REPLICASETS,
    SERVICES,
    Resource,
)
from kybernetes.client.rest import Client
from kybernetes.network.policy.enforcer import cleanup as policy_cleanup
from kybernetes.network.proxy.proxier import ProxyConfig
from kybernetes.network.proxy.proxier import cleanup as proxy_cleanup
from kybernetes.testing.images import File, busybox_image

RESULTS = Path(__file__).resolve().parent / "results" / "network.json"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "echo"
IMAGE = "kybernetes.local/netbench:1"
HOST = "bench.example.com"
ECHO_HOST = "echo.example.com"
INGRESSES = Resource("networking.k8s.io", "v1", "ingresses", "Ingress", True)
CONNECTIONS = 32
PATHS = ("direct", "clusterip", "nodeport", "ingress_nginx", "ingress_builtin")
#: the backend's port for each path (see the docstring: TIME_WAIT and timestamps)
PORTS = {"direct": 8080, "clusterip": 8081, "nodeport": 8082, "ingress": 8083}

SERVER_C = r"""
/* The bench backend: HTTP/1.1 with keep-alive, epoll, one thread; "ok <hostname>\n" for every
   request. Connection: close (or HTTP/1.0 without keep-alive) closes after the answer. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 65536
#define INBUF 8192
#define OUTBUF 4096
struct conn { int len, out, sent, closing; char in[INBUF + 1]; char buf[OUTBUF]; };
static struct conn *conns[MAXFD];
static char keep[256], last[256];
static int keep_len, last_len, ep;

static void stop(int sig) { (void)sig; _exit(0); }

static void drop(int fd) { close(fd); free(conns[fd]); conns[fd] = NULL; }

static void want(int fd, unsigned events) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* 1: all written; 0: waiting for EPOLLOUT; -1: close */
static int flush(int fd, struct conn *c) {
  while (c->sent < c->out) {
    ssize_t n = write(fd, c->buf + c->sent, c->out - c->sent);
    if (n < 0) {
      if (errno == EAGAIN) { want(fd, EPOLLIN | EPOLLOUT); return 0; }
      return -1;
    }
    c->sent += n;
  }
  if (c->out) { c->out = c->sent = 0; want(fd, EPOLLIN); }
  return c->closing ? -1 : 1;
}

static void answer(struct conn *c) {
  char *end;
  while (!c->closing && (end = memmem(c->in, c->len, "\r\n\r\n", 4)) != NULL) {
    if (c->out + last_len > OUTBUF) return;
    end += 4;
    char saved = *end;
    *end = 0;
    int close_it = strcasestr(c->in, "\nconnection: close") != NULL ||
        (strstr(c->in, " HTTP/1.0\r\n") && !strcasestr(c->in, "\nconnection: keep-alive"));
    *end = saved;
    if (close_it) c->closing = 1;
    memcpy(c->buf + c->out, close_it ? last : keep, close_it ? last_len : keep_len);
    c->out += close_it ? last_len : keep_len;
    c->len -= end - c->in;
    memmove(c->in, end, c->len);
  }
}

static void serve(int fd, unsigned events) {
  struct conn *c = conns[fd];
  if (events & (EPOLLERR | EPOLLHUP)) { drop(fd); return; }
  if (c->out) {
    int r = flush(fd, c);
    if (r < 0) { drop(fd); return; }
    if (r == 0) return;
  }
  for (;;) {
    ssize_t n = read(fd, c->in + c->len, INBUF - c->len);
    if (n == 0) { drop(fd); return; }
    if (n < 0) {
      if (errno == EAGAIN) break;
      drop(fd);
      return;
    }
    c->len += n;
    answer(c);
    if (c->len == INBUF || c->closing || c->out + last_len > OUTBUF) break;
  }
  if (c->len == INBUF) { drop(fd); return; }
  if (flush(fd, c) < 0) drop(fd);
}

static char listener[MAXFD];

int main(int argc, char **argv) {
  int one = 1;
  char host[64] = "?", body[128];
  gethostname(host, sizeof host - 1);
  int body_len = snprintf(body, sizeof body, "ok %s\n", host);
  keep_len = snprintf(keep, sizeof keep, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
      "Content-Length: %d\r\n\r\n%s", body_len, body);
  last_len = snprintf(last, sizeof last, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
      "Content-Length: %d\r\nConnection: close\r\n\r\n%s", body_len, body);
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  signal(SIGPIPE, SIG_IGN);
  ep = epoll_create1(0);
  struct epoll_event events[256];
  for (int i = 1; i < argc; i++) { /* one listening socket per port argument */
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[i]))};
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 4096)) {
      perror("listen");
      return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    listener[lfd] = 1;
  }
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd, lfd = fd;
      if (!listener[fd]) { serve(fd, events[i].events); continue; }
      int cfd;
      while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        if (cfd >= MAXFD || !(conns[cfd] = calloc(1, sizeof(struct conn)))) {
          close(cfd);
          continue;
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
        epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
      }
    }
  }
}
"""

# wrk's summary as one JSON line (latencies in microseconds).
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


# --- the images --------------------------------------------------------------------------------


def build_image(tmp: Path) -> tuple[Path, str]:
    """The backend image as an OCI tarball, and which server it runs."""
    ports = [str(p) for p in PORTS.values()]
    compiler = shutil.which("cc") or shutil.which("gcc")
    files: dict[str, Any] = {"www/index.html": "ok\n"}
    backend = "busybox-httpd"
    loop = f"for p in {' '.join(ports)}; do httpd -p $p -h /www; done; exec sleep 2147483647"
    cmd: tuple[str, ...] = ("sh", "-c", loop)
    if compiler is not None:
        source, binary = tmp / "server.c", tmp / "bench-server"
        source.write_text(SERVER_C)
        built = subprocess.run(
            [compiler, "-O2", "-static", "-o", str(binary), str(source)],
            capture_output=True,
            text=True,
        )
        if built.returncode == 0:
            files["usr/local/bin/bench-server"] = File(binary.read_bytes(), 0o755)
            backend, cmd = "c-epoll", ("/usr/local/bin/bench-server", *ports)
        else:
            print(f"warning: compiling the backend failed, using busybox httpd:\n{built.stderr}")
    image = busybox_image(files, cmd=cmd)
    return image.write_oci(tmp / "netbench.tar", name=IMAGE), backend


def build_echo_image(tmp: Path) -> tuple[Path, str]:
    """The echo example's image (``examples/echo/image.py``) and its name."""
    spec = importlib.util.spec_from_file_location("echo_image", EXAMPLE / "image.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    name = f"{module.REPOSITORY}:1"
    return module.echo_image("1").write_oci(tmp / "echo.tar", name), name


# --- the cluster (the e2e fixture RealNodeCluster's approach) -----------------------------------


class RealNode:
    """``kyb server --runtime runc`` with host objects named after ``instance``; ``close``
    removes every workload, stops the server and removes what the node left on the host."""

    def __init__(self, base: Path, archives: list[Path]) -> None:
        self.base = base
        self.home = base / "home"
        self.home.mkdir()
        self.data = base / "data"
        for archive in archives:
            subprocess.run(
                [sys.executable, "-m", "kybernetes", "image", "import", str(archive),
                 "--data-dir", str(self.data)],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        self.instance = uuid.uuid4().hex[:6]
        self.ingress_port, https = free_port(), free_port()
        self.log = base / "server.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kybernetes", "server", "--data-dir", str(self.data),
             "--port", str(free_port()), "--no-kubeconfig-merge", "--runtime", "runc",
             "--node-instance", self.instance, "--ingress-proxy", "nginx",
             "--ingress-ports", f"{self.ingress_port},{https}"],
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
            env={**os.environ, "HOME": str(self.home)},
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("kybernetes ready"):
            self.proc.kill()
            self.proc.wait(timeout=30)
            raise RuntimeError(f"kyb server did not start: {line!r}\n{self.log.read_text()}")

    @property
    def kubeconfig(self) -> Path:
        return self.data / "kubeconfig"

    def pids(self, command: str) -> list[int]:
        """Processes of this node's containers whose command line starts with ``command``."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
                if cmdline.startswith(command.encode()) and (
                    f"kybernetes-{self.instance}" in (proc / "cgroup").read_text()
                ):
                    found.append(int(proc.name))
        return found

    def close(self) -> list[str]:
        """Tear everything down; what was found left behind afterwards (empty when clean)."""
        if self.proc.poll() is None:
            try:
                asyncio.run(_delete_workloads(self.kubeconfig))
            except Exception as error:  # the server may be the thing that failed
                print(f"warning: deleting workloads failed: {error!r}")
            sandboxes = self.data / "agent" / "runtime" / "sandboxes"
            deadline = time.monotonic() + 60
            while list(sandboxes.glob("*")) and time.monotonic() < deadline:
                time.sleep(0.2)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._log_file.close()
        node = NodeAgentConfig.for_instance(self.data / "agent", self.instance)
        left_pods = asyncio.run(remove_all_pods(node))
        table = f"kyb-services-{self.instance}"
        asyncio.run(proxy_cleanup(ProxyConfig(node_name="", bridge=node.bridge, table=table)))
        asyncio.run(policy_cleanup(f"kyb-policy-{self.instance}"))
        cleanup_node(node)
        left = [f"{left_pods} sandboxes"] if left_pods else []
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        left += [line for line in tables.splitlines() if self.instance in line]
        links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
        left += [line.split()[0] for line in links.splitlines() if self.instance in line]
        if str(self.base) in Path("/proc/self/mountinfo").read_text():
            left.append("mounts under the bench's directory")
        left += [str(d) for d in Path("/sys/fs/cgroup").glob(f"*/kybernetes-{self.instance}")]
        return left

    def nginx_pids(self) -> list[int]:
        """The server's nginx master and its workers (not old ones finishing after a reload)."""
        masters = [pid for pid, cmd in _children(self.proc.pid) if cmd.startswith("nginx: master")]
        workers = [
            pid
            for master in masters
            for pid, cmd in _children(master)
            if cmd.startswith("nginx: worker") and "shutting down" not in cmd
        ]
        return masters + workers


def _children(parent: int) -> list[tuple[int, str]]:
    """``(pid, command line)`` of the processes whose parent is ``parent``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == parent:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append((int(proc.name), cmdline.strip()))
    return found


BUILTIN_INGRESS = """
import asyncio, sys
from pathlib import Path
from kybernetes.cli.main import tune_gc_for_servers
from kybernetes.client.rest import Client
from kybernetes.network.ingress import IngressConfig, run_ingress

async def main() -> None:
    kubeconfig = Path(sys.argv[1])
    async with Client.from_kubeconfig(kubeconfig, user_agent="kyb/bench-ingress") as client:
        config = IngressConfig(bind_address="127.0.0.1", http_port=int(sys.argv[2]),
                               https_port=None, proxy="builtin", write_status=False)
        await run_ingress(client, config)

tune_gc_for_servers()
asyncio.run(main())
"""


class BuiltinIngress:
    """A second ingress controller on the same cluster with the builtin (asyncio) data plane,
    in a process of its own, so both data planes serve the same Ingresses in one run."""

    def __init__(self, kubeconfig: Path, log: Path) -> None:
        self.port = free_port()
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", BUILTIN_INGRESS, str(kubeconfig), str(self.port)],
            stdout=subprocess.DEVNULL, stderr=self.log,
        )  # fmt: skip

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.log.close()


async def _delete_workloads(kubeconfig: Path) -> None:
    async with Client.from_kubeconfig(kubeconfig, user_agent="kyb/bench") as client:
        for kind in (DEPLOYMENTS, REPLICASETS, PODS):
            for item in (await client.list(kind, "default"))["items"]:
                with contextlib.suppress(NotFound):  # gone with its owner meanwhile
                    await client.delete(
                        kind, item["metadata"]["name"], "default", grace_period_seconds=0
                    )
        for _ in range(300):
            if not (await client.list(PODS, "default"))["items"]:
                return
            await asyncio.sleep(0.2)


def deployment(name: str, image: str, replicas: int, ports: dict[str, int]) -> dict[str, Any]:
    container_ports = [{"name": n, "containerPort": p} for n, p in ports.items()]
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{
                        "name": "server", "image": image, "imagePullPolicy": "Never",
                        "ports": container_ports,
                        "readinessProbe": {
                            "httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1
                        },
                    }],
                },
            },
        },
    }  # fmt: skip


def service(name: str, app: str | None, target: int, kind: str = "ClusterIP") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": kind,
        "ports": [{"name": "http", "port": 80, "targetPort": target, "protocol": "TCP"}],
    }
    if app is not None:
        spec["selector"] = {"app": app}
    return {"metadata": {"name": name}, "spec": spec}


def ingress(name: str, host: str, backend: str) -> dict[str, Any]:
    path = {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": backend, "port": {"number": 80}}},
    }
    return {
        "metadata": {"name": name},
        "spec": {"rules": [{"host": host, "http": {"paths": [path]}}]},
    }


CLIENT_POD = {
    "metadata": {"name": "client", "labels": {"app": "client"}},
    "spec": {
        "terminationGracePeriodSeconds": 0,
        "containers": [
            {"name": "idle", "image": IMAGE, "imagePullPolicy": "Never",
             "command": ["sleep", "2147483647"]}
        ],
    },
}  # fmt: skip


def manifests(echo_image: str) -> list[tuple[Resource, dict[str, Any]]]:
    ports = {f"p{port}": port for port in PORTS.values()}
    manual_slice = {
        "metadata": {"name": "manual-1", "labels": {"kubernetes.io/service-name": "manual"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": PORTS["direct"], "protocol": "TCP"}],
        "endpoints": [],
    }
    return [
        (DEPLOYMENTS, deployment("web", IMAGE, 1, ports)),
        (SERVICES, service("web", "web", PORTS["clusterip"])),
        (SERVICES, service("web-nodeport", "web", PORTS["nodeport"], "NodePort")),
        (SERVICES, service("web-ingress", "web", PORTS["ingress"])),  # both data planes
        (INGRESSES, ingress("web", HOST, "web-ingress")),
        (DEPLOYMENTS, deployment("echo", echo_image, 1, {"http": 8080})),
        (SERVICES, service("echo", "echo", 8080)),
        (INGRESSES, ingress("echo", ECHO_HOST, "echo")),
        (SERVICES, service("manual", None, PORTS["direct"])),
        (ENDPOINTSLICES, manual_slice),
        (DEPLOYMENTS, deployment("scaled", IMAGE, 0, ports)),
        (PODS, CLIENT_POD),
        (SERVICES, service("scaled", "scaled", PORTS["direct"])),
    ]


# --- load generators and CPU accounting --------------------------------------------------------


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    server_cpu_us: float = 0.0  # the kyb server process's CPU per request
    cpu_us: float = 0.0  # wrk's, the kyb server's and the backends' CPU per request
    background_cores: float = 0.0  # CPU used meanwhile by everything else (other work)


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    host_header: str | None = None
    connections: int = CONNECTIONS


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """A process's user + system CPU seconds, its reaped children's included (busybox httpd
    forks per request); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / _CLOCK_TICKS


def _machine_cpu() -> float:
    """CPU seconds the machine spent busy, all cores: user, nice, system, irq and softirq (a
    process's system time includes the interrupt work done while it ran, so both count it)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / _CLOCK_TICKS


class CpuMeter:
    """CPU used during one run: by the cluster's processes, by wrk, and by everything else."""

    def __init__(self, ours: list[int]) -> None:
        self.ours = ours

    def __enter__(self) -> CpuMeter:
        self.started = time.perf_counter()
        self.machine = _machine_cpu()
        self.children = _children_cpu()
        self.each = [_process_cpu(pid) for pid in self.ours]
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.started
        self.used = [
            _process_cpu(pid) - before for pid, before in zip(self.ours, self.each, strict=True)
        ]
        self.wrk = _children_cpu() - self.children
        self.machine = _machine_cpu() - self.machine

    @property
    def background_cores(self) -> float:
        mine = sum(self.used) + self.wrk
        return max(0.0, self.machine - mine) / self.wall


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk(tmp: Path, target: Target, close: bool, seconds: float, netns: str | None = None) -> Run:
    """One wrk run at saturation (in the network namespace ``netns`` when given)."""
    script = tmp / "summary.lua"
    if not script.exists():
        script.write_text(WRK_SCRIPT)
    headers = []
    if target.host_header:
        headers += ["-H", f"Host: {target.host_header}"]
    if close:
        headers += ["-H", "Connection: close"]
    inside = ["ip", "netns", "exec", netns] if netns else []
    summary = run_wrk(
        [*inside, "wrk", "-t1", f"-c{target.connections}", f"-d{round(seconds)}s",
         "--timeout", "2s", "-s", str(script), *headers,
         f"http://{target.host}:{target.port}/"],
        timeout=seconds + 30,
    )  # fmt: skip
    return Run(
        rps=summary["requests"] / (summary["duration_us"] / 1e6),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        requests=summary["requests"],
        errors=summary["errors"] + summary["non2xx"],
    )


async def asyncio_client(target: Target, close: bool, seconds: float) -> Run:
    """``target.connections`` loops of GET / (keep-alive unless ``close``), for ``seconds``."""
    host = target.host_header or f"{target.host}:{target.port}"
    extra = "Connection: close\r\n" if close else ""
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def one_loop() -> None:
        nonlocal errors
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while time.perf_counter() < deadline:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(target.host, target.port)
                assert reader is not None
                sent = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(length[1]) if length else 0)
                latencies.append(time.perf_counter() - sent)
                if close or b"onnection: close" in head:
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(one_loop() for _ in range(target.connections)))
    elapsed = time.perf_counter() - started
    return Run(
        rps=len(latencies) / elapsed,
        p50_ms=pct(latencies, 0.5) * 1000,
        p99_ms=pct(latencies, 0.99) * 1000,
        requests=len(latencies),
        errors=errors,
    )


def wait_conntrack_room(needed: int) -> float:
    """Wait (at most 150 s) until ``needed`` more entries fit under 70% of the conntrack table;
    the seconds waited."""
    base = Path("/proc/sys/net/netfilter")
    started = time.monotonic()
    while time.monotonic() - started < 150:
        try:
            count = int((base / "nf_conntrack_count").read_text())
            limit = int((base / "nf_conntrack_max").read_text())
        except OSError:
            break
        if count + needed < 0.7 * limit:
            break
        time.sleep(2)
    return time.monotonic() - started


# --- probes ------------------------------------------------------------------------------------


def http_ok(target: Target) -> bool:
    try:
        with socket.create_connection((target.host, target.port), timeout=2) as sock:
            host = target.host_header or target.host
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def connect_outcome(address: tuple[str, int]) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        try:
            sock.connect(address)
            return True
        except OSError:  # refused by the REJECT rule (or, unexpectedly, timed out)
            return False


def wait_outcome(
    address: tuple[str, int], want: bool, deadline: float, interval: float
) -> float | None:
    """Poll connects until their outcome is ``want``; the perf_counter time it first was."""
    while time.perf_counter() < deadline:
        if connect_outcome(address) == want:
            return time.perf_counter()
        time.sleep(interval)
    return None


async def outcome_after(
    address: tuple[str, int], want: bool, within: float, interval: float = 0.0005
) -> asyncio.Future[float | None]:
    """Start polling (in a thread) for ``want``; returns once the polling runs."""
    loop = asyncio.get_running_loop()
    polling = asyncio.Event()

    def poll() -> float | None:
        loop.call_soon_threadsafe(polling.set)
        return wait_outcome(address, want, time.perf_counter() + within, interval)

    future = asyncio.ensure_future(asyncio.to_thread(poll))
    await polling.wait()
    return future


async def until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


# --- the scenario ------------------------------------------------------------------------------


@dataclass
class Plan:
    rounds: int
    close_rounds: int  # rounds that include the close modes (their conntrack entries)
    seconds: int  # one run (keep-alive); close runs take half, at least 1 s


@dataclass(frozen=True)
class Mode:
    """A set of paths measured alike: each against the direct one, from the same client."""

    name: str
    paths: dict[str, Target]  # "direct" first
    close: bool = False  # Connection: close
    netns: str | None = None  # the client runs in this network namespace (a pod's)


@dataclass
class Measured:
    """A mode's runs: every path's, and each path's ratio to the direct run paired with it."""

    runs: dict[str, list[Run]]
    ratios: dict[str, list[float]]


async def throughput(
    tmp: Path,
    modes: list[Mode],
    plan: Plan,
    use_wrk: bool,
    ours: list[int],
    serving: dict[str, list[int]],
) -> tuple[dict[str, Measured], float]:
    """Every mode's paths, each run as a pair with a direct run (direct first in even rounds,
    second in odd ones), round by round; the seconds waited for conntrack room. ``serving``:
    the processes (in ``ours``) a path's "server" CPU is counted from, by path name."""
    measured = {
        mode.name: Measured(
            {p: [] for p in mode.paths}, {p: [] for p in mode.paths if p != "direct"}
        )
        for mode in modes
    }
    waited = 0.0
    close_requests = 20_000  # conntrack entries one close run leaves: then the last run's

    async def one(r: int, mode: Mode, path: str) -> Run:
        nonlocal waited, close_requests
        seconds = max(1, plan.seconds // 2) if mode.close else plan.seconds
        if mode.close:
            waited += await asyncio.to_thread(wait_conntrack_room, close_requests * 2)
        target = mode.paths[path]
        with CpuMeter(ours) as meter:
            if use_wrk:
                run = await asyncio.to_thread(wrk, tmp, target, mode.close, seconds, mode.netns)
            else:
                run = await asyncio_client(target, mode.close, seconds)
        used = sum(meter.used[ours.index(pid)] for pid in serving[path])
        run.server_cpu_us = used / max(run.requests, 1) * 1e6
        run.cpu_us = (meter.wrk + sum(meter.used)) / max(run.requests, 1) * 1e6
        run.background_cores = meter.background_cores
        if mode.close:
            close_requests = max(run.requests, 5_000)
        measured[mode.name].runs[path].append(run)
        print(
            f"  round {r + 1} {mode.name:9} {path:9} {run.rps:9,.0f} req/s  "
            f"p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:7.2f} ms  errors {run.errors}  "
            f"cpu {run.cpu_us:6.1f} us/req  server {run.server_cpu_us:5.1f} us/req  "
            f"background {run.background_cores:4.2f} cores",
            flush=True,
        )
        await asyncio.sleep(0.2)
        return run

    for r in range(plan.rounds):
        for mode in modes:
            if mode.close and r >= plan.close_rounds:
                continue
            others = [p for p in mode.paths if p != "direct"]
            for path in others[r % len(others) :] + others[: r % len(others)]:
                if r % 2 == 0:
                    direct, run = await one(r, mode, "direct"), await one(r, mode, path)
                else:
                    run, direct = await one(r, mode, path), await one(r, mode, "direct")
                measured[mode.name].ratios[path].append(run.rps / direct.rps)
    return measured, waited


async def endpoint_flips(
    client: Client, vip: str, pod_ip: str, samples: int
) -> tuple[list[float], list[float], list[float]]:
    """(add latencies, remove latencies, API write latencies) in ms."""
    add: list[float] = []
    remove: list[float] = []
    writes: list[float] = []
    endpoint = {"addresses": [pod_ip], "conditions": {"ready": True}}
    address = (vip, 80)
    for i in range(samples):
        adding = i % 2 == 0
        future = await outcome_after(address, adding, within=5)
        t0 = time.perf_counter()
        await client.patch(
            ENDPOINTSLICES, "manual-1", {"endpoints": [endpoint] if adding else []}, "default"
        )
        writes.append((time.perf_counter() - t0) * 1000)
        t1 = await future
        if t1 is None:
            raise RuntimeError(f"the ClusterIP did not {'open' if adding else 'close'} in 5 s")
        (add if adding else remove).append((t1 - t0) * 1000)
        await asyncio.sleep(0.25 + 0.05 * (i % 4))  # off any fixed phase
    return add, remove, writes


async def scaled_samples(client: Client, vip: str, samples: int) -> tuple[list[float], list[float]]:
    """(pod Ready -> slice ready, pod Ready -> ClusterIP connects) in ms, per scale 0 -> 1."""
    to_slice: list[float] = []
    to_live: list[float] = []
    address = (vip, 80)

    async def first(kind: Resource, selector: str, rv: str, check: Any) -> float:
        async for _, obj in client.watch(
            kind, "default", resource_version=rv, label_selector=selector, timeout_seconds=90
        ):
            if check(obj):
                return time.perf_counter()
        raise RuntimeError(f"the watch of {kind.plural} ended")

    def slice_ready(obj: dict[str, Any]) -> bool:
        return any((e.get("conditions") or {}).get("ready") for e in obj.get("endpoints") or ())

    async def no_pods() -> bool:
        return not (await client.list(PODS, "default", label_selector="app=scaled"))["items"]

    for _ in range(samples):
        pods_rv = (await client.list(PODS, "default", limit=1))["metadata"]["resourceVersion"]
        slices = await client.list(ENDPOINTSLICES, "default", limit=1)
        pod_ready = asyncio.ensure_future(first(PODS, "app=scaled", pods_rv, ready))
        sliced = asyncio.ensure_future(
            first(
                ENDPOINTSLICES,
                "kubernetes.io/service-name=scaled",
                slices["metadata"]["resourceVersion"],
                slice_ready,
            )
        )
        live = await outcome_after(address, True, within=90, interval=0.001)
        await client.patch(DEPLOYMENTS, "scaled", {"spec": {"replicas": 1}}, "default")
        t_ready, t_slice, t_live = await asyncio.gather(pod_ready, sliced, live)
        if t_live is None:
            raise RuntimeError("the scaled pod never became reachable through its ClusterIP")
        to_slice.append((t_slice - t_ready) * 1000)
        to_live.append((t_live - t_ready) * 1000)
        gone = await outcome_after(address, False, within=90, interval=0.01)
        await client.patch(DEPLOYMENTS, "scaled", {"spec": {"replicas": 0}}, "default")
        if await gone is None:
            raise RuntimeError("the scaled pod's endpoint was never removed")
        await until(no_pods, 90, "the scaled pod to go")
    return to_slice, to_live


def nft_list_ms(table: str, count: int = 10) -> float:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def pod_of(client: Client, app: str) -> dict[str, Any]:
    async def one_ready() -> bool:
        pods = (await client.list(PODS, "default", label_selector=f"app={app}"))["items"]
        return len(pods) == 1 and ready(pods[0])

    await until(one_ready, 120, f"the {app} pod to be ready")
    (pod,) = (await client.list(PODS, "default", label_selector=f"app={app}"))["items"]
    return dict(pod)


def _netns_of(pid: int) -> str:
    found = subprocess.run(["ip", "netns", "identify", str(pid)], capture_output=True, text=True)
    return found.stdout.strip()


async def pod_netns(client: Client, node: RealNode) -> str:
    """The network namespace of the client pod (by its process: ``ip netns identify``)."""

    async def running() -> bool:
        pod = await client.get(PODS, "client", "default")
        return (pod.get("status") or {}).get("phase") == "Running"

    await until(running, 120, "the client pod to run")
    for _ in range(100):
        for pid in node.pids("sleep 2147483647"):
            named = await asyncio.to_thread(_netns_of, pid)
            if named:
                return named
        await asyncio.sleep(0.1)
    raise RuntimeError("the client pod's network namespace was not found")


async def scenario(
    node: RealNode, builtin: BuiltinIngress, tmp: Path, echo_image: str, plan: Plan, use_wrk: bool
) -> tuple[dict[str, Any], dict[str, Measured]]:
    results: dict[str, Any] = {}
    async with Client.from_kubeconfig(node.kubeconfig, user_agent="kyb/bench") as client:

        async def node_registered() -> bool:
            return bool((await client.request("GET", "/api/v1/nodes")).get("items"))

        await until(node_registered, 60, "the node to register")
        for kind, obj in manifests(echo_image):
            await client.create(kind, obj, "default")
        web_ip = (await pod_of(client, "web"))["status"]["podIP"]
        echo_ip = (await pod_of(client, "echo"))["status"]["podIP"]
        cluster_ip = (await client.get(SERVICES, "web", "default"))["spec"]["clusterIP"]
        node_port = await client.get(SERVICES, "web-nodeport", "default")
        web = {
            "direct": Target(web_ip, PORTS["direct"]),
            "clusterip": Target(cluster_ip, 80),
            "nodeport": Target("127.0.0.1", node_port["spec"]["ports"][0]["nodePort"]),
            "ingress_nginx": Target("127.0.0.1", node.ingress_port, HOST),
            "ingress_builtin": Target("127.0.0.1", builtin.port, HOST),
        }
        echo = {  # 8 connections: busybox httpd listens with a backlog of 9
            "direct": Target(echo_ip, 8080, connections=8),
            "ingress_nginx": Target("127.0.0.1", node.ingress_port, ECHO_HOST, connections=8),
            "ingress_builtin": Target("127.0.0.1", builtin.port, ECHO_HOST, connections=8),
        }
        from_pod = {"direct": web["direct"], "clusterip": web["clusterip"]}
        for name, target in [*web.items(), *(("echo " + k, t) for k, t in echo.items())]:

            async def answers(target: Target = target) -> bool:
                return await asyncio.to_thread(http_ok, target)

            await until(answers, 60, f"{name} ({target}) to answer")
        await asyncio.sleep(2)  # nginx workers of reloads before this have finished
        nginx = node.nginx_pids()
        serving = {p: [node.proc.pid] for p in PATHS}
        serving |= {"ingress_nginx": nginx, "ingress_builtin": [builtin.proc.pid]}
        ours = [
            node.proc.pid,
            *nginx,
            builtin.proc.pid,
            *node.pids("/usr/local/bin/bench-server"),
            *node.pids("httpd"),
        ]
        client_netns = await pod_netns(client, node)

        print("load generator: asyncio client vs wrk, direct path, keep-alive", flush=True)
        python = await asyncio_client(web["direct"], False, plan.seconds)
        results["loadgen_asyncio_rps"] = python.rps
        if use_wrk:
            native = await asyncio.to_thread(wrk, tmp, web["direct"], False, plan.seconds)
            results["loadgen_wrk_rps"] = native.rps
            print(f"  asyncio {python.rps:,.0f} req/s, wrk {native.rps:,.0f} req/s", flush=True)

        print("throughput (each run at saturation)", flush=True)
        modes = [
            Mode("ka", web),
            Mode("close", web, close=True),
            Mode("echo", echo),
        ]
        if use_wrk:  # wrk runs in the client pod's network namespace (ip netns exec)
            modes += [
                Mode("pod-ka", from_pod, netns=client_netns),
                Mode("pod-close", from_pod, close=True, netns=client_netns),
            ]
        measured, waited = await throughput(tmp, modes, plan, use_wrk, ours, serving)
        results["conntrack_wait_s"] = waited

        print("endpoint change -> rules live (connects to the ClusterIP)", flush=True)
        manual = (await client.get(SERVICES, "manual", "default"))["spec"]["clusterIP"]
        add, remove, writes = await endpoint_flips(client, manual, web_ip, plan.rounds * 6)
        both = add + remove
        print(f"  add ms: {sorted(round(x, 1) for x in add)}", flush=True)
        print(f"  remove ms: {sorted(round(x, 1) for x in remove)}", flush=True)
        results["endpoint_to_rules_p50_ms"] = statistics.median(both)
        results["endpoint_to_rules_p99_ms"] = pct(both, 0.99)
        results["endpoint_to_rules_max_ms"] = max(both)
        results["endpoint_add_p50_ms"] = statistics.median(add)
        results["endpoint_remove_p50_ms"] = statistics.median(remove)
        results["api_write_p50_ms"] = statistics.median(writes)

        print("pod ready -> rules live (a Deployment scaled 0 -> 1)", flush=True)
        scaled = (await client.get(SERVICES, "scaled", "default"))["spec"]["clusterIP"]
        to_slice, to_live = await scaled_samples(client, scaled, plan.rounds)
        print(f"  ready -> slice ms: {[round(x, 1) for x in to_slice]}", flush=True)
        print(f"  ready -> rules live ms: {[round(x, 1) for x in to_live]}", flush=True)
        results["pod_ready_to_slice_p50_ms"] = statistics.median(to_slice)
        results["pod_ready_to_rules_p50_ms"] = statistics.median(to_live)
        results["pod_ready_to_rules_max_ms"] = max(to_live)
        table = f"kyb-services-{node.instance}"
        results["nft_list_ms"] = await asyncio.to_thread(nft_list_ms, table)
    return results, measured


def summarize(measured: dict[str, Measured], results: dict[str, Any]) -> list[str]:
    """Median figures into ``results``; the table's lines."""
    lines = [
        f"{'mode':<10}{'path':<10}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'vs direct':>10}"
        f"{'cpu us/req':>11}{'server us/req':>14}{'errors':>7}",
        "-" * 87,
    ]
    background: list[float] = []
    for mode, m in measured.items():
        for path, samples in m.runs.items():
            background += [r.background_cores for r in samples]
            rps = statistics.median(r.rps for r in samples)
            p50 = statistics.median(r.p50_ms for r in samples)
            p99 = statistics.median(r.p99_ms for r in samples)
            cpu = statistics.median(r.cpu_us for r in samples)
            server = statistics.median(r.server_cpu_us for r in samples)
            errors = sum(r.errors for r in samples)
            key = f"{mode.replace('-', '_')}_{path}"
            results[f"{key}_rps"] = rps
            results[f"{key}_p50_ms"] = p50
            results[f"{key}_p99_ms"] = p99
            results[f"{key}_cpu_us"] = cpu
            results[f"{key}_server_cpu_us"] = server
            results[f"{key}_errors"] = errors
            ratio = "baseline"
            if path != "direct":
                results[f"{key}_vs_direct"] = statistics.median(m.ratios[path])
                ratio = f"{results[f'{key}_vs_direct']:.0%}"
            lines.append(
                f"{mode:<10}{path:<10}{rps:>9,.0f}{p50:>8.2f}{p99:>8.2f}{ratio:>10}"
                f"{cpu:>11.1f}{server:>14.1f}{errors:>7}"
            )
    results["background_cores"] = statistics.median(background)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 2 s, fewer samples")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/network.py runs real containers and nftables: run it as root")
    use_wrk = shutil.which("wrk") is not None
    if not use_wrk:
        print("warning: wrk not found (Debian package wrk): the asyncio client generates load")
    plan = Plan(rounds=3, close_rounds=2, seconds=2) if args.quick else Plan(5, 3, 2)
    tmp = Path(tempfile.mkdtemp(prefix="kyb-bench-network-"))
    archive, backend = build_image(tmp)
    echo_archive, echo_image = build_echo_image(tmp)
    results: dict[str, Any] = {
        "quick": args.quick,
        "cpus": os.cpu_count(),
        "backend": backend,
        "load_generator": "wrk" if use_wrk else "asyncio",
        "connections": CONNECTIONS,
        "rounds": plan.rounds,
        "close_rounds": plan.close_rounds,
        "seconds_per_run": plan.seconds,
    }
    node = RealNode(tmp, [archive, echo_archive])
    builtin = BuiltinIngress(node.kubeconfig, tmp / "builtin-ingress.log")
    try:
        figures, measured = asyncio.run(scenario(node, builtin, tmp, echo_image, plan, use_wrk))
    except BaseException:
        tail = node.log.read_text().splitlines()[-40:]
        print("the server's last log lines:\n" + "\n".join(tail))
        tail = (tmp / "builtin-ingress.log").read_text().splitlines()[-20:]
        print("the builtin ingress controller's last log lines:\n" + "\n".join(tail))
        raise
    finally:
        builtin.close()
        left = node.close()
        log = node.log.read_text()
        if left:
            print(f"LEFT BEHIND on the host: {left} (bench directory kept: {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results.update(figures)
    programming = [float(m) for m in re.findall(r"network_programming_ms=([\d.]+)", log)]
    if programming:
        results["proxy_reported_p50_ms"] = statistics.median(programming)
    lines = summarize(measured, results)
    # ClusterIPs serve pods: the target is judged from the client pod (from the node beside it)
    pod = "pod_" if "pod_ka_clusterip_vs_direct" in results else ""
    results["target_clusterip_within_10pct"] = all(
        results[f"{pod}{m}_clusterip_vs_direct"] >= 0.9 for m in ("ka", "close")
    )
    results["clusterip_from_node_within_10pct"] = all(
        results[f"{m}_clusterip_vs_direct"] >= 0.9 for m in ("ka", "close")
    )
    # nginx is the default data plane: the target is judged on it (the builtin's beside it)
    results["target_ingress_half_of_direct"] = results["ka_ingress_nginx_vs_direct"] >= 0.5
    results["builtin_ingress_half_of_direct"] = results["ka_ingress_builtin_vs_direct"] >= 0.5
    results["target_rules_within_100ms"] = results["endpoint_to_rules_p99_ms"] <= 100
    results["host_clean"] = not left
    print()
    print("\n".join(lines))
    print()
    report(results, RESULTS)
    if left:
        sys.exit(1)


if __name__ == "__main__":
    main()
