"""The kubelet's service-account tokens: requested per pod, cached, refreshed, written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kybernetes.agent.kubelet.volumes.render import File, VolumeError, render_volume
from kybernetes.agent.kubelet.volumes.tokens import TokenManager
from kybernetes.api import errors
from kybernetes.util.clock import FakeClock

Obj = dict[str, Any]
START = 1_800_000_000.0


def _pod(**spec: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "pod-uid"},
        "spec": {
            "serviceAccountName": "robot",
            "containers": [{"name": "c"}],
            "volumes": [
                {
                    "name": "kube-api-access-abcde",
                    "projected": {
                        "defaultMode": 0o644,
                        "sources": [
                            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                            {"serviceAccountToken": {"path": "vault", "audience": "vault"}},
                        ],
                    },
                }
            ],
            **spec,
        },
    }


class API:
    """Answers TokenRequests as the API server would, and records them."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.requests: list[tuple[str, str, Obj]] = []
        self.fail: Exception | None = None

    async def __call__(self, namespace: str, account: str, request: Obj) -> Obj:
        self.requests.append((namespace, account, request))
        if self.fail is not None:
            raise self.fail
        seconds = request["spec"]["expirationSeconds"]
        expires = dt.datetime.fromtimestamp(self.clock.now() + seconds, dt.UTC)
        return {
            **request,
            "status": {
                "token": f"token-{len(self.requests)}",
                "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }


def _setup() -> tuple[FakeClock, API, TokenManager]:
    clock = FakeClock(START)
    api = API(clock)
    return clock, api, TokenManager(api, clock)


def _source(pod: Obj, index: int = 0) -> Obj:
    source: Obj = pod["spec"]["volumes"][0]["projected"]["sources"][index]["serviceAccountToken"]
    return source


async def test_tokens_are_requested_bound_to_the_pod_and_cached() -> None:
    _, api, tokens = _setup()
    pod = _pod()
    await tokens.prepare(pod)
    assert [(ns, sa) for ns, sa, _ in api.requests] == [("ns", "robot"), ("ns", "robot")]
    first, second = (r["spec"] for _, _, r in api.requests)
    bound = {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "pod-uid"}
    assert first == {"expirationSeconds": 3607, "boundObjectRef": bound}
    assert second == {"expirationSeconds": 3600, "boundObjectRef": bound, "audiences": ["vault"]}
    assert tokens.token(pod, _source(pod)) == b"token-1"
    assert tokens.token(pod, _source(pod, 1)) == b"token-2"
    await tokens.prepare(pod)
    assert len(api.requests) == 2  # fresh: nothing asked again


async def test_refresh_after_80_percent_of_the_lifetime() -> None:
    clock, api, tokens = _setup()
    pod = _pod(volumes=[_pod()["spec"]["volumes"][0]])
    pod["spec"]["volumes"][0]["projected"]["sources"] = [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}
    ]
    await tokens.prepare(pod)
    clock.advance(3600 * 0.8 - 11)  # before 80% minus the largest jitter
    await tokens.prepare(pod)
    assert len(api.requests) == 1
    clock.advance(12)
    await tokens.prepare(pod)
    assert len(api.requests) == 2
    assert tokens.token(pod, _source(pod)) == b"token-2"


async def test_refresh_after_a_day_whatever_the_lifetime() -> None:
    clock, api, tokens = _setup()
    pod = _pod()
    pod["spec"]["volumes"][0]["projected"]["sources"] = [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 7 * 24 * 3600}}
    ]
    await tokens.prepare(pod)
    clock.advance(24 * 3600 - 11)
    await tokens.prepare(pod)
    assert len(api.requests) == 1
    clock.advance(12)
    await tokens.prepare(pod)
    assert len(api.requests) == 2


async def test_failures_keep_a_valid_token_and_report_otherwise() -> None:
    clock, api, tokens = _setup()
    pod = _pod()
    api.fail = errors.new_not_found("serviceaccounts", "robot")
    await tokens.prepare(pod)
    with pytest.raises(
        VolumeError, match='failed to fetch token: serviceaccounts "robot" not found'
    ):
        tokens.token(pod, _source(pod))
    api.fail = None
    await tokens.prepare(pod)
    assert tokens.token(pod, _source(pod, 1)) == b"token-4"
    clock.advance(3000)  # due for a refresh, still valid
    api.fail = OSError("connection refused")
    await tokens.prepare(pod)
    assert tokens.token(pod, _source(pod, 1)) == b"token-4"
    clock.advance(700)  # expired now
    await tokens.prepare(pod)
    with pytest.raises(VolumeError, match="connection refused"):
        tokens.token(pod, _source(pod, 1))


async def test_tokens_belong_to_one_pod_and_are_forgotten_with_it() -> None:
    _, _api, tokens = _setup()
    pod = _pod()
    other = _pod()
    other["metadata"] = {**other["metadata"], "uid": "other-uid"}
    await tokens.prepare(pod)
    with pytest.raises(VolumeError, match="not requested"):
        tokens.token(other, _source(other))
    tokens.forget("pod-uid")
    with pytest.raises(VolumeError):
        tokens.token(pod, _source(pod))


async def test_the_token_file_in_the_projected_volume() -> None:
    _, _, tokens = _setup()

    def render(pod: Obj) -> dict[str, File]:
        out = render_volume(
            pod["spec"]["volumes"][0],
            pod,
            configmaps=lambda _ns, _n: None,
            secrets=lambda _ns, _n: None,
            allocatable={},
            tokens=tokens.token,
        )
        assert out is not None
        assert out.skipped == []
        return out.files

    plain = _pod()
    await tokens.prepare(plain)
    assert render(plain)["token"] == File(b"token-1", 0o644)
    # With a common runAsUser or an fsGroup the file is private to them, as upstream.
    as_user = _pod(securityContext={"runAsUser": 1000})
    await tokens.prepare(as_user)
    token = render(as_user)["token"]
    assert (token.mode, token.owner) == (0o600, 1000)
    mixed = _pod(
        securityContext={"fsGroup": 2000},
        containers=[{"name": "a", "securityContext": {"runAsUser": 1}}, {"name": "b"}],
    )
    await tokens.prepare(mixed)
    token = render(mixed)["vault"]
    assert (token.mode, token.owner) == (0o600, None)
