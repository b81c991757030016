"""A kopf operator: every MonitoringEndpoint becomes a ConfigMap ``monitoring-<name>``.

Create, update and delete handlers keep the ConfigMap in step (the delete handler makes kopf
put its finalizer on each object), a timer records a heartbeat in the status, handler results
are written to the status subresource, and each step posts an Event.

Run against a cluster from ``make run`` (after ``kubectl apply -f
examples/monitoringendpoint-crd.yaml``)::

    .venv/bin/kopf run --standalone --namespace default examples/kopf-operator.py
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from kubernetes import client, config
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = "example.kybernetes.io", "v1", "monitoringendpoints"


def _core() -> client.CoreV1Api:
    return client.CoreV1Api()


def _configmap(name: str, spec: kopf.Spec) -> client.V1ConfigMap:
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(
            name=f"monitoring-{name}", labels={"app.kubernetes.io/managed-by": "kopf-example"}
        ),
        data={"url": str(spec.get("url", "")), "interval": str(spec.get("interval", ""))},
    )


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 60
    config.load_kube_config()


@kopf.on.create(GROUP, VERSION, PLURAL)
def create(spec: kopf.Spec, name: str, namespace: str, body: kopf.Body, **_: Any) -> dict[str, str]:
    _core().create_namespaced_config_map(namespace, _configmap(name, spec))
    kopf.info(body, reason="Created", message=f"ConfigMap monitoring-{name} created")
    return {"configMap": f"monitoring-{name}"}


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def update(spec: kopf.Spec, name: str, namespace: str, body: kopf.Body, **_: Any) -> dict[str, str]:
    _core().replace_namespaced_config_map(f"monitoring-{name}", namespace, _configmap(name, spec))
    kopf.info(body, reason="Updated", message=f"ConfigMap monitoring-{name} updated")
    return {"configMap": f"monitoring-{name}"}


@kopf.on.delete(GROUP, VERSION, PLURAL)
def delete(name: str, namespace: str, **_: Any) -> None:
    try:
        _core().delete_namespaced_config_map(f"monitoring-{name}", namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise


@kopf.timer(GROUP, VERSION, PLURAL, interval=2.0, idle=1.0)
def heartbeat(patch: kopf.Patch, status: kopf.Status, **_: Any) -> None:
    patch.status["heartbeats"] = int(status.get("heartbeats", 0)) + 1
