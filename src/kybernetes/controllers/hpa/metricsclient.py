"""Reading pod usage from ``metrics.k8s.io`` for the HPA (upstream's resource metrics client).

``pod_metrics`` lists the PodMetrics of the pods a selector matches and returns, per pod, the
sum over its containers (or the one named container) of one resource, in milli units, with
the sample's timestamp and window.

Invariant: a pod with a container that lacks the resource is left out (it counts as
*missing* in the replica calculation), never counted as zero.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from kybernetes.api import errors
from kybernetes.api.meta import parse_time
from kybernetes.api.quantity import QuantityError, parse_quantity
from kybernetes.client.rest import Client
from kybernetes.controllers.hpa.replicas import PodMetric, ReplicaCalcError

PODS_PATH = "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"


def _window(text: object) -> float:
    if isinstance(text, str) and text.endswith("s"):
        try:
            return float(text[:-1])
        except ValueError:
            pass
    return 0.0


def parse_pod_metrics(
    items: list[dict[str, Any]], resource: str, container: str = ""
) -> dict[str, PodMetric]:
    out: dict[str, PodMetric] = {}
    for item in items:
        total = 0
        missing = False
        for c in item.get("containers") or ():
            if container and c.get("name") != container:
                continue
            value = (c.get("usage") or {}).get(resource)
            if not isinstance(value, str | int):
                missing = True
                break
            try:
                total += parse_quantity(value).milli_value()
            except (QuantityError, TypeError, ValueError):
                missing = True
                break
        if missing:
            continue
        try:
            stamp = parse_time(str(item.get("timestamp"))).timestamp()
        except ValueError:
            continue
        out[str(item["metadata"]["name"])] = PodMetric(total, stamp, _window(item.get("window")))
    return out


async def pod_metrics(
    client: Client, namespace: str, selector: str, resource: str, container: str = ""
) -> dict[str, PodMetric]:
    try:
        listed = await client.request(
            "GET", PODS_PATH.format(namespace=namespace), query={"labelSelector": selector}
        )
    except (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise ReplicaCalcError(
            f"unable to get metrics for resource {resource}: "
            f"unable to fetch metrics from resource metrics API: {exc}"
        ) from exc
    return parse_pod_metrics(listed.get("items") or [], resource, container)
