"""Image references, parsed and normalised the way Docker and containerd do it.

``busybox`` is ``docker.io/library/busybox:latest``; ``localhost:5000/team/app:v1`` keeps its
registry; ``app@sha256:<hex>`` names one manifest by digest. The first path component is a
registry host only when it contains ``.`` or ``:`` or is ``localhost`` (Docker's rule), so
``team/app`` is ``docker.io/team/app``.

Invariant: a :class:`Reference` is always fully normalised (registry, repository, and a tag or a
digest or both), so two spellings of one image compare equal and print the same string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"
#: Where the Docker Hub's distribution API answers; ``docker.io`` is only its name.
DOCKER_HUB_API_HOST = "registry-1.docker.io"
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_TAG = re.compile(r"[\w][\w.-]{0,127}\Z")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}\Z")
_SHA256 = re.compile(r"sha256:[a-f0-9]{64}\Z")
_HOST = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?\Z"
)


class ReferenceError_(ValueError):
    """The string is not a valid image reference."""


@dataclass(frozen=True, order=True)
class Reference:
    registry: str  # "docker.io", "localhost:5000"
    repository: str  # "library/busybox"
    tag: str = ""
    digest: str = ""  # "sha256:<hex>"

    @property
    def name(self) -> str:
        """Registry and repository: ``docker.io/library/busybox``."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host the distribution API is reached at (the Hub answers elsewhere)."""
        return DOCKER_HUB_API_HOST if self.registry == DEFAULT_REGISTRY else self.registry

    @property
    def object(self) -> str:
        """What to ask the manifests endpoint for: the digest when pinned, else the tag."""
        return self.digest or self.tag

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, "", digest)

    def tagged(self) -> str:
        """``name:tag`` (empty when the reference has no tag)."""
        return f"{self.name}:{self.tag}" if self.tag else ""

    def digested(self) -> str:
        """``name@digest`` (empty when the reference has no digest)."""
        return f"{self.name}@{self.digest}" if self.digest else ""

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out


def parse(text: str) -> Reference:
    """Parse and normalise ``text``; raises :class:`ReferenceError_` when it is not a reference."""
    raw = text.strip()
    if not raw or raw != text or len(raw) > 4096:
        raise ReferenceError_(f"invalid reference format: {text!r}")
    remainder, _, digest = raw.partition("@")
    if digest and not _DIGEST.match(digest):
        raise ReferenceError_(f"invalid digest in reference: {text!r}")
    if digest.startswith("sha256:") and not _SHA256.match(digest):
        raise ReferenceError_(f"invalid sha256 digest in reference: {text!r}")
    tag = ""
    slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG.match(tag):
            raise ReferenceError_(f"invalid tag in reference: {text!r}")
    registry, repository = _split_registry(remainder, text)
    if len(registry) + 1 + len(repository) > 255:
        raise ReferenceError_(f"repository name too long: {text!r}")
    if not tag and not digest:
        tag = DEFAULT_TAG
    return Reference(registry, repository, tag, digest)


def try_parse(text: str) -> Reference | None:
    try:
        return parse(text)
    except ReferenceError_:
        return None


def is_digest(text: str) -> bool:
    """Whether ``text`` is a full ``sha256:<64 hex>`` digest."""
    return bool(_SHA256.match(text))


def _split_registry(name: str, text: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        if not _HOST.match(first):
            raise ReferenceError_(f"invalid registry host in reference: {text!r}")
        registry, repository = first, rest
    else:
        registry, repository = DEFAULT_REGISTRY, name
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = "library/" + repository
    components = repository.split("/")
    if not all(_COMPONENT.match(c) for c in components):
        raise ReferenceError_(
            f"invalid reference format: repository name must be lowercase: {text!r}"
        )
    return registry, repository
