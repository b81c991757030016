"""A minimal HTTP/1.1 message parser for the ingress proxy: heads, framing, hop-by-hop headers.

The proxy forwards bytes; it only needs to know where a message's head ends, which header lines
to keep, and how its body is framed (RFC 7230 §3.3.3). This module parses a head already read up
to its blank line into a start line plus ``Header``s (lower-case name, value, the raw line that
is forwarded unchanged), and answers the framing question for requests and responses.

Requests are parsed strictly, as nginx does, because a proxy that reads framing differently from
its backend invites request smuggling: a request with both ``Transfer-Encoding`` and
``Content-Length``, conflicting lengths, a transfer coding other than a final ``chunked``, header
folding or whitespace before a colon is rejected with 400.

Invariant: pure functions on bytes; no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache
from http import HTTPStatus
from typing import Final

CRLF: Final = b"\r\n"
HEAD_END: Final = b"\r\n\r\n"

# RFC 7230 §6.1 plus the de-facto ones every proxy drops. Headers named in Connection go too.
HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"transfer-encoding",
        b"upgrade",
    }
)
IDEMPOTENT: Final = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})


class HTTPError(Exception):
    """A message this proxy will not forward; ``status`` is what the client is told."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# (lower-case name, value without surrounding whitespace, the raw line forwarded unchanged);
# a plain tuple, as a named one costs measurably more per header on the hot path.
Header = tuple[bytes, bytes, bytes]


class Framing(Enum):
    NONE = "none"
    LENGTH = "length"
    CHUNKED = "chunked"
    UNTIL_CLOSE = "until-close"


@dataclass(slots=True)
class Head:
    """A parsed start line and header block (request or response)."""

    start: bytes
    version: bytes  # b"HTTP/1.1"
    headers: list[Header]
    connection: set[bytes]  # the tokens of every Connection header, lower-case
    method: bytes = b""  # requests
    target: bytes = b""  # requests
    status: int = 0  # responses

    def get(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lower-case), if present."""
        for header in self.headers:
            if header[0] == name:
                return header[1]
        return None

    def tokens(self, name: bytes) -> set[bytes]:
        """The comma-separated tokens of every ``name`` header, lower-cased."""
        out: set[bytes] = set()
        for header in self.headers:
            if header[0] == name:
                out.update(_tokens(header[1]))
        return out

    @property
    def http11(self) -> bool:
        return self.version == b"HTTP/1.1"

    def keep_alive(self) -> bool:
        """Whether the sender expects the connection to stay open after this message."""
        if self.http11:
            return b"close" not in self.connection
        return b"keep-alive" in self.connection


def _tokens(value: bytes) -> list[bytes]:
    return [t.strip().lower() for t in value.split(b",") if t.strip()]


def _headers(lines: list[bytes], strict: bool) -> tuple[list[Header], set[bytes]]:
    headers: list[Header] = []
    connection: set[bytes] = set()
    for line in lines:
        colon = line.find(b":")
        if colon <= 0:
            raise HTTPError(400, "malformed header line")
        name = line[:colon]
        if strict and (name[-1] in b" \t" or line[0] in b" \t"):
            raise HTTPError(400, "whitespace in header name or obsolete line folding")
        name = name.strip().lower()
        value = line[colon + 1 :].strip(b" \t")
        if name == b"connection":
            connection.update(_tokens(value))
        headers.append((name, value, line))
    return headers, connection


def parse_request(data: bytes) -> Head:
    """Parse a request head (``data`` ends with the blank line)."""
    lines = data[: -len(HEAD_END)].split(CRLF)
    # RFC 7230 §3.5: ignore empty lines before the request line.
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        raise HTTPError(400, "empty request")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise HTTPError(400, "malformed request line")
    method, target, version = parts
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise HTTPError(505, "HTTP version not supported")
    headers, connection = _headers(lines[1:], strict=True)
    return Head(lines[0], version, headers, connection, method=method, target=target)


def parse_response(data: bytes) -> Head:
    """Parse a response head from a backend (``data`` ends with the blank line)."""
    lines = data[: -len(HEAD_END)].split(CRLF)
    version, _, rest = lines[0].partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise HTTPError(502, "malformed response line from the backend")
    headers, connection = _headers(lines[1:], strict=False)
    return Head(lines[0], version, headers, connection, status=int(code))


def _content_length(head: Head) -> int | None:
    values = {h[1] for h in head.headers if h[0] == b"content-length"}
    if not values:
        return None
    if len(values) > 1:
        raise HTTPError(400, "conflicting Content-Length")
    value = values.pop()
    if not value.isdigit():
        raise HTTPError(400, "malformed Content-Length")
    return int(value)


def _chunked_last(head: Head) -> bool | None:
    """None without Transfer-Encoding; else whether its final coding is chunked."""
    codings = [
        token for h in head.headers if h[0] == b"transfer-encoding" for token in _tokens(h[1])
    ]
    if not codings:
        return None
    return codings[-1] == b"chunked"


def request_framing(head: Head) -> tuple[Framing, int]:
    """How the request body is delimited: ``(framing, length)`` (length for LENGTH only)."""
    chunked = _chunked_last(head)
    length = _content_length(head)
    if chunked is not None:
        if length is not None:
            raise HTTPError(400, "both Transfer-Encoding and Content-Length")
        if not chunked or not head.http11:
            raise HTTPError(400, "unsupported Transfer-Encoding")
        return Framing.CHUNKED, 0
    if length:
        return Framing.LENGTH, length
    return Framing.NONE, 0


def response_framing(head: Head, request_method: bytes) -> tuple[Framing, int]:
    """How a backend's response body is delimited (RFC 7230 §3.3.3)."""
    status = head.status
    if request_method == b"HEAD" or status < 200 or status in (204, 304):
        return Framing.NONE, 0
    chunked = _chunked_last(head)
    if chunked is not None:
        return (Framing.CHUNKED, 0) if chunked else (Framing.UNTIL_CLOSE, 0)
    try:
        length = _content_length(head)
    except HTTPError as exc:
        raise HTTPError(502, f"backend sent {exc}") from exc
    if length is None:
        return Framing.UNTIL_CLOSE, 0
    return (Framing.LENGTH, length) if length else (Framing.NONE, 0)


