"""The ingress controller: networking.k8s.io/v1 Ingress served by an in-project HTTP/1.1 proxy.

``run_ingress(client, IngressConfig(...))`` is the entry point; ``ensure_default_class`` creates
the default ``kybernetes`` IngressClass. Modules, bottom up: ``routes`` (host and path matching),
``endpoints`` (Service port to ready endpoint addresses), ``http1`` (message parsing and framing),
``relay`` (bodies and tunnels), ``pool`` (backend keep-alive), ``tls`` (SNI certificates),
``proxy`` (the data path), ``controller`` (informers, snapshots, status, listeners).
"""

from kybernetes.network.ingress.controller import (
    CLASS_NAME,
    CONTROLLER_NAME,
    IngressConfig,
    IngressController,
    ensure_default_class,
    run_ingress,
)
from kybernetes.network.ingress.proxy import Timeouts

__all__ = [
    "CLASS_NAME",
    "CONTROLLER_NAME",
    "IngressConfig",
    "IngressController",
    "Timeouts",
    "ensure_default_class",
    "run_ingress",
]
