"""The root CA publisher: every namespace has a ``kube-root-ca.crt`` ConfigMap with the cluster CA.

Pods read it through their service-account volume (``ca.crt``) to verify the API server. As
upstream's ``root-ca-certificate-publisher``: the ConfigMap holds one key, ``ca.crt``, and the
``kubernetes.io/description`` annotation; it is created when a namespace appears, and put back
when someone deletes it or changes its data or drops the annotation (other annotations and
labels are left alone). Namespaces being deleted are left alone.

The CA comes from the controller manager's ``root_ca`` option (PEM): ``kyb server`` passes
its cluster CA, like kube-controller-manager's ``--root-ca-file``; without one the controller
has nothing to publish and stays idle.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from kybernetes.api import errors
from kybernetes.client.informer import Handler
from kybernetes.client.resource import CONFIGMAPS, NAMESPACES
from kybernetes.controllers.base import ControllerContext, QueueController

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CONFIGMAP_NAME: Final = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION: Final = "kubernetes.io/description"
DESCRIPTION: Final = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)


def _root_ca(options: Any) -> str:
    value = options.get("root_ca")
    if isinstance(value, bytes):
        return value.decode()
    return str(value or "")


class RootCACertPublisher(QueueController):
    name = "root-ca-certificate-publisher"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        self.root_ca = _root_ca(context.options)
        factory = context.informers
        self.namespaces = self.informer(factory.informer(NAMESPACES))
        self.configmaps = self.informer(factory.informer(CONFIGMAPS))
        if not self.root_ca:
            log.info("no root CA to publish controller=%s", self.name)
            return
        self.namespaces.add_handler(Handler(self.enqueue, lambda _old, new: self.enqueue(new)))
        self.configmaps.add_handler(
            Handler(on_update=lambda _old, new: self._changed(new), on_delete=self._changed)
        )

    def _changed(self, configmap: Obj) -> None:
        meta = configmap.get("metadata") or {}
        if meta.get("name") == CONFIGMAP_NAME:
            self.queue.add(str(meta.get("namespace") or ""))

    async def sync(self, key: str) -> None:
        namespace = self.namespaces.store.get(key)
        if namespace is None or namespace["metadata"].get("deletionTimestamp"):
            return
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            return
        data = {"ca.crt": self.root_ca}
        current = self.configmaps.store.get_by_name(CONFIGMAP_NAME, key)
        if current is None:
            configmap = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": CONFIGMAP_NAME,
                    "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION},
                },
                "data": data,
            }
            try:
                await self.client.create(CONFIGMAPS, configmap, key)
            except (errors.AlreadyExists, errors.NotFound, errors.Forbidden):
                return  # there already, or the namespace went or is terminating meanwhile
            return
        annotations = current["metadata"].get("annotations") or {}
        if current.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION):
            return
        updated = {
            **current,
            "metadata": {
                **current["metadata"],
                "annotations": {**annotations, DESCRIPTION_ANNOTATION: DESCRIPTION},
            },
            "data": data,
        }
        await self.client.update(CONFIGMAPS, updated)
