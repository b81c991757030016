"""Seccomp profiles: RuntimeDefault's allow list, Localhost files, unconfined containers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kybernetes.agent.runtime.interface import RuntimeError_, SecurityContext
from kybernetes.agent.runtime.runc import seccomp, spec

DEFAULT_CAPS = list(spec.DEFAULT_CAPABILITIES)


def allowed(profile: dict[str, Any]) -> set[str]:
    """Syscalls allowed whatever their arguments."""
    return {
        name
        for rule in profile["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args")
        for name in rule["names"]
    }


def test_runtime_default_is_an_allow_list_failing_with_eperm() -> None:
    profile = seccomp.runtime_default(DEFAULT_CAPS, "x86_64")
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["defaultErrnoRet"] == 1
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    names = allowed(profile)
    for ordinary in ("read", "openat", "execve", "mmap", "futex", "wait4", "connect", "chroot"):
        assert ordinary in names
    assert "arch_prctl" in names  # the architecture's own
    for held_back in (
        "unshare",
        "setns",
        "mount",
        "umount2",
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "init_module",
        "reboot",
        "swapon",
        "settimeofday",
        "kexec_load",
        "open_by_handle_at",
        "clone",  # only with namespace flags masked out, below
    ):
        assert held_back not in names, held_back


def test_namespaced_clone_and_clone3_without_cap_sys_admin() -> None:
    rules = seccomp.runtime_default(DEFAULT_CAPS, "x86_64")["syscalls"]
    (clone,) = [r for r in rules if r["names"] == ["clone"]]
    (arg,) = clone["args"]
    assert arg["op"] == "SCMP_CMP_MASKED_EQ"
    assert arg["value"] & 0x10000000  # CLONE_NEWUSER is among the masked flags
    assert arg["valueTwo"] == 0
    (clone3,) = [r for r in rules if r["names"] == ["clone3"]]
    assert clone3 == {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}  # ENOSYS
    sockets = [r["args"][0] for r in rules if r["names"] == ["socket"]]
    assert {(a["op"], a["value"]) for a in sockets} == {
        ("SCMP_CMP_LT", 38),  # below AF_ALG
        ("SCMP_CMP_EQ", 39),
        ("SCMP_CMP_GT", 40),  # above AF_VSOCK
    }


def test_capabilities_unlock_their_syscalls() -> None:
    admin = seccomp.runtime_default([*DEFAULT_CAPS, "CAP_SYS_ADMIN", "CAP_SYS_TIME"], "x86_64")
    names = allowed(admin)
    assert {"unshare", "mount", "setns", "clone", "clone3", "settimeofday"} <= names
    assert not [r for r in admin["syscalls"] if r["action"] != "SCMP_ACT_ALLOW"]
    assert "chroot" not in allowed(seccomp.runtime_default([], "x86_64"))


def test_localhost_profile_is_loaded_and_a_missing_one_fails(tmp_path: Path) -> None:
    path = tmp_path / "profiles" / "audit.json"
    missing = SecurityContext(seccomp_profile="Localhost", seccomp_localhost=str(path))
    with pytest.raises(RuntimeError_) as failure:
        seccomp.profile(missing, DEFAULT_CAPS)
    assert str(failure.value) == (
        f'failed to generate seccomp spec opts: cannot load seccomp profile "{path}": '
        f"open {path}: no such file or directory"
    )
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(RuntimeError_, match="decoding seccomp profile failed"):
        seccomp.profile(missing, DEFAULT_CAPS)
    document = {"defaultAction": "SCMP_ACT_LOG"}
    path.write_text(json.dumps(document))
    assert seccomp.profile(missing, DEFAULT_CAPS) == document


def test_unconfined_unset_and_privileged_get_no_filter() -> None:
    assert seccomp.profile(SecurityContext(), DEFAULT_CAPS) is None
    assert seccomp.profile(SecurityContext(seccomp_profile="Unconfined"), DEFAULT_CAPS) is None
    privileged = SecurityContext(seccomp_profile="RuntimeDefault", privileged=True)
    assert seccomp.profile(privileged, DEFAULT_CAPS) is None
