"""The ingress proxy's HTTP/1.1 parsing: framing, hop-by-hop headers, smuggling refusals."""

from __future__ import annotations

import pytest

from kybernetes.network.ingress.http1 import (
    Framing,
    HTTPError,
    forwarded_lines,
    parse_request,
    parse_response,
    request_framing,
    response_framing,
    route_key,
)


def request(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_parse_request_and_route_key() -> None:
    head = parse_request(request("GET /a/b?x=1 HTTP/1.1", "Host: Foo.Test:8080", "Accept: */*"))
    assert head.method == b"GET"
    assert head.keep_alive()
    assert route_key(head) == ("foo.test", "/a/b", b"/a/b?x=1")


def test_absolute_form_target_wins_over_host() -> None:
    head = parse_request(request("GET http://a.test/x?q HTTP/1.1", "Host: b.test"))
    assert route_key(head) == ("a.test", "/x", b"/x?q")


def test_http10_keep_alive_only_when_asked() -> None:
    assert not parse_request(request("GET / HTTP/1.0")).keep_alive()
    assert parse_request(request("GET / HTTP/1.0", "Connection: Keep-Alive")).keep_alive()
    assert not parse_request(request("GET / HTTP/1.1", "Connection: close")).keep_alive()


@pytest.mark.parametrize(
    ("lines", "framing"),
    [
        (["POST / HTTP/1.1", "Host: h"], (Framing.NONE, 0)),
        (["POST / HTTP/1.1", "Content-Length: 5"], (Framing.LENGTH, 5)),
        (["POST / HTTP/1.1", "Content-Length: 5", "Content-Length: 5"], (Framing.LENGTH, 5)),
        (["POST / HTTP/1.1", "Transfer-Encoding: gzip, chunked"], (Framing.CHUNKED, 0)),
    ],
)
def test_request_framing(lines: list[str], framing: tuple[Framing, int]) -> None:
    assert request_framing(parse_request(request(*lines))) == framing


@pytest.mark.parametrize(
    "lines",
    [
        ["POST / HTTP/1.1", "Content-Length: 5", "Transfer-Encoding: chunked"],
        ["POST / HTTP/1.1", "Content-Length: 5", "Content-Length: 6"],
        ["POST / HTTP/1.1", "Content-Length: -1"],
        ["POST / HTTP/1.1", "Transfer-Encoding: chunked, gzip"],
        ["POST / HTTP/1.1", "Content-Length : 5"],
        ["POST / HTTP/1.1", "X-A: 1", " folded"],
        ["GET /"],
        ["GET / HTTP/2.0"],
    ],
)
def test_requests_that_are_refused(lines: list[str]) -> None:
    with pytest.raises(HTTPError):
        request_framing(parse_request(request(*lines)))


def test_response_framing() -> None:
    ok = parse_response(request("HTTP/1.1 200 OK", "Content-Length: 3"))
    assert response_framing(ok, b"GET") == (Framing.LENGTH, 3)
    assert response_framing(ok, b"HEAD") == (Framing.NONE, 0)
    chunked = parse_response(request("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"))
    assert response_framing(chunked, b"GET") == (Framing.CHUNKED, 0)
    bare = parse_response(request("HTTP/1.1 200 OK"))
    assert response_framing(bare, b"GET") == (Framing.UNTIL_CLOSE, 0)
    empty = parse_response(request("HTTP/1.1 304 Not Modified", "Content-Length: 10"))
    assert response_framing(empty, b"GET") == (Framing.NONE, 0)


def test_hop_by_hop_headers_are_dropped() -> None:
    head = parse_request(
        request(
            "GET / HTTP/1.1",
            "Host: h",
            "Connection: keep-alive, X-Secret",
            "Keep-Alive: timeout=5",
            "X-Secret: 1",
            "TE: trailers",
            "Proxy-Authorization: basic x",
            "Accept: text/html",
        )
    )
    assert forwarded_lines(head) == [b"Host: h", b"Accept: text/html"]
