"""The ingress data plane: what serves the requests the controller routes, and which one runs.

Two implement ``DataPlane``: ``BuiltinDataPlane`` (the in-project asyncio proxy, ``builtin``)
and ``NginxDataPlane`` (an nginx child process the controller configures, ``nginx``). The
controller hands either the same compiled ``Snapshot`` and, when Ingresses or Secrets changed,
what the TLS host map is built from; rule semantics stay in ``routes``.

``choose(name)`` resolves the ``--ingress-proxy`` setting: ``auto`` is nginx when its binary is
found (on ``PATH``, else in ``/usr/sbin`` where Debian installs it), else the builtin proxy.
nginx is the default because measured on the same machine it serves several times the requests
per second of the asyncio proxy for small responses (``bench/network.py``, ``docs/network.md``).

Invariant: a data plane sets ``started`` only once it accepts connections on every configured
port, and on leaving ``serve`` (cancelled or failed) it has stopped listening and left nothing
running.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

from kybernetes.network.ingress.proxy import Snapshot
from kybernetes.network.ingress.tls import SecretLookup

log = logging.getLogger(__name__)

AUTO: Final = "auto"
NGINX: Final = "nginx"
BUILTIN: Final = "builtin"
CHOICES: Final = (AUTO, NGINX, BUILTIN)
_SBIN: Final = "/usr/sbin:/sbin"

#: The owned Ingresses and a Secret lookup: what the TLS host map is rebuilt from.
TLSSource = tuple[Sequence[Mapping[str, Any]], SecretLookup]


class DataPlane(Protocol):
    """Serves client connections by the latest snapshot."""

    #: "http"/"https" -> the port actually listened on (filled in before ``started`` is set)
    ports: dict[str, int]

    def update(self, snapshot: Snapshot, tls: TLSSource | None) -> None:
        """Serve by ``snapshot`` from now on; ``tls``: rebuild the certificates too."""

    async def serve(self, started: asyncio.Event) -> None:
        """Listen, set ``started``, and serve until cancelled; then stop and clean up."""


def find_nginx() -> str | None:
    """The nginx binary: on ``PATH``, else where Debian installs it."""
    return shutil.which(NGINX) or shutil.which(NGINX, path=_SBIN)


def choose(name: str) -> tuple[str, str | None]:
    """``(data plane, nginx binary or None)`` for an ``--ingress-proxy`` value, logged once.

    Raises ``FileNotFoundError`` when ``nginx`` is asked for and not installed, and
    ``ValueError`` for a name that is none of ``CHOICES``.
    """
    if name not in CHOICES:
        raise ValueError(f"ingress proxy must be one of {', '.join(CHOICES)}, not {name!r}")
    binary = find_nginx() if name != BUILTIN else None
    if name == NGINX and binary is None:
        raise FileNotFoundError("ingress proxy nginx asked for, but no nginx binary found")
    chosen = NGINX if binary is not None else BUILTIN
    reason = "asked for" if name != AUTO else ("found" if binary else "no nginx binary found")
    log.info("ingress data plane proxy=%s binary=%s reason=%s", chosen, binary or "-", reason)
    return chosen, binary
