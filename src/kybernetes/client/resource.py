"""Addressing API resources: a ``Resource`` says where a kind lives in the REST tree.

A ``Resource`` is (group, version, plural, kind, namespaced); ``path()`` builds the URL path of a
collection, an object or a subresource exactly as the API server routes them
(``/api/v1/namespaces/ns/pods/name/status``, ``/apis/apps/v1/deployments``). The constants
below are the resources the control-plane components use; any other built-in one comes from
``for_plural`` (the API table), and custom resources are built directly.

Invariant: a cluster-scoped resource never puts a namespace into its path; a namespaced one
addressed without a namespace means "across all namespaces" (lists and watches only).
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import quote

from kybernetes.api import resources as api_resources


class Resource(NamedTuple):
    """Where one kind is served: enough to build every URL a client needs."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The URL path of the collection, of one object, or of one of its subresources."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base


def for_plural(plural: str, group: str = "", version: str | None = None) -> Resource:
    """The built-in resource ``plural`` in ``group`` (preferred version unless given)."""
    chosen = version or api_resources.preferred_version(group)
    info = api_resources.get(group, chosen, plural) if chosen else None
    if info is None:
        raise LookupError(f"no built-in resource {plural!r} in group {group!r}")
    return Resource(info.group, info.version, info.plural, info.kind, info.namespaced)


NAMESPACES = Resource("", "v1", "namespaces", "Namespace", False)
NODES = Resource("", "v1", "nodes", "Node", False)
PODS = Resource("", "v1", "pods", "Pod", True)
SERVICES = Resource("", "v1", "services", "Service", True)
ENDPOINTS = Resource("", "v1", "endpoints", "Endpoints", True)
EVENTS = Resource("", "v1", "events", "Event", True)
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap", True)
SECRETS = Resource("", "v1", "secrets", "Secret", True)
SERVICEACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount", True)
REPLICATIONCONTROLLERS = Resource("", "v1", "replicationcontrollers", "ReplicationController", True)
PERSISTENTVOLUMECLAIMS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True)
RESOURCEQUOTAS = Resource("", "v1", "resourcequotas", "ResourceQuota", True)
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment", True)
REPLICASETS = Resource("apps", "v1", "replicasets", "ReplicaSet", True)
STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet", True)
DAEMONSETS = Resource("apps", "v1", "daemonsets", "DaemonSet", True)
CONTROLLERREVISIONS = Resource("apps", "v1", "controllerrevisions", "ControllerRevision", True)
JOBS = Resource("batch", "v1", "jobs", "Job", True)
CRONJOBS = Resource("batch", "v1", "cronjobs", "CronJob", True)
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease", True)
ENDPOINTSLICES = Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True)
PRIORITYCLASSES = Resource("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False)
PODDISRUPTIONBUDGETS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True)
