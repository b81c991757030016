"""The MonitoringEndpoint operator of ``kopf-operator.py`` written with the official
``kubernetes`` client's watch loop only: each MonitoringEndpoint becomes a ConfigMap
``monitoring-<name>``, kept in step on every change and removed (through a finalizer) when
the object is deleted; the result is written to the status subresource.

Run against a cluster from ``make run`` (after ``kubectl apply -f
examples/monitoringendpoint-crd.yaml``)::

    .venv/bin/python examples/operator-watch.py
"""

from __future__ import annotations

import os
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = "example.kybernetes.io", "v1", "monitoringendpoints"
FINALIZER = "example.kybernetes.io/configmap"
NAMESPACE = os.environ.get("NAMESPACE", "default")


def reconcile(custom: client.CustomObjectsApi, core: client.CoreV1Api, obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    name = meta["name"]
    cm_name = f"monitoring-{name}"
    if meta.get("deletionTimestamp"):
        try:
            core.delete_namespaced_config_map(cm_name, NAMESPACE)
        except ApiException as exc:
            if exc.status != 404:
                raise
        finalizers = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, name, {"metadata": {"finalizers": finalizers}}
        )
        return
    if FINALIZER not in (meta.get("finalizers") or []):
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NAMESPACE,
            PLURAL,
            name,
            {"metadata": {"finalizers": [*(meta.get("finalizers") or []), FINALIZER]}},
        )
    spec = obj.get("spec") or {}
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=cm_name),
        data={"url": str(spec.get("url", "")), "interval": str(spec.get("interval", ""))},
    )
    try:
        core.replace_namespaced_config_map(cm_name, NAMESPACE, body)
    except ApiException as exc:
        if exc.status != 404:
            raise
        core.create_namespaced_config_map(NAMESPACE, body)
    if (obj.get("status") or {}).get("observedGeneration") != meta.get("generation"):
        custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            NAMESPACE,
            PLURAL,
            name,
            {"status": {"configMap": cm_name, "observedGeneration": meta.get("generation")}},
        )


def main() -> None:
    config.load_kube_config()
    custom = client.CustomObjectsApi()
    core = client.CoreV1Api()
    print("operator-watch ready", flush=True)
    while True:
        # Each stream starts with an ADDED event per existing object: a full resync.
        stream = watch.Watch().stream(
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            NAMESPACE,
            PLURAL,
            timeout_seconds=30,
        )
        for event in stream:
            if event["type"] in ("ADDED", "MODIFIED"):
                try:
                    reconcile(custom, core, event["object"])
                except ApiException as exc:
                    if exc.status not in (404, 409):
                        raise


if __name__ == "__main__":
    main()
