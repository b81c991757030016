"""Observed runtime state -> the pod's status, written with ``update_status`` only when it changed.

``container_infos`` turns one pod's runtime containers (newest instance per name, the one
before it for ``lastState``), the probe results and the waiting reasons the last sync decided
(CrashLoopBackOff, ErrImagePull, CreateContainerConfigError...) into ``podstatus.ContainerInfo``
values; ``podstatus.pod_status`` does the rest as upstream's ``generateAPIPodStatus``.
``termination_message`` reads what the container wrote to its terminationMessagePath (4 KiB at
most), or with ``FallbackToLogsOnError`` the tail of its log after a failure.
``StatusWriter.write`` compares and writes with the resourceVersion it read; a Conflict reads
the pod again and writes once more.

Invariant: the status written never depends on what was written before except through the
pod's own status (podstatus keeps transition times, startTime and terminal phases).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from kybernetes.agent.kubelet import labels as L
from kybernetes.agent.podstatus import ContainerInfo, Running, Terminated, Waiting
from kybernetes.agent.runtime.interface import ContainerState, ContainerStatus
from kybernetes.api import errors
from kybernetes.client.resource import PODS
from kybernetes.client.rest import Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]
MAX_MESSAGE: Final = 4096
FALLBACK_LINES: Final = 80
FALLBACK_BYTES: Final = 2048


def _tail_log(path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            raw = f.read().decode(errors="replace")
    except OSError:
        return ""
    lines = []
    for line in raw.splitlines()[-FALLBACK_LINES:]:
        parts = line.split(" ", 3)  # <time> <stream> <F|P> <text>
        if len(parts) == 4:
            lines.append(parts[3] + ("\n" if parts[2] == "F" else ""))
    return "".join(lines)[-FALLBACK_BYTES:]


def termination_message(status: ContainerStatus) -> str:
    path = status.annotations.get(L.TERMINATION_MESSAGE_FILE, "")
    message = ""
    if path:
        try:
            with open(path, "rb") as f:
                message = f.read(MAX_MESSAGE).decode(errors="replace")
        except OSError:
            message = ""
    policy = status.annotations.get(L.TERMINATION_MESSAGE_POLICY, "File")
    if not message and policy == "FallbackToLogsOnError" and status.exit_code != 0:
        message = _tail_log(status.log_path)
    return message or status.message


def terminated(status: ContainerStatus, container_id: str, cache: dict[str, str]) -> Terminated:
    if status.id not in cache:
        cache[status.id] = termination_message(status)
    return Terminated(
        exit_code=status.exit_code,
        reason=status.reason or ("Completed" if status.exit_code == 0 else "Error"),
        started_at=status.started_at or status.created_at,
        finished_at=status.finished_at,
        message=cache[status.id],
        container_id=container_id,
    )


def container_info(
    spec: Mapping[str, Any],
    latest: ContainerStatus | None,
    previous: ContainerStatus | None,
    waiting: Waiting | None,
    *,
    runtime_name: str,
    ready: Callable[[str, Mapping[str, Any]], bool],
    started: Callable[[str, Mapping[str, Any]], bool],
    messages: dict[str, str],
) -> ContainerInfo | None:
    name = str(spec.get("name", ""))
    if latest is None:
        return ContainerInfo(name, waiting) if waiting is not None else None

    def cid(status: ContainerStatus) -> str:
        return f"{runtime_name}://{status.id}"

    last: Terminated | None = None
    if previous is not None and previous.state is ContainerState.EXITED:
        last = terminated(previous, cid(previous), messages)
    common: dict[str, Any] = {
        "restart_count": L.restart_count(latest),
        "image": str(spec.get("image") or latest.image),
        "image_id": latest.image_ref,
        "container_id": cid(latest),
    }
    if latest.state is ContainerState.RUNNING:
        return ContainerInfo(
            name,
            Running(latest.started_at),
            last_state=last,
            ready=ready(latest.id, spec),
            started=started(latest.id, spec),
            **common,
        )
    if latest.state is ContainerState.EXITED:
        ended = terminated(latest, cid(latest), messages)
        if waiting is not None:
            return ContainerInfo(name, waiting, last_state=ended, **common)
        return ContainerInfo(name, ended, last_state=last, **common)
    return ContainerInfo(name, waiting or Waiting("ContainerCreating"), last_state=last, **common)


class StatusWriter:
    def __init__(self, client: Client) -> None:
        self.client = client

    async def write(self, pod: Obj, status: Obj) -> Obj | None:
        """Write ``status`` if it differs from ``pod``'s; the pod as stored after, or None."""
        if pod.get("status") == status:
            return None
        updated = {**pod, "status": status}
        try:
            return await self.client.update_status(PODS, updated)
        except errors.NotFound:
            return None
        except errors.Conflict:
            meta = pod["metadata"]
            with contextlib.suppress(errors.NotFound):
                fresh = await self.client.get(PODS, meta["name"], meta.get("namespace"))
                if fresh["metadata"].get("uid") != meta.get("uid"):
                    return None
                return await self.client.update_status(PODS, {**fresh, "status": status})
            return None
