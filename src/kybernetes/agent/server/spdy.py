"""SPDY/3.1 framing: as much of the protocol as ``kubectl port-forward`` needs.

kubectl 1.32 tunnels a SPDY/3.1 byte stream in WebSocket binary messages
(``SPDY/3.1+portforward.k8s.io``). This module is the codec only: ``FrameReader`` cuts the
byte stream into frames (message boundaries mean nothing to it), ``HeaderCodec`` packs and
unpacks name/value header blocks, and the ``*_frame`` functions build the frames a server
sends. Control frames: ``0x8003``, type (16 bits), flags (8), length (24), payload; data
frames: stream id (31 bits), flags (8), length (24), payload.

Invariant: header blocks are zlib-compressed with the fixed SPDY/3 dictionary and one
compression context per direction for the whole connection (``Z_SYNC_FLUSH`` after each
block), so a ``HeaderCodec`` belongs to exactly one connection.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Final

SYN_STREAM: Final = 1
SYN_REPLY: Final = 2
RST_STREAM: Final = 3
SETTINGS: Final = 4
PING: Final = 6
GOAWAY: Final = 7
HEADERS: Final = 8
WINDOW_UPDATE: Final = 9

FLAG_FIN: Final = 0x01
VERSION: Final = 3
#: RST_STREAM status codes.
PROTOCOL_ERROR: Final = 1
CANCEL: Final = 5

# The SPDY/3 header dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1): the length-prefixed
# words below, then the raw text after them; 1423 bytes in all.
_WORDS: Final = (
    *[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
    ],
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
)
_TAIL: Final = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, "
    "Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY: Final = (
    b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()
)


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3."""


@dataclass(frozen=True, slots=True)
class ControlFrame:
    type: int
    flags: int
    data: bytes

    @property
    def stream_id(self) -> int:
        """The stream a SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS or WINDOW_UPDATE is about."""
        return int.from_bytes(self.data[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True, slots=True)
class DataFrame:
    stream_id: int
    flags: int
    data: bytes

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


Frame = ControlFrame | DataFrame


class FrameReader:
    """Buffers bytes as they come and yields every complete frame."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                break
            head = bytes(self._buffer[:8])
            payload = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            flags = head[4]
            if head[0] & 0x80:
                version = int.from_bytes(head[:2], "big") & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                frames.append(ControlFrame(int.from_bytes(head[2:4], "big"), flags, payload))
            else:
                frames.append(DataFrame(int.from_bytes(head[:4], "big"), flags, payload))
        return frames


class HeaderCodec:
    """Header blocks of one connection: one zlib context per direction."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    def decode(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as exc:
            raise ProtocolError(f"bad header block: {exc}") from None
        if len(raw) < 4:
            raise ProtocolError("short header block")
        count = int.from_bytes(raw[:4], "big")
        pos, headers = 4, {}
        for _ in range(count):
            name, pos = _string(raw, pos)
            value, pos = _string(raw, pos)
            headers[name.lower()] = value
        return headers

    def encode(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            for text in (name.lower(), value):
                encoded = text.encode()
                raw += struct.pack(">I", len(encoded)) + encoded
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)


def _string(raw: bytes, pos: int) -> tuple[str, int]:
    if pos + 4 > len(raw):
        raise ProtocolError("truncated header block")
    size = int.from_bytes(raw[pos : pos + 4], "big")
    end = pos + 4 + size
    if end > len(raw):
        raise ProtocolError("truncated header block")
    return raw[pos + 4 : end].decode(errors="replace"), end


def syn_stream_block(frame: ControlFrame) -> bytes:
    """The header block of a SYN_STREAM (after stream id, associated id, priority, slot)."""
    return frame.data[10:]


def control_frame(type_: int, flags: int, payload: bytes) -> bytes:
    head = struct.pack(">HHI", 0x8000 | VERSION, type_, (flags << 24) | len(payload))
    return head + payload


def data_frame(stream_id: int, data: bytes, *, fin: bool = False) -> bytes:
    flags = FLAG_FIN if fin else 0
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


def syn_reply_frame(stream_id: int, block: bytes) -> bytes:
    return control_frame(SYN_REPLY, 0, struct.pack(">I", stream_id) + block)


def syn_stream_frame(stream_id: int, block: bytes, *, fin: bool = False) -> bytes:
    """A SYN_STREAM (for tests and clients): no associated stream, priority 0."""
    payload = struct.pack(">IIH", stream_id, 0, 0) + block
    return control_frame(SYN_STREAM, FLAG_FIN if fin else 0, payload)


def rst_stream_frame(stream_id: int, status: int = CANCEL) -> bytes:
    return control_frame(RST_STREAM, 0, struct.pack(">II", stream_id, status))


def goaway_frame(last_stream_id: int, status: int = 0) -> bytes:
    return control_frame(GOAWAY, 0, struct.pack(">II", last_stream_id, status))