def forwarded_lines(head: Head, drop: frozenset[bytes] = HOP_BY_HOP) -> list[bytes]:
    """The raw header lines to pass on: all but those in ``drop`` (a superset of the hop-by-hop
    headers) and those the Connection header names."""
    skip = drop | head.connection if head.connection else drop
    return [h[2] for h in head.headers if h[0] not in skip]


def serialize(start: bytes, lines: list[bytes]) -> bytes:
    """A message head from its start line and header lines."""
    return CRLF.join((start, *lines)) + HEAD_END


def route_key(head: Head) -> tuple[str, str, bytes]:
    """``(host, path, target)``: the lower-case host without port or trailing dot and the path
    without query, for routing, and the origin-form target to forward. An absolute-form
    target's authority wins over ``Host`` (RFC 7230 §5.4).
    """
    target = head.target
    authority = head.get(b"host") or b""
    if target[:1] != b"/" and b"://" in target:
        _, _, rest = target.partition(b"://")
        authority, slash, path = rest.partition(b"/")
        target = slash + path if slash else b"/"
    path = target.partition(b"?")[0].partition(b"#")[0] or b"/"
    host = authority.lower()
    if host.startswith(b"["):
        host = host[: host.find(b"]") + 1]
    else:
        host = host.partition(b":")[0]
    return host.rstrip(b".").decode("latin-1"), path.decode("latin-1"), target


@cache
def error_response(status: int, keep: bool, head_only: bool = False) -> bytes:
    """A complete response carrying a small HTML error page in the style of nginx's."""
    phrase = HTTPStatus(status).phrase
    body = (
        f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>kybernetes</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/html\r\n"
        f"Content-Length: {len(body)}\r\nConnection: {'keep-alive' if keep else 'close'}\r\n\r\n"
    ).encode()
    return head if head_only else head + body
