"""One nginx master process: started, tested, reloaded and stopped by PID.

``NginxProcess(binary, conf, prefix)`` runs ``nginx -e stderr -c <conf> -p <prefix> -g 'daemon
off;'`` as a child (in the foreground, so the child is the master and its PID is known without
a pid file). Where ``setpriv`` exists the master is started with a parent-death signal of
SIGTERM, so a controller killed outright takes its nginx (and, through the master, the workers)
with it. nginx's own log lines (its error log goes to stderr) are passed on to this module's
logger.

- ``test(conf)`` is ``nginx -t`` on a candidate file: the text of nginx's complaint, or None.
- ``start()`` returns once the master listens on the given ports, or raises with nginx's words.
- ``reload()`` is ``nginx -s reload`` without the pid file: SIGHUP to the master, which starts
  workers with the new configuration and lets the old ones finish their requests; it returns
  once the old workers have stopped accepting connections.
- ``stop_stale(pid_file)`` stops the master a killed earlier run left (checked to be nginx with
  this configuration file before it is signalled).
- ``stop(grace)`` is SIGQUIT (graceful: requests in flight finish), SIGTERM after ``grace``
  seconds, SIGKILL after as many again; it returns once the master has been reaped.

Invariant: signals go only to the PID this object spawned, and only while it has not been
reaped, so a recycled PID is never signalled.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

START_TIMEOUT: Final = 10.0
RELOAD_TIMEOUT: Final = 5.0  # seconds for the old workers to stop accepting after a reload
_TAIL: Final = 20  # nginx's last lines kept for error messages


class NginxError(OSError):
    """nginx refused a configuration or did not start."""


class NginxProcess:
    """The nginx master this controller runs."""

    def __init__(self, binary: str, conf: Path, prefix: Path) -> None:
        self.binary, self.conf, self.prefix = binary, conf, prefix
        self.process: asyncio.subprocess.Process | None = None
        self._logger: asyncio.Task[None] | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=_TAIL)

    @property
    def pid(self) -> int | None:
        process = self.process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def _argv(self, conf: Path, *extra: str) -> list[str]:
        return [self.binary, "-e", "stderr", "-c", str(conf), "-p", f"{self.prefix}/", *extra]

    async def test(self, conf: Path) -> str | None:
        """None when nginx accepts ``conf``, else what it said."""
        proc = await asyncio.create_subprocess_exec(
            *self._argv(conf, "-t", "-q"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await proc.communicate()
        except asyncio.CancelledError:
            proc.kill()  # it would go on creating nginx's directories after we left
            await proc.wait()
            raise
        return None if proc.returncode == 0 else output.decode(errors="replace").strip()

    async def start(self, ports: list[tuple[str, int]]) -> None:
        """Spawn the master and wait until every ``(address, port)`` accepts connections."""
        argv = self._argv(self.conf, "-g", "daemon off;")
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            argv = [setpriv, "--pdeathsig", "TERM", "--", *argv]
        self._tail.clear()
        self.process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.process.stderr is not None
        self._logger = asyncio.create_task(self._log(self.process.stderr), name="nginx log")
        log.info("nginx started pid=%d conf=%s", self.process.pid, self.conf)
        try:
            async with asyncio.timeout(START_TIMEOUT):
                for address, port in ports:
                    await self._until_listening(address, port)
        except (TimeoutError, NginxError):
            await self.stop(1.0)
            raise NginxError(f"nginx did not start: {' | '.join(self._tail)}") from None

    async def _until_listening(self, address: str, port: int) -> None:
        host = "127.0.0.1" if address == "0.0.0.0" else ("::1" if address == "::" else address)
        while True:
            if not self.running:
                raise NginxError("exited")
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    def stop_stale(self, pid_file: Path, grace: float) -> None:
        """Stop a master a previous run of this controller left behind (killed before it could
        stop it): the PID in ``pid_file``, only if that process is an nginx master running
        this object's configuration file. Blocking: run it in a thread."""
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            return
        if not cmdline.startswith("nginx: master") or f" -c {self.conf} " not in cmdline:
            return
        log.warning("stopping a stale nginx master pid=%d conf=%s", pid, self.conf)
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)

    async def reload(self) -> bool:
        """SIGHUP the master (new workers with the configuration file as it is now) and wait
        until none of the workers from before still accepts connections: each has exited or
        is "shutting down", which nginx sets as it closes the listening sockets. Without the
        wait, a connection arriving just after a reload could still get the old routes.
        False when the old workers still accepted after ``RELOAD_TIMEOUT`` (nginx kept its
        old configuration, or is slow to act on the signal)."""
        process = self.process
        if process is None or not self.running:
            return False
        old = self._accepting_workers(process.pid)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while old & self._accepting_workers(process.pid):
            if time.monotonic() > deadline or not self.running:
                return False
            await asyncio.sleep(0.005)
        return True

    @staticmethod
    def _accepting_workers(master: int) -> set[int]:
        """The master's children that are workers not yet shutting down."""
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except OSError:
            return set()
        accepting = set()
        for child in children:
            with contextlib.suppress(OSError):
                title = Path(f"/proc/{child}/cmdline").read_bytes()
                if title.startswith(b"nginx: worker process") and b"shutting down" not in title:
                    accepting.add(int(child))
        return accepting

    async def wait(self) -> int:
        """Until the master exits; its exit status."""
        assert self.process is not None
        return await self.process.wait()

    async def stop(self, grace: float) -> None:
        """Graceful quit, then harder signals; returns once the master is reaped."""
        process = self.process
        if process is None:
            return
        for sig in (signal.SIGQUIT, signal.SIGTERM, signal.SIGKILL):
            if process.returncode is not None:
                break
            process.send_signal(sig)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await process.wait()
        await process.wait()
        if self._logger is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(1.0):
                    await self._logger
            self._logger = None
        log.info("nginx stopped pid=%d status=%s", process.pid, process.returncode)

    async def _log(self, stream: asyncio.StreamReader) -> None:
        """nginx's log lines (its workers share the pipe) into ours, until all have closed it."""
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            self._tail.append(text)
            # "[error]" is mostly an endpoint refusing or resetting a connection, which nginx
            # retries elsewhere; its worse levels (crit, alert, emerg) are ours to look at.
            level = logging.INFO if "[error]" in text or "[warn]" in text else logging.ERROR
            log.log(level, "nginx: %s", text)
