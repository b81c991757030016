"""A real etcd cluster on loopback, for tests and benchmarks.

:class:`EtcdCluster` starts ``N`` members of Debian's ``etcd`` (3.4) as child processes, each
listening on free ports of 127.0.0.1 only, with its data in a fresh temporary directory. Writes
are fsync'd exactly as in production (``--unsafe-no-fsync`` is never passed): the point of these
clusters is to test durability and failover, not to be fast at any cost. Startup takes a few
hundred milliseconds: members start one after another (see ``_launch_all``) and raft runs with
a small heartbeat interval and election timeout, which loopback latencies allow.

Invariants:

* Every process the cluster starts is remembered by PID and ended by that PID (SIGKILL) in
  :meth:`EtcdCluster.stop`, which also removes the data directory; nothing else is
  ever signalled. Should the test process itself die without stopping the cluster, the kernel
  SIGKILLs the members too (``setpriv --pdeathsig``), so a killed test run leaks no etcd.
* Members are spawned from the caller's thread, never from a worker thread: the parent-death
  signal fires when the spawning *thread* ends. Only waiting happens in worker threads.
* A member's data directory survives :meth:`EtcdCluster.kill`, so :meth:`EtcdCluster.restart`
  brings the same member back with its WAL, as after a crash.
* Processes are plain ``subprocess.Popen`` children, not asyncio subprocesses, so one cluster can
  outlive the event loop that started it (a session-scoped pytest fixture) and be used from
  synchronous code as well (``with EtcdCluster() as cluster:``).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

ETCD_BINARY = "/usr/bin/etcd"
SETPRIV = "/usr/bin/setpriv"  # util-linux: sets the parent-death signal, then execs etcd

#: Raft timing on loopback (milliseconds). Small enough that a cluster elects its first leader,
#: and elects a new one after its leader is killed, within a few hundred milliseconds; large
#: enough that a busy two-core machine does not trigger spurious elections.
HEARTBEAT_MS = 25
ELECTION_MS = 250


class EtcdClusterError(RuntimeError):
    """The cluster could not be started or a member did not become healthy in time."""


@dataclass
class EtcdMember:
    """One member: its name, ports, data directory and (while running) its process."""

    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _free_ports(count: int) -> list[int]:
    """Return ``count`` distinct ports that were free on 127.0.0.1 a moment ago."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _request(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 0.2
) -> tuple[int, bytes] | None:
    """One HTTP request to 127.0.0.1:``port``; None when nothing answers in time."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.read()
    except OSError:
        return None
    finally:
        conn.close()


def _peer_serving(member: EtcdMember) -> bool:
    """Whether the member answers on its peer port (it has joined, maybe without quorum)."""
    result = _request(member.peer_port, "GET", "/version")
    return result is not None and result[0] == 200


def _healthy(member: EtcdMember) -> bool:
    """Whether the member answers ``/health`` with a leader (a quorum read through raft)."""
    result = _request(member.client_port, "GET", "/health")
    return result is not None and result[0] == 200 and b'"health":"true"' in result[1]


def _status(member: EtcdMember) -> dict[str, Any] | None:
    """The member's maintenance status, through etcd's JSON gateway (no etcdctl needed)."""
    result = _request(member.client_port, "POST", "/v3/maintenance/status", b"{}", timeout=1.0)
    if result is None or result[0] != 200:
        return None
    status: dict[str, Any] = json.loads(result[1])
    return status


class EtcdCluster:
    """A ``members``-member etcd cluster on 127.0.0.1, in a temporary directory.

    Use it as a context manager, synchronous or asynchronous::

        async with EtcdCluster(members=3) as cluster:
            storage = await EtcdStorage.connect(cluster.endpoints, prefix="/test")

    ``kill(i)`` SIGKILLs member ``i``; ``restart(i)`` starts it again on the same ports and data.
    """

    def __init__(
        self,
        members: int = 3,
        *,
        binary: str = ETCD_BINARY,
        start_timeout: float = 20.0,
        base_dir: str | None = None,
    ) -> None:
        if members < 1:
            raise ValueError("an etcd cluster needs at least one member")
        self.size = members
        self.binary = binary
        self.start_timeout = start_timeout
        self._base_dir = base_dir
        self.data_dir: Path | None = None
        self._members: list[EtcdMember] = []
        self._token = ""

    @property
    def endpoints(self) -> list[str]:
        """``host:port`` of every member's client URL (running or not), in member order."""
        return [m.endpoint for m in self._members]

    def member(self, member: int) -> EtcdMember:
        """Member ``member``'s ports, data directory, log file and process."""
        return self._members[member]

    def pid(self, member: int) -> int | None:
        """The PID of member ``member``'s process while it runs."""
        m = self._members[member]
        return m.process.pid if m.process is not None and m.running else None

    def is_running(self, member: int) -> bool:
        return self._members[member].running

    # -- lifecycle --------------------------------------------------------------------------

    def start_sync(self) -> None:
        """Start every member and block until the whole cluster serves quorum reads."""
        # A port found free can be taken by someone else before etcd binds it; such a start
        # fails fast (the process exits), and a second try with fresh ports almost surely works.
        for attempt in range(3):
            deadline = time.monotonic() + self.start_timeout
            try:
                self._prepare()
                for m in self._members:
                    self._spawn(m, initial_state="new")
                    self._poll_sync(m, _peer_serving, deadline)
                for m in self._members:
                    self._poll_sync(m, _healthy, deadline)
                return
            except EtcdClusterError:
                self.stop()
                if attempt == 2:
                    raise

    async def start(self) -> None:
        """Start every member and wait until the cluster serves, without blocking the loop."""
        for attempt in range(3):
            deadline = time.monotonic() + self.start_timeout
            try:
                self._prepare()
                for m in self._members:
                    self._spawn(m, initial_state="new")
                    await self._poll(m, _peer_serving, deadline)
                await asyncio.gather(*(self._poll(m, _healthy, deadline) for m in self._members))
                return
            except EtcdClusterError:
                await self.aclose()
                if attempt == 2:
                    raise

    def stop(self) -> None:
        """End every process this cluster started (by PID) and remove its data directory.

        Members get SIGKILL: their data is about to be deleted, and a SIGTERMed leader would
        spend seconds trying to hand its leadership to followers that are stopping too.
        """
        for m in self._members:
            if m.process is not None:
                if m.process.poll() is None:
                    os.kill(m.process.pid, signal.SIGKILL)
                m.process.wait()
            m.process = None
            self._close_log(m)
        self._members = []
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    async def aclose(self) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> Self:
        self.start_sync()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- faults -----------------------------------------------------------------------------

    def kill(self, member: int) -> None:
        """SIGKILL member ``member`` by PID and reap it; its data directory stays."""
        m = self._members[member]
        if m.process is not None and m.process.poll() is None:
            os.kill(m.process.pid, signal.SIGKILL)
            m.process.wait()
        self._close_log(m)

    def restart_sync(self, member: int) -> None:
        """Start a stopped member again from its data directory; block until it is healthy."""
        m = self._restartable(member)
        self._spawn(m, initial_state="existing")
        self._poll_sync(m, _healthy, time.monotonic() + self.start_timeout)

    async def restart(self, member: int) -> None:
        """Start a stopped member again and wait until it is healthy."""
        m = self._restartable(member)
        self._spawn(m, initial_state="existing")
        await self._poll(m, _healthy, time.monotonic() + self.start_timeout)

    def leader_sync(self) -> int | None:
        """The index of the member that is raft leader now, as running members report it."""
        for index, member in enumerate(self._members):
            if not member.running:
                continue
            status = _status(member)
            if status is not None and status.get("leader") == status["header"]["member_id"]:
                return index
        return None

    async def leader(self) -> int | None:
        """The index of the current leader (see :meth:`leader_sync`)."""
        return await asyncio.to_thread(self.leader_sync)

    def metric_sync(self, member: int, name: str) -> float | None:
        """An unlabelled Prometheus metric of a running member (``/metrics``), if it has it."""
        result = _request(self._members[member].client_port, "GET", "/metrics", timeout=1.0)
        if result is None or result[0] != 200:
            return None
        for line in result[1].decode().splitlines():
            metric, _, value = line.partition(" ")
            if metric == name:
                return float(value)
        return None

    async def metric(self, member: int, name: str) -> float | None:
        """See :meth:`metric_sync`."""
        return await asyncio.to_thread(self.metric_sync, member, name)

    # -- internals --------------------------------------------------------------------------

    def _prepare(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="kyb-etcd-", dir=self._base_dir))
        ports = _free_ports(2 * self.size)
        self._members = [
            EtcdMember(
                name=f"m{i}",
                client_port=ports[2 * i],
                peer_port=ports[2 * i + 1],
                data_dir=self.data_dir / f"m{i}",
                log_path=self.data_dir / f"m{i}.log",
            )
            for i in range(self.size)
        ]
        self._token = f"kyb-{uuid.uuid4().hex[:12]}"
        # Members are then started one after another, each once the previous one serves its
        # peer port: a new member first asks every peer whether it already belongs to a
        # cluster, and a peer that listens but does not answer yet costs it a 1 s timeout.

    def _restartable(self, member: int) -> EtcdMember:
        m = self._members[member]
        if m.running:
            raise EtcdClusterError(f"member {m.name} is still running")
        return m

    def _spawn(self, member: EtcdMember, initial_state: str) -> None:
        initial_cluster = ",".join(f"{m.name}={m.peer_url}" for m in self._members)
        args = [
            self.binary,
            f"--name={member.name}",
            f"--data-dir={member.data_dir}",
            f"--listen-client-urls={member.client_url}",
            f"--advertise-client-urls={member.client_url}",
            f"--listen-peer-urls={member.peer_url}",
            f"--initial-advertise-peer-urls={member.peer_url}",
            f"--initial-cluster={initial_cluster}",
            f"--initial-cluster-state={initial_state}",
            f"--initial-cluster-token={self._token}",
            f"--heartbeat-interval={HEARTBEAT_MS}",
            f"--election-timeout={ELECTION_MS}",
            "--pre-vote=true",
            "--logger=zap",
            "--log-outputs=stderr",
            "--log-level=warn",
        ]
        if os.path.exists(SETPRIV):
            args = [SETPRIV, "--pdeathsig", "KILL", "--", *args]
        self._close_log(member)
        member._log = member.log_path.open("ab")
        member.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=member._log,
            stderr=member._log,
            start_new_session=True,  # a ^C in the terminal goes to the tests, not to etcd
        )

    def _check(self, member: EtcdMember, deadline: float, what: str) -> None:
        if not member.running:
            raise EtcdClusterError(f"etcd member {member.name} exited: {self._log_tail(member)}")
        if time.monotonic() > deadline:
            raise EtcdClusterError(
                f"etcd member {member.name} not {what} in time: {self._log_tail(member)}"
            )

    def _poll_sync(
        self, member: EtcdMember, probe: Callable[[EtcdMember], bool], deadline: float
    ) -> None:
        while not probe(member):
            self._check(member, deadline, probe.__name__.strip("_"))
            time.sleep(0.01)

    async def _poll(
        self, member: EtcdMember, probe: Callable[[EtcdMember], bool], deadline: float
    ) -> None:
        while not await asyncio.to_thread(probe, member):
            self._check(member, deadline, probe.__name__.strip("_"))
            await asyncio.sleep(0.01)

    @staticmethod
    def _close_log(member: EtcdMember) -> None:
        if member._log is not None:
            member._log.close()
            member._log = None

    @staticmethod
    def _log_tail(member: EtcdMember, size: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return member.log_path.read_bytes()[-size:].decode(errors="replace")
        return ""
