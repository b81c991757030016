"""Pod networking as the runtime sees it: give a sandbox a network namespace and an address.

``setup(sandbox_id, config)`` creates the pod's network namespace (``/run/netns/<name>``), a veth
pair with one end on the node bridge and the other as the pod's ``eth0`` with an address from
the node's pod CIDR, a default route via the bridge, ``lo`` up, and any hostPort mappings;
it returns the namespace path and the pod IP. ``teardown`` removes all of it and releases the
address. ``restore`` re-reads the allocations of sandboxes that already exist when the agent
restarts, so no address is handed out twice.

Invariants: an address is allocated to at most one sandbox; ``teardown`` of an unknown or
already torn-down sandbox is not an error; nothing created by ``setup`` is left on the host
after ``teardown``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kybernetes.agent.runtime.interface import PortMapping


class NetworkError(Exception):
    """The pod network could not be set up or torn down (the message says why)."""


@dataclass(frozen=True)
class PodNetwork:
    netns_path: str
    ip: str
    gateway: str
    prefix_length: int


class NetworkPlugin(Protocol):
    async def setup(
        self, sandbox_id: str, name: str, namespace: str, ports: Sequence[PortMapping]
    ) -> PodNetwork: ...

    async def teardown(self, sandbox_id: str) -> None: ...

    async def restore(self, sandbox_ids: Sequence[str]) -> None: ...
