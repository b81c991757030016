"""The per-container shim: a tiny process that owns one container's stdio and exit status.

The agent starts it by path (``python -I -S shim.py ...``; this file imports only builtin
modules so the interpreter starts in about 10 ms) in a session of its own. The shim makes
itself a child subreaper, runs ``runc create`` with two pipes as the container's stdout and
stderr, and reports ``ok <shim pid> <container pid>`` (or ``error <message>``) on its stdout,
which it then closes. runc leaves the container's init orphaned, so it becomes the shim's child
and the shim can ``waitpid`` it for the real exit status, which runc itself never records.
Until the container exits the shim copies both pipes into the log file in the CRI format
(``<RFC3339Nano> stdout|stderr F|P <line>``: P marks a part of a line longer than
``MAX_LINE``, F the end of a line); then it reads the OOM-kill counter of the container's
memory cgroup and writes ``exit.json`` atomically, and exits.

Invariants: the shim outlives the agent (nothing ties it to the agent but the first line);
``exit.json`` is written once, complete (tmp + rename), only after the container has exited;
every byte the container wrote before exiting is in the log before ``exit.json`` appears.
"""

import ctypes
import os
import select
import sys
import time

MAX_LINE = 16 * 1024  # containerd's limit: longer lines are split into P parts
DRAIN_SECONDS = 2.0  # after the container exits: how long stray holders of its pipes may keep us
PR_SET_CHILD_SUBREAPER = 36


def _timestamp() -> bytes:
    ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z").encode()


class _Stream:
    """One of the container's output pipes, cut into CRI log lines."""

    def __init__(self, name: bytes, log_fd: int) -> None:
        self.name = name
        self.log_fd = log_fd
        self.pending = b""

    def feed(self, data: bytes) -> None:
        data = self.pending + data
        lines = data.split(b"\n")
        self.pending = lines.pop()
        out = []
        for line in lines:
            while len(line) > MAX_LINE:
                out.append((line[:MAX_LINE], b"P"))
                line = line[MAX_LINE:]
            out.append((line, b"F"))
        while len(self.pending) >= MAX_LINE:
            out.append((self.pending[:MAX_LINE], b"P"))
            self.pending = self.pending[MAX_LINE:]
        self._write(out)

    def close(self) -> None:
        if self.pending:  # the last line had no newline: it is complete all the same
            self._write([(self.pending, b"F")])
            self.pending = b""

    def _write(self, lines: list[tuple[bytes, bytes]]) -> None:
        if not lines or self.log_fd < 0:
            return
        ts = _timestamp()
        out = b"".join(b"%s %s %s %s\n" % (ts, self.name, tag, line) for line, tag in lines)
        os.write(self.log_fd, out)


def _oom_killed(memory_cgroup: str) -> bool:
    if not memory_cgroup:
        return False
    try:
        with open(os.path.join(memory_cgroup, "memory.oom_control")) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value) > 0
    except OSError:
        pass
    return False


def _read_available(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


def main(argv: list[str]) -> int:
    runc, runc_root, cid, bundle, log_path, exit_path, memory_cgroup = argv[1:8]
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    os.chdir("/")
    # whatever the agent had open (sockets, its own stdio) must not stay open in us for the
    # container's lifetime
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    devnull = os.open(os.devnull, os.O_RDWR)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid_file = os.path.join(bundle, "init.pid")
    creator = os.posix_spawn(
        runc,
        [runc, "--root", runc_root, "create", "--bundle", bundle, "--pid-file", pid_file, cid],
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_DUP2, devnull, 0),
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2),
        ],
    )
    os.close(out_w)
    os.close(err_w)
    _, status = os.waitpid(creator, 0)
    if status != 0:
        # the container never ran: whatever is in the pipes is runc's own complaint
        message = (_read_available(err_r) + _read_available(out_r)).decode(errors="replace")
        os.write(1, b"error " + " ".join(message.split()).encode() + b"\n")
        return 1
    with open(pid_file) as f:
        pid = int(f.read())
    pidfd = os.pidfd_open(pid)
    os.write(1, f"ok {os.getpid()} {pid}\n".encode())
    os.dup2(devnull, 1)  # the agent's pipe: closing it tells the agent we are set up

    log_fd = -1
    if log_path:
        log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    streams = {out_r: _Stream(b"stdout", log_fd), err_r: _Stream(b"stderr", log_fd)}
    poller = select.poll()
    for fd in (out_r, err_r, pidfd):
        poller.register(fd, select.POLLIN)
    exit_code: int | None = None
    finished_at = 0.0
    deadline = 0.0
    while exit_code is None or streams:
        timeout = None
        if exit_code is not None:
            timeout = (deadline - time.monotonic()) * 1000
            if timeout <= 0:
                break
        for fd, _ in poller.poll(timeout):
            if fd == pidfd:
                finished_at = time.time()
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                exit_code = 128 - code if code < 0 else code
                deadline = time.monotonic() + DRAIN_SECONDS
                poller.unregister(pidfd)
                continue
            data = os.read(fd, 65536)
            if data:
                streams[fd].feed(data)
            else:
                streams.pop(fd).close()
                poller.unregister(fd)
        _reap_strays(pid)
    for stream in streams.values():
        stream.close()
    oom = _oom_killed(memory_cgroup)
    record = (
        f'{{"exit_code": {exit_code}, "finished_at": {finished_at!r}, '
        f'"oom_killed": {"true" if oom else "false"}}}\n'
    )
    tmp = exit_path + ".tmp"
    with open(tmp, "w") as f:
        f.write(record)
    os.rename(tmp, exit_path)
    return 0


def _reap_strays(container_pid: int) -> None:
    """As a subreaper we may inherit other orphans (runc's helpers): collect them."""
    while True:
        try:  # peek first: the container itself must be reaped by its own pidfd's handler
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == container_pid:
            return
        os.waitpid(info.si_pid, 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
