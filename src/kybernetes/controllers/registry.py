"""Every controller ``kyb controller-manager --controllers`` can run: name -> (factory, workers).

Names are kube-controller-manager's (``replicaset``, ``deployment``, ``garbage-collector``...);
the worker counts are its defaults (``--concurrent-*-syncs``).
"""

from __future__ import annotations

from kybernetes.controllers.base import ControllerFactory
from kybernetes.controllers.garbagecollector import GarbageCollector

CONTROLLERS: dict[str, tuple[ControllerFactory, int]] = {
    "garbage-collector": (GarbageCollector, 20),
}
