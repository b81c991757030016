"""Image pulls for containers, per ``imagePullPolicy``, with upstream's back-off, events and states.

``ImagePuller.ensure(pod, container)`` returns the image to run, or a ``PullFailure`` whose
``reason`` is the container's waiting reason:

- ``Never``: the image must be present (``ErrImageNeverPull``);
- ``IfNotPresent`` (the default for a tagged image) uses a present image
  (``Container image "x" already present on machine``);
- ``Always`` (the default for ``:latest`` or no tag) pulls every time a container starts;
- a pull emits ``Pulling``, then ``Pulled`` (``Successfully pulled image "x" in 1.2s (1.2s
  including waiting). Image size: N bytes.``) or ``Failed`` (``Failed to pull image "x": ...``
  and ``Error: ErrImagePull``); after a failure, further pulls of the same image by the same
  pod wait out a back-off of 10 s doubling to 5 min (``ImagePullBackOff``,
  ``Back-off pulling image "x"``).

Credentials come from the pod's ``imagePullSecrets`` (``kubernetes.io/dockerconfigjson`` and
``kubernetes.io/dockercfg``) matched by registry host.

Invariant: an image pull failure is a value the sync reports, never an exception.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.agent.images.interface import AuthConfig, Image, ImageError, ImageService
from kybernetes.agent.images.reference import try_parse
from kybernetes.agent.kubelet.backoff import Backoff, go_duration
from kybernetes.agent.kubelet.env import Lookup, decode_secret
from kybernetes.util.clock import Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Recorder = Callable[[Obj, str, str, str], None]


@dataclass(frozen=True, slots=True)
class PullFailure:
    reason: str  # ErrImagePull, ImagePullBackOff, ErrImageNeverPull, InvalidImageName
    message: str
    retry_after: float | None = None


def pull_policy(container: Mapping[str, Any]) -> str:
    policy = container.get("imagePullPolicy")
    if policy:
        return str(policy)
    image = str(container.get("image", ""))
    ref = try_parse(image)
    if ref is not None and ref.digest:
        return "IfNotPresent"
    tagged = ":" in image.rsplit("/", 1)[-1]
    return "Always" if not tagged or image.endswith(":latest") else "IfNotPresent"


def registry_auth(pod: Mapping[str, Any], image: str, secrets: Lookup) -> AuthConfig | None:
    """Credentials for ``image``'s registry from the pod's imagePullSecrets, if any match."""
    ref = try_parse(image)
    if ref is None:
        return None
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    hosts = {ref.registry}
    if ref.registry in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        hosts |= {
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "https://index.docker.io/v1/",
        }
    for item in (pod.get("spec") or {}).get("imagePullSecrets") or ():
        secret = secrets(namespace, str(item.get("name", "")))
        if secret is None:
            continue
        data = decode_secret(secret)
        raw = data.get(".dockerconfigjson") or data.get(".dockercfg")
        if not raw:
            continue
        try:
            doc = json.loads(raw)
        except ValueError:
            continue
        auths = doc.get("auths", doc) if isinstance(doc, dict) else {}
        for server, entry in auths.items():
            host = str(server).removeprefix("https://").removeprefix("http://").split("/")[0]
            if (host in hosts or server in hosts) and isinstance(entry, dict):
                username, password = entry.get("username", ""), entry.get("password", "")
                if entry.get("auth") and not username:
                    user, _, pw = base64.b64decode(entry["auth"]).decode().partition(":")
                    username, password = user, pw
                return AuthConfig(
                    username=username,
                    password=password,
                    registry_token=entry.get("registrytoken", ""),
                )
    return None


class ImagePuller:
    def __init__(
        self, images: ImageService, clock: Clock, record: Recorder, secrets: Lookup
    ) -> None:
        self.images = images
        self.clock = clock
        self.record = record
        self.secrets = secrets
        self.backoff = Backoff(clock)
        self._failed_at: dict[str, float] = {}

    async def ensure(self, pod: Obj, container: Mapping[str, Any]) -> Image | PullFailure:
        image = str(container.get("image", ""))
        if not image or try_parse(image) is None:
            message = f'Failed to apply default image tag "{image}": couldn\'t parse image name'
            self.record(pod, "Warning", "InspectFailed", message)
            return PullFailure("InvalidImageName", message)
        policy = pull_policy(container)
        present = await self._present(image)
        if policy == "Never" or (policy == "IfNotPresent" and present is not None):
            if present is not None:
                message = f'Container image "{image}" already present on machine'
                self.record(pod, "Normal", "Pulled", message)
                return present
            message = f'Container image "{image}" is not present with pull policy of Never'
            self.record(pod, "Warning", "ErrImageNeverPull", message)
            return PullFailure("ErrImageNeverPull", message)
        key = f"{pod['metadata'].get('uid', '')}/{image}"
        failed_at = self._failed_at.get(key)
        if failed_at is not None and self.backoff.in_backoff_since(key, failed_at):
            message = f'Back-off pulling image "{image}"'
            self.record(pod, "Normal", "BackOff", message)
            return PullFailure("ImagePullBackOff", message, self.backoff.remaining(key, failed_at))
        self.record(pod, "Normal", "Pulling", f'Pulling image "{image}"')
        started = self.clock.monotonic()
        try:
            pulled = await self.images.pull_image(image, registry_auth(pod, image, self.secrets))
        except ImageError as exc:
            now = self.clock.now()
            self._failed_at[key] = now
            delay = self.backoff.next(key, now)
            self.record(pod, "Warning", "Failed", f'Failed to pull image "{image}": {exc}')
            self.record(pod, "Warning", "Failed", "Error: ErrImagePull")
            log.info("image pull failed pod=%s image=%s error=%s", key, image, exc)
            return PullFailure("ErrImagePull", str(exc), delay)
        self._failed_at.pop(key, None)
        self.backoff.reset(key)
        took = go_duration(int((self.clock.monotonic() - started) * 1000) / 1000)
        self.record(
            pod,
            "Normal",
            "Pulled",
            f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
            f"Image size: {pulled.size} bytes.",
        )
        return pulled

    async def _present(self, image: str) -> Image | None:
        try:
            return await self.images.image_status(image)
        except ImageError:
            return None

    def forget_pod(self, uid: str) -> None:
        for key in [k for k in self._failed_at if k.startswith(uid + "/")]:
            del self._failed_at[key]
            self.backoff.reset(key)
