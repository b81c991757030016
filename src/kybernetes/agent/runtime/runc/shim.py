"""The per-container shim: a tiny process that owns one container's stdio and exit status.

The agent starts it by path (``python -I -S shim.py ...``; this file imports only builtin
modules, and ``_socket`` rather than ``socket``, so the interpreter starts in about 10 ms) in a
session of its own. The shim makes itself a child subreaper, runs ``runc create`` with two
pipes as the container's stdout and stderr (and, for ``stdin: true``, a pipe as its stdin; for
``tty: true`` a terminal instead, whose primary end runc hands over on a console socket), and
reports ``ok <shim pid> <container pid>`` (or ``error <message>``) on its stdout, which it then
closes. runc leaves the container's init orphaned, so it becomes the shim's child and the shim
can ``waitpid`` it for the real exit status, which runc itself never records.

Until the container exits the shim copies its output into the log file in the CRI format
(``<RFC3339Nano> stdout|stderr F|P <line>``: P marks a part of a line longer than
``MAX_LINE``, F the end of a line) and, as it arrives, to every client of its attach socket;
then it reads the OOM-kill counter of the container's memory cgroup, writes ``exit.json``
atomically, and exits.

The attach socket (``attach.sock`` in the container's directory, ``SOCK_SEQPACKET``, mode
0600) is what ``kubectl attach`` reaches: each message is one kind byte and a payload. The
shim sends ``1`` stdout and ``2`` stderr (a terminal's output is all stdout); a client sends
``0`` stdin, ``3`` the end of its input (which closes the container's stdin if it has
``stdinOnce``; a terminal gets ^D) and ``4`` a terminal size, ``"<columns> <rows>"``. A client
more than ``CLIENT_BUFFER`` behind is disconnected rather than let it hold the container up.

Log rotation lives here, not in the kubelet: the shim is the only writer of the log, so it can
switch files between two records, and a file is never over ``log-max-size`` by more than one
record. Upstream's kubelet instead checks sizes every 10 seconds, renames the file and asks the
runtime to reopen it (CRI ``ReopenContainerLog``), so a chatty container overshoots by whatever
it writes in between. Names and policy are upstream's: ``0.log`` is renamed
``0.log.<YYYYMMDD-hhmmss>`` (UTC here, so names sort in time order across DST changes; a second
rotation within one second takes the next free second), at most ``log-max-files`` files exist
with the current one, the oldest are removed first, and every rotated file but the newest is
gzip-compressed to ``<name>.gz`` (written as ``<name>.tmp``, then renamed). Compression runs in
a forked child, one at a time, so the container's output never waits for it.

Invariants: the shim outlives the agent (nothing ties it to the agent but the first line);
``exit.json`` is written once, complete (tmp + rename), only after the container has exited;
when the shim has exited, nothing it started writes the log files any more;
every byte the container wrote before exiting is in the log before ``exit.json`` appears
(unless the disk is full: the shim then drops output rather than stop the container); the
shim never blocks on a reader, a writer of stdin or the compressor.
"""

import _socket
import ctypes
import os
import select
import sys
import time

MAX_LINE = 16 * 1024  # containerd's limit: longer lines are split into P parts
DRAIN_SECONDS = 2.0  # after the container exits: how long stray holders of its pipes may keep us
PR_SET_CHILD_SUBREAPER = 36
ATTACH_SOCKET = "attach.sock"
CONSOLE_SOCKET = "console.sock"
STDIN, STDOUT, STDERR, CLOSE_STDIN, RESIZE = 0, 1, 2, 3, 4
CLIENT_BUFFER = 1 << 20  # output queued for one attach client before it is disconnected
STDIN_BUFFER = 1 << 20  # input queued for the container before clients are not read
READ_SIZE = 65536
ROTATED_FORMAT = "%Y%m%d-%H%M%S"  # upstream's 20060102-150405
EOT = b"\x04"


def _timestamp() -> bytes:
    ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z").encode()


