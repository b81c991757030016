"""A gRPC health server for tests: ``grpc.health.v1.Health/Check`` with statuses set at will.

``HealthServer(host)`` listens on a free port of ``host`` (plaintext HTTP/2) in its own
threads, so synchronous and asynchronous tests can use it alike. ``statuses`` maps a service
name ("" for the server as a whole) to SERVING, NOT_SERVING...; an unknown service is
answered NOT_FOUND "unknown service", as grpc-go's health server does; ``delay`` holds every
answer back (to see probes time out). ``implement_health=False`` gives a server without the
service (UNIMPLEMENTED).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc  # type: ignore[import-untyped]

from kybernetes.agent.kubelet.grpcprobe import STATUS_NAMES, decode_status

STATUS = {name: number for number, name in STATUS_NAMES.items()}


def _request_service(data: bytes) -> str:
    """The ``service`` of a ``HealthCheckRequest`` (field 1, length-delimited)."""
    if not data:
        return ""
    if data[0] != 0x0A:
        raise ValueError("not a HealthCheckRequest")
    length, pos, shift = 0, 1, 0
    while True:
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return data[pos : pos + length].decode()


def encode_response(status: str) -> bytes:
    number = STATUS[status]
    response = bytes([0x08, number]) if number else b""
    assert decode_status(response) == number
    return response


class HealthServer:
    def __init__(self, host: str = "127.0.0.1", *, implement_health: bool = True) -> None:
        self.statuses: dict[str, str] = {"": "SERVING"}
        self.delay = 0.0
        self.calls = 0
        self.user_agents: list[str] = []
        self._server = grpc.server(ThreadPoolExecutor(max_workers=4))
        if implement_health:
            handler = grpc.unary_unary_rpc_method_handler(self._check)
            self._server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler}),)
            )
        bound = f"[{host}]" if ":" in host else host
        self.port = int(self._server.add_insecure_port(f"{bound}:0"))
        self.host = host
        self._server.start()

    def _check(self, request: bytes, context: Any) -> bytes:
        self.calls += 1
        agent = dict(context.invocation_metadata()).get("user-agent", "")
        self.user_agents.append(str(agent))
        if self.delay:
            time.sleep(self.delay)
        service = _request_service(request)
        status = self.statuses.get(service)
        if status is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return encode_response(str(status))

    def close(self) -> None:
        self._server.stop(grace=None).wait()

    def __enter__(self) -> HealthServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
