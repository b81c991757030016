"""The nginx data plane: nginx, run as a child and reconfigured on every change that matters.

``NginxDataPlane.serve`` owns one directory (the node's ``ingress-nginx`` directory, or a
temporary one): ``nginx.conf``, the candidate ``nginx.conf.new``, ``tls/`` (mode 0700: each
certificate chain with its key in one 0600 file named by their digest, and the fake
certificate), ``temp/`` for nginx's temporary paths and ``nginx.pid``. It starts nginx with the
first snapshot's configuration and then, whenever ``update`` brings a snapshot (or Secrets)
that renders differently, writes the candidate, has ``nginx -t`` check it and only then moves
it over ``nginx.conf`` and reloads the master. Changes that arrive while one is being applied
are folded into the next, so a burst of endpoint changes costs one or two reloads. nginx itself
keeps requests whole across a reload: old workers finish what they have, and a request whose
endpoint refuses the connection goes to the next one (``proxy_next_upstream``).

Ports: the configured ones; port 0 (tests) picks a free port before nginx starts. Certificates:
each Secret is checked by loading it (``tls.tls_context``) before its file is written, so a bad
Secret leaves its hosts on the fake certificate instead of failing the whole configuration.

Invariants: the running nginx only ever loads a configuration ``nginx -t`` accepted (a rejected
render is logged and the running one keeps serving); if the master dies it is started again;
on leaving ``serve`` the master (and with it its workers) has exited and the directory is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import hashlib
import logging
import os
import pwd
import resource
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Final

from kybernetes.network.ingress.dataplane import TLSSource
from kybernetes.network.ingress.endpoints import ROUND_ROBIN
from kybernetes.network.ingress.nginxconf import Settings, render
from kybernetes.network.ingress.nginxproc import NginxError, NginxProcess
from kybernetes.network.ingress.proxy import EMPTY, Snapshot, Timeouts
from kybernetes.network.ingress.tls import HostCertificates, fake_certificate, tls_context

log = logging.getLogger(__name__)

RESTART_DELAY: Final = 1.0  # seconds before starting nginx again after it died
_MAX_WORKER_CONNECTIONS: Final = 16384


class NginxDataPlane:
    """nginx as the ingress data plane, configured from the controller's snapshots."""

    def __init__(
        self,
        binary: str,
        directory: Path | None,
        bind_address: str,
        http_port: int | None,
        https_port: int | None,
        timeouts: Timeouts,
        balance: str = ROUND_ROBIN,
    ) -> None:
        self.binary = binary
        self.directory = directory
        self.bind_address = bind_address
        self.http_port, self.https_port = http_port, https_port
        self.timeouts = timeouts
        self.balance = balance
        self.ports: dict[str, int] = {}
        self.process: NginxProcess | None = None
        self.certificates: HostCertificates[Path] | None = None
        self._snapshot = EMPTY
        self._tls: TLSSource | None = None
        self._dirty = asyncio.Event()
        self._applying = False
        self._applied: str | None = None  # the text nginx runs
        self._rejected: str | None = None  # the last text nginx -t refused (logged once)
        self._root = Path()
        self._settings: Settings | None = None

    @property
    def settled(self) -> bool:
        """True when nginx serves the latest snapshot: no change waits and no reload is under
        way (a reload completes once nginx's old workers have stopped accepting)."""
        return not self._dirty.is_set() and not self._applying

    def update(self, snapshot: Snapshot, tls: TLSSource | None) -> None:
        self._snapshot = snapshot
        if tls is not None:
            self._tls = tls
        self._dirty.set()

    async def serve(self, started: asyncio.Event) -> None:
        self._root = self.directory or Path(tempfile.mkdtemp(prefix="kyb-ingress-nginx-"))
        try:
            self.process = NginxProcess(self.binary, self._root / "nginx.conf", self._root)
            stale = self._root / "nginx.pid", self.timeouts.shutdown_grace
            await asyncio.to_thread(self.process.stop_stale, *stale)
            await asyncio.to_thread(self._prepare)
            await self._apply(self.process)
            started.set()
            await self._supervise(self.process)
        finally:
            if self.process is not None:
                await self.process.stop(self.timeouts.shutdown_grace)
            shutil.rmtree(self._root, ignore_errors=True)

    def _prepare(self) -> None:
        """The directory, the ports, the fake certificate and the fixed settings."""
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self._root, 0o700)
        for sub in ("tls", "temp"):
            shutil.rmtree(self._root / sub, ignore_errors=True)  # a previous run's leftovers
            (self._root / sub).mkdir(mode=0o700)
        http = _port(self.bind_address, self.http_port)
        https = _port(self.bind_address, self.https_port)
        self.ports = {k: v for k, v in (("http", http), ("https", https)) if v is not None}
        default: Path | None = None
        if https is not None:
            default = self._write_certificate(*fake_certificate())
            self.certificates = HostCertificates(self._load_certificate)
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        self._settings = Settings(
            bind_address=self.bind_address,
            http_port=http,
            https_port=https,
            pid_file=self._root / "nginx.pid",
            temp_dir=self._root / "temp",
            default_certificate=default,
            workers=len(os.sched_getaffinity(0)),
            worker_connections=max(512, min(_MAX_WORKER_CONNECTIONS, soft // 2)),
            user=_worker_user(),
            balance=self.balance,
            timeouts=self.timeouts,
        )

    async def _supervise(self, process: NginxProcess) -> None:
        """Apply changes as they come; start nginx again if it dies."""
        while True:
            changed = asyncio.ensure_future(self._dirty.wait())
            exited = asyncio.ensure_future(process.wait())
            try:
                await asyncio.wait({changed, exited}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
                exited.cancel()
            if not process.running:
                log.error("nginx exited unexpectedly; starting it again")
                self._applied = None
                await asyncio.sleep(RESTART_DELAY)
            self._dirty.clear()
            self._applying = True
            try:
                await self._apply(process)
            except NginxError as exc:
                log.error("%s", exc)
            finally:
                self._applying = False

    async def _apply(self, process: NginxProcess) -> None:
        """Render; when the text differs, test it, install it and reload (or start) nginx."""
        assert self._settings is not None
        if self._tls is not None and self.certificates is not None:
            tls, self._tls = self._tls, None
            await asyncio.to_thread(self.certificates.update, *tls)
        text = render(self._snapshot, self.certificates, self._settings)
        if text == self._applied and process.running:
            return
        candidate = self._root / "nginx.conf.new"
        await asyncio.to_thread(candidate.write_text, text)
        error = await process.test(candidate)
        if error is not None:
            if text != self._rejected:
                log.error("nginx rejected a configuration, the running one stays: %s", error)
                self._rejected = text
            if not process.running:
                raise NginxError(f"nginx rejected its first configuration: {error}")
            return
        os.replace(candidate, process.conf)
        if process.running:
            if await process.reload():
                log.info("nginx reloaded pid=%s", process.pid)
            else:
                log.warning("nginx pid=%s: old workers still accept after a reload", process.pid)
        else:
            await process.start([(self.bind_address, p) for p in self.ports.values()])
        self._applied = text
        await asyncio.to_thread(self._prune_certificates)

    def _load_certificate(self, cert_pem: bytes, key_pem: bytes) -> Path:
        tls_context(cert_pem, key_pem)  # raises unless they load and match
        return self._write_certificate(cert_pem, key_pem)

    def _write_certificate(self, cert_pem: bytes, key_pem: bytes) -> Path:
        """``tls/<digest>.pem`` holding the chain and the key (written once, mode 0600)."""
        data = cert_pem.rstrip(b"\n") + b"\n" + key_pem
        path = self._root / "tls" / f"{hashlib.sha256(data).hexdigest()[:32]}.pem"
        if not path.exists():
            fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(path.with_suffix(".tmp"), path)
        return path

    def _prune_certificates(self) -> None:
        """Remove certificate files no Secret in use (nor the fake certificate) needs."""
        assert self._settings is not None
        keep = {self._settings.default_certificate}
        if self.certificates is not None:
            keep.update(self.certificates.loaded())
        for path in (self._root / "tls").iterdir():
            if path not in keep:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def _port(address: str, port: int | None) -> int | None:
    """``port``, or a free one for 0 (taken by nginx a moment later)."""
    if port != 0:
        return port
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _worker_user() -> str | None:
    """``nobody`` and its group for the workers when the master runs as root (None otherwise:
    nginx then keeps its workers as the user it runs as)."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam("nobody")
        return f"nobody {grp.getgrgid(user.pw_gid).gr_name}"
    except KeyError:
        return None
