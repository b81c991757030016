"""Security contexts as the kubelet passes them on: groups, seccomp, runAsNonRoot."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.agent.kubelet import containerconfig as cc


def pod(sc: dict[str, Any] | None = None, **container_sc: Any) -> tuple[dict[str, Any], Any]:
    container = {"name": "app", "securityContext": container_sc}
    body = {
        "metadata": {"name": "web", "namespace": "prod", "uid": "u-1"},
        "spec": {"securityContext": sc or {}, "containers": [container]},
    }
    return body, container


def test_fs_group_then_supplemental_groups() -> None:
    p, c = pod({"fsGroup": 2000, "supplementalGroups": [4000, 5000], "runAsUser": 1000})
    sec = cc.security_context(p, c)
    assert sec.supplemental_groups == (2000, 4000, 5000)
    assert sec.run_as_user == 1000


def test_seccomp_container_over_pod_and_localhost_path() -> None:
    p, c = pod({"seccompProfile": {"type": "RuntimeDefault"}})
    assert cc.security_context(p, c).seccomp_profile == "RuntimeDefault"
    p, c = pod(
        {"seccompProfile": {"type": "RuntimeDefault"}}, seccompProfile={"type": "Unconfined"}
    )
    assert cc.security_context(p, c).seccomp_profile == "Unconfined"
    local = {"type": "Localhost", "localhostProfile": "profiles/audit.json"}
    p, c = pod(seccompProfile=local)
    sec = cc.security_context(p, c, "/var/lib/agent/seccomp")
    assert (sec.seccomp_profile, sec.seccomp_localhost) == (
        "Localhost",
        "/var/lib/agent/seccomp/profiles/audit.json",
    )
    p, c = pod(seccompProfile={"type": "Localhost", "localhostProfile": "../../etc/x"})
    with pytest.raises(cc.ConfigError, match="relative path"):
        cc.security_context(p, c, "/var/lib/agent/seccomp")


WHERE = '(pod: "web_prod(u-1)", container: app)'


@pytest.mark.parametrize(
    ("pod_sc", "container_sc", "image_user", "message"),
    [
        ({}, {}, "", None),  # not asked for
        (
            {"runAsNonRoot": True},
            {},
            "",
            f"container has runAsNonRoot and image will run as root {WHERE}",
        ),
        (
            {"runAsNonRoot": True},
            {},
            "0:0",
            f"container has runAsNonRoot and image will run as root {WHERE}",
        ),
        ({"runAsNonRoot": True}, {}, "1000", None),
        ({"runAsNonRoot": True}, {"runAsUser": 1000}, "", None),
        (
            {"runAsNonRoot": True},
            {"runAsUser": 0},
            "1000",
            f"container's runAsUser breaks non-root policy {WHERE}",
        ),
        (
            {},
            {"runAsNonRoot": True},
            "app",
            "container has runAsNonRoot and image has non-numeric user (app), cannot verify "
            f"user is non-root {WHERE}",
        ),
        ({"runAsNonRoot": True}, {"runAsNonRoot": False}, "", None),  # the container's wins
    ],
)
def test_run_as_non_root(
    pod_sc: dict[str, Any], container_sc: dict[str, Any], image_user: str, message: str | None
) -> None:
    p, c = pod(pod_sc, **container_sc)
    if message is None:
        cc.verify_run_as_non_root(p, c, image_user)
    else:
        with pytest.raises(cc.ConfigError) as failure:
            cc.verify_run_as_non_root(p, c, image_user)
        assert str(failure.value) == message
