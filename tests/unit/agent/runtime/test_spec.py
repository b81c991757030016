"""The OCI spec builder: argv, env, user, capabilities, mounts and namespaces from CRI configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kybernetes.agent.images.interface import ImageConfig
from kybernetes.agent.runtime.interface import (
    ContainerConfig,
    Mount,
    Resources,
    RuntimeError_,
    SecurityContext,
)
from kybernetes.agent.runtime.runc import spec
from kybernetes.agent.runtime.runc.linux import CAPABILITIES

IMAGE = ImageConfig(entrypoint=("/entry",), cmd=("serve", "--port=80"), env=("PATH=/bin", "A=1"))
POD = spec.PodFiles(
    hostname="web",
    namespaces={"network": "/ns/net", "ipc": "/ns/ipc", "uts": "/ns/uts"},
    hosts="/pod/hosts",
    resolv_conf="/pod/resolv.conf",
    hostname_file="/pod/hostname",
    shm="/pod/shm",
)


def config(**kw: object) -> ContainerConfig:
    return ContainerConfig(name="c", image="img", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("command", "args", "argv"),
    [
        ((), (), ["/entry", "serve", "--port=80"]),  # the image's entrypoint and cmd
        ((), ("other",), ["/entry", "other"]),  # args replace cmd only
        (("sh",), (), ["sh"]),  # command replaces entrypoint and drops cmd
        (("sh", "-c"), ("echo",), ["sh", "-c", "echo"]),
    ],
)
def test_argv_is_resolved_as_docker_does(
    command: tuple[str, ...], args: tuple[str, ...], argv: list[str]
) -> None:
    assert spec.process_args(config(command=command, args=args), IMAGE) == argv


def test_no_command_at_all_is_an_error() -> None:
    with pytest.raises(RuntimeError_, match="no command"):
        spec.process_args(config(), ImageConfig())


def test_env_overrides_the_image_key_by_key() -> None:
    env = spec.environment(config(env=(("A", "2"), ("B", "3"))), IMAGE, "web")
    assert env == ["PATH=/bin", "A=2", "HOSTNAME=web", "B=3"]
    assert spec.environment(config(), ImageConfig(), "")[0].startswith("PATH=/usr/local/sbin")


def test_user_comes_from_the_security_context_else_the_image(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0::/:/bin/sh\napp:x:1000:1001::/:/bin/sh\n")
    (tmp_path / "etc" / "group").write_text("root:x:0:\napp:x:1001:\nextra:x:2000:app\n")
    image = ImageConfig(user="app")
    # as containerd: the primary group first, then the image's groups of the user, then the
    # pod's (fsGroup, supplementalGroups)
    assert spec.resolve_user(str(tmp_path), config(), image) == {
        "uid": 1000,
        "gid": 1001,
        "additionalGids": [1001, 2000],
    }
    sec = SecurityContext(run_as_user=7, run_as_group=8, supplemental_groups=(9, 8))
    assert spec.resolve_user(str(tmp_path), config(security=sec), image) == {
        "uid": 7,
        "gid": 8,
        "additionalGids": [8, 9],
    }
    assert spec.resolve_user(str(tmp_path), config(), ImageConfig(user="5:6")) == {
        "uid": 5,
        "gid": 6,
        "additionalGids": [6],
    }
    with pytest.raises(RuntimeError_, match="no user"):
        spec.resolve_user(str(tmp_path), config(), ImageConfig(user="ghost"))


def test_capabilities_default_add_drop_privileged() -> None:
    everything = list(CAPABILITIES)
    assert spec.capabilities(config(), everything) == list(spec.DEFAULT_CAPABILITIES)
    sec = SecurityContext(capabilities_add=("NET_ADMIN",), capabilities_drop=("kill",))
    caps = spec.capabilities(config(security=sec), everything)
    assert "CAP_NET_ADMIN" in caps
    assert "CAP_KILL" not in caps
    only = SecurityContext(capabilities_drop=("ALL",), capabilities_add=("CAP_CHOWN",))
    assert spec.capabilities(config(security=only), everything) == ["CAP_CHOWN"]
    # privileged gets what this process can grant, never more (no CAP_SYS_RESOURCE here)
    granted = [c for c in everything if c != "CAP_SYS_RESOURCE"]
    assert spec.capabilities(config(security=SecurityContext(privileged=True)), granted) == granted


def test_spec_shape() -> None:
    c = config(
        command=("sleep", "1"),
        mounts=(Mount("/data", "/host/data", readonly=True),),
        resources=Resources(cpu_shares=256, cpu_quota=50_000, memory_limit=1 << 20, pids_limit=9),
        security=SecurityContext(readonly_rootfs=True, seccomp_profile="RuntimeDefault"),
    )
    oci = spec.build(c, IMAGE, "/rootfs", POD, "/kyb/pod-1/c1", list(CAPABILITIES))
    assert oci["root"] == {"path": "/rootfs", "readonly": True}
    assert "oomScoreAdj" not in oci["process"]  # negative values fail on these machines
    assert "hostname" not in oci  # the UTS namespace is joined, its name set by the sandbox
    namespaces = {n["type"]: n.get("path") for n in oci["linux"]["namespaces"]}
    assert namespaces == {
        "pid": None,
        "mount": None,
        "network": "/ns/net",
        "ipc": "/ns/ipc",
        "uts": "/ns/uts",
    }
    assert oci["linux"]["cgroupsPath"] == "/kyb/pod-1/c1"
    res = oci["linux"]["resources"]
    assert res["cpu"] == {"shares": 256, "quota": 50_000, "period": 100_000}
    assert res["memory"] == {"limit": 1 << 20}
    assert res["pids"] == {"limit": 9}
    mounts = {m["destination"]: m for m in oci["mounts"]}
    assert {"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup"} <= set(mounts)
    assert mounts["/etc/hosts"]["source"] == "/pod/hosts"
    assert "ro" in mounts["/etc/resolv.conf"]["options"]  # a read-only rootfs: read-only files
    assert mounts["/dev/shm"]["source"] == "/pod/shm"
    assert "ro" in mounts["/data"]["options"]
    assert "rbind" in mounts["/data"]["options"]
    assert "/proc/kcore" in oci["linux"]["maskedPaths"]
    assert "/proc/sys" in oci["linux"]["readonlyPaths"]
    assert oci["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert (
        "seccomp" not in spec.build(config(command=("true",)), IMAGE, "/r", POD, "/p", [])["linux"]
    )


def test_host_network_pods_use_the_hosts_namespaces() -> None:
    pod = spec.PodFiles("", {"ipc": "/ns/ipc"}, "/h", "/r", "", "/s")
    oci = spec.build(config(command=("true",)), IMAGE, "/rootfs", pod, "/p/c", [])
    assert {n["type"] for n in oci["linux"]["namespaces"]} == {"pid", "mount", "ipc"}
    assert "/etc/hostname" not in {m["destination"] for m in oci["mounts"]}
