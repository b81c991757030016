"""Watch ConfigMaps with the official Kubernetes client while this script changes them.

Run against a cluster from ``make run``:  .venv/bin/python examples/configmap-watch.py
"""

from __future__ import annotations

import threading
import time

from kubernetes import client, config, watch

NAMESPACE = "default"


def change_things(api: client.CoreV1Api) -> None:
    time.sleep(1)
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="example"), data={"greeting": "hi"})
    api.create_namespaced_config_map(NAMESPACE, body)
    api.patch_namespaced_config_map("example", NAMESPACE, {"data": {"greeting": "hello"}})
    api.delete_namespaced_config_map("example", NAMESPACE)


def main() -> None:
    config.load_kube_config(context="kybernetes")
    api = client.CoreV1Api()
    threading.Thread(target=change_things, args=(api,), daemon=True).start()
    for event in watch.Watch().stream(api.list_namespaced_config_map, NAMESPACE, timeout_seconds=5):
        obj = event["object"]
        print(event["type"], obj.metadata.name, obj.metadata.resource_version, obj.data)


if __name__ == "__main__":
    main()
