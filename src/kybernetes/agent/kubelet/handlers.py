"""Running a probe or lifecycle-hook action against a container: exec, httpGet, tcpSocket, grpc.

``run_action`` performs one ``exec`` (through the runtime's ``exec_sync``), ``httpGet`` (a
2xx or 3xx answer succeeds; host defaults to the pod IP, a named port is looked up in the
container's ports) or ``tcpSocket`` (a connection succeeds) within ``time_limit`` seconds, and
returns an ``ActionResult`` whose ``output`` reads like upstream's probe messages
(``HTTP probe failed with statuscode: 500``, ``dial tcp 10.42.0.5:80: connect: connection
refused``) or ``grpc`` (a ``grpc.health.v1.Health/Check`` of the pod IP answering SERVING:
``grpcprobe.py``).

Invariant: never raises for a failing action; the answer is a value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from kybernetes.agent.kubelet import grpcprobe
from kybernetes.agent.runtime.interface import RuntimeError_, RuntimeService

log = logging.getLogger(__name__)

MAX_OUTPUT: Final = 10 * 1024


@dataclass(frozen=True, slots=True)
class ActionResult:
    success: bool
    output: str = ""


def resolve_port(port: Any, container: Mapping[str, Any]) -> int | None:
    """A numeric port, or the containerPort of a named port of ``container``."""
    if isinstance(port, int):
        return port
    text = str(port)
    if text.isdigit():
        return int(text)
    for spec in container.get("ports") or ():
        if spec.get("name") == text:
            return int(spec.get("containerPort", 0))
    return None


async def run_action(
    action: Mapping[str, Any],
    *,
    runtime: RuntimeService,
    container_id: str,
    container: Mapping[str, Any],
    pod_ip: str,
    time_limit: float,
) -> ActionResult:
    """Run the exec/httpGet/tcpSocket/grpc ``action`` (a probe or a lifecycle handler)."""
    if action.get("exec") is not None:
        return await _exec(runtime, container_id, action["exec"].get("command") or (), time_limit)
    if action.get("httpGet") is not None:
        return await _http_get(action["httpGet"], container, pod_ip, time_limit)
    if action.get("tcpSocket") is not None:
        return await _tcp(action["tcpSocket"], container, pod_ip, time_limit)
    if action.get("sleep") is not None:
        return ActionResult(True)
    if action.get("grpc") is not None:
        return await _grpc(action["grpc"], pod_ip, time_limit)
    return ActionResult(False, "missing probe handler")


async def _exec(
    runtime: RuntimeService, cid: str, command: Sequence[str], time_limit: float
) -> ActionResult:
    try:
        result = await runtime.exec_sync(cid, [str(c) for c in command], time_limit)
    except TimeoutError:
        return ActionResult(False, f"command {list(command)!r} timed out")
    except RuntimeError_ as exc:
        return ActionResult(False, str(exc))
    output = (result.stdout + result.stderr)[:MAX_OUTPUT].decode(errors="replace")
    if result.exit_code != 0 and not output:
        output = f"command {list(command)!r} exited with {result.exit_code}"
    return ActionResult(result.exit_code == 0, output)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def _http_get(
    spec: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str, time_limit: float
) -> ActionResult:
    port = resolve_port(spec.get("port"), container)
    host = str(spec.get("host") or pod_ip)
    if port is None or not host:
        return ActionResult(False, f"unable to resolve port or host: port={spec.get('port')}")
    scheme = str(spec.get("scheme") or "HTTP").lower()
    path = str(spec.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{_host(host)}:{port}{path}"
    headers = {"User-Agent": "kube-probe/1.32", "Accept": "*/*"}
    for header in spec.get("httpHeaders") or ():
        headers[str(header.get("name", ""))] = str(header.get("value", ""))
    try:
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=time_limit or None)
            ) as session,
            session.get(url, headers=headers, ssl=False) as response,
        ):
            body = (await response.content.read(MAX_OUTPUT)).decode(errors="replace")
            if 200 <= response.status < 400:
                return ActionResult(True, body)
            return ActionResult(False, f"HTTP probe failed with statuscode: {response.status}")
    except TimeoutError:
        return ActionResult(
            False,
            f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting '
            "headers)",
        )
    except (aiohttp.ClientError, OSError) as exc:
        return ActionResult(False, f'Get "{url}": {exc}')


async def _tcp(
    spec: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str, time_limit: float
) -> ActionResult:
    port = resolve_port(spec.get("port"), container)
    host = str(spec.get("host") or pod_ip)
    if port is None or not host:
        return ActionResult(False, f"unable to resolve port or host: port={spec.get('port')}")
    address = f"{_host(host)}:{port}"
    try:
        async with asyncio.timeout(time_limit or None):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return ActionResult(False, f"dial tcp {address}: i/o timeout")
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        return ActionResult(False, f"dial tcp {address}: connect: {reason}")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ActionResult(True)


async def _grpc(spec: Mapping[str, Any], pod_ip: str, time_limit: float) -> ActionResult:
    port = spec.get("port")
    if not isinstance(port, int) or not pod_ip:
        return ActionResult(False, f"unable to resolve port or host: port={port}")
    ok, message = await grpcprobe.check(pod_ip, port, str(spec.get("service") or ""), time_limit)
    return ActionResult(ok, message)
