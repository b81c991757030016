"""Request bodies in, responses out: the media types real clients send and accept.

Responses are JSON with ``Content-Type`` exactly ``application/json`` (lightkube only treats a
body as a Status when the header is exactly that). Request bodies are JSON, YAML, or the
protobuf envelope kubectl uses for some ``create`` commands. Every failure becomes a
``Status`` error naming the problem, never a traceback.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import yaml
from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.protobuf import decode_request

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
MAX_BODY = 3 * 1024 * 1024

_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(obj), status=status, headers={"Content-Type": JSON, **(headers or {})}
    )


def raw_json_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, headers={"Content-Type": JSON})


def status_response(err: errors.StatusError) -> web.Response:
    return json_response(err.to_status(), status=err.code)


def success_status(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


async def read_body(request: web.Request) -> bytes:
    """The whole request body, refused with 413 past 3 MiB (upstream's limit).

    ``StreamReader.read(n)`` returns what has arrived so far (at most ``n`` bytes), not ``n``
    bytes: a body larger than one socket read comes in several pieces, so read to the end.
    """
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise errors.new_request_entity_too_large("limit is 3145728")
    if length == 0:
        return b""  # (a body-less request's stream refuses even readexactly(0))
    if length is not None:
        # The common case: one call for the whole body, not a read per piece plus one more
        # to see the end.
        try:
            return await request.content.readexactly(length)
        except asyncio.IncompleteReadError as exc:
            raise errors.new_bad_request("the request body ended early") from exc
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(MAX_BODY + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            raise errors.new_request_entity_too_large("limit is 3145728")
    return b"".join(chunks)


def decode_object(content_type: str, body: bytes) -> dict[str, Any]:
    """Decode a JSON, YAML or protobuf request body into an object dict."""
    kind = media_type(content_type) or JSON
    if kind == PROTOBUF:
        return decode_request(body)
    if kind in (JSON, "*/*"):
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise errors.new_bad_request(f"error decoding JSON: {exc}") from None
    elif kind in (YAML, "application/apply-patch+yaml", "text/yaml"):
        obj = decode_yaml(body)
    else:
        raise errors.new_unsupported_media_type([JSON, YAML, PROTOBUF])
    if not isinstance(obj, dict):
        raise errors.new_bad_request("the request body must be a JSON object")
    result: dict[str, Any] = obj
    return result


def decode_yaml(body: bytes) -> Any:
    try:
        return yaml.load(body, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise errors.new_bad_request(f"error decoding YAML: {exc}") from None
