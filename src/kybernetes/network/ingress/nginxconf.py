"""The nginx data plane's configuration: a complete ``nginx.conf`` rendered from a ``Snapshot``.

``render(snapshot, certificates, settings)`` is a pure function of the route table and resolved
upstreams the in-project proxy routes by, so rule semantics live in ``routes`` alone and nginx
is told the outcome of them:

- One ``server`` per host name a rule or a TLS entry names, listening on the HTTP and HTTPS
  ports; a ``*.suffix`` host becomes a regular expression matching exactly one more label (nginx's
  own ``*.suffix`` would also match deeper names). nginx prefers an exact server name to a
  regular expression, as ``RouteTable.rules_for_host`` prefers an exact host to a wildcard. The
  ``default_server`` takes every other host: the rules without a host.
- A server's locations come from ``rules_for_host(name)`` in the table's order: ``Exact /p`` is
  ``location = /p``; ``Prefix /p`` (and ``ImplementationSpecific``) is ``location = /p`` plus
  ``location /p/`` — nginx's longest-prefix choice then matches whole path elements, as the
  table does, and its exact locations win as ``Exact`` does. When two rules give the same
  location the one first in the table's order (the one the table would pick) keeps it.
- ``location /``, unless a rule gave it, answers with the default backend, else 404.
- A backend with ready endpoints is an ``upstream`` of their addresses (round robin, a pool of
  keep-alive connections, ``max_fails=0`` as in ingress-nginx, so a refusing endpoint is tried
  again next time rather than the whole upstream failing); one without (or a resource backend)
  is ``return 503``.
- Requests carry ``X-Forwarded-For``/``-Host``/``-Port``/``-Proto``/``-Scheme`` and
  ``X-Real-IP`` set as the in-project proxy sets them (the client's address replaces any it
  sent), go upstream over HTTP/1.1 with ``Upgrade``/``Connection`` passed through for WebSocket,
  and move on to the next endpoint on a connect error or timeout (``proxy_next_upstream``, at
  most 3 tries as in ingress-nginx; nginx never re-sends a non-idempotent request).
- Bodies stream both ways (no request or response buffering, no body size limit), as in the
  in-project proxy; nginx therefore never writes temporary files.
- TLS: each server presents its host's certificate (``HostCertificates.lookup``); the default
  server and hosts without one present the fake certificate.

Invariant: every string from the API that reaches the file is either checked against a strict
pattern (host names) or quoted with nginx's escapes (paths); a name or path that cannot be
written safely is left out and logged, never written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kybernetes.network.ingress.endpoints import RANDOM, Upstream
from kybernetes.network.ingress.proxy import Snapshot, Timeouts
from kybernetes.network.ingress.routes import BackendRef, PathRule
from kybernetes.network.ingress.tls import HostCertificates

log = logging.getLogger(__name__)

NEXT_UPSTREAM_TRIES: Final = 3  # ingress-nginx's proxy-next-upstream-tries
UPSTREAM_KEEPALIVE: Final = 320  # ingress-nginx's upstream-keepalive-connections
UPSTREAM_KEEPALIVE_REQUESTS: Final = 10000
WORKER_SHUTDOWN_TIMEOUT: Final = 240  # seconds old workers keep tunnels after a reload
_HOST: Final = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
_UNQUOTABLE: Final = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything about the file that does not come from the cluster."""

    bind_address: str
    http_port: int | None
    https_port: int | None
    pid_file: Path
    temp_dir: Path  # nginx's five temporary paths go below it (unused: nothing is buffered)
    default_certificate: Path | None  # the fake certificate (cert and key in one file)
    workers: int
    worker_connections: int
    user: str | None  # "user group" for workers when the master runs as root
    balance: str  # endpoints.ROUND_ROBIN or endpoints.RANDOM
    timeouts: Timeouts


def render(
    snapshot: Snapshot, certificates: HostCertificates[Path] | None, settings: Settings
) -> str:
    """The whole ``nginx.conf`` for ``snapshot``."""
    table, upstreams = snapshot.table, snapshot.upstreams
    live = {ref: up for ref, up in upstreams.items() if up.addresses}
    names = {ref: upstream_name(ref) for ref in live}
    tls = settings.https_port is not None
    hosts = set(table.hosts()) | (certificates.hosts() if tls and certificates else set())
    out = _head(settings)
    for ref in sorted(live):
        out += _upstream(names[ref], live[ref], settings.balance)
    default_action = _action(table.default, names, "return 404;")
    out += _server(
        "", table.rules_for_host(""), default_action, names, settings.default_certificate, settings
    )
    for host in sorted(hosts):
        if not _HOST.fullmatch(host):
            log.warning("ingress host not valid for nginx, left out host=%r", host)
            continue
        cert = (certificates.lookup(host) if certificates else None) or (
            settings.default_certificate
        )
        out += _server(host, table.rules_for_host(host), default_action, names, cert, settings)
    return out + "}\n"


def upstream_name(ref: BackendRef) -> str:
    """``namespace_service_port``: unambiguous, since none of the parts may contain ``_``."""
    return f"{ref.namespace}_{ref.service}_{ref.port}"


