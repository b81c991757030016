"""WWW-Authenticate parsing and token responses."""

from __future__ import annotations

import pytest

from kybernetes.agent.images.auth import TokenCache, parse_challenges, token_from_response


def test_bearer_challenge() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull"'
    )
    [challenge] = parse_challenges(header)
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.docker.io/token"
    assert challenge.params["service"] == "registry.docker.io"
    assert challenge.params["scope"] == "repository:library/busybox:pull"


def test_scope_with_comma_and_several_challenges() -> None:
    header = 'Basic realm="x y", Bearer realm="http://h/t",scope="repository:a:pull,push",error=x'
    basic, bearer = parse_challenges(header)
    assert (basic.scheme, basic.realm) == ("basic", "x y")
    assert bearer.params["scope"] == "repository:a:pull,push"
    assert bearer.params["error"] == "x"


def test_escaped_quotes() -> None:
    [challenge] = parse_challenges(r'Basic realm="a \"quoted\" realm"')
    assert challenge.realm == 'a "quoted" realm'


def test_token_from_response() -> None:
    assert token_from_response({"token": "t", "expires_in": 300}) == ("t", 300.0)
    assert token_from_response({"access_token": "a"}) == ("a", 60.0)
    with pytest.raises(ValueError, match="without a token"):
        token_from_response({"expires_in": 3})


def test_token_cache_expiry() -> None:
    cache = TokenCache()
    key = ("h", "", "repository:a:pull", "")
    cache.put(key, "Bearer t", 300)
    assert cache.get(key) == "Bearer t"
    cache.put(key, "Bearer t", -5)  # expires (almost) at once
    assert cache.get(("h", "", "repository:b:pull", "")) is None