class LogFile:
    """The container's CRI log at ``path``, rotated by size (see the module docstring)."""

    def __init__(self, path: str, max_size: int = 0, max_files: int = 5) -> None:
        self.path = path
        self.max_size = max_size  # 0: never rotated
        self.max_files = max(2, max_files)
        self.fd = self._open()
        self.size = os.fstat(self.fd).st_size
        self.last_rotation = 0  # the second the newest rotated file is named after
        self.compressor = 0  # the pid of the running compressor

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def write(self, records: list[bytes]) -> None:
        """Append whole records, switching files between two when the next would not fit."""
        batch: list[bytes] = []
        size = self.size
        for record in records:
            if self.max_size > 0 and size > 0 and size + len(record) > self.max_size:
                self._append(batch)
                batch = []
                self.rotate()
                size = self.size
            batch.append(record)
            size += len(record)
        self._append(batch)

    def _append(self, batch: list[bytes]) -> None:
        if not batch:
            return
        data = b"".join(batch)
        try:
            while data:
                written = os.write(self.fd, data)
                self.size += written
                data = data[written:]
        except OSError:  # a full disk: the output is lost, the container goes on
            pass

    def rotate(self) -> None:
        self._wait_compressor()  # it works on the files about to be counted
        directory, base = os.path.split(self.path)
        try:
            names = os.listdir(directory or ".")
        except OSError:
            names = []
        rotated = []
        for name in sorted(names):
            if not name.startswith(base + "."):
                continue
            # a compressor's leftovers: its output unfinished, or its input not yet removed
            if name.endswith(".tmp") or name + ".gz" in names:
                _unlink(os.path.join(directory, name))
            else:
                rotated.append(os.path.join(directory, name))
        # With the current file and the one about to be rotated, MaxFiles-2 older ones fit;
        # the oldest go first, so that a reader of the newer ones is not disturbed.
        excess = max(0, len(rotated) - (self.max_files - 2))
        for path in rotated[:excess]:
            _unlink(path)
        second = max(int(time.time()), self.last_rotation + 1)
        while True:
            target = f"{self.path}.{time.strftime(ROTATED_FORMAT, time.gmtime(second))}"
            if not os.path.exists(target) and not os.path.exists(target + ".gz"):
                break
            second += 1
        try:
            os.rename(self.path, target)
        except FileNotFoundError:
            pass  # removed under us: a new file all the same
        except OSError:
            self.size = 0  # no retry at every record: the file grows, and is tried again later
            return
        try:
            fd = self._open()
        except OSError:
            self.size = 0
            return
        os.close(self.fd)
        self.fd, self.size, self.last_rotation = fd, 0, second
        plain = [p for p in rotated[excess:] if not p.endswith(".gz")]
        if plain:
            self.compressor = _compress(plain)

    def _wait_compressor(self) -> None:
        if self.compressor:
            try:  # noqa: SIM105 (contextlib is not worth its import time here)
                os.waitpid(self.compressor, 0)
            except ChildProcessError:
                pass  # reaped with the strays already
            self.compressor = 0

    def close(self) -> None:
        os.close(self.fd)
        self._wait_compressor()


def _unlink(path: str) -> None:
    try:  # noqa: SIM105 (contextlib is not worth its import time here)
        os.unlink(path)
    except OSError:
        pass


def _compress(paths: list[str]) -> int:
    """In a child process: gzip each of ``paths`` to ``<path>.gz`` and remove it."""
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        os.nice(10)
        import zlib

        for path in paths:
            tmp = path + ".tmp"
            with open(path, "rb") as src, open(tmp, "wb") as dst:
                packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip format
                while chunk := src.read(1 << 20):
                    dst.write(packer.compress(chunk))
                dst.write(packer.flush())
            os.rename(tmp, path + ".gz")
            os.unlink(path)
    except BaseException:
        code = 1
    os._exit(code)


