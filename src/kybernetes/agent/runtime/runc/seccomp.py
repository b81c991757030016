"""Seccomp for a container: ``RuntimeDefault`` as an allow list, ``Localhost`` from a file.

``RuntimeDefault`` follows the behaviour of containerd's default profile (the one the kubelet
gets when a pod asks for RuntimeDefault), written here as our own list: every syscall not
listed fails with EPERM. Allowed are the syscalls ordinary programs make (files, memory,
processes and threads, signals, time, sockets except AF_ALG and AF_VSOCK, IPC, polling,
identity); held back are those that reach past the container — namespaces and mounts
(``unshare``, ``setns``, ``mount``...), the kernel keyring (``keyctl``, ``add_key``,
``request_key``), kernel modules, reboot, swap, the clock, BPF and perf events, accounting,
raw I/O ports — unless the container's bounding set holds the capability that upstream
lets through with them (CAP_SYS_ADMIN unlocks the namespace and mount group, CAP_SYS_TIME
the clock, and so on). Without CAP_SYS_ADMIN, ``clone`` is allowed only without namespace
flags and ``clone3`` fails with ENOSYS, so C libraries fall back to ``clone``. ``ptrace`` and
``process_vm_readv/writev`` are allowed, as containerd does on kernels since 4.8. Names
libseccomp does not know are skipped by runc, so the list can name newer syscalls.

``Localhost`` loads an OCI ``LinuxSeccomp`` JSON document from the path the kubelet resolved
(``<agent data dir>/seccomp/<localhostProfile>``), as containerd does; a missing or
unreadable file fails the container with containerd's message. ``Unconfined`` (and an unset
profile, the kubelet's default) and privileged containers get no filter.

Invariant: ``runtime_default`` is a pure function of the capabilities and the architecture.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable, Sequence
from typing import Any, Final

from kybernetes.agent.runtime.interface import RuntimeError_, SecurityContext

EPERM: Final = 1
ENOSYS: Final = 38
AF_ALG: Final = 38
AF_VSOCK: Final = 40
#: CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID
#: | CLONE_NEWNET
CLONE_NAMESPACES: Final = (
    0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
)

_ARCHES: Final = {
    "x86_64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "aarch64": ("SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"),
    "s390x": ("SCMP_ARCH_S390", "SCMP_ARCH_S390X"),
    "ppc64le": ("SCMP_ARCH_PPC64LE",),
    "riscv64": ("SCMP_ARCH_RISCV64",),
}
_ARCH_SYSCALLS: Final = {
    "x86_64": ("arch_prctl", "modify_ldt"),
    "aarch64": (
        "arm_fadvise64_64",
        "arm_sync_file_range",
        "sync_file_range2",
        "breakpoint",
        "cacheflush",
        "set_tls",
    ),
    "s390x": ("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
    "ppc64le": ("sync_file_range2", "swapcontext"),
    "riscv64": ("riscv_flush_icache", "riscv_hwprobe"),
}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Allowed for every container, grouped by what they are for.
ALLOWED: Final = {
    "files": _words(
        """
        access faccessat faccessat2 open openat openat2 creat close close_range read readv
        pread64 preadv preadv2 write writev pwrite64 pwritev pwritev2 lseek _llseek
        sendfile sendfile64 splice tee vmsplice copy_file_range readahead fadvise64
        fadvise64_64 fallocate truncate truncate64 ftruncate ftruncate64 fsync fdatasync
        sync syncfs sync_file_range flock fcntl fcntl64 dup dup2 dup3 ioctl
        stat stat64 lstat lstat64 fstat fstat64 fstatat64 newfstatat statx statfs statfs64
        fstatfs fstatfs64 statmount listmount cachestat
        chmod fchmod fchmodat fchmodat2 chown chown32 fchown fchown32 fchownat lchown lchown32
        umask utime utimes utimensat utimensat_time64 futimesat
        link linkat symlink symlinkat unlink unlinkat rename renameat renameat2 readlink
        readlinkat mkdir mkdirat rmdir mknod mknodat chdir fchdir getcwd getdents getdents64
        getxattr lgetxattr fgetxattr getxattrat setxattr lsetxattr fsetxattr setxattrat
        listxattr llistxattr flistxattr listxattrat removexattr lremovexattr fremovexattr
        removexattrat inotify_init inotify_init1 inotify_add_watch inotify_rm_watch
        fanotify_mark name_to_handle_at io_setup io_submit io_getevents io_pgetevents
        io_pgetevents_time64 io_cancel io_destroy ioprio_get ioprio_set memfd_create
        memfd_secret
        """
    ),
    "memory": _words(
        """
        brk mmap mmap2 munmap mremap mprotect madvise mincore msync mlock mlock2 mlockall
        munlock munlockall remap_file_pages membarrier pkey_alloc pkey_free pkey_mprotect
        map_shadow_stack mseal
        """
    ),
    "processes": _words(
        """
        execve execveat fork vfork exit exit_group wait4 waitid waitpid kill tkill tgkill
        getpid getppid gettid getpgid setpgid getpgrp getsid setsid set_tid_address
        set_robust_list get_robust_list rseq futex futex_time64 futex_waitv futex_wait
        futex_wake futex_requeue restart_syscall prctl seccomp capget capset
        getrlimit setrlimit ugetrlimit prlimit64 getrusage times getpriority setpriority
        sched_yield sched_getaffinity sched_setaffinity sched_getattr sched_setattr
        sched_getparam sched_setparam sched_getscheduler sched_setscheduler
        sched_get_priority_max sched_get_priority_min sched_rr_get_interval
        sched_rr_get_interval_time64 getcpu get_thread_area set_thread_area pidfd_open
        pidfd_send_signal process_mrelease ptrace process_vm_readv process_vm_writev
        landlock_create_ruleset landlock_add_rule landlock_restrict_self
        lsm_get_self_attr lsm_set_self_attr lsm_list_modules uretprobe
        """
    ),
    "signals": _words(
        """
        rt_sigaction rt_sigprocmask rt_sigpending rt_sigqueueinfo rt_tgsigqueueinfo
        rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 sigaltstack
        sigprocmask sigreturn signalfd signalfd4 pause
        """
    ),
    "time": _words(
        """
        time gettimeofday clock_gettime clock_gettime64 clock_getres clock_getres_time64
        clock_nanosleep clock_nanosleep_time64 nanosleep alarm getitimer setitimer
        timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
        timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
        timerfd_settime timerfd_settime64 adjtimex clock_adjtime clock_adjtime64
        """
    ),
    "network": _words(
        """
        socketpair socketcall bind connect listen accept accept4 getsockname getpeername
        getsockopt setsockopt shutdown send sendto sendmsg sendmmsg recv recvfrom recvmsg
        recvmmsg recvmmsg_time64
        """
    ),
    "polling": _words(
        """
        poll ppoll ppoll_time64 select _newselect pselect6 pselect6_time64 epoll_create
        epoll_create1 epoll_ctl epoll_ctl_old epoll_wait epoll_wait_old epoll_pwait
        epoll_pwait2 eventfd eventfd2 pipe pipe2
        """
    ),
    "ipc": _words(
        """
        ipc msgget msgsnd msgrcv msgctl semget semop semtimedop semtimedop_time64 semctl
        shmget shmat shmdt shmctl mq_open mq_unlink mq_timedsend mq_timedsend_time64
        mq_timedreceive mq_timedreceive_time64 mq_notify mq_getsetattr
        """
    ),
    "identity": _words(
        """
        getuid getuid32 geteuid geteuid32 getgid getgid32 getegid getegid32 getresuid
        getresuid32 getresgid getresgid32 getgroups getgroups32 setuid setuid32 setgid
        setgid32 setreuid setreuid32 setregid setregid32 setresuid setresuid32 setresgid
        setresgid32 setfsuid setfsuid32 setfsgid setfsgid32 setgroups setgroups32
        uname sysinfo getrandom
        """
    ),
}

#: Allowed only when the container's bounding set has the capability.
BY_CAPABILITY: Final = {
    "CAP_SYS_ADMIN": _words(
        """
        bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount
        mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd
        setdomainname sethostname setns syslog umount umount2 unshare
        """
    ),
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_CHROOT": ("chroot",),
    "CAP_SYS_MODULE": ("delete_module", "init_module", "finit_module"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_PTRACE": ("kcmp", "pidfd_getfd", "process_madvise"),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_settime64"),
    "CAP_SYS_TTY_CONFIG": ("vhangup",),
    "CAP_SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
    "CAP_SYSLOG": ("syslog",),
    "CAP_BPF": ("bpf",),
    "CAP_PERFMON": ("perf_event_open",),
}

#: personality(2) personas a container may switch to: Linux, its 32-bit UNAME26 and
#: READ_IMPLIES_EXEC variants, and the query (0xffffffff)
PERSONAS: Final = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)


def _allow(names: Iterable[str], *args: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {"names": list(names), "action": "SCMP_ACT_ALLOW"}
    if args:
        rule["args"] = list(args)
    return rule


def _arg(index: int, op: str, value: int, value_two: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"index": index, "value": value, "op": op}
    if op == "SCMP_CMP_MASKED_EQ":
        out["valueTwo"] = value_two
    return out


def runtime_default(capabilities: Sequence[str], machine: str | None = None) -> dict[str, Any]:
    """The OCI ``linux.seccomp`` of RuntimeDefault for a process with these bounding caps."""
    machine = machine or platform.machine()
    caps = set(capabilities)
    rules = [_allow(name for group in ALLOWED.values() for name in group)]
    rules.append(_allow(_ARCH_SYSCALLS.get(machine, ())))
    # socket(2) for every family but AF_ALG (38) and AF_VSOCK (40): one condition per rule,
    # since runc turns several conditions on one argument into alternatives
    rules += [
        _allow(["socket"], _arg(0, "SCMP_CMP_LT", AF_ALG)),
        _allow(["socket"], _arg(0, "SCMP_CMP_EQ", AF_ALG + 1)),
        _allow(["socket"], _arg(0, "SCMP_CMP_GT", AF_VSOCK)),
    ]
    rules += [_allow(["personality"], _arg(0, "SCMP_CMP_EQ", p)) for p in PERSONAS]
    for cap, names in BY_CAPABILITY.items():
        if cap in caps:
            rules.append(_allow(names))
    if "CAP_SYS_ADMIN" not in caps:
        flags_index = 1 if machine == "s390x" else 0
        rules.append(
            _allow(["clone"], _arg(flags_index, "SCMP_CMP_MASKED_EQ", CLONE_NAMESPACES, 0))
        )
        rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "architectures": list(_ARCHES.get(machine, ())),
        "syscalls": [r for r in rules if r["names"]],
    }


def load_localhost(path: str) -> dict[str, Any]:
    """A Localhost profile: the OCI ``LinuxSeccomp`` JSON object in ``path``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise RuntimeError_(
            f'failed to generate seccomp spec opts: cannot load seccomp profile "{path}": '
            f"open {path}: {reason}"
        ) from None
    try:
        profile = json.loads(data)
    except ValueError as exc:
        raise RuntimeError_(
            f'failed to generate seccomp spec opts: decoding seccomp profile failed "{path}": {exc}'
        ) from None
    if not isinstance(profile, dict) or not isinstance(profile.get("defaultAction"), str):
        raise RuntimeError_(
            f'failed to generate seccomp spec opts: decoding seccomp profile failed "{path}": '
            "not a seccomp profile (an object with a defaultAction)"
        )
    return profile


def profile(sec: SecurityContext, capabilities: Sequence[str]) -> dict[str, Any] | None:
    """The container's ``linux.seccomp``, or None for no filter."""
    if sec.privileged:
        return None
    if sec.seccomp_profile == "RuntimeDefault":
        return runtime_default(capabilities)
    if sec.seccomp_profile == "Localhost":
        if not sec.seccomp_localhost:
            raise RuntimeError_(
                "failed to generate seccomp spec opts: localhostProfile is required for a "
                "Localhost seccomp profile"
            )
        return load_localhost(sec.seccomp_localhost)
    return None
