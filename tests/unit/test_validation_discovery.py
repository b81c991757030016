"""Semantic validation of EndpointSlices, with kube-apiserver 1.32's messages."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.defaults import apply_defaults
from kybernetes.api.validation.semantic import validate_object

Obj = dict[str, Any]


def slice_(address_type: str, *addresses: str, **fields: Any) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "web-abc", "namespace": "default"},
        "addressType": address_type,
        "endpoints": [{"addresses": list(addresses)}],
        "ports": [{"port": 80}],
        **fields,
    }


def errors(obj: Obj) -> list[str]:
    apply_defaults("discovery.k8s.io", "v1", "EndpointSlice", obj)
    return [str(e) for e in validate_object("discovery.k8s.io", "EndpointSlice", obj)]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(slice_("IPv4", "10.42.0.7"), [], id="valid"),
        pytest.param(
            slice_("IPv4", "fd00::1"),
            ['endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address'],
            id="family",
        ),
        pytest.param(
            slice_("IPv4"),
            ["endpoints[0].addresses: Required value: must contain at least 1 address"],
            id="no-addresses",
        ),
        pytest.param(
            slice_("IPv5", "1.2.3.4"),
            ['addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"'],
            id="address-type",
        ),
        pytest.param(
            slice_("FQDN", "localhost"),
            [
                'endpoints[0].addresses[0]: Invalid value: "localhost": should be a domain with '
                "at least two segments separated by dots"
            ],
            id="fqdn",
        ),
        pytest.param(
            slice_(
                "IPv4",
                "10.0.0.1",
                ports=[{"port": 80, "name": "http"}, {"port": 81, "name": "http"}],
            ),
            ['ports[1].name: Duplicate value: "http"'],
            id="port-names",
        ),
    ],
)
def test_endpoint_slice(obj: Obj, expected: list[str]) -> None:
    assert errors(obj) == expected


def test_port_defaults() -> None:
    obj = slice_("IPv4", "10.0.0.1")
    errors(obj)
    assert obj["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
