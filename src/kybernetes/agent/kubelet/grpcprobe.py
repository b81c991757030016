"""gRPC probes: ``grpc.health.v1.Health/Check`` over plaintext HTTP/2, as upstream's prober.

One call per probe on a fresh channel to ``<pod IP>:<port>`` (user agent ``kube-probe/1.32``,
no proxy), all within ``timeoutSeconds``: first the connection (refused connections are
retried until the time is up, as upstream's blocking dial), then the RPC. The two messages are
tiny, so they are encoded by hand (``HealthCheckRequest{string service = 1}``,
``HealthCheckResponse{ServingStatus status = 1}``) and the channel carries raw bytes. SERVING
succeeds; any other status, an RPC error or the time running out fails, with upstream's
messages (``service unhealthy (responded with "NOT_SERVING")``, ``timeout: failed to connect
service "10.42.0.5:9000" within 1s: context deadline exceeded``, ``error: health rpc probe
failed: rpc error: code = NotFound desc = unknown service``...).

Invariant: never raises for a failing probe; the answer is a value.
"""

from __future__ import annotations

import asyncio
from typing import Final

import grpc  # type: ignore[import-untyped]
import grpc.aio  # type: ignore[import-untyped]

from kybernetes.agent.kubelet.backoff import go_duration

METHOD: Final = "/grpc.health.v1.Health/Check"
USER_AGENT: Final = "kube-probe/1.32"
STATUS_NAMES: Final = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
SERVING: Final = 1
_OPTIONS: Final = (
    ("grpc.primary_user_agent", USER_AGENT),
    ("grpc.enable_http_proxy", 0),
    ("grpc.enable_retries", 0),
)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_request(service: str) -> bytes:
    """``HealthCheckRequest{service}`` (empty for the server as a whole)."""
    data = service.encode()
    return b"\x0a" + _varint(len(data)) + data if data else b""


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def decode_status(data: bytes) -> int:
    """The ``status`` of a ``HealthCheckResponse`` (0, UNKNOWN, when absent)."""
    status, pos = 0, 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
            if field == 1:
                status = value
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return status


def go_code(code: grpc.StatusCode) -> str:
    """A status code as Go's ``codes.Code.String`` prints it (``NotFound``, ``OK``)."""
    if code is grpc.StatusCode.OK:
        return "OK"
    if code is grpc.StatusCode.CANCELLED:
        return "Canceled"
    return "".join(part.capitalize() for part in code.name.split("_"))


async def check(host: str, port: int, service: str, time_limit: float) -> tuple[bool, str]:
    """One health check of ``service`` at ``host:port``: (success, upstream's message)."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    limit = go_duration(time_limit)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + time_limit
    async with grpc.aio.insecure_channel(address, options=list(_OPTIONS)) as channel:
        try:
            async with asyncio.timeout(time_limit):
                await channel.channel_ready()
        except TimeoutError:
            return False, (
                f'timeout: failed to connect service "{address}" within {limit}: '
                "context deadline exceeded"
            )
        call = channel.unary_unary(METHOD)
        try:
            response = await call(
                encode_request(service), timeout=max(0.001, deadline - loop.time())
            )
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code is grpc.StatusCode.UNIMPLEMENTED:
                return False, (
                    "error: this server does not implement the grpc health protocol "
                    f"(grpc.health.v1.Health): {exc.details()}"
                )
            if code is grpc.StatusCode.DEADLINE_EXCEEDED:
                return False, f"timeout: health rpc did not complete within {limit}"
            return False, (
                "error: health rpc probe failed: rpc error: "
                f"code = {go_code(code)} desc = {exc.details()}"
            )
    try:
        status = decode_status(bytes(response))
    except ValueError as exc:
        return False, f"error: health rpc probe failed: {exc}"
    if status != SERVING:
        name = STATUS_NAMES.get(status, str(status))
        return False, f'service unhealthy (responded with "{name}")'
    return True, "service healthy"