class Output:
    """One of the container's output streams: cut into CRI log records, and sent live to the
    attach clients as it comes."""

    def __init__(self, name: bytes, kind: int, log: LogFile | None, shim: "Shim") -> None:
        self.name = name
        self.kind = kind
        self.log = log
        self.shim = shim
        self.pending = b""

    def feed(self, data: bytes) -> None:
        self.shim.broadcast(self.kind, data)
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
        if not lines or self.log is None:
            return
        ts = _timestamp()
        self.log.write([b"%s %s %s %s\n" % (ts, self.name, tag, line) for line, tag in lines])


class Client:
    """One connection to the attach socket."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.queue: list[bytes] = []
        self.queued = 0

    def send(self, message: bytes) -> bool:
        """Queue ``message``; False when the client is gone or too far behind."""
        self.queue.append(message)
        self.queued += len(message)
        return self.queued <= CLIENT_BUFFER and self.flush()

    def flush(self) -> bool:
        while self.queue:
            try:
                self.sock.send(self.queue[0])
            except BlockingIOError:
                return True
            except OSError:
                return False
            self.queued -= len(self.queue.pop(0))
        return True


class Shim:
    """The relay loop's state: outputs, attach clients, the container's stdin."""

    def __init__(self, stdin_fd: int, stdin_once: bool, terminal: int) -> None:
        self.outputs: dict[int, Output] = {}
        self.clients: dict[int, Client] = {}
        self.listener: _socket.socket | None = None
        self.stdin_fd = stdin_fd  # where stdin goes (-1: nowhere)
        self.stdin_once = stdin_once
        self.terminal = terminal  # the terminal's primary end (-1: none)
        self.stdin = bytearray()
        self.stdin_closing = False

    def broadcast(self, kind: int, data: bytes) -> None:
        if not self.clients:
            return
        for start in range(0, len(data), READ_SIZE):
            message = bytes([kind]) + data[start : start + READ_SIZE]
            for fd, client in list(self.clients.items()):
                if not client.send(message):
                    self.drop(fd)

    def drop(self, fd: int) -> None:
        client = self.clients.pop(fd, None)
        if client is not None:
            client.sock.close()

    def accept(self) -> None:
        assert self.listener is not None
        try:
            sock = _accept(self.listener)
        except OSError:
            return
        sock.setblocking(False)
        fd = sock.fileno()
        self.clients[fd] = Client(sock)

    def receive(self, fd: int) -> None:
        client = self.clients[fd]
        try:
            message = client.sock.recv(READ_SIZE + 1)
        except BlockingIOError:
            return
        except OSError:
            message = b""
        if not message:
            self.drop(fd)
            return
        kind, payload = message[0], message[1:]
        if kind == STDIN and self.stdin_fd >= 0 and not self.stdin_closing:
            self.stdin += payload
        elif kind == CLOSE_STDIN and self.stdin_once and self.stdin_fd >= 0:
            if self.terminal >= 0:
                self.stdin += EOT  # a terminal has no end of input, only ^D
            self.stdin_closing = True
            self.write_stdin()
        elif kind == RESIZE and self.terminal >= 0:
            self.resize(payload)

    def resize(self, payload: bytes) -> None:
        import fcntl
        import termios

        try:
            columns, rows = (int(n) for n in payload.split())
            size = rows.to_bytes(2, sys.byteorder) + columns.to_bytes(2, sys.byteorder)
            fcntl.ioctl(self.terminal, termios.TIOCSWINSZ, size + bytes(4))
        except (ValueError, OverflowError, OSError):
            pass

    def write_stdin(self) -> None:
        while self.stdin and self.stdin_fd >= 0:
            try:
                written = os.write(self.stdin_fd, self.stdin[:READ_SIZE])
            except BlockingIOError:
                return
            except OSError:  # the container closed its stdin, or ended
                self.end_stdin()
                return
            del self.stdin[:written]
        if self.stdin_closing:
            self.end_stdin()

    def end_stdin(self) -> None:
        self.stdin.clear()
        if self.stdin_fd >= 0 and self.stdin_fd != self.terminal:
            os.close(self.stdin_fd)
        self.stdin_fd = -1

    def close(self) -> None:
        for fd, client in list(self.clients.items()):
            client.sock.settimeout(1.0)  # the last of the output: a moment to take it
            client.flush()
            self.drop(fd)
        if self.listener is not None:
            self.listener.close()
            _unlink(ATTACH_SOCKET)


def _accept(listener: _socket.socket) -> _socket.socket:
    fd, _ = listener._accept()  # type: ignore[attr-defined]  # socket.accept is this, in C
    return _socket.socket(fileno=fd)


def _listen(kind: int, path: str) -> _socket.socket:
    _unlink(path)
    sock = _socket.socket(_socket.AF_UNIX, kind)
    sock.bind(path)
    os.chmod(path, 0o600)
    sock.listen(16)
    return sock


def _receive_terminal(console: _socket.socket) -> int:
    """The terminal's primary end, which runc sent on the console socket."""
    console.setblocking(False)
    conn = _accept(console)  # runc has connected and sent it by now
    try:
        _, ancillary, _, _ = conn.recvmsg(4096, _socket.CMSG_SPACE(16))
    finally:
        conn.close()
    fds = [
        int.from_bytes(data[i : i + 4], sys.byteorder)
        for level, kind, data in ancillary
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
        for i in range(0, len(data) - 3, 4)
    ]
    if not fds:
        raise OSError("runc sent no terminal")
    for extra in fds[1:]:
        os.close(extra)
    return fds[0]


