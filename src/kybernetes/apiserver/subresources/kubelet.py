"""How the API server reaches a node's kubelet: the node's address and port, and a client.

Upstream's API server connects to the kubelet at an address of the pod's Node (InternalIP
first) and ``status.daemonEndpoints.kubeletEndpoint.Port``, authenticating with its own client
certificate; it does not verify the kubelet's serving certificate unless given a CA for it.
``KubeletClient`` does the same; ``address`` may be replaced (``kyb server`` reaches its own
node on loopback).

Invariant: one ``aiohttp`` session for every kubelet, created on first use and closed with the
server; no request to a kubelet is made without the configured client certificate.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from kybernetes.api import errors

ADDRESS_TYPES = ("InternalIP", "Hostname", "ExternalIP")


def node_address(node: Mapping[str, Any]) -> str:
    addresses = (node.get("status") or {}).get("addresses") or []
    for kind in ADDRESS_TYPES:
        for address in addresses:
            if address.get("type") == kind and address.get("address"):
                return str(address["address"])
    raise errors.new_bad_request(f"no preferred addresses found; known addresses: {addresses}")


def node_port(node: Mapping[str, Any]) -> int:
    endpoints = (node.get("status") or {}).get("daemonEndpoints") or {}
    port = (endpoints.get("kubeletEndpoint") or {}).get("Port")
    return int(port) if port else 10250


class KubeletClient:
    """Connections from the API server to kubelets."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None,
        address: Callable[[Mapping[str, Any]], str] = node_address,
    ) -> None:
        #: None: kubelets serve plain HTTP (in-process tests only).
        self.ssl_context = ssl_context
        self.address = address
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.ssl_context or False),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                auto_decompress=False,
            )
        return self._session

    def url(self, node: Mapping[str, Any], path: str, *, websocket: bool = False) -> str:
        host = self.address(node)
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.ssl_context is not None else "http"
        if websocket:
            scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{host}:{node_port(node)}{path}"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def client_context(cert_pem: bytes, key_pem: bytes, ca_pem: bytes | None = None) -> ssl.SSLContext:
    """A TLS client context presenting the API server's kubelet-client certificate.

    With ``ca_pem`` the kubelet's serving certificate is verified against it (upstream's
    ``--kubelet-certificate-authority``); without, it is not, as upstream by default.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_pem is not None:
        ctx.load_verify_locations(cadata=ca_pem.decode("ascii"))
        ctx.check_hostname = False  # kubelets are reached by address; their SANs name them
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with tempfile.TemporaryDirectory(prefix="kyb-kubelet-client-") as tmp:
        cert, key = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
        with open(cert, "wb") as f:
            f.write(cert_pem)
        with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(key_pem)
        ctx.load_cert_chain(cert, key)
    return ctx
