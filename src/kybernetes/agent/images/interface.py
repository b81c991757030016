"""The image service the agent and the runtime use, shaped like CRI's ``ImageService``.

``pull_image`` fetches an image from an OCI registry into the node's content-addressed store
(or finds it there); ``image_status``/``list_images``/``remove_image`` manage the store;
``prepare_rootfs`` gives a container its own writable root filesystem (overlayfs over the
image's unpacked layers) and ``release_rootfs`` takes it down. ``ImageConfig`` carries what the
runtime needs from the image's config (entrypoint, cmd, env, working dir, user).

Invariants: an image is identified by the digest of its config (``id``); layers are unpacked
once and shared; a pulled blob's digest is verified before it is used; a rootfs is private to
its container and gone after ``release_rootfs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class ImageError(Exception):
    """An image could not be pulled, found or used (the message says which and why)."""


class ImageNotFound(ImageError):
    """The store has no such image."""


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: Sequence[str] = ()
    cmd: Sequence[str] = ()
    env: Sequence[str] = ()  # "KEY=value"
    working_dir: str = ""
    user: str = ""


@dataclass(frozen=True)
class Image:
    id: str  # sha256:<config digest>
    repo_tags: Sequence[str] = ()  # e.g. "docker.io/library/busybox:1.36"
    repo_digests: Sequence[str] = ()  # e.g. "registry:5000/busybox@sha256:..."
    size: int = 0
    config: ImageConfig = field(default_factory=ImageConfig)


@dataclass(frozen=True)
class AuthConfig:
    username: str = ""
    password: str = ""
    registry_token: str = ""


class ImageService(Protocol):
    async def pull_image(self, reference: str, auth: AuthConfig | None = None) -> Image: ...

    async def image_status(self, reference: str) -> Image | None: ...

    async def list_images(self) -> list[Image]: ...

    async def remove_image(self, reference: str) -> None: ...

    async def prepare_rootfs(self, image: str, container_dir: str) -> str:
        """Mount a private writable rootfs for a container under ``container_dir``; its path."""
        ...

    async def release_rootfs(self, container_dir: str) -> None: ...
