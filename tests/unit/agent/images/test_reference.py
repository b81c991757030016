"""Image references normalise the way Docker and containerd normalise them."""

from __future__ import annotations

import pytest

from kybernetes.agent.images.reference import ReferenceError_, is_digest, parse

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("team/app:v1", "docker.io/team/app:v1"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/team/app:v2", "localhost:5000/team/app:v2"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
        ("[::1]:5000/app:1", "[::1]:5000/app:1"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
        (f"host:5000/app:1.0@{DIGEST}", f"host:5000/app:1.0@{DIGEST}"),
        ("a/b/c/d:e", "docker.io/a/b/c/d:e"),
        ("app_1.x-y:Tag_1.0-rc", "docker.io/library/app_1.x-y:Tag_1.0-rc"),
    ],
)
def test_normalisation(text: str, expected: str) -> None:
    assert str(parse(text)) == expected


def test_parts() -> None:
    ref = parse(f"localhost:5000/team/app:v1@{DIGEST}")
    assert ref.registry == "localhost:5000"
    assert ref.repository == "team/app"
    assert ref.tag == "v1"
    assert ref.digest == DIGEST
    assert ref.object == DIGEST  # a pinned digest wins over the tag
    assert ref.name == "localhost:5000/team/app"
    assert ref.digested() == f"localhost:5000/team/app@{DIGEST}"


def test_docker_hub_api_host() -> None:
    assert parse("busybox").api_host == "registry-1.docker.io"
    assert parse("quay.io/x/y").api_host == "quay.io"


def test_digest_only_has_no_default_tag() -> None:
    assert parse(f"busybox@{DIGEST}").tag == ""


@pytest.mark.parametrize(
    "text",
    [
        "",
        " busybox",
        "Busybox",
        "team/App",
        "busybox:",
        "busybox:-x",
        "busybox@sha256:abc",
        "host:5000/",
        "a//b",
        "a/b/",
        "busybox:" + "x" * 200,
        "bad_host!:5000/app",
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(ReferenceError_):
        parse(text)


def test_is_digest() -> None:
    assert is_digest(DIGEST)
    assert not is_digest("sha256:abc")
    assert not is_digest("md5:" + "ab" * 16)