def _read_available(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


def _options(args: list[str]) -> dict[str, str]:
    return dict(a.split("=", 1) for a in args if "=" in a)


def main(argv: list[str]) -> int:
    runc, runc_root, cid, bundle, log_path, exit_path, memory_cgroup = argv[1:8]
    options = _options(argv[8:])
    tty = options.get("tty") == "1"
    stdin = options.get("stdin") == "1"
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # whatever the agent had open (sockets, its own stdio) must not stay open in us for the
    # container's lifetime
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    # socket paths are short names in here: absolute ones may pass the 108-byte limit
    os.chdir(os.path.dirname(os.path.abspath(exit_path)))
    devnull = os.open(os.devnull, os.O_RDWR)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = devnull, -1
    if stdin and not tty:
        in_r, in_w = os.pipe()
    console = _listen(_socket.SOCK_STREAM, CONSOLE_SOCKET) if tty else None
    listener = _listen(_socket.SOCK_SEQPACKET, ATTACH_SOCKET)
    pid_file = os.path.join(bundle, "init.pid")
    create = [runc, "--root", runc_root, "create", "--bundle", bundle, "--pid-file", pid_file]
    if tty:
        # runc resolves the path after moving into the bundle: ours, by our directory
        create += ["--console-socket", f"/proc/{os.getpid()}/cwd/{CONSOLE_SOCKET}"]
    creator = os.posix_spawn(
        runc,
        [*create, cid],
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_DUP2, in_r, 0),
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2),
        ],
    )
    os.close(out_w)
    os.close(err_w)
    if in_r != devnull:
        os.close(in_r)
    _, status = os.waitpid(creator, 0)
    terminal, failure = -1, ""
    if status != 0:
        # the container never ran: whatever is in the pipes is runc's own complaint
        failure = (_read_available(err_r) + _read_available(out_r)).decode(errors="replace")
    elif console is not None:
        try:
            terminal = _receive_terminal(console)
        except OSError as exc:
            status, failure = 1, f"receiving the container's terminal from runc: {exc}"
    if console is not None:
        console.close()
        _unlink(CONSOLE_SOCKET)
    if status != 0:
        listener.close()
        _unlink(ATTACH_SOCKET)
        os.write(1, b"error " + " ".join(failure.split()).encode() + b"\n")
        return 1
    with open(pid_file) as f:
        pid = int(f.read())
    pidfd = os.pidfd_open(pid)
    os.write(1, f"ok {os.getpid()} {pid}\n".encode())
    os.dup2(devnull, 1)  # the agent's pipe: closing it tells the agent we are set up
    os.chdir("/")

    log = None
    if log_path:
        max_size = int(options.get("log-max-size", "0"))
        log = LogFile(log_path, max_size, int(options.get("log-max-files", "5")))
    stdin_fd = terminal if tty and stdin else in_w
    shim = Shim(stdin_fd, options.get("stdin-once") == "1", terminal)
    shim.listener = listener
    listener.setblocking(False)
    shim.outputs[out_r] = Output(b"stdout", STDOUT, log, shim)
    shim.outputs[err_r] = Output(b"stderr", STDERR, log, shim)
    if terminal >= 0:
        os.set_blocking(terminal, False)
        shim.outputs[terminal] = Output(b"stdout", STDOUT, log, shim)
    if in_w >= 0:
        os.set_blocking(in_w, False)
    exit_code, finished_at = _relay(shim, pid, pidfd, listener)
    for output in shim.outputs.values():
        output.close()
    shim.close()
    oom = _oom_killed(memory_cgroup)
    record = (
        f'{{"exit_code": {exit_code}, "finished_at": {finished_at!r}, '
        f'"oom_killed": {"true" if oom else "false"}}}\n'
    )
    tmp = exit_path + ".tmp"
    with open(tmp, "w") as f:
        f.write(record)
    os.rename(tmp, exit_path)
    if log is not None:
        log.close()  # the compressor ends with us: once we are gone, nothing writes the logs
    return 0


