"""The ingress controller: networking.k8s.io/v1 Ingress served by nginx or an in-project proxy.

``run_ingress(client, IngressConfig(...))`` is the entry point; ``ensure_default_class`` creates
the default ``kybernetes`` IngressClass. Modules, bottom up: ``routes`` (host and path matching),
``endpoints`` (Service port to ready endpoint addresses), ``tls`` (certificates by host),
``http1`` (message parsing and framing), ``relay`` (bodies and tunnels), ``pool`` (backend
keep-alive), ``proxy`` (the asyncio data path), ``dataplane`` (the data plane interface and
which one runs), ``builtin`` (the asyncio proxy as a data plane), ``nginxconf`` (nginx.conf from
a snapshot), ``nginxproc`` (the nginx process), ``nginx`` (nginx as a data plane),
``controller`` (informers, snapshots, status).
"""

from kybernetes.network.ingress.controller import (
    CLASS_NAME,
    CONTROLLER_NAME,
    IngressConfig,
    IngressController,
    ensure_default_class,
    run_ingress,
)
from kybernetes.network.ingress.dataplane import CHOICES as PROXY_CHOICES
from kybernetes.network.ingress.proxy import Timeouts

__all__ = [
    "CLASS_NAME",
    "CONTROLLER_NAME",
    "PROXY_CHOICES",
    "IngressConfig",
    "IngressController",
    "Timeouts",
    "ensure_default_class",
    "run_ingress",
]
