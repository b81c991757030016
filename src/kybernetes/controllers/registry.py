"""Every controller ``kyb controller-manager --controllers`` can run: name -> (factory, workers).

Names are kube-controller-manager's (``replicaset``, ``deployment``, ``garbage-collector``...);
the worker counts are its defaults (``--concurrent-*-syncs``).
"""

from __future__ import annotations

from kybernetes.controllers.base import ControllerFactory
from kybernetes.controllers.cronjob import CronJobController
from kybernetes.controllers.daemonset import DaemonSetController
from kybernetes.controllers.deployment import DeploymentController
from kybernetes.controllers.disruption import DisruptionController
from kybernetes.controllers.endpoints import EndpointsController
from kybernetes.controllers.endpointslice import EndpointSliceController
from kybernetes.controllers.garbagecollector import GarbageCollector
from kybernetes.controllers.hpa import HorizontalPodAutoscalerController
from kybernetes.controllers.job import JobController
from kybernetes.controllers.nodeipam import NodeIpamController
from kybernetes.controllers.nodelifecycle import NodeLifecycleController
from kybernetes.controllers.podgc import PodGarbageCollector
from kybernetes.controllers.replicaset import ReplicaSetController, ReplicationManager
from kybernetes.controllers.resourcequota import ResourceQuotaController
from kybernetes.controllers.rootcacertpublisher import RootCACertPublisher
from kybernetes.controllers.serviceaccounts import ServiceAccountsController
from kybernetes.controllers.statefulset import StatefulSetController
from kybernetes.controllers.ttlafterfinished import TTLAfterFinishedController

CONTROLLERS: dict[str, tuple[ControllerFactory, int]] = {
    "replicaset": (ReplicaSetController, 5),
    "replicationcontroller": (ReplicationManager, 5),
    "deployment": (DeploymentController, 5),
    "statefulset": (StatefulSetController, 5),
    "daemonset": (DaemonSetController, 2),
    "job": (JobController, 5),
    "cronjob": (CronJobController, 5),
    "ttl-after-finished": (TTLAfterFinishedController, 5),
    "garbage-collector": (GarbageCollector, 20),
    "endpoints": (EndpointsController, 5),
    "endpointslice": (EndpointSliceController, 5),
    "serviceaccount": (ServiceAccountsController, 1),
    "root-ca-certificate-publisher": (RootCACertPublisher, 1),
    "node-lifecycle": (NodeLifecycleController, 5),
    "nodeipam": (NodeIpamController, 1),
    "pod-garbage-collector": (PodGarbageCollector, 1),
    "disruption": (DisruptionController, 1),
    "resourcequota": (ResourceQuotaController, 5),
    "horizontal-pod-autoscaler": (HorizontalPodAutoscalerController, 5),
}
