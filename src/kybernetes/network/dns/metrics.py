"""Prometheus metrics of the cluster DNS server (served on the kube-dns ``metrics`` port).

Names follow CoreDNS's where one exists (``dns_requests_total``, ``dns_responses_total``,
``cache_hits_total``, ``forward_requests_total``) under the ``kybernetes_dns`` prefix.
Children for the fixed label values are bound once here, so the hot path only increments.

Invariant: every request counted in ``requests`` is counted once more in ``responses`` (by
rcode) unless the server dropped it (malformed header, overload).
"""

from __future__ import annotations

from typing import Final

from dnslib import RCODE
from prometheus_client import Counter

REQUESTS: Final = Counter("kybernetes_dns_requests_total", "DNS requests received.", ["proto"])
RESPONSES: Final = Counter("kybernetes_dns_responses_total", "DNS responses sent.", ["rcode"])
CACHE_HITS: Final = Counter("kybernetes_dns_cache_hits_total", "Answers from a cache.", ["cache"])
FORWARDS: Final = Counter(
    "kybernetes_dns_forward_requests_total", "Queries forwarded upstream.", ["outcome"]
)

UDP_REQUESTS: Final = REQUESTS.labels("udp")
TCP_REQUESTS: Final = REQUESTS.labels("tcp")
WIRE_HITS: Final = CACHE_HITS.labels("cluster")
FORWARD_HITS: Final = CACHE_HITS.labels("forward")
_BY_RCODE: Final = {code: RESPONSES.labels(str(RCODE.get(code))) for code in range(16)}


def response(rcode: int) -> None:
    counter = _BY_RCODE.get(rcode)
    if counter is not None:
        counter.inc()