def _relay(shim: Shim, pid: int, pidfd: int, listener: _socket.socket) -> tuple[int, float]:
    """Relay until the container has exited and its output has ended; its exit code and when
    it exited."""
    exit_code: int | None = None
    deadline = finished_at = 0.0
    while exit_code is None or shim.outputs:
        timeout = None
        if exit_code is not None:
            timeout = (deadline - time.monotonic()) * 1000
            if timeout <= 0:
                break
        masks = dict.fromkeys(shim.outputs, select.POLLIN)
        if exit_code is None:
            masks[pidfd] = select.POLLIN
        masks[listener.fileno()] = select.POLLIN
        for fd, client in shim.clients.items():
            wanted = select.POLLIN if len(shim.stdin) < STDIN_BUFFER else 0
            masks[fd] = wanted | (select.POLLOUT if client.queue else 0)
        if shim.stdin and shim.stdin_fd >= 0:
            masks[shim.stdin_fd] = masks.get(shim.stdin_fd, 0) | select.POLLOUT
        poller = select.poll()
        for fd, mask in masks.items():
            poller.register(fd, mask)
        for fd, events in poller.poll(timeout):
            if fd == pidfd:
                finished_at = time.time()
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                exit_code = 128 - code if code < 0 else code
                deadline = time.monotonic() + DRAIN_SECONDS
                continue
            if fd == listener.fileno():
                shim.accept()
                continue
            if fd in shim.clients:
                if events & select.POLLOUT and not shim.clients[fd].flush():
                    shim.drop(fd)
                elif events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    shim.receive(fd)
                continue
            if fd == shim.stdin_fd and events & select.POLLOUT:
                shim.write_stdin()
                if not events & select.POLLIN:
                    continue
            if fd in shim.outputs and events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    data = os.read(fd, READ_SIZE)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: the terminal's other end is closed by everyone
                    data = b""
                if data:
                    shim.outputs[fd].feed(data)
                else:
                    shim.outputs.pop(fd).close()
            elif fd == shim.stdin_fd and events & (select.POLLHUP | select.POLLERR):
                shim.end_stdin()
        _reap_strays(pid)
    os.close(pidfd)
    return (255 if exit_code is None else exit_code), finished_at


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