def _head(s: Settings) -> str:
    t = s.timeouts
    temp = s.temp_dir
    user = f"user {s.user};\n" if s.user else ""
    return f"""# Written by the kybernetes ingress controller; every change is overwritten.
{user}worker_processes {s.workers};
worker_shutdown_timeout {WORKER_SHUTDOWN_TIMEOUT}s;
pid {_quote(str(s.pid_file))};
error_log stderr error;
events {{
    worker_connections {s.worker_connections};
}}
http {{
    access_log off;
    server_tokens off;
    server_names_hash_bucket_size 256;
    server_names_hash_max_size 8192;
    client_body_temp_path {_quote(str(temp / "body"))};
    proxy_temp_path {_quote(str(temp / "proxy"))};
    fastcgi_temp_path {_quote(str(temp / "fastcgi"))};
    uwsgi_temp_path {_quote(str(temp / "uwsgi"))};
    scgi_temp_path {_quote(str(temp / "scgi"))};
    client_header_timeout {_ms(t.header)};
    client_body_timeout {_ms(t.read)};
    send_timeout {_ms(t.read)};
    keepalive_timeout {_ms(t.keepalive)};
    client_max_body_size 0;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:kyb_ssl:10m;
    map $http_host $kyb_host {{
        "" $host;
        default $http_host;
    }}
    map $http_upgrade $kyb_connection {{
        "" "";
        default upgrade;
    }}
    proxy_http_version 1.1;
    proxy_set_header Host $kyb_host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Host $kyb_host;
    proxy_set_header X-Forwarded-Port $server_port;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Scheme $scheme;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $kyb_connection;
    proxy_connect_timeout {_ms(t.connect)};
    proxy_read_timeout {_ms(t.read)};
    proxy_send_timeout {_ms(t.read)};
    proxy_next_upstream error timeout;
    proxy_next_upstream_tries {NEXT_UPSTREAM_TRIES};
    proxy_buffering off;
    proxy_request_buffering off;
    proxy_max_temp_file_size 0;
"""


def _upstream(name: str, upstream: Upstream, balance: str) -> str:
    servers = "".join(f"        server {a} max_fails=0;\n" for a in upstream.addresses)
    method = "        random;\n" if balance == RANDOM else ""  # before keepalive, as nginx asks
    return (
        f"    upstream {name} {{\n{servers}{method}"
        f"        keepalive {UPSTREAM_KEEPALIVE};\n"
        f"        keepalive_requests {UPSTREAM_KEEPALIVE_REQUESTS};\n"
        "    }\n"
    )


def _server(
    host: str,
    rules: Iterable[PathRule] | None,
    default_action: str,
    names: dict[BackendRef, str],
    certificate: Path | None,
    s: Settings,
) -> str:
    default = "" if host else " default_server"
    backlog = " backlog=1024" if not host else ""
    lines = []
    if s.http_port is not None:
        lines.append(f"listen {_listen(s.bind_address, s.http_port)}{default}{backlog};")
    if s.https_port is not None:
        lines.append(f"listen {_listen(s.bind_address, s.https_port)} ssl{default}{backlog};")
        if certificate is not None:
            cert = _quote(str(certificate))
            lines += [f"ssl_certificate {cert};", f"ssl_certificate_key {cert};"]
    lines.append(f"server_name {_server_name(host)};")
    locations: dict[tuple[bool, str], str] = {}  # (exact, path) -> action
    for rule in rules or ():
        action = _action(rule.backend, names, "return 503;")
        for location in _locations(rule):
            if _UNQUOTABLE.search(location[1]):
                log.warning("ingress path not valid for nginx, left out path=%r", rule.path)
                break
            locations.setdefault(location, action)
    locations.setdefault((False, "/"), default_action)
    for (exact, path), action in locations.items():
        modifier = "= " if exact else ""
        lines.append(f"location {modifier}{_quote(path)} {{ {action} }}")
    body = "".join(f"        {line}\n" for line in lines)
    return f"    server {{\n{body}    }}\n"


def _locations(rule: PathRule) -> tuple[tuple[bool, str], ...]:
    """nginx locations for one rule, as ``(exact, path)``."""
    if rule.exact:
        return ((True, rule.path),)
    if not rule.segments:
        return ((False, "/"),)
    base = "/" + "/".join(rule.segments)
    return ((True, base), (False, f"{base}/"))


def _action(backend: BackendRef | None, names: dict[BackendRef, str], missing: str) -> str:
    """``missing`` answers when there is no backend: 404 for no route, 503 for a rule whose
    backend this controller cannot serve."""
    if backend is None:
        return missing
    name = names.get(backend)
    return f"proxy_pass http://{name};" if name is not None else "return 503;"


def _server_name(host: str) -> str:
    if not host:
        return '""'
    if host.startswith("*."):
        return _quote("~^[^.]+" + re.escape("." + host[2:]) + "$")
    return host


def _listen(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _quote(text: str) -> str:
    """A double-quoted nginx string: backslashes and quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"
