"""The resource metrics API (``metrics.k8s.io/v1beta1``), served by the API server itself.

Upstream, metrics-server scrapes every kubelet's summary and serves NodeMetrics and PodMetrics
as an aggregated API. Here the direction is reversed and the aggregation removed: each agent
*pushes* its node's summary (``PUT /apis/metrics.k8s.io/v1beta1/nodes/<node>/summary``) every
resolution interval, and the API server answers ``kubectl top`` and the HPA controller from the
latest summary per node. Pushing keeps DESIGN.md §1 (components only talk to the API; the API
server never dials a node, so simulated nodes without any HTTP server work the same) and needs
no credentials for the kubelet's port.

Invariant: what is served is only ever derived from the newest summary of each node, filtered
to the nodes and pods (same uid) that exist in the API now; nothing is stored durably (usage is
ephemeral, as in metrics-server), so with several API servers each serves what its agents
pushed to it.
"""

from kybernetes.apiserver.metrics.api import METRICS_GROUP, METRICS_RESOURCES, ResourceMetricsAPI
from kybernetes.apiserver.metrics.summaries import SummaryStore

__all__ = ["METRICS_GROUP", "METRICS_RESOURCES", "ResourceMetricsAPI", "SummaryStore"]
