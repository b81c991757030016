"""Quota usage of single objects, as upstream's evaluators count them."""

from __future__ import annotations

from typing import Any

from kybernetes.api import quota
from kybernetes.api.quantity import parse_quantity


def canonical(usage: quota.Usage) -> dict[str, str]:
    return {k: v.canonical() for k, v in usage.items()}


def container(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> Any:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": "c", "image": "i", "resources": resources}


def test_pod_sums_containers_takes_max_init_and_adds_overhead() -> None:
    pod = {
        "spec": {
            "containers": [
                container({"cpu": "100m", "memory": "64Mi"}),
                container({"cpu": "200m"}),
            ],
            "initContainers": [container({"cpu": "500m"}, {"cpu": "1"})],
            "overhead": {"cpu": "10m"},
        }
    }
    used = canonical(quota.usage("", "pods", pod))
    assert used["pods"] == "1"
    assert used["count/pods"] == "1"
    assert used["requests.cpu"] == "510m"
    assert used["cpu"] == "510m"
    assert used["requests.memory"] == "64Mi"
    assert used["limits.cpu"] == "1010m"


def test_terminal_pods_use_nothing() -> None:
    assert quota.usage("", "pods", {"spec": {}, "status": {"phase": "Succeeded"}}) == {}


def test_services_count_node_ports_and_load_balancers() -> None:
    svc = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}}
    used = canonical(quota.usage("", "services", svc))
    assert used == {
        "count/services": "1",
        "services": "1",
        "services.nodeports": "2",
        "services.loadbalancers": "1",
    }


def test_claims_count_storage_per_class() -> None:
    pvc = {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}}}
    used = canonical(quota.usage("", "persistentvolumeclaims", pvc))
    assert used["requests.storage"] == "1Gi"
    assert used["fast.storageclass.storage.k8s.io/requests.storage"] == "1Gi"


def test_other_groups_are_object_counts() -> None:
    assert canonical(quota.usage("apps", "deployments", {})) == {"count/deployments.apps": "1"}


def test_scopes() -> None:
    best_effort = {"spec": {"containers": [container()]}}
    burstable = {"spec": {"containers": [container({"cpu": "1"})], "activeDeadlineSeconds": 5}}
    assert quota.matches_scopes(["BestEffort", "NotTerminating"], best_effort)
    assert not quota.matches_scopes(["BestEffort"], burstable)
    assert quota.matches_scopes(["Terminating", "NotBestEffort"], burstable)


def test_total_restricted_to_names() -> None:
    one = {"pods": parse_quantity("1"), "requests.cpu": parse_quantity("250m")}
    summed = canonical(quota.total([one, one], ["pods", "requests.cpu", "secrets"]))
    assert summed == {"pods": "2", "requests.cpu": "500m", "secrets": "0"}
