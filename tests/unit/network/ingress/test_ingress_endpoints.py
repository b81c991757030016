"""Backend resolution: Service port by number or name, ready endpoints, terminating fallback."""

from __future__ import annotations

from typing import Any

from kybernetes.network.ingress.endpoints import Address, resolve
from kybernetes.network.ingress.routes import BackendRef

SERVICE = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "ports": [
            {"name": "http", "port": 80, "targetPort": "web"},
            {"name": "admin", "port": 9000, "targetPort": 9090},
        ]
    },
}


def endpoint(ip: str, *, ready: bool, serving: bool, terminating: bool) -> dict[str, Any]:
    conditions = {"ready": ready, "serving": serving, "terminating": terminating}
    return {"addresses": [ip], "conditions": conditions}


def eps(*endpoints: dict[str, Any], port: int = 8080, name: str = "http") -> dict[str, Any]:
    return {
        "addressType": "IPv4",
        "ports": [{"name": name, "port": port, "protocol": "TCP"}],
        "endpoints": list(endpoints),
    }


def test_ready_endpoints_by_number_and_by_name() -> None:
    slices = [
        eps(
            endpoint("10.0.0.1", ready=True, serving=True, terminating=False),
            endpoint("10.0.0.2", ready=False, serving=False, terminating=False),
            endpoint("10.0.0.3", ready=False, serving=True, terminating=True),
        ),
        eps(
            endpoint("10.0.0.4", ready=True, serving=True, terminating=False),
            port=9090,
            name="admin",
        ),
    ]
    by_number = resolve(BackendRef("default", "web", 80), SERVICE, slices)
    assert by_number.addresses == (Address("10.0.0.1", 8080),)
    by_name = resolve(BackendRef("default", "web", "admin"), SERVICE, slices)
    assert by_name.addresses == (Address("10.0.0.4", 9090),)


def test_serving_terminating_only_when_nothing_is_ready() -> None:
    slices = [
        eps(
            endpoint("10.0.0.2", ready=False, serving=False, terminating=True),
            endpoint("10.0.0.3", ready=False, serving=True, terminating=True),
        )
    ]
    upstream = resolve(BackendRef("default", "web", 80), SERVICE, slices)
    assert upstream.addresses == (Address("10.0.0.3", 8080),)


def test_missing_service_port_or_endpoints() -> None:
    ref = BackendRef("default", "web", 81)
    assert resolve(ref, SERVICE, []).reason == "service has no port 81"
    assert resolve(ref, None, []).reason == "service not found"
    assert resolve(BackendRef("default", "web", 80), SERVICE, []).reason == "no ready endpoints"


def test_round_robin_visits_every_endpoint_once_per_turn() -> None:
    slices = [
        eps(
            *(
                endpoint(f"10.0.0.{i}", ready=True, serving=True, terminating=False)
                for i in (1, 2, 3)
            )
        )
    ]
    upstream = resolve(BackendRef("default", "web", 80), SERVICE, slices)
    firsts = [upstream.candidates()[0] for _ in range(6)]
    assert sorted(firsts) == sorted(upstream.addresses * 2)
    assert sorted(upstream.candidates()) == sorted(upstream.addresses)
